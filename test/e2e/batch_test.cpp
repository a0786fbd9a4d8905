// batch<T>() end to end against the emulator over loopback (and against the real API
// when ANTHROPIC_API_KEY is set).
#include "spam_types.hpp"

#include <aibatch/batch/batch.hpp>
#include <aibatch/emulator/emulator.hpp>

#include "../support/emulator_fixture.hpp"
#include "../support/expect_throw.hpp"
#include "../support/run_task.hpp"
#include "../support/test_pki.hpp"
#include "batch/journal.hpp"
#include "journal_child_launcher.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <spawn.h>
#include <stdexcept>
#include <sys/resource.h>
#include <sys/wait.h>
#include <thread>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using aibatch::test::run_task;
using e2e::SentimentResult;
using e2e::SpamResult;

extern char** environ;

namespace {

template <class F>
aibatch::error expect_error(F&& f) {
    return aibatch::test::expect_throw<aibatch::error>(std::forward<F>(f));
}
template <class F>
aibatch::batch_error expect_batch_error(F&& f) {
    return aibatch::test::expect_throw<aibatch::batch_error>(std::forward<F>(f));
}

const std::string model = "claude-haiku-4-5";

// The emulator fixture with this file's defaults: 200 ms of processing, seed 11, a key
// of its own and quick retries (10 ms .. 50 ms).
struct env : aibatch::test::emulator_fixture {
    explicit env(std::chrono::milliseconds processing = 200ms, std::uint64_t max_requests = 100'000)
        : env(make(processing, max_requests)) {}
    explicit env(aibatch::emulator::options o) : emulator_fixture(std::move(o), config()) {}
    static aibatch::emulator::options make(std::chrono::milliseconds p,
                                           std::uint64_t max_requests) {
        auto o = emulator_fixture::options(p, 11);
        o.max_batch_requests = max_requests;
        return o;
    }
    static aibatch::emulator::options held() { return emulator_fixture::held(11); }
    static aibatch::client_config config() {
        aibatch::client_config c;
        c.api_key = "sk-ant-e2e";
        c.retry.initial_backoff = 10ms;
        c.retry.max_backoff = 50ms;
        return c;
    }
};

aibatch::batch_options fast() {
    aibatch::batch_options o;
    o.poll_interval = 20ms;
    o.poll_interval_max = 60ms;
    return o;
}

std::string scripted(int i, bool spam = false) {
    return "Is this spam?\nEMULATOR_OUTPUT: {\"is_spam\":" + std::string(spam ? "true" : "false") +
           ",\"confidence\":0.5,\"reason\":\"item " + std::to_string(i) + "\"}";
}

std::vector<aibatch::conversation> scripted_messages(int n) {
    std::vector<aibatch::conversation> v;
    for (int i = 0; i < n; ++i)
        v.push_back({aibatch::user(scripted(i, i % 3 == 0))});
    return v;
}

// The message of the aibatch::error batch<SpamResult>() throws for these arguments.
std::string refusal(env& e, const std::vector<aibatch::conversation>& m, const std::string& mdl,
                    const aibatch::batch_options& o) {
    return expect_error(
               [&] { run_task(e.ioc(), aibatch::batch<SpamResult>(e.client(), m, mdl, o)); })
        .what();
}

} // namespace

// ------------------------------------------------------------------ seed unit tests
BOOST_AUTO_TEST_SUITE(batch_input)

BOOST_AUTO_TEST_CASE(empty_messages_return_empty_without_network) {
    env e;
    std::vector<aibatch::conversation> none;
    auto r = run_task(e.ioc(), aibatch::batch<SpamResult>(e.client(), none, model));
    BOOST_TEST(r.empty());
    BOOST_TEST(e.emu().log().empty());
}

BOOST_AUTO_TEST_CASE(invalid_arguments_are_named_before_any_network_call) {
    env e;
    auto one = scripted_messages(1);
    auto msg = [&](std::vector<aibatch::conversation> m, std::string mdl,
                   aibatch::batch_options o) { return refusal(e, m, mdl, o); };
    BOOST_TEST(msg(one, "", fast()).find("the model is empty") != std::string::npos);
    auto o = fast();
    o.max_tokens = 0;
    BOOST_TEST(msg(one, model, o).find("max_tokens must be positive (got 0)") != std::string::npos);
    BOOST_TEST(msg({{}}, model, fast()).find("messages[0] is an empty conversation") !=
               std::string::npos);
    BOOST_TEST(
        msg({{aibatch::assistant("hi")}}, model, fast()).find("starts with an assistant turn") !=
        std::string::npos);
    BOOST_TEST(msg({one[0], {aibatch::user("  ")}}, model, fast())
                   .find("messages[1][0] has empty content") != std::string::npos);
    o = fast();
    o.temperature = 1.5;
    BOOST_TEST(msg(one, model, o).find("temperature must be between 0 and 1") != std::string::npos);
    o = fast();
    o.cost_limit = 1.0;
    BOOST_TEST(msg(one, "my-own-model", o).find("set batch_options::price") != std::string::npos);
    BOOST_TEST(e.emu().log().empty());
}

// Issue 14, item 8: what the model table says the API would refuse never leaves.
BOOST_AUTO_TEST_CASE(requests_the_model_would_refuse_are_named_before_any_network_call) {
    env e;
    auto one = scripted_messages(1);
    auto msg = [&](std::vector<aibatch::conversation> m, std::string mdl,
                   aibatch::batch_options o) { return refusal(e, m, mdl, o); };
    auto o = fast();
    o.max_tokens = 999999;
    BOOST_TEST(msg(one, "claude-haiku-4-5", o)
                   .find("max_tokens: 999999 > 64000, which is the maximum allowed number of "
                         "output tokens for claude-haiku-4-5-20251001") != std::string::npos);
    o = fast();
    o.temperature = 0.0;
    auto t = msg(one, "claude-opus-4-7", o);
    BOOST_TEST(t.find("claude-opus-4-7 (Claude Opus 4.7)") != std::string::npos, t);
    BOOST_TEST(t.find("leave temperature unset") != std::string::npos, t);
    o = fast();
    o.max_tokens = 4096;
    o.customize = [](aibatch::message_params& p, std::size_t) {
        p.extra["thinking"] = boost::json::object{{"type", "enabled"}, {"budget_tokens", 2048}};
    };
    BOOST_TEST(msg(one, "claude-sonnet-4-5", o)
                   .find("Thinking may not be enabled when tool_choice forces tool use") !=
               std::string::npos);
    o = fast();
    o.output_mode = aibatch::output_mode::json_schema;
    BOOST_TEST(msg(one, "claude-opus-4-1", o).find("does not support structured outputs") !=
               std::string::npos);
    auto prefilled = one;
    prefilled[0].push_back(aibatch::assistant("{"));
    BOOST_TEST(msg(prefilled, "claude-haiku-4-5", o).find("a prefill") != std::string::npos);
    BOOST_TEST(e.emu().log().empty());
}

// Issue 14, item 4: the API combines consecutive turns of one role; so the client sends them.
BOOST_AUTO_TEST_CASE(consecutive_turns_of_one_role_are_sent_and_answered) {
    env e;
    std::vector<aibatch::conversation> m = {
        {aibatch::user("Is this spam?"), aibatch::user("win money now")}};
    auto r = run_task(e.ioc(), aibatch::batch<SpamResult>(e.client(), m, model, fast()));
    BOOST_TEST(r.size() == 1u);
}

BOOST_AUTO_TEST_CASE(missing_api_key_and_client_creation) {
    asio::io_context ioc;
    aibatch::test::scoped_env no_key("ANTHROPIC_API_KEY", nullptr);
    auto cfg = aibatch::client_config::from_env(std::filesystem::path("/nonexistent/.env"));
    auto err = expect_error([&] { aibatch::client c(ioc.get_executor(), cfg); });
    BOOST_TEST(err.code() == aibatch::errc::missing_api_key);
    cfg.api_key = "sk-ant-x";
    cfg.base_url = "http://127.0.0.1:1";
    aibatch::client c(ioc.get_executor(), cfg);
    BOOST_TEST(c.config().base_url == "http://127.0.0.1:1");
}

BOOST_AUTO_TEST_CASE(processing_of_multiple_messages) {
    env e;
    auto r = run_task(e.ioc(),
                      aibatch::batch<SpamResult>(e.client(), scripted_messages(6), model, fast()));
    BOOST_TEST(r.size() == 6u);
    for (int i = 0; i < 6; ++i) {
        BOOST_TEST(r[i].reason == "item " + std::to_string(i));
        BOOST_TEST(r[i].is_spam == (i % 3 == 0));
    }
    BOOST_TEST(e.count("create") == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------ end to end
BOOST_AUTO_TEST_SUITE(batch_e2e)

BOOST_AUTO_TEST_CASE(spam_detection) {
    env e;
    std::vector<aibatch::conversation> messages;
    for (auto email : {"WIN A PRIZE NOW", "Lunch at noon?", "Cheap meds, click here"})
        messages.push_back({aibatch::user(
            std::string("You are a spam detection expert. Is this spam? ") + email)});
    auto r = run_task(e.ioc(), aibatch::batch<SpamResult>(e.client(), messages, model, fast()));
    BOOST_TEST(r.size() == 3u);
    for (const auto& s : r) {
        BOOST_TEST(s.confidence >= 0.0);
        BOOST_TEST(!s.reason.empty());
    }
}

BOOST_AUTO_TEST_CASE(sentiment_analysis_in_every_output_mode) {
    for (auto mode : {aibatch::output_mode::tool, aibatch::output_mode::json_schema,
                      aibatch::output_mode::json_text}) {
        env e;
        std::vector<aibatch::conversation> messages;
        for (auto review : {"Love it", "Broke in a day", "It's ok"})
            messages.push_back({aibatch::user(std::string("Sentiment of: ") + review)});
        auto o = fast();
        o.output_mode = mode;
        o.system = "You classify reviews.";
        auto run =
            run_task(e.ioc(), aibatch::run_batch<SentimentResult>(e.client(), messages, model, o));
        BOOST_TEST_CONTEXT(aibatch::to_string(mode)) {
            BOOST_TEST(run.succeeded() == 3u);
            BOOST_TEST(run.usage.output_tokens > 0u);
            BOOST_REQUIRE(run.cost_usd.has_value());
            BOOST_TEST(*run.cost_usd > 0.0);
            BOOST_TEST(run.batch_ids.size() == 1u);
        }
    }
}

BOOST_AUTO_TEST_CASE(single_message) {
    env e;
    std::vector<aibatch::conversation> one{{aibatch::user(scripted(0, true))}};
    auto r = run_task(e.ioc(), aibatch::batch<SpamResult>(e.client(), one, model, fast()));
    BOOST_REQUIRE(r.size() == 1u);
    BOOST_TEST(r[0].is_spam);
    BOOST_TEST(r[0].reason == "item 0");
}

BOOST_AUTO_TEST_CASE(order_is_kept_across_shuffled_results_and_many_batches) {
    env e;
    auto o = fast();
    o.max_requests_per_batch = 7;
    o.max_batches_in_flight = 3;
    std::vector<aibatch::batch_progress> seen;
    o.on_progress = [&](const aibatch::batch_progress& p) { seen.push_back(p); };
    auto r =
        run_task(e.ioc(), aibatch::batch<SpamResult>(e.client(), scripted_messages(50), model, o));
    BOOST_REQUIRE(r.size() == 50u);
    for (int i = 0; i < 50; ++i)
        BOOST_TEST(r[i].reason == "item " + std::to_string(i));
    BOOST_TEST(e.emu().batches_created() == 8u);
    std::size_t total = 0;
    for (const auto& le : e.emu().log())
        if (le.endpoint == "create")
            total += le.requests;
    BOOST_TEST(total == 50u);
    BOOST_REQUIRE(!seen.empty());
    BOOST_TEST(seen.back().items_total == 50u);
    BOOST_TEST(seen.back().batches_submitted <= 8u);
}

BOOST_AUTO_TEST_CASE(the_items_of_a_batch_share_one_copy_of_its_id) {
    // Per-item bookkeeping (#15): the items of a batch hold one shared copy of its id
    // (300,000 items of three batches: three strings, not 300,000), which still reads
    // like a string.
    env e;
    auto o = fast();
    o.max_requests_per_batch = 7;
    auto messages = scripted_messages(20);
    auto run = run_task(e.ioc(), aibatch::run_batch<SpamResult>(e.client(), messages, model, o));
    BOOST_REQUIRE(run.items.size() == 20u);
    std::map<std::string, const char*> storage;
    for (const auto& it : run.items) {
        BOOST_TEST(!it.batch_id.empty());
        BOOST_TEST((std::find(run.batch_ids.begin(), run.batch_ids.end(), it.batch_id) !=
                    run.batch_ids.end()));
        auto [pos, fresh] = storage.emplace(it.batch_id, it.batch_id.data());
        BOOST_TEST(pos->second == it.batch_id.data(),
                   "item " << it.index << " holds its own copy of " << it.batch_id);
    }
    BOOST_TEST(storage.size() == 3u);
}

BOOST_AUTO_TEST_CASE(large_inputs_are_split_by_bytes) {
    // The emulator enforces the same byte limit (413 past it), so an over-full batch
    // would fail the call.
    aibatch::emulator::options eo = env::make(200ms, 100'000);
    eo.max_batch_bytes = 8000;
    env e(eo);
    auto o = fast();
    o.max_bytes_per_batch = 8000; // a request here is ~600 bytes
    auto r = e.run(aibatch::batch<SpamResult>(e.client(), scripted_messages(40), model, o));
    BOOST_TEST(r.size() == 40u);
    BOOST_TEST(e.emu().batches_created() >= 3u);
    BOOST_TEST(r[39].reason == "item 39");
}

BOOST_AUTO_TEST_CASE(partial_failures_are_reported_exactly_and_successes_kept) {
    env e;
    auto messages = scripted_messages(6);
    messages[1] = {aibatch::user("EMULATOR_RESULT: errored")};
    messages[2] = {aibatch::user("EMULATOR_RESULT: expired")};
    messages[4] = {
        aibatch::user("Is this spam?\nEMULATOR_OUTPUT: {\"is_spam\":\"maybe\",\"confidence\":2}")};
    auto o = fast();
    o.repair_rounds = 0;
    o.run_id = "r7";
    auto err = expect_batch_error(
        [&] { run_task(e.ioc(), aibatch::batch<SpamResult>(e.client(), messages, model, o)); });
    BOOST_TEST(err.code() == aibatch::errc::items_failed);
    BOOST_REQUIRE(err.failures().size() == 3u);
    const auto& f = err.failures();
    BOOST_TEST(f[0].index == 1u);
    BOOST_TEST(f[0].custom_id == "item-r7-1");
    BOOST_TEST((f[0].status == aibatch::item_status::errored));
    BOOST_TEST(!f[0].error_type.empty());
    BOOST_TEST((f[1].status == aibatch::item_status::expired));
    BOOST_TEST((f[2].status == aibatch::item_status::invalid_output));
    BOOST_TEST(f[2].error_type == "validation");
    BOOST_TEST(f[2].message == "$.is_spam: expected boolean, got string; "
                               "$: missing required field \"reason\"");
    BOOST_TEST(f[2].raw_output == R"({"is_spam":"maybe","confidence":2})");
    const auto& values = err.results<SpamResult>();
    BOOST_TEST(values.size() == 6u);
    BOOST_TEST(values[0]->reason == "item 0");
    BOOST_TEST(values[3]->reason == "item 3");
    BOOST_TEST(values[5]->reason == "item 5");
    BOOST_TEST(!values[1].has_value());
    BOOST_TEST(err.succeeded() == 3u);
    std::string what = err.what();
    BOOST_TEST(what.find("3 of 6 items did not succeed") != std::string::npos);
    BOOST_TEST(what.find("#4 item-r7-4 invalid_output: $.is_spam") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(unknown_model_is_reported_per_item_by_the_api) {
    env e;
    auto err = expect_batch_error([&] {
        run_task(e.ioc(), aibatch::batch<SpamResult>(e.client(), scripted_messages(2),
                                                     "claude-nonexistent-1", fast()));
    });
    BOOST_REQUIRE(err.failures().size() == 2u);
    BOOST_TEST(err.failures()[0].error_type == "not_found_error");
    BOOST_TEST(err.failures()[0].message.find("claude-nonexistent-1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(repair_round_fixes_invalid_output_with_feedback) {
    env e;
    auto messages = scripted_messages(4);
    messages[2] = {aibatch::user("Is this spam?\nEMULATOR_OUTPUT: {\"is_spam\":\"no\"}")};
    auto o = fast();
    o.repair_rounds = 1;
    auto run = run_task(e.ioc(), aibatch::run_batch<SpamResult>(e.client(), messages, model, o));
    BOOST_TEST(run.succeeded() == 4u);
    BOOST_TEST(run.items[2].rounds == 2u);
    BOOST_TEST(run.items[0].rounds == 1u);
    BOOST_TEST(e.emu().batches_created() == 2u);
    BOOST_TEST(run.batch_ids.size() == 2u);
    // The follow-up batch held only the failed item.
    std::vector<std::uint64_t> sizes;
    for (const auto& le : e.emu().log())
        if (le.endpoint == "create")
            sizes.push_back(le.requests);
    BOOST_TEST(sizes == (std::vector<std::uint64_t>{4, 1}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(cost_limit_stops_submissions_before_they_are_made) {
    env e;
    auto o = fast();
    o.max_tokens = 100;
    o.max_requests_per_batch = 10;
    o.max_batches_in_flight = 2;
    o.cost_limit = 0.004; // one batch of 10 (~$0.003 worst case) fits, two do not
    auto err = expect_batch_error([&] {
        run_task(e.ioc(), aibatch::batch<SpamResult>(e.client(), scripted_messages(30), model, o));
    });
    BOOST_TEST(err.code() == aibatch::errc::cost_limit);
    BOOST_TEST(e.emu().batches_created() == 1u);
    BOOST_TEST(err.succeeded() == 10u);
    BOOST_TEST(err.failures().size() == 20u);
    for (const auto& f : err.failures()) {
        BOOST_TEST((f.status == aibatch::item_status::not_submitted));
        BOOST_TEST(f.error_type == "cost_limit");
    }
    BOOST_TEST(std::string(err.what()).find("cost limit $0.0040 reached") != std::string::npos);
    BOOST_REQUIRE(err.cost_usd().has_value());
    BOOST_TEST(*err.cost_usd() > 0.0);
}

BOOST_AUTO_TEST_CASE(cancellation_cancels_remote_batches_and_keeps_successes) {
    // Held batches: the first is released as soon as it exists; the second is still in
    // progress when the cancel reaches it, whatever the machine's speed.
    env e(env::held());
    auto o = fast();
    o.max_requests_per_batch = 5;
    o.max_batches_in_flight = 1;
    asio::cancellation_signal sig;
    bool fired = false;
    o.on_progress = [&](const aibatch::batch_progress& p) {
        if (p.batches_submitted == 2 && !fired) { // batch 1 is fully read by now
            fired = true;
            sig.emit(asio::cancellation_type::terminal);
        }
    };
    auto messages = scripted_messages(10);
    std::exception_ptr failure;
    asio::co_spawn(
        e.ioc(), aibatch::batch<SpamResult>(e.client(), messages, model, o),
        asio::bind_cancellation_slot(
            sig.slot(), [&](std::exception_ptr ex, std::vector<SpamResult>) { failure = ex; }));
    // One batch in flight at a time: when the first is created it is the only one.
    std::thread release_first([&] {
        if (e.wait_created(1))
            e.release_all();
    });
    e.ioc().run();
    release_first.join();
    BOOST_REQUIRE(fired);
    BOOST_REQUIRE(failure);
    try {
        std::rethrow_exception(failure);
    } catch (const aibatch::batch_error& err) {
        BOOST_TEST(err.code() == asio::error::operation_aborted);
        BOOST_TEST(err.succeeded() == 5u);
        BOOST_TEST(err.results<SpamResult>()[4]->reason == "item 4");
        BOOST_REQUIRE(err.failures().size() == 5u);
        BOOST_TEST((err.failures()[0].status == aibatch::item_status::canceled));
        BOOST_TEST(err.failures()[0].message.find("was canceled") != std::string::npos);
        // The canceled batch may hold paid results of items that finished before the
        // cancel: it is named, with how to read them.
        BOOST_REQUIRE(err.unread_batches().size() == 1u);
        const auto& u = err.unread_batches()[0];
        BOOST_TEST(u.id == err.failures()[0].batch_id);
        BOOST_TEST(u.why.find("client.results(\"" + u.id + "\")") != std::string::npos, u.why);
        BOOST_TEST(std::string(err.what()).find(u.id) != std::string::npos, err.what());
    }
    BOOST_TEST(e.count("cancel") == 1u);
}

BOOST_AUTO_TEST_CASE(timeout_cancels_and_reports) {
    env e(env::held()); // never ends before the timeout
    auto o = fast();
    o.timeout = 500ms;
    auto t0 = std::chrono::steady_clock::now();
    auto err = expect_batch_error([&] {
        run_task(e.ioc(), aibatch::batch<SpamResult>(e.client(), scripted_messages(3), model, o));
    });
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < 5s));
    BOOST_TEST(err.code() == aibatch::errc::timed_out);
    BOOST_TEST(err.failures().size() == 3u);
    BOOST_TEST(e.count("cancel") == 1u);
    BOOST_TEST(std::string(err.what()).find("timeout (500 ms) passed") != std::string::npos);
}

// The batch is held until 20 ticks of another coroutine on the same thread have run: it
// can only end (and batch<T>() return) if polling left the thread free for them.
BOOST_AUTO_TEST_CASE(the_thread_is_free_while_polling) {
    env e(env::held());
    int ticks = 0;
    bool done = false;
    bool released = false;
    asio::co_spawn(
        e.ioc(),
        [&]() -> aibatch::task<void> {
            asio::steady_timer t(e.ioc());
            while (!done && ticks < 3000) { // bounded: 30 s
                t.expires_after(10ms);
                co_await t.async_wait(asio::use_awaitable);
                ++ticks;
                if (ticks >= 20 && !released)
                    released = e.release_all() > 0; // once the batch exists
            }
        },
        asio::detached);
    std::vector<SpamResult> r;
    asio::co_spawn(
        e.ioc(),
        [&]() -> aibatch::task<void> {
            r = co_await aibatch::batch<SpamResult>(e.client(), scripted_messages(3), model,
                                                    fast());
            done = true;
        },
        asio::detached);
    e.ioc().run();
    BOOST_TEST(released);
    BOOST_TEST(r.size() == 3u);
    BOOST_TEST(ticks >= 20);
}

BOOST_AUTO_TEST_CASE(workers_waiting_for_a_slow_create_do_not_spin) {
    // Found by hand: the workers waiting for the body turn reset the gate's expiry, which
    // cancels each other's waits, so they woke each other in a busy loop for as long as
    // a create took (the io_context never idled). Counted in handlers, not time.
    aibatch::test::emulator_fixture e(env::make(100ms, 100'000), env::config());
    e.emu().add_fault(aibatch::emulator::parse_fault("delay:800:1:create"));
    auto messages = scripted_messages(30);
    auto o = fast();
    o.max_requests_per_batch = 10;
    o.max_batches_in_flight = 3;
    std::vector<SpamResult> r;
    asio::co_spawn(e.ioc(), aibatch::batch<SpamResult>(e.client(), messages, model, o),
                   [&](std::exception_ptr ex, std::vector<SpamResult> v) {
                       BOOST_TEST(!ex);
                       r = std::move(v);
                   });
    std::size_t handlers = 0;
    while (handlers < 1'000'000 && e.ioc().run_one())
        ++handlers;
    BOOST_TEST(r.size() == 30u);
    BOOST_TEST_MESSAGE("handlers run: " << handlers);
    BOOST_TEST(handlers < 20'000u); // about 1,000 without the spin, ~10^5 with it
}

BOOST_AUTO_TEST_CASE(creates_are_sent_one_body_at_a_time_and_a_body_sent_again_is_the_same_bytes) {
    // Memory above the inputs is one request body whatever max_batches_in_flight: a
    // create is sent only after the one before it has answered, and a body that must be
    // sent again (an ambiguous create that made nothing) is rebuilt, byte for byte.
    auto cfg = env::config();
    std::vector<aibatch::client_event> seen;
    cfg.observer = [&](const aibatch::client_event& ev) {
        if (ev.target == "/v1/messages/batches" && ev.method == "POST")
            seen.push_back(ev);
    };
    aibatch::test::emulator_fixture e(env::make(100ms, 100'000), cfg);
    e.emu().add_fault(aibatch::emulator::parse_fault("drop:1:create"));
    auto messages = scripted_messages(30);
    auto o = fast();
    o.max_requests_per_batch = 10;
    o.max_batches_in_flight = 3;
    auto run = run_task(e.ioc(), aibatch::run_batch<SpamResult>(e.client(), messages, model, o));
    BOOST_REQUIRE(run.items.size() == 30u);
    for (int i = 0; i < 30; ++i)
        BOOST_TEST(
            (run.items[i].value && run.items[i].value->reason == "item " + std::to_string(i)));
    // The dropped create may have made a batch (its answer was lost): named, without an id.
    BOOST_REQUIRE(run.unread_batches.size() == 1u);
    BOOST_TEST(run.unread_batches[0].id.empty());
    // Never two creates on the wire at once.
    bool open = false;
    std::size_t sent = 0;
    for (const auto& ev : seen) {
        if (ev.what == aibatch::client_event::kind::request) {
            BOOST_TEST(!open, "a create was sent before the previous one answered");
            open = true;
            ++sent;
        } else if (ev.what == aibatch::client_event::kind::response ||
                   ev.what == aibatch::client_event::kind::failure) {
            open = false;
        }
    }
    BOOST_TEST(sent == 4u); // three batches, one of them sent twice
    // The dropped create and its second sending carried the same bytes.
    std::vector<aibatch::emulator::log_entry> creates;
    for (const auto& le : e.emu().log())
        if (le.endpoint == "create")
            creates.push_back(le);
    BOOST_REQUIRE(creates.size() == 4u);
    BOOST_TEST(creates[0].status == 0u);
    BOOST_TEST(creates[0].body_bytes > 0u);
    std::size_t same = 0;
    for (std::size_t k = 1; k < creates.size(); ++k) {
        BOOST_TEST(creates[k].status == 200u);
        same += creates[k].body_hash == creates[0].body_hash &&
                creates[k].body_bytes == creates[0].body_bytes;
    }
    BOOST_TEST(same == 1u);
    BOOST_TEST(e.emu().batches_created() == 3u);
}

// A long system prompt with a cache_control breakpoint (set through customize): the
// emulator's first item writes the prefix, the others read it (as the API reports it),
// and run_batch<T>() prices the writes at 2x input (1 hour) or 1.25x (5 minutes) and the
// reads at 0.1x, with the batch discount.
BOOST_AUTO_TEST_CASE(run_batch_prices_cache_writes_by_ttl_and_reads) {
    for (const char* ttl : {"1h", "5m"}) {
        BOOST_TEST_CONTEXT(ttl) {
            env e;
            auto o = fast();
            o.customize = [ttl](aibatch::message_params& p, std::size_t) {
                p.extra["system"] = boost::json::array{boost::json::object{
                    {"type", "text"},
                    {"text", std::string(24000, 'k')}, // about 6,000 tokens: past 4,096
                    {"cache_control", boost::json::object{{"type", "ephemeral"}, {"ttl", ttl}}}}};
            };
            auto run = run_task(e.ioc(), aibatch::run_batch<SpamResult>(
                                             e.client(), scripted_messages(4), model, o));
            BOOST_TEST_REQUIRE(run.succeeded() == 4u);
            const auto& u = run.usage;
            const std::uint64_t written = u.cache_creation_input_tokens;
            BOOST_TEST(written > 4096u); // once
            BOOST_TEST(u.cache_read_input_tokens == 3 * written);
            BOOST_TEST(u.cache_creation_1h_input_tokens ==
                       (std::string(ttl) == "1h" ? written : 0u));
            BOOST_TEST(u.input_tokens < 4 * 200u); // the prompts after the prefix
            // Claude Haiku 4.5: $1 / $5 per million input / output tokens, batches at 50%.
            const double write_factor = std::string(ttl) == "1h" ? 2.0 : 1.25;
            const double expected =
                (static_cast<double>(u.input_tokens) + write_factor * static_cast<double>(written) +
                 0.1 * static_cast<double>(u.cache_read_input_tokens) +
                 5.0 * static_cast<double>(u.output_tokens)) /
                1e6 * 0.5;
            BOOST_REQUIRE(run.cost_usd.has_value());
            BOOST_TEST(*run.cost_usd == expected, boost::test_tools::tolerance(1e-12));
        }
    }
}

// batch_options::cache_system: the system prompt goes out as a block with a breakpoint,
// and the run's usage and cost count the write and the reads.
BOOST_AUTO_TEST_CASE(cache_system_caches_the_system_prompt_of_every_request) {
    for (auto cache : {aibatch::prompt_cache::five_minutes, aibatch::prompt_cache::one_hour}) {
        const bool hour = cache == aibatch::prompt_cache::one_hour;
        BOOST_TEST_CONTEXT((hour ? "1h" : "5m")) {
            env e;
            auto o = fast();
            o.system = std::string(24000, 's'); // about 6,000 tokens: past Haiku's 4,096
            o.cache_system = cache;
            auto run = run_task(e.ioc(), aibatch::run_batch<SpamResult>(
                                             e.client(), scripted_messages(4), model, o));
            BOOST_TEST_REQUIRE(run.succeeded() == 4u);
            const auto& u = run.usage;
            BOOST_TEST(u.cache_creation_input_tokens > 4096u); // written once
            BOOST_TEST(u.cache_read_input_tokens == 3 * u.cache_creation_input_tokens);
            BOOST_TEST(u.cache_creation_1h_input_tokens ==
                       (hour ? u.cache_creation_input_tokens : 0u));
            BOOST_TEST(u.input_tokens < 4 * 200u);
        }
    }
    // Off (the default): the same system prompt is sent as a string and nothing is cached.
    env e;
    auto o = fast();
    o.system = std::string(24000, 's');
    auto run = run_task(e.ioc(),
                        aibatch::run_batch<SpamResult>(e.client(), scripted_messages(4), model, o));
    BOOST_TEST_REQUIRE(run.succeeded() == 4u);
    BOOST_TEST(run.usage.cache_creation_input_tokens == 0u);
    BOOST_TEST(run.usage.cache_read_input_tokens == 0u);
    BOOST_TEST(run.usage.input_tokens > 4 * 6000u);
}

BOOST_AUTO_TEST_CASE(cache_system_without_a_system_prompt_is_refused_before_sending) {
    env e;
    auto o = fast();
    o.cache_system = aibatch::prompt_cache::one_hour;
    try {
        (void)run_task(e.ioc(),
                       aibatch::batch<SpamResult>(e.client(), scripted_messages(2), model, o));
        BOOST_FAIL("no error");
    } catch (const aibatch::error& err) {
        BOOST_TEST((err.code() == aibatch::errc::invalid_argument));
        BOOST_TEST(std::string(err.what()).find("batch_options::system") != std::string::npos,
                   err.what());
    }
    BOOST_TEST(e.emu().batch_count() == 0u); // refused before any create
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// How a run_batch<T>() the test cancels ended: whether it did (a hang shows as
// done == false), its exception, its outcome.
struct canceled_run {
    std::optional<aibatch::batch_run<SpamResult>> run;
    std::exception_ptr failure;
    bool done = false;
};

// A run_batch<T>() over `messages` that the test cancels through `sig`, run on the
// fixture's io_context until it completes or `limit` passes.
canceled_run run_cancelable(aibatch::test::emulator_fixture& e, asio::cancellation_signal& sig,
                            const std::vector<aibatch::conversation>& messages,
                            const aibatch::batch_options& o, std::chrono::seconds limit) {
    canceled_run out;
    asio::co_spawn(e.ioc(), aibatch::run_batch<SpamResult>(e.client(), messages, model, o),
                   asio::bind_cancellation_slot(
                       sig.slot(), [&out](std::exception_ptr ex, aibatch::batch_run<SpamResult> r) {
                           out.failure = ex;
                           if (!ex)
                               out.run = std::move(r);
                           out.done = true;
                       }));
    auto until = std::chrono::steady_clock::now() + limit;
    while (!out.done && std::chrono::steady_clock::now() < until)
        e.ioc().run_one_for(50ms);
    return out;
}

} // namespace

// ------------------------------------------------------------------ journal
BOOST_AUTO_TEST_SUITE(batch_journal)

BOOST_AUTO_TEST_CASE(killed_mid_poll_and_restarted_reattaches_without_paying_twice) {
    // Held: the batches are certainly still running when the first child is killed, and
    // end only once the second runs.
    aibatch::test::emulator_fixture emu(aibatch::test::emulator_fixture::held(0));
    auto dir =
        std::filesystem::temp_directory_path() / ("aibatch-journal-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    std::string journal = (dir / "run.journal").string();
    std::string out1 = (dir / "out1.txt").string(), out2 = (dir / "out2.txt").string();

    pid_t first = e2e::spawn_journal_child(emu.url(), journal, out1, "30", "10");
    // Wait until all three batches are created and recorded, then kill -9 mid-poll.
    for (int i = 0; i < 400 && e2e::count_lines_with(journal, "\"created\"") < 3; ++i)
        std::this_thread::sleep_for(25ms);
    BOOST_REQUIRE(e2e::count_lines_with(journal, "\"created\"") == 3u);
    ::kill(first, SIGKILL);
    int status = 0;
    ::waitpid(first, &status, 0);
    BOOST_TEST(WIFSIGNALED(status));
    BOOST_TEST(emu.emu().batches_created() == 3u);
    BOOST_TEST(e2e::count_lines_with(out1, "item") == 0u); // it did not get to print

    const std::size_t polled = emu.count("retrieve");
    pid_t second = e2e::spawn_journal_child(emu.url(), journal, out2, "30", "10");
    // The second run polls the batches it re-attached to while they still run; then they
    // end.
    BOOST_TEST(emu.emu().wait_for_log(
        [polled](const std::vector<aibatch::emulator::log_entry>& log) {
            return static_cast<std::size_t>(
                       std::count_if(log.begin(), log.end(), [](const auto& e) {
                           return e.endpoint == "retrieve";
                       })) > polled;
        },
        20s));
    BOOST_TEST(emu.release_all() == 3u);
    int waited = 0;
    while (::waitpid(second, &status, WNOHANG) == 0 && waited++ < 600)
        std::this_thread::sleep_for(50ms);
    BOOST_REQUIRE(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 0);
    BOOST_TEST(emu.emu().batches_created() == 3u); // exactly one create per chunk
    std::size_t creates = 0;
    for (const auto& le : emu.emu().log())
        creates += le.endpoint == "create" && le.status == 200;
    BOOST_TEST(creates == 3u);
    std::ifstream f(out2);
    std::string line;
    int n = 0;
    while (std::getline(f, line)) {
        BOOST_TEST(line == std::to_string(n) + "\titem " + std::to_string(n));
        ++n;
    }
    BOOST_TEST(n == 30);
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(a_journal_of_another_input_is_refused) {
    env e;
    auto path =
        std::filesystem::temp_directory_path() / ("aibatch-j2-" + std::to_string(::getpid()));
    std::filesystem::remove(path);
    auto o = fast();
    o.journal = path;
    run_task(e.ioc(), aibatch::batch<SpamResult>(e.client(), scripted_messages(3), model, o));
    auto err = expect_error([&] {
        run_task(e.ioc(), aibatch::batch<SpamResult>(e.client(), scripted_messages(4), model, o));
    });
    BOOST_TEST(err.code() == aibatch::errc::journal);
    BOOST_TEST(std::string(err.what()).find("not this input") != std::string::npos);
    // The same input again re-attaches: no new batch.
    auto again =
        run_task(e.ioc(), aibatch::batch<SpamResult>(e.client(), scripted_messages(3), model, o));
    BOOST_TEST(again.size() == 3u);
    BOOST_TEST(e.emu().batches_created() == 1u);
    std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(a_journal_in_use_by_another_run_is_refused) {
    // Found by review s13: two runs given one journal at once (two processes, or two
    // calls of one program) each read it, found nothing to re-attach to, and each created
    // its own batch for the same items: paid twice, silently, and the journal then held
    // both runs' records. The second must be refused while the first holds the journal.
    env e(1000ms);
    auto path =
        std::filesystem::temp_directory_path() / ("aibatch-jshared-" + std::to_string(::getpid()));
    std::filesystem::remove(path);
    auto o = fast();
    o.journal = path;
    auto messages = scripted_messages(3);
    struct outcome {
        bool done = false;
        std::exception_ptr failure;
        std::vector<SpamResult> values;
    };
    outcome first, second;
    auto start = [&](outcome& out) {
        asio::co_spawn(e.ioc(), aibatch::batch<SpamResult>(e.client(), messages, model, o),
                       [&out](std::exception_ptr ex, std::vector<SpamResult> v) {
                           out.failure = ex;
                           out.values = std::move(v);
                           out.done = true;
                       });
    };
    start(first);
    start(second);
    e.ioc().restart();
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (!(first.done && second.done) && std::chrono::steady_clock::now() < until)
        e.ioc().run_one_for(50ms);
    BOOST_REQUIRE(first.done);
    BOOST_REQUIRE(second.done);
    BOOST_TEST(e.emu().batches_created() == 1u); // paid once
    // One of the two ran; the other was refused, naming the file and the fix.
    outcome& ran = first.failure ? second : first;
    outcome& refused = first.failure ? first : second;
    BOOST_TEST(!ran.failure);
    BOOST_TEST(ran.values.size() == 3u);
    BOOST_REQUIRE(refused.failure);
    try {
        std::rethrow_exception(refused.failure);
    } catch (const aibatch::error& err) {
        BOOST_TEST(err.code() == aibatch::errc::journal);
        std::string m = err.what();
        BOOST_TEST(m.find(path.string()) != std::string::npos, m);
        BOOST_TEST(m.find("in use") != std::string::npos, m);
    } catch (...) {
        BOOST_TEST(false, "not an aibatch::error");
    }
    // The journal is free as soon as a call returns: the same program may run again at
    // once (it re-attaches, nothing new is created).
    auto twice = [&]() -> aibatch::task<std::size_t> {
        auto a = co_await aibatch::batch<SpamResult>(e.client(), messages, model, o);
        auto b = co_await aibatch::batch<SpamResult>(e.client(), messages, model, o);
        co_return a.size() + b.size();
    };
    BOOST_TEST(run_task(e.ioc(), twice()) == 6u);
    BOOST_TEST(e.emu().batches_created() == 1u);
    std::filesystem::remove(path);
}

// The journal's disk, made slow: every line's write waits first, as on a busy network
// file system (aibatch::detail::journal_write_delay_ms_for_tests).
struct slow_journal_disk {
    explicit slow_journal_disk(int ms) { aibatch::detail::journal_write_delay_ms_for_tests = ms; }
    ~slow_journal_disk() { aibatch::detail::journal_write_delay_ms_for_tests = 0; }
    slow_journal_disk(const slow_journal_disk&) = delete;
    slow_journal_disk& operator=(const slow_journal_disk&) = delete;
};

BOOST_AUTO_TEST_CASE(a_slow_journal_disk_does_not_hold_the_event_loop) {
    // Found by review: the journal's write() and fsync() ran on the thread of the call,
    // so an async server sharing the loop stalled for as long as the disk took (twice per
    // batch, plus the header). A timer on the same one-thread io_context must keep
    // ticking while each 800 ms write is in progress.
    env e;
    auto path =
        std::filesystem::temp_directory_path() / ("aibatch-jslow-" + std::to_string(::getpid()));
    std::filesystem::remove(path);
    slow_journal_disk slow(800);
    bool done = false;
    std::chrono::steady_clock::duration longest_gap{};
    int ticks = 0;
    asio::co_spawn(
        e.ioc(),
        [&]() -> aibatch::task<void> {
            asio::steady_timer t(e.ioc());
            auto last = std::chrono::steady_clock::now();
            while (!done && ticks < 3000) { // bounded: 30 s
                t.expires_after(10ms);
                co_await t.async_wait(asio::use_awaitable);
                ++ticks;
                auto now = std::chrono::steady_clock::now();
                longest_gap = std::max(longest_gap, now - last);
                last = now;
            }
        },
        asio::detached);
    auto o = fast();
    o.journal = path;
    std::vector<SpamResult> r;
    asio::co_spawn(
        e.ioc(),
        [&]() -> aibatch::task<void> {
            r = co_await aibatch::batch<SpamResult>(e.client(), scripted_messages(3), model, o);
            done = true;
        },
        asio::detached);
    const auto started = std::chrono::steady_clock::now();
    e.ioc().run();
    const auto took = std::chrono::steady_clock::now() - started;
    BOOST_TEST(r.size() == 3u);
    // The header, "creating" and "created": three slow writes, all waited for.
    BOOST_TEST(took >= 2400ms);
    BOOST_TEST(e2e::count_lines_with(path.string(), "\"created\"") == 1u);
    BOOST_TEST_MESSAGE("longest gap between 10 ms ticks: "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(longest_gap).count()
                       << " ms over " << ticks << " ticks");
    BOOST_TEST(longest_gap < 400ms);
    std::filesystem::remove(path);
}

namespace {
// A journaled run_batch<T>() of 3 items on a slow journal disk (`write_ms` per line),
// canceled `after` its start; the journal file is left for the test to read.
canceled_run journaled_run_canceled_after(env& e, const std::filesystem::path& path, int write_ms,
                                          std::chrono::milliseconds after) {
    std::filesystem::remove(path);
    slow_journal_disk slow(write_ms);
    auto o = fast();
    o.journal = path;
    asio::cancellation_signal sig;
    asio::steady_timer t(e.ioc(), after);
    t.async_wait([&sig](boost::system::error_code ec) {
        if (!ec)
            sig.emit(asio::cancellation_type::terminal);
    });
    canceled_run r = run_cancelable(e, sig, scripted_messages(3), o, 20s);
    t.cancel();
    return r;
}

// What a cancel before any create leaves: the run returned (not thrown), its stop code
// operation_aborted, every item not submitted, no batch made.
void check_returned_with_nothing_sent(env& e, const canceled_run& r) {
    BOOST_REQUIRE(r.done);
    BOOST_REQUIRE(!r.failure);
    BOOST_REQUIRE(r.run.has_value());
    BOOST_TEST(r.run->stop_code == asio::error::operation_aborted);
    BOOST_TEST(e.emu().batches_created() == 0u);
    for (const auto& it : r.run->items)
        BOOST_TEST((it.status == aibatch::item_status::not_submitted), "item " << it.index);
}
} // namespace

BOOST_AUTO_TEST_CASE(a_cancel_while_the_journal_is_opened_returns_the_run) {
    // Found by a review helper: the journal is opened off the loop, and a cancel that
    // came meanwhile made run_batch<T>() throw operation_aborted (at the next await)
    // instead of returning its run, as a cancel at any other early moment does: stop code
    // operation_aborted, every item not submitted, no batch. The header takes 1 s to
    // write; the cancel comes at 300 ms.
    env e;
    auto path = std::filesystem::temp_directory_path() /
                ("aibatch-jcancel-open-" + std::to_string(::getpid()));
    canceled_run r = journaled_run_canceled_after(e, path, 1000, 300ms);
    check_returned_with_nothing_sent(e, r);
    std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(a_cancel_while_the_creating_record_is_written_sends_no_create) {
    // Found by review of the off-loop journal: a cancel can now arrive while a worker
    // waits for its "creating" record (the check for a stop came before the record). The
    // create must not be sent then: the record is answered "refused", nothing is paid.
    // Each write takes 1 s: the header 0-1 s, "creating" 1-2 s; the cancel comes at 1.5 s.
    env e;
    auto path =
        std::filesystem::temp_directory_path() / ("aibatch-jcancel-" + std::to_string(::getpid()));
    canceled_run r = journaled_run_canceled_after(e, path, 1000, 1500ms);
    check_returned_with_nothing_sent(e, r);
    BOOST_TEST(e2e::count_lines_with(path.string(), "\"creating\"") == 1u);
    BOOST_TEST(e2e::count_lines_with(path.string(), "\"refused\"") == 1u);
    std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(an_io_context_destroyed_while_the_journal_writes_is_torn_down_cleanly) {
    // A journal write is in progress (2 s) when the io_context goes: its destruction waits
    // for the write, then destroys the run's coroutines; nothing may touch freed memory
    // (asan) or be left running.
    auto path =
        std::filesystem::temp_directory_path() / ("aibatch-jdown-" + std::to_string(::getpid()));
    std::filesystem::remove(path);
    {
        aibatch::test::emulator_fixture e(env::make(100ms, 100'000), env::config());
        slow_journal_disk slow(2000);
        auto o = fast();
        o.journal = path;
        auto messages = scripted_messages(3);
        auto ioc = std::make_unique<asio::io_context>();
        auto c = std::make_unique<aibatch::client>(ioc->get_executor(), e.client_settings());
        bool done = false;
        asio::co_spawn(*ioc, aibatch::batch<SpamResult>(*c, messages, model, o),
                       [&](std::exception_ptr, std::vector<SpamResult>) { done = true; });
        ioc->run_for(300ms); // the header's write has started
        BOOST_TEST(!done);
        const auto t0 = std::chrono::steady_clock::now();
        c.reset();
        ioc.reset();
        BOOST_TEST(!done);
        BOOST_TEST_MESSAGE("destroyed in " << std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  std::chrono::steady_clock::now() - t0)
                                                  .count()
                                           << " ms");
    }
    std::filesystem::remove(path);
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------ real API
BOOST_AUTO_TEST_SUITE(batch_real_api)

namespace {
bool have_key() {
    const char* k = std::getenv("ANTHROPIC_API_KEY");
    return k && *k;
}
aibatch::client real_client(asio::io_context& ioc) {
    auto cfg = aibatch::client_config::from_env();
    if (cfg.base_url.find("127.0.0.1") != std::string::npos)
        cfg.base_url = "https://api.anthropic.com";
    return aibatch::client(ioc.get_executor(), cfg);
}
aibatch::batch_options real_options() {
    aibatch::batch_options o;
    o.poll_interval = 5s;
    o.poll_interval_max = 30s;
    o.timeout = std::chrono::hours(2);
    o.max_tokens = 300;
    return o;
}
} // namespace

// batch<T>() against the real API, or nullopt (reported as skipped) without a key.
template <class T>
std::optional<std::vector<T>> run_real(const std::vector<aibatch::conversation>& m) {
    if (!have_key()) {
        BOOST_TEST_MESSAGE("skipped: ANTHROPIC_API_KEY is not set (real-API test)");
        return std::nullopt;
    }
    asio::io_context ioc;
    auto c = real_client(ioc);
    return run_task(ioc, aibatch::batch<T>(c, m, model, real_options()));
}

BOOST_AUTO_TEST_CASE(real_spam_detection) {
    auto r = run_real<SpamResult>(
        {{aibatch::user("You are a spam detection expert. Is this spam? You WON $1,000,000, "
                        "send your bank details")},
         {aibatch::user(
             "You are a spam detection expert. Is this spam? Hi Bob, see you at 3pm.")}});
    if (!r)
        return;
    BOOST_TEST(r->size() == 2u);
    BOOST_TEST((*r)[0].is_spam);
    BOOST_TEST(!(*r)[1].is_spam);
}

BOOST_AUTO_TEST_CASE(real_sentiment_analysis) {
    auto r = run_real<SentimentResult>({{aibatch::user("Sentiment: I love this!")},
                                        {aibatch::user("Sentiment: Worst purchase ever.")}});
    if (!r)
        return;
    BOOST_TEST(((*r)[0].sentiment == e2e::Sentiment::positive));
    BOOST_TEST(((*r)[1].sentiment == e2e::Sentiment::negative));
}

BOOST_AUTO_TEST_CASE(real_single_message) {
    auto r = run_real<SpamResult>({{aibatch::user("Is this spam? Limited offer!!! Click now")}});
    if (!r)
        return;
    BOOST_TEST(r->size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------ review findings
BOOST_AUTO_TEST_SUITE(batch_review)

namespace {
// Runs batch<T>() on e.ioc() for at most `cap`; then cancels it and waits `grace` more.
// Returns whether the call completed (its exception, if any, in `failure`).
template <class T>
bool run_capped(aibatch::test::emulator_fixture& e, aibatch::task<std::vector<T>> t,
                std::exception_ptr& failure, std::chrono::seconds cap,
                std::chrono::seconds grace = 5s) {
    bool done = false;
    asio::cancellation_signal sig;
    asio::co_spawn(
        e.ioc(), std::move(t),
        asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr ex, std::vector<T>) {
            failure = ex;
            done = true;
        }));
    auto until = std::chrono::steady_clock::now() + cap;
    while (!done && std::chrono::steady_clock::now() < until)
        e.ioc().run_one_for(50ms);
    if (done)
        return true;
    sig.emit(asio::cancellation_type::terminal);
    until = std::chrono::steady_clock::now() + grace;
    while (!done && std::chrono::steady_clock::now() < until)
        e.ioc().run_one_for(50ms);
    return done;
}
} // namespace

BOOST_AUTO_TEST_CASE(a_customize_that_throws_while_planning_does_not_hang_the_run) {
    // customize throws for item 3 only (item 0, checked up front, passes). With two
    // workers, the worker planning items 2-3 leaves next_job() by the exception while it
    // holds the body turn; the other worker then waits for the turn forever, and neither
    // the run's end nor a cancellation (only workers with a job in `waiting` are
    // signaled) ever comes. The old planning gate released itself in a destructor.
    auto owned = std::make_unique<env>(100ms);
    env& e = *owned;
    auto o = fast();
    o.max_requests_per_batch = 2;
    o.max_batches_in_flight = 2;
    o.customize = [](aibatch::message_params&, std::size_t i) {
        if (i == 3)
            throw std::runtime_error("customize failed for item 3");
    };
    auto messages = scripted_messages(6);
    std::exception_ptr failure;
    const bool done = run_capped<SpamResult>(
        e, aibatch::batch<SpamResult>(e.client(), messages, model, o), failure, 15s);
    BOOST_TEST(done, "batch<T>() never completed, not even after a cancellation");
    BOOST_TEST(e.emu().batches_created() >= 1u);
    if (!done) {
        // The run's coroutines are stuck on e.ioc(): destroying them would touch freed
        // inputs. The fixture is leaked on purpose (the emulator stopped first).
        e.stop();
        (void)owned.release();
    }
}

BOOST_AUTO_TEST_CASE(an_item_marked_succeeded_always_has_its_value) {
    // A create is ambiguous (drop-after: the batch exists, its answer was lost); the
    // candidate batch is checked line by line, and its first line of this run's items
    // confirms it: on_line() takes the line in the ledger (the item becomes succeeded),
    // then confirm() journals the batch, and only after that keep() stores the value.
    // When the journal write fails there, the item stays `succeeded` with no value:
    // item_outcome::value is documented as "set exactly when status == succeeded".
    // The journal write is made to fail with RLIMIT_FSIZE, set when the candidate is
    // adopted (after "creating" was written, before "created").
    auto cfg = env::config();
    auto path =
        std::filesystem::temp_directory_path() / ("aibatch-jrev-" + std::to_string(::getpid()));
    std::filesystem::remove(path);
    rlimit before{};
    ::getrlimit(RLIMIT_FSIZE, &before);
    std::signal(SIGXFSZ, SIG_IGN);
    bool limited = false;
    cfg.observer = [&](const aibatch::client_event& ev) {
        if (ev.what == aibatch::client_event::kind::adopted && !limited) {
            limited = true;
            rlimit l = before;
            l.rlim_cur = static_cast<rlim_t>(std::filesystem::file_size(path));
            ::setrlimit(RLIMIT_FSIZE, &l);
        }
    };
    aibatch::test::emulator_fixture e(env::make(100ms, 100'000), cfg);
    e.emu().add_fault(aibatch::emulator::parse_fault("drop-after:1:create"));
    auto o = fast();
    o.journal = path;
    auto messages = scripted_messages(4);
    auto run = run_task(e.ioc(), aibatch::run_batch<SpamResult>(e.client(), messages, model, o));
    ::setrlimit(RLIMIT_FSIZE, &before);
    std::signal(SIGXFSZ, SIG_DFL);
    std::filesystem::remove(path);
    BOOST_REQUIRE(limited); // the scenario happened: a candidate was adopted
    BOOST_TEST(e.emu().batches_created() == 1u);
    BOOST_TEST_MESSAGE("stop: " << run.stop_message);
    BOOST_REQUIRE(run.items.size() == 4u);
    for (const auto& it : run.items) {
        BOOST_TEST_MESSAGE("item " << it.index << " status " << static_cast<int>(it.status) << " "
                                   << it.error_type << " " << it.message);
        BOOST_TEST((it.status == aibatch::item_status::succeeded) == it.value.has_value(),
                   "item " << it.index << ": status succeeded but no value (or the reverse)");
    }
}

BOOST_AUTO_TEST_CASE(a_repair_body_sent_again_is_the_same_bytes_with_workers_in_parallel) {
    // Repair round bodies carry feedback; a dropped repair create is rebuilt from its
    // items while another worker's repair batch runs: the bytes must be the same.
    auto cfg = env::config();
    std::unique_ptr<aibatch::test::emulator_fixture> fx;
    std::size_t answered = 0;
    cfg.observer = [&](const aibatch::client_event& ev) {
        if (ev.target == "/v1/messages/batches" && ev.method == "POST" &&
            ev.what == aibatch::client_event::kind::response && ++answered == 3)
            fx->emu().add_fault(aibatch::emulator::parse_fault("drop:1:create"));
    };
    fx = std::make_unique<aibatch::test::emulator_fixture>(env::make(100ms, 100'000), cfg);
    auto& e = *fx;
    auto messages = scripted_messages(6);
    for (int i : {1, 2, 4})
        messages[i] = {aibatch::user("Is this spam?\nEMULATOR_OUTPUT: {\"is_spam\":\"no\"}")};
    auto o = fast();
    o.repair_rounds = 1;
    o.max_requests_per_batch = 2;
    o.max_batches_in_flight = 2;
    auto run = run_task(e.ioc(), aibatch::run_batch<SpamResult>(e.client(), messages, model, o));
    BOOST_TEST(run.succeeded() == 6u, run.stop_message);
    // Only the dropped create's possible batch is named (without an id: none was made).
    BOOST_REQUIRE(run.unread_batches.size() == 1u);
    BOOST_TEST(run.unread_batches[0].id.empty());
    std::vector<aibatch::emulator::log_entry> creates;
    for (const auto& le : e.emu().log())
        if (le.endpoint == "create")
            creates.push_back(le);
    BOOST_REQUIRE(creates.size() == 6u); // 3 + 2 repair, one of them sent twice
    std::size_t dropped = 0, same = 0;
    for (const auto& c : creates)
        if (c.status == 0) {
            ++dropped;
            for (const auto& d : creates)
                same +=
                    d.status == 200 && d.body_hash == c.body_hash && d.body_bytes == c.body_bytes;
        }
    BOOST_TEST(dropped == 1u);
    BOOST_TEST(same == 1u);
    BOOST_TEST(e.emu().batches_created() == 5u);
    for (int i : {0, 3, 5})
        BOOST_TEST(
            (run.items[i].value && run.items[i].value->reason == "item " + std::to_string(i)));
}

BOOST_AUTO_TEST_CASE(a_customize_that_throws_later_does_not_lose_paid_results) {
    // One worker: batch 1 (items 0-1) is created, paid and read; planning batch 2 calls
    // customize for item 3, which throws. The exception leaves run_batch<T>() (documented
    // to throw only for bad input, before any network call) and the caller never sees
    // batch 1's values, nor its id: a paid result lost.
    env e(100ms);
    auto o = fast();
    o.max_requests_per_batch = 2;
    o.max_batches_in_flight = 1;
    o.customize = [](aibatch::message_params&, std::size_t i) {
        if (i == 3)
            throw std::runtime_error("customize failed for item 3");
    };
    auto messages = scripted_messages(6);
    std::optional<aibatch::batch_run<SpamResult>> run;
    std::string thrown;
    try {
        run = run_task(e.ioc(), aibatch::run_batch<SpamResult>(e.client(), messages, model, o));
    } catch (const std::exception& ex) {
        thrown = ex.what();
    }
    BOOST_TEST(e.emu().batches_created() == 1u);
    BOOST_TEST(thrown.empty(), "run_batch threw after a paid batch was read: " << thrown);
    BOOST_REQUIRE(run.has_value());
    BOOST_TEST((run->items[0].status == aibatch::item_status::succeeded));
    BOOST_TEST((run->items[1].status == aibatch::item_status::succeeded));
}

BOOST_AUTO_TEST_CASE(a_cancel_while_workers_wait_for_the_turn_behind_a_slow_create_ends_the_call) {
    // Worker 1's create is held 2 s by the server; worker 2 waits for the body turn (no
    // job yet: it is not signaled). The call is canceled meanwhile: once the create
    // answers, its batch is canceled and named, worker 2 sees the stop, and the call
    // ends with every created batch accounted for.
    env e(env::held());
    e.emu().add_fault(aibatch::emulator::parse_fault("delay:2000:1:create"));
    auto o = fast();
    o.max_requests_per_batch = 2;
    o.max_batches_in_flight = 2;
    auto messages = scripted_messages(4);
    asio::cancellation_signal sig;
    std::exception_ptr failure;
    bool done = false;
    asio::co_spawn(e.ioc(), aibatch::batch<SpamResult>(e.client(), messages, model, o),
                   asio::bind_cancellation_slot(
                       sig.slot(), [&](std::exception_ptr ex, std::vector<SpamResult>) {
                           failure = ex;
                           done = true;
                       }));
    asio::steady_timer t(e.ioc(), 500ms);
    t.async_wait([&](boost::system::error_code) { sig.emit(asio::cancellation_type::terminal); });
    auto until = std::chrono::steady_clock::now() + 15s;
    while (!done && std::chrono::steady_clock::now() < until)
        e.ioc().run_one_for(50ms);
    BOOST_REQUIRE(done);
    BOOST_REQUIRE(failure);
    try {
        std::rethrow_exception(failure);
    } catch (const aibatch::batch_error& err) {
        BOOST_TEST(err.code() == asio::error::operation_aborted);
        BOOST_TEST(err.failures().size() == 4u);
        BOOST_TEST(e.emu().batches_created() == 1u);
        BOOST_TEST(err.unread_batches().size() == 1u);
        BOOST_TEST(e.count("cancel") == 1u);
    }
    e.release_all();
}

namespace {
// Posts `f` to `ioc` after `hops` posts in a row (the ones before it run first).
void post_after(asio::io_context& ioc, int hops, std::function<void()> f) {
    asio::post(ioc, [&ioc, hops, f = std::move(f)]() mutable {
        if (hops == 0)
            f();
        else
            post_after(ioc, hops - 1, std::move(f));
    });
}

// run_cancelable() on an env of its own, over n scripted messages, for at most 10 s.
struct cancel_trial {
    env e;
    asio::cancellation_signal sig;
    bool posted = false;
    std::vector<aibatch::conversation> messages;
    std::optional<aibatch::batch_run<SpamResult>> run;
    std::exception_ptr failure;
    bool done = false;

    template <class EnvArg>
    cancel_trial(EnvArg a, std::size_t n) : e(a), messages(scripted_messages(n)) {}

    void start_and_wait(const aibatch::batch_options& o) {
        canceled_run r = run_cancelable(e, sig, messages, o, 10s);
        run = std::move(r.run);
        failure = r.failure;
        done = r.done;
    }
};
} // namespace

BOOST_AUTO_TEST_CASE(a_cancel_as_the_last_worker_ends_neither_hangs_nor_loses_paid_results) {
    // One worker: batch 1 (items 0-9) is created, paid and read; planning batch 2,
    // customize throws for item 19, so the run stops and its only worker ends; the round
    // then waits for its deadline timer's message (batch_options::timeout). The caller's
    // cancellation is posted from that customize call a few hops ahead, the number of
    // hops swept so that it lands just as the worker ends:
    //  - it cuts the round's receive while the timer's message is on its way: Boost 1.81's
    //    channel leaves a buffered channel whose only waiter was canceled refusing
    //    try_send (send_state_ = block), the timer's message is dropped (BOOST_ASSERT is
    //    compiled out) and the round waits for it forever: the call never completes;
    //  - or it is left set for run() after the loop, and the round's tail (items 20-79
    //    marked not submitted, a breathe() every 64) co_awaits with throw_if_cancelled back
    //    on: operation_aborted leaves run_batch<T>() and batch 1's paid values are lost.
    struct trial : cancel_trial {
        trial() : cancel_trial(100ms, 80) {}
    };
    // Without a timeout the round does not wait for a timer: the same sweep, as coverage.
    for (int k = 0; k < 16; ++k) {
        const int hops = k % 8;
        const bool with_timeout = k < 8;
        auto owned = std::make_unique<trial>();
        trial& t = *owned;
        auto o = fast();
        o.max_requests_per_batch = 10;
        o.max_batches_in_flight = 1;
        if (with_timeout)
            o.timeout = 60s;
        o.customize = [&t, hops](aibatch::message_params&, std::size_t i) {
            if (i != 19)
                return;
            if (!t.posted)
                post_after(t.e.ioc(), hops,
                           [&t] { t.sig.emit(asio::cancellation_type::terminal); });
            t.posted = true;
            throw std::runtime_error("customize failed for item 19");
        };
        t.start_and_wait(o);
        BOOST_TEST(t.posted);
        BOOST_TEST(t.done, "hops " << hops << (with_timeout ? " (timeout)" : "")
                                   << ": run_batch<T>() never completed");
        if (!t.done) {
            // The run's coroutines are stuck on the trial's io_context: the trial is
            // leaked on purpose (its emulator stopped first).
            t.e.stop();
            (void)owned.release();
            continue;
        }
        std::string thrown;
        if (t.failure) {
            try {
                std::rethrow_exception(t.failure);
            } catch (const std::exception& ex) {
                thrown = ex.what();
            }
        }
        BOOST_TEST(thrown.empty(),
                   "hops " << hops << (with_timeout ? " (timeout)" : "")
                           << ": run_batch threw after a paid batch was read: " << thrown);
        BOOST_TEST(t.e.emu().batches_created() == 1u);
        if (!t.run)
            continue;
        BOOST_REQUIRE(t.run->items.size() == 80u);
        BOOST_TEST(t.run->succeeded() == 10u, "hops " << hops);
        for (int i = 0; i < 10; ++i)
            BOOST_TEST((t.run->items[i].value &&
                        t.run->items[i].value->reason == "item " + std::to_string(i)));
        for (int i = 10; i < 80; ++i)
            BOOST_TEST((t.run->items[i].status == aibatch::item_status::not_submitted));
    }
}

BOOST_AUTO_TEST_CASE(a_cancel_at_any_early_moment_accounts_for_every_item) {
    // The caller's cancellation is posted from customize(0) (checked before anything is
    // sent) a swept number of hops ahead, so it lands at every early step of a run with
    // several workers: the checks, the round's start, workers taking the body turn,
    // planning, creates in flight, polls. Batches are held (they never end by
    // themselves). Each time the call ends (bounded), returns (no exception), every item
    // is not_submitted or canceled, and every created batch was canceled and named.
    struct trial : cancel_trial {
        trial() : cancel_trial(env::held(), 12) {}
    };
    for (int hops = 0; hops < 40; hops += (hops < 12 ? 1 : 4)) {
        auto owned = std::make_unique<trial>();
        trial& t = *owned;
        auto o = fast();
        o.max_requests_per_batch = 3;
        o.max_batches_in_flight = 3;
        o.timeout = 60s;
        o.customize = [&t, hops](aibatch::message_params&, std::size_t i) {
            if (i != 0 || t.posted)
                return;
            t.posted = true;
            post_after(t.e.ioc(), hops, [&t] { t.sig.emit(asio::cancellation_type::terminal); });
        };
        t.start_and_wait(o);
        BOOST_TEST(t.done, "hops " << hops << ": run_batch<T>() never completed");
        if (!t.done) {
            t.e.stop();
            (void)owned.release();
            continue;
        }
        BOOST_TEST(!t.failure, "hops " << hops << ": run_batch<T>() threw");
        if (!t.run)
            continue;
        const auto& run = *t.run;
        BOOST_TEST(run.stop_code == asio::error::operation_aborted, "hops " << hops);
        BOOST_REQUIRE(run.items.size() == 12u);
        for (const auto& it : run.items)
            BOOST_TEST((it.status == aibatch::item_status::not_submitted ||
                        it.status == aibatch::item_status::canceled),
                       "hops " << hops << " item " << it.index << ": " << it.message);
        const std::size_t created = t.e.emu().batches_created();
        BOOST_TEST(run.unread_batches.size() == created, "hops " << hops);
        BOOST_TEST(t.e.count("cancel") == created, "hops " << hops);
        for (const auto& b : t.e.emu().batches())
            BOOST_TEST(b.cancel_requested, "hops " << hops);
        BOOST_TEST_MESSAGE("hops " << hops << ": " << created << " batches created");
        t.e.release_all();
    }
}

BOOST_AUTO_TEST_CASE(two_different_answers_for_one_item_leave_no_value) {
    // A second, different answer for item 1 comes first (its own message id, the id
    // after "content"): the ledger keeps its value at first, then the real line makes
    // the item failed; the last pass must drop the kept value (and the other items keep
    // theirs, each its own).
    env e;
    auto o = fast();
    o.run_id = "revw1";
    const std::string tool = aibatch::output_spec::for_type<SpamResult>().name;
    const std::string line =
        R"({"custom_id":"item-revw1-1","result":{"type":"succeeded","message":{"type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"tool_use","id":"toolu_x","name":")" +
        tool +
        R"(","input":{"is_spam":true,"confidence":0.9,"reason":"INJECTED"}}],"stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":1},"id":"msg_other"}}})";
    e.emu().add_fault(aibatch::emulator::parse_fault("inject-line:1:" + line));
    auto messages = scripted_messages(3);
    auto run = run_task(e.ioc(), aibatch::run_batch<SpamResult>(e.client(), messages, model, o));
    BOOST_REQUIRE(run.items.size() == 3u);
    BOOST_TEST((run.items[1].status == aibatch::item_status::failed));
    BOOST_TEST(run.items[1].error_type == "duplicate_result");
    BOOST_TEST(!run.items[1].value.has_value());
    for (int i : {0, 2}) {
        BOOST_TEST((run.items[i].status == aibatch::item_status::succeeded));
        BOOST_TEST(
            (run.items[i].value && run.items[i].value->reason == "item " + std::to_string(i)));
    }
    BOOST_TEST(!run.anomalies.empty());
}

namespace {
// A journal's records: batch id -> the body hash its record names.
std::map<std::string, std::uint64_t> journal_hashes(const std::filesystem::path& path) {
    std::map<std::string, std::uint64_t> out;
    std::ifstream f(path);
    std::string line;
    while (std::getline(f, line)) {
        auto v = boost::json::parse(line).as_object();
        if (v.contains("batch_id"))
            out[std::string(v["batch_id"].as_string())] =
                std::stoull(std::string(v["hash"].as_string()), nullptr, 16);
    }
    return out;
}
} // namespace

BOOST_AUTO_TEST_CASE(a_create_never_carries_bytes_other_than_its_journal_record) {
    // A streamed body is planned (measured, and hashed for the journal) before its create
    // and written again while it is sent. The transport checks its size only: an input
    // changed in between (here by the caller's observer as the create is announced, the
    // same length) goes out as it is now, under a journal record that hashes the planned
    // bytes. The batch then answers another input than the one its record names: a resume
    // with the input as it is now refuses the record ("written for a different input") and
    // the paid batch is left behind; one with the input as it was re-attaches answers to
    // other prompts. The kept body (before #15) could not change once planned. With a
    // journal the planned hash is known: a body that does not hash to it must never be
    // completed on the server.
    auto path =
        std::filesystem::temp_directory_path() / ("aibatch-jhash-" + std::to_string(::getpid()));
    std::filesystem::remove(path);
    auto messages = scripted_messages(3);
    auto cfg = env::config();
    bool changed = false;
    cfg.observer = [&](const aibatch::client_event& ev) {
        if (ev.what == aibatch::client_event::kind::request && ev.method == "POST" && !changed) {
            changed = true;
            auto& text = messages[0][0].text;
            text.replace(text.find("spam"), 4, "SPAM"); // same length
        }
    };
    aibatch::test::emulator_fixture e(env::make(100ms, 100'000), cfg);
    auto o = fast();
    o.journal = path;
    auto run = run_task(e.ioc(), aibatch::run_batch<SpamResult>(e.client(), messages, model, o));
    BOOST_REQUIRE(changed);
    BOOST_TEST_MESSAGE("stop: " << run.stop_message);
    auto recorded = journal_hashes(path); // batch id -> the hash its record names
    for (const auto& le : e.emu().log())
        if (le.endpoint == "create" && le.status == 200) {
            BOOST_TEST(recorded.count(le.batch_id) == 1u);
            BOOST_TEST(recorded[le.batch_id] == le.body_hash,
                       "batch " << le.batch_id
                                << " was made from bytes other than its journal record's");
        }
    std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(
    streamed_bodies_hash_to_their_journal_records_through_429_drop_repair_and_too_large) {
    // Review of #15 (what held): the bytes on the wire (the emulator's FNV-1a of each
    // create body) are the ones the journal records, through a 429 (the body written
    // again), a dropped create (sent again after the candidate check), multi-piece bodies
    // of escaped and non-ASCII text, an item too large (left out) and a repair round (its
    // feedback in the body).
    auto path =
        std::filesystem::temp_directory_path() / ("aibatch-jstream-" + std::to_string(::getpid()));
    std::filesystem::remove(path);
    auto cfg = env::config();
    std::unique_ptr<aibatch::test::emulator_fixture> fx;
    bool dropped = false;
    cfg.observer = [&](const aibatch::client_event& ev) {
        if (ev.what == aibatch::client_event::kind::response && ev.status == 429 && !dropped) {
            dropped = true;
            fx->emu().add_fault(aibatch::emulator::parse_fault("drop:1:create"));
        }
    };
    fx = std::make_unique<aibatch::test::emulator_fixture>(env::make(100ms, 100'000), cfg);
    auto& e = *fx;
    e.emu().add_fault(aibatch::emulator::parse_fault("status:429:1:create"));
    auto o = fast();
    o.journal = path;
    o.max_bytes_per_batch = 700'000;
    o.max_batches_in_flight = 2;
    o.repair_rounds = 1;
    std::vector<aibatch::conversation> messages;
    std::string filler;
    for (int k = 0; k < 6000; ++k)
        filler += "caf\xc3\xa9 \x01\"\\/\t\x7f ";
    for (int i = 0; i < 24; ++i) {
        std::string text =
            i % 4 == 1 ? "Is this spam?\nEMULATOR_OUTPUT: {\"is_spam\":\"no\"}" : scripted(i);
        if (i % 3 == 0)
            text = filler + text;
        if (i == 7)
            text = std::string(800'000, 'x') + text;
        messages.push_back({aibatch::user(text)});
    }
    auto run = run_task(e.ioc(), aibatch::run_batch<SpamResult>(e.client(), messages, model, o));
    BOOST_TEST_MESSAGE("stop: " << run.stop_message << " succeeded " << run.succeeded());
    auto hash_of = journal_hashes(path);
    std::size_t checked = 0;
    for (const auto& le : e.emu().log())
        if (le.endpoint == "create") {
            BOOST_TEST_MESSAGE("create " << le.status << " " << le.batch_id << " " << le.body_bytes
                                         << " " << le.body_hash);
            if (le.status == 200) {
                BOOST_TEST(hash_of.count(le.batch_id) == 1u);
                BOOST_TEST(hash_of[le.batch_id] == le.body_hash);
                ++checked;
            }
        }
    BOOST_TEST(checked == 3u);
    BOOST_TEST(dropped);
    BOOST_TEST(run.succeeded() == 23u);
    std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(an_io_context_destroyed_mid_upload_is_torn_down_cleanly) {
    // A listening socket that never accepts: the connection is made (backlog), and the
    // 30 MB upload stops once the socket buffers are full. The io_context is destroyed
    // then, the run's coroutines (the body's writer captures the engine and the job) with it.
    {
        asio::io_context srv;
        asio::ip::tcp::acceptor acc(srv, {asio::ip::make_address("127.0.0.1"), 0});
        acc.listen();
        const auto port = acc.local_endpoint().port();
        std::vector<aibatch::conversation> messages;
        for (int i = 0; i < 60; ++i)
            messages.push_back({aibatch::user(
                std::string(500'000, static_cast<char>('a' + i % 26)) + scripted(i))});
        auto o = fast();
        auto ioc = std::make_unique<asio::io_context>();
        aibatch::client_config cfg = env::config();
        cfg.base_url = "http://127.0.0.1:" + std::to_string(port);
        std::size_t requests = 0;
        cfg.observer = [&](const aibatch::client_event& ev) {
            if (ev.what == aibatch::client_event::kind::request)
                ++requests;
        };
        auto c = std::make_unique<aibatch::client>(ioc->get_executor(), cfg);
        bool done = false;
        asio::co_spawn(*ioc, aibatch::batch<SpamResult>(*c, messages, model, o),
                       [&](std::exception_ptr, std::vector<SpamResult>) { done = true; });
        for (int k = 0; k < 60 && requests == 0; ++k)
            ioc->run_for(100ms);
        ioc->run_for(1s);
        BOOST_TEST(requests == 1u);
        BOOST_TEST(!done);
        // The caller's client goes first, then the loop with the run's coroutines (an
        // Asio object must not outlive its execution context): nothing may touch freed
        // memory (asan), the writer of the body included.
        c.reset();
        ioc.reset();
    }
}

BOOST_AUTO_TEST_CASE(a_cancel_at_any_moment_of_a_streamed_upload_accounts_for_every_item) {
    // The caller's cancellation lands a swept number of hops after the first create is
    // announced, so during the upload of its 1.2 MB body (5 pieces) and after: the call
    // ends, returns, every item is not submitted or canceled, every batch made is named.
    for (int hops : {0, 1, 2, 3, 4, 5, 6, 8, 10, 13, 17, 21, 34, 55, 89}) {
        auto cfg = env::config();
        asio::cancellation_signal sig;
        bool posted = false;
        std::unique_ptr<aibatch::test::emulator_fixture> fx;
        cfg.observer = [&](const aibatch::client_event& ev) {
            if (ev.what == aibatch::client_event::kind::request && ev.method == "POST" && !posted) {
                posted = true;
                post_after(fx->ioc(), hops, [&] { sig.emit(asio::cancellation_type::terminal); });
            }
        };
        fx = std::make_unique<aibatch::test::emulator_fixture>(env::held(), cfg);
        auto& e = *fx;
        std::vector<aibatch::conversation> messages;
        for (int i = 0; i < 12; ++i)
            messages.push_back({aibatch::user(std::string(300'000, 'q') + scripted(i))});
        auto o = fast();
        o.max_requests_per_batch = 4;
        o.max_batches_in_flight = 3;
        o.timeout = 60s;
        auto [run, failure, done] = run_cancelable(e, sig, messages, o, 15s);
        BOOST_TEST(done, "hops " << hops);
        if (!done) {
            e.stop();
            (void)fx.release();
            continue;
        }
        BOOST_TEST(!failure, "hops " << hops);
        if (!run)
            continue;
        for (const auto& it : run->items)
            BOOST_TEST((it.status == aibatch::item_status::not_submitted ||
                        it.status == aibatch::item_status::canceled),
                       "hops " << hops << " item " << it.index << ": " << it.message);
        const std::size_t created = e.emu().batches_created();
        BOOST_TEST(run->unread_batches.size() == created, "hops " << hops);
        for (const auto& b : e.emu().batches())
            BOOST_TEST(b.cancel_requested, "hops " << hops);
        BOOST_TEST_MESSAGE("hops " << hops << ": " << created << " created");
        e.release_all();
    }
}

BOOST_AUTO_TEST_CASE(a_streamed_body_sent_again_over_tls_is_the_same_bytes) {
    // Multi-piece bodies over TLS, one create dropped and sent again: same bytes.
    auto eo = env::make(100ms, 100'000);
    const auto& pki = aibatch::test::test_pki::get();
    eo.tls_cert = pki.server_cert;
    eo.tls_key = pki.server_key;
    auto cfg = env::config();
    cfg.transport.ca_file = pki.ca_cert.string();
    aibatch::test::emulator_fixture e(eo, cfg);
    e.emu().add_fault(aibatch::emulator::parse_fault("drop:1:create"));
    std::vector<aibatch::conversation> messages;
    for (int i = 0; i < 12; ++i)
        messages.push_back({aibatch::user(std::string(300'000, 'q') + scripted(i))});
    auto o = fast();
    o.max_requests_per_batch = 4;
    o.max_batches_in_flight = 2;
    auto run = run_task(e.ioc(), aibatch::run_batch<SpamResult>(e.client(), messages, model, o));
    BOOST_TEST(run.succeeded() == 12u, run.stop_message);
    for (int i = 0; i < 12; ++i)
        BOOST_TEST(
            (run.items[i].value && run.items[i].value->reason == "item " + std::to_string(i)));
    std::vector<aibatch::emulator::log_entry> creates;
    for (const auto& le : e.emu().log())
        if (le.endpoint == "create")
            creates.push_back(le);
    BOOST_REQUIRE(creates.size() == 4u);
    BOOST_TEST(creates[0].status == 0u);
    std::size_t same = 0;
    for (std::size_t k = 1; k < creates.size(); ++k)
        same += creates[k].body_hash == creates[0].body_hash && creates[k].status == 200;
    BOOST_TEST(same == 1u);
    BOOST_TEST(e.emu().batches_created() == 3u);
}

BOOST_AUTO_TEST_CASE(streamed_bodies_of_concurrent_calls_on_four_threads) {
    // One client, an io_context run by four threads, calls from several strands, each
    // with multi-piece bodies: every call gets its own values (the tsan preset runs it).
    env e(50ms);
    asio::io_context ioc(4);
    aibatch::client client = e.make_client(ioc.get_executor(), env::config());
    constexpr int calls = 8;
    std::atomic<int> ok{0}, finished{0};
    std::vector<std::vector<aibatch::conversation>> inputs(calls);
    for (int k = 0; k < calls; ++k)
        for (int i = 0; i < 8; ++i)
            inputs[k].push_back(
                {aibatch::user(std::string(100'000, 'a' + k) + scripted(k * 100 + i))});
    auto o = fast();
    o.max_requests_per_batch = 4;
    o.max_batches_in_flight = 2;
    auto work = asio::make_work_guard(ioc);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] { ioc.run(); });
    for (int k = 0; k < calls; ++k) {
        auto ex = k % 2 ? asio::any_io_executor(asio::make_strand(ioc)) : ioc.get_executor();
        asio::co_spawn(ex, aibatch::batch<SpamResult>(client, inputs[k], model, o),
                       [&, k](std::exception_ptr ex, std::vector<SpamResult> r) {
                           bool good = !ex && r.size() == 8u;
                           for (int i = 0; good && i < 8; ++i)
                               good = r[static_cast<std::size_t>(i)].reason ==
                                      "item " + std::to_string(k * 100 + i);
                           if (good)
                               ++ok;
                           ++finished;
                       });
    }
    for (int w = 0; w < 600 && finished < calls; ++w)
        std::this_thread::sleep_for(50ms);
    work.reset();
    if (finished < calls)
        ioc.stop();
    for (auto& t : threads)
        t.join();
    BOOST_TEST(finished == calls);
    BOOST_TEST(ok == calls);
}

BOOST_AUTO_TEST_CASE(a_streamed_body_past_the_api_limit_is_refused_with_413) {
    // The emulator reads the announced body to its end and answers 413: the run stops,
    // nothing is created, nothing hangs.
    auto eo = env::make(100ms, 100'000);
    eo.max_batch_bytes = 1'000'000;
    aibatch::test::emulator_fixture e(eo, env::config());
    std::vector<aibatch::conversation> messages;
    for (int i = 0; i < 12; ++i)
        messages.push_back({aibatch::user(std::string(300'000, 'q') + scripted(i))});
    auto o = fast();
    auto run = run_task(e.ioc(), aibatch::run_batch<SpamResult>(e.client(), messages, model, o));
    BOOST_TEST_MESSAGE("stop: " << run.stop_message);
    BOOST_TEST(run.succeeded() == 0u);
    for (const auto& it : run.items)
        BOOST_TEST((it.status == aibatch::item_status::not_submitted),
                   it.error_type << " " << it.message);
    BOOST_TEST(e.emu().batches_created() == 0u);
    BOOST_TEST(e.count("create") <= 1u);
}

BOOST_AUTO_TEST_SUITE_END()
