// typed_results<T> against the emulator over loopback: each line decoded once, straight
// into T, gives what result_stream::next() followed by read_output<T>() gives, through
// failures, scripted lines, a resumed download and lines that are not results.
#include <aibatch/batch/typed_results.hpp>
#include <aibatch/emulator/emulator.hpp>

#include "../support/canned_server.hpp"
#include "../support/run_task.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/describe.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using aibatch::test::run_task;

namespace typed_results_test {

struct Verdict {
    bool is_spam;
    double confidence;
    std::string reason;
};
BOOST_DESCRIBE_STRUCT(Verdict, (), (is_spam, confidence, reason))

// What one line gave, however it was read.
struct outcome {
    aibatch::result_type type{};
    std::string error_type;
    bool has_value = false;
    bool is_spam = false;
    double confidence = 0;
    std::string reason;
    aibatch::output_failure failure{};
    std::string message;
    std::string raw;
    std::uint64_t output_tokens = 0;
    bool operator==(const outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const outcome& o) {
    return os << aibatch::to_string(o.type) << " " << o.error_type << " value=" << o.has_value
              << " " << o.reason << " " << aibatch::to_string(o.failure) << " " << o.message;
}

outcome of(aibatch::result_type type, const std::string& error_type,
           const aibatch::output_result<Verdict>& r, std::uint64_t tokens) {
    outcome o;
    o.type = type;
    o.error_type = error_type;
    o.output_tokens = tokens;
    if (type != aibatch::result_type::succeeded)
        return o;
    o.has_value = r.value.has_value();
    if (r.value) {
        o.is_spam = r.value->is_spam;
        o.confidence = r.value->confidence;
        o.reason = r.value->reason;
    }
    o.failure = r.failure;
    o.message = r.message;
    o.raw = r.raw;
    return o;
}

struct env {
    aibatch::emulator::server emu;
    asio::io_context ioc;
    aibatch::client client;

    env() : emu(options()), client(ioc.get_executor(), config(emu.url())) { emu.start(); }

    static aibatch::emulator::options options() {
        aibatch::emulator::options o;
        o.processing_time = 100ms;
        o.seed = 11;
        return o;
    }
    static aibatch::client_config config(const std::string& url) {
        aibatch::client_config c;
        c.api_key = "sk-ant-test-key";
        c.base_url = url;
        c.retry.max_retries = 2;
        c.retry.initial_backoff = 10ms;
        c.retry.max_backoff = 40ms;
        return c;
    }

    // A batch of n tool requests for Verdict, some scripted: an unknown model (errored),
    // an expired item, an output of the wrong type (does not decode).
    aibatch::batch_info ended_batch(std::size_t n) {
        const auto spec = aibatch::output_spec::for_type<Verdict>();
        std::vector<aibatch::batch_request> reqs;
        for (std::size_t i = 0; i < n; ++i) {
            aibatch::batch_request r;
            r.custom_id = "item-" + std::to_string(i);
            r.params.model = i == 3 ? "claude-unknown-9" : "claude-haiku-4-5";
            r.params.max_tokens = 256;
            std::string prompt = "Classify message " + std::to_string(i);
            if (i == 5)
                prompt = "EMULATOR_RESULT: expired";
            if (i == 7)
                prompt = R"(EMULATOR_OUTPUT: {"is_spam":"yes","confidence":2,"reason":7})";
            r.params.messages = {aibatch::user(prompt)};
            aibatch::apply_output_spec(r.params, spec);
            reqs.push_back(std::move(r));
        }
        auto b = run_task(ioc, client.create_batch(reqs));
        for (int k = 0; k < 400 && !b.ended(); ++k) {
            std::this_thread::sleep_for(20ms);
            b = run_task(ioc, client.retrieve_batch(b.id));
        }
        BOOST_REQUIRE(b.ended());
        return b;
    }

    // The lines through result_stream::next() and read_output<T>() (the tree).
    std::map<std::string, outcome> by_tree(const aibatch::batch_info& b) {
        const auto spec = aibatch::output_spec::for_type<Verdict>();
        std::map<std::string, outcome> out;
        auto rs = run_task(ioc, client.open_results(b));
        run_task(ioc, [&]() -> aibatch::task<void> {
            while (auto l = co_await rs.next()) {
                std::uint64_t tokens = 0;
                if (const auto* u = l->message.if_contains("usage"))
                    tokens = aibatch::usage_from_json(*u).output_tokens;
                out.emplace(l->custom_id,
                            of(l->type, l->error.type,
                               aibatch::read_output<Verdict>(l->message, spec), tokens));
            }
        }());
        return out;
    }

    // The lines through typed_results<T>; `bad` collects what each bad line threw.
    std::map<std::string, outcome> by_typed(const aibatch::batch_info& b,
                                            unsigned* resumes = nullptr,
                                            std::vector<std::string>* bad = nullptr) {
        std::map<std::string, outcome> out;
        aibatch::typed_results<Verdict> results(run_task(ioc, client.open_results(b)));
        run_task(ioc, [&]() -> aibatch::task<void> {
            for (int guard = 0; guard < 10000; ++guard) {
                const aibatch::decoded_line<Verdict>* l = nullptr;
                try {
                    l = co_await results.next();
                } catch (const aibatch::error& e) {
                    BOOST_TEST((e.code() == aibatch::errc::bad_response));
                    if (bad)
                        bad->push_back(e.diag().message);
                    continue;
                }
                if (!l)
                    break;
                BOOST_TEST(out.count(l->custom_id) == 0u, "delivered twice: " << l->custom_id);
                out.emplace(l->custom_id, of(l->type, l->error.type, l->output,
                                             l->token_usage ? l->token_usage->output_tokens : 0));
            }
        }());
        if (resumes)
            *resumes = results.stream().resumes();
        return out;
    }
};

} // namespace typed_results_test

using namespace typed_results_test;

BOOST_AUTO_TEST_SUITE(typed_results_reader)

BOOST_AUTO_TEST_CASE(each_line_gives_what_next_and_read_output_give) {
    env e;
    auto b = e.ended_batch(40);
    auto tree = e.by_tree(b);
    auto typed = e.by_typed(b);
    BOOST_TEST(tree.size() == 40u);
    BOOST_TEST(typed.size() == 40u);
    for (const auto& [id, o] : tree)
        BOOST_TEST((typed.count(id) && typed.at(id) == o), id << ": " << o);
    // The scripted lines are what they should be, so the comparison covered them.
    BOOST_TEST((tree.at("item-3").type == aibatch::result_type::errored));
    BOOST_TEST((tree.at("item-5").type == aibatch::result_type::expired));
    BOOST_TEST(!tree.at("item-7").has_value);
    BOOST_TEST((tree.at("item-7").failure == aibatch::output_failure::validation));
    BOOST_TEST(tree.at("item-0").has_value);
}

BOOST_AUTO_TEST_CASE(a_cut_download_is_resumed_and_each_line_delivered_once) {
    env e;
    auto b = e.ended_batch(120);
    auto tree = e.by_tree(b);
    e.emu.add_fault(aibatch::emulator::parse_fault("cut-results:20000"));
    unsigned resumes = 0;
    auto typed = e.by_typed(b, &resumes);
    BOOST_TEST(resumes == 1u);
    BOOST_TEST(typed.size() == 120u);
    BOOST_TEST((typed == tree));
}

BOOST_AUTO_TEST_CASE(several_resumes_deliver_each_line_once) {
    // Cut at several offsets, each download further than the last: both readers deliver
    // each line exactly once.
    env e;
    auto b = e.ended_batch(120);
    auto tree = e.by_tree(b);
    for (auto cuts :
         {std::vector<int>{700, 5000, 20000, 33333, 60000}, std::vector<int>{1, 50000}}) {
        for (int c : cuts)
            e.emu.add_fault(aibatch::emulator::parse_fault("cut-results:" + std::to_string(c)));
        unsigned resumes = 0;
        auto typed = e.by_typed(b, &resumes);
        BOOST_TEST(resumes == cuts.size());
        BOOST_TEST(typed.size() == 120u);
        BOOST_TEST((typed == tree));
        for (int c : cuts)
            e.emu.add_fault(aibatch::emulator::parse_fault("cut-results:" + std::to_string(c)));
        BOOST_TEST((e.by_tree(b) == tree));
    }
}

BOOST_AUTO_TEST_CASE(a_download_that_failed_for_good_never_reads_as_the_end) {
    // The download is cut and may not be resumed (max_retries 0): next() throws
    // connection_closed. A reader that calls next() again (as it does after a bad line)
    // must get that failure again, never a "line that is not JSON" made of the cut line's
    // head nor the end of the results with lines missing.
    env e;
    auto b = e.ended_batch(60);
    auto cfg = env::config(e.emu.url());
    cfg.retry.max_retries = 0;
    aibatch::client client(e.ioc.get_executor(), cfg);
    e.emu.add_fault(aibatch::emulator::parse_fault("cut-results:6000"));
    aibatch::typed_results<Verdict> results(run_task(e.ioc, client.open_results(b)));
    std::size_t delivered = 0;
    bool ended = false;
    std::vector<std::string> errors;
    run_task(e.ioc, [&]() -> aibatch::task<void> {
        for (int k = 0; k < 200 && !ended && errors.size() < 3; ++k) {
            try {
                if (co_await results.next())
                    ++delivered;
                else
                    ended = true;
            } catch (const aibatch::error& ex) {
                errors.push_back(ex.code().message() + ": " + ex.diag().message);
            }
        }
    }());
    BOOST_TEST(delivered < 60u);
    BOOST_TEST(!ended, delivered << " of 60 lines, then the end");
    BOOST_REQUIRE(errors.size() == 3u);
    for (const auto& m : errors)
        BOOST_TEST(m == errors[0]);
}

// A next() the caller cancels while its read waits (the server stalls mid-body) throws
// operation_aborted; the stream is not spent: the next call downloads again, skips the
// lines already delivered and reads on to the end, each line once. (A canceled read
// closes its connection; the stream read on from it as from the end, then, once a
// failure became final, threw operation_aborted at every later call.)
BOOST_AUTO_TEST_CASE(a_canceled_next_leaves_the_stream_readable_to_the_end) {
    using aibatch::test::canned_server;
    const std::string tool = aibatch::output_spec::for_type<Verdict>().name;
    std::string body;
    std::size_t after_two = 0;
    for (int i = 0; i < 5; ++i) {
        body +=
            R"({"custom_id":"item-)" + std::to_string(i) +
            R"(","result":{"type":"succeeded","message":{"id":"msg_)" + std::to_string(i) +
            R"(","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"tool_use","id":"toolu_1","name":")" +
            tool + R"(","input":{"is_spam":true,"confidence":0.5,"reason":"r)" + std::to_string(i) +
            R"("}}],"stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":1}}}})"
            "\n";
        if (i == 1)
            after_two = body.size();
    }
    // First: two whole lines, then nothing more (the connection stays open). Then: all.
    canned_server server(
        {"HTTP/1.1 200 OK\r\ncontent-type: application/binary\r\ncontent-length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, after_two),
         canned_server::response(200, body, {}, "application/binary")});
    asio::io_context ioc;
    aibatch::client client(ioc.get_executor(), env::config(server.url()));
    aibatch::typed_results<Verdict> results(run_task(ioc, client.open_results("msgbatch_x")));
    std::vector<std::string> got;
    auto take = [&]() -> aibatch::task<bool> {
        const auto* line = co_await results.next();
        if (line)
            got.push_back(line->custom_id);
        co_return line != nullptr;
    };
    BOOST_TEST(run_task(ioc, take()));
    BOOST_TEST(run_task(ioc, take()));
    // The third waits for bytes that do not come: canceled after 200 ms.
    asio::cancellation_signal cancel;
    asio::steady_timer timer(ioc, 200ms);
    bool fired = false;
    timer.async_wait([&](boost::system::error_code) {
        fired = true;
        cancel.emit(asio::cancellation_type::terminal);
    });
    std::exception_ptr third;
    bool third_done = false;
    asio::co_spawn(ioc, take(),
                   asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e, bool) {
                       third = e;
                       third_done = true;
                   }));
    ioc.restart();
    ioc.run_for(5s);
    ioc.restart();
    BOOST_TEST(fired);
    BOOST_REQUIRE(third_done);
    BOOST_REQUIRE(third != nullptr);
    try {
        std::rethrow_exception(third);
    } catch (const aibatch::error& e) {
        BOOST_TEST(e.code() == boost::asio::error::operation_aborted, e.what());
    }
    for (int k = 0; k < 10 && run_task(ioc, take()); ++k) {
    }
    const std::vector<std::string> all = {"item-0", "item-1", "item-2", "item-3", "item-4"};
    BOOST_TEST(got == all, boost::test_tools::per_element());
    BOOST_TEST(server.requests().size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_line_that_is_no_result_throws_what_next_throws_and_reading_goes_on) {
    env e;
    auto b = e.ended_batch(6);
    // A line that is not JSON, and one that is JSON but no result line.
    for (const char* injected :
         {"inject-line:1:{not json", R"(inject-line:1:{"custom_id":"item-1"})"}) {
        std::vector<std::string> from_next;
        e.emu.add_fault(aibatch::emulator::parse_fault(injected));
        {
            auto rs = run_task(e.ioc, e.client.open_results(b));
            run_task(e.ioc, [&]() -> aibatch::task<void> {
                for (int guard = 0; guard < 100; ++guard) {
                    try {
                        if (!co_await rs.next())
                            break;
                    } catch (const aibatch::error& ex) {
                        from_next.push_back(ex.diag().message);
                    }
                }
            }());
        }
        e.emu.add_fault(aibatch::emulator::parse_fault(injected));
        std::vector<std::string> from_typed;
        auto typed = e.by_typed(b, nullptr, &from_typed);
        BOOST_TEST(typed.size() == 6u);
        BOOST_TEST(from_next.size() == 1u, injected);
        BOOST_TEST(from_typed == from_next, injected);
        for (const auto& m : from_typed)
            BOOST_TEST(m.find("results of " + b.id + ": line 1") == 0u, m);
    }
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------ review
BOOST_AUTO_TEST_SUITE(typed_results_review)

namespace {
// Every line delivered, in order, as "custom_id reason" (reason "-" when no value).
std::vector<std::string> deliveries_by_tree(env& e, const aibatch::batch_info& b) {
    const auto spec = aibatch::output_spec::for_type<Verdict>();
    std::vector<std::string> out;
    auto rs = run_task(e.ioc, e.client.open_results(b));
    run_task(e.ioc, [&]() -> aibatch::task<void> {
        while (auto l = co_await rs.next()) {
            auto r = aibatch::read_output<Verdict>(l->message, spec);
            out.push_back(l->custom_id + " " + (r.value ? r.value->reason : "-"));
        }
    }());
    return out;
}
std::vector<std::string> deliveries_by_typed(env& e, const aibatch::batch_info& b) {
    std::vector<std::string> out;
    aibatch::typed_results<Verdict> results(run_task(e.ioc, e.client.open_results(b)));
    run_task(e.ioc, [&]() -> aibatch::task<void> {
        while (auto l = co_await results.next())
            out.push_back(l->custom_id + " " + (l->output.value ? l->output.value->reason : "-"));
    }());
    return out;
}
} // namespace

BOOST_AUTO_TEST_CASE(a_second_answer_with_its_id_after_content_is_told_apart_the_same_way) {
    // A second answer for item-1 (another message id, placed after "content"; then a
    // number as id; then the id given twice, which sends the typed reader to the tree) at
    // the start of the stream, and the stream cut and resumed so the injected line comes
    // again: both readers must deliver the same lines (the repeat skipped, or not) in the
    // same order.
    env e;
    auto b = e.ended_batch(4);
    const std::string content =
        R"("content":[{"type":"tool_use","id":"toolu_x","name":")" +
        aibatch::output_spec::for_type<Verdict>().name +
        R"(","input":{"is_spam":true,"confidence":0.9,"reason":"INJECTED"}}])";
    for (const std::string& id_part :
         {std::string(R"("id":"msg_injected")"), std::string(R"("id":12)"),
          std::string(R"("id":"msg_a","role":"assistant","id":"msg_b")")}) {
        const std::string line =
            R"({"custom_id":"item-1","result":{"type":"succeeded","message":{"type":"message","role":"assistant","model":"claude-haiku-4-5",)" +
            content + R"(,"stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":1},)" +
            id_part + "}}}";
        std::vector<std::vector<std::string>> got;
        for (int reader = 0; reader < 2; ++reader) {
            e.emu.add_fault(aibatch::emulator::parse_fault("inject-line:2:" + line));
            e.emu.add_fault(aibatch::emulator::parse_fault("cut-results:1200"));
            got.push_back(reader == 0 ? deliveries_by_tree(e, b) : deliveries_by_typed(e, b));
        }
        BOOST_TEST(got[0] == got[1], boost::test_tools::per_element());
        std::size_t injected = 0;
        for (const auto& d : got[1])
            injected += d == "item-1 INJECTED";
        BOOST_TEST_MESSAGE(id_part << ": " << got[1].size() << " lines, injected line " << injected
                                   << " time(s)");
        for (const auto& d : got[1])
            BOOST_TEST_MESSAGE("  " << d);
        // Found: the stream remembers one answer per custom_id for a resume (the first),
        // so item-1's real line, delivered before the cut, is delivered again after it.
        for (const auto& reader : got)
            for (const auto& d : reader)
                BOOST_TEST(std::count(reader.begin(), reader.end(), d) == 1,
                           id_part << ": delivered twice across a resume: " << d);
        BOOST_TEST(injected == 1u, id_part);
    }
}

BOOST_AUTO_TEST_CASE(a_moved_from_stream_throws_invalid_argument) {
    env e;
    auto b = e.ended_batch(2);
    auto rs = run_task(e.ioc, e.client.open_results(b));
    aibatch::result_stream taken = std::move(rs);
    aibatch::typed_results<Verdict> results(std::move(rs)); // NOLINT: moved-from on purpose
    bool threw = false;
    try {
        run_task(e.ioc, [&]() -> aibatch::task<void> { co_await results.next(); }());
    } catch (const aibatch::error& ex) {
        threw = ex.code() == aibatch::errc::invalid_argument;
    }
    BOOST_TEST(threw);
    aibatch::typed_results<Verdict> a(std::move(taken));
    aibatch::typed_results<Verdict> moved(std::move(a));
    threw = false;
    try {
        run_task(e.ioc, [&]() -> aibatch::task<void> { co_await a.next(); }()); // NOLINT
    } catch (const aibatch::error& ex) {
        threw = ex.code() == aibatch::errc::invalid_argument;
    }
    BOOST_TEST(threw);
    std::size_t n = 0;
    run_task(e.ioc, [&]() -> aibatch::task<void> {
        while (co_await moved.next())
            ++n;
    }());
    BOOST_TEST(n == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
