// The public surface as users call it: every form the README shows (no options,
// temporaries, braced lists, completion tokens, use_future from a plain thread), and one
// client shared by hundreds of concurrent calls on an io_context run by four threads.
#include "spam_types.hpp"

#include <aibatch/aibatch.hpp>
#include <aibatch/emulator/emulator.hpp>

#include "../support/completion_count.hpp"
#include "../support/emulator_fixture.hpp"
#include "../support/expect_throw.hpp"
#include "../support/run_task.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>
#include <unistd.h>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using aibatch::test::run_task;
using e2e::SpamResult;

namespace {

const std::string model = "claude-haiku-4-5";

aibatch::client_config config(const std::string& url) {
    aibatch::client_config c;
    c.base_url = url;
    c.api_key = "sk-ant-surface";
    c.retry.initial_backoff = 5ms;
    c.retry.max_backoff = 20ms;
    return c;
}

aibatch::emulator::options emu_options() {
    return aibatch::test::emulator_fixture::options(50ms, 0);
}

// In progress until canceled: a cancel certainly finds the batches running.
aibatch::emulator::options held() {
    return aibatch::test::emulator_fixture::held(0);
}

std::vector<aibatch::conversation> make_messages(int n, const std::string& tag = "S") {
    std::vector<aibatch::conversation> v;
    for (int i = 0; i < n; ++i)
        v.push_back({aibatch::user("Is this spam?\nEMULATOR_OUTPUT: {\"is_spam\":false,"
                                   "\"confidence\":0.5,\"reason\":\"" +
                                   tag + " " + std::to_string(i) + "\"}")});
    return v;
}

void check_values(const std::vector<SpamResult>& r, int n, const std::string& tag = "S") {
    BOOST_REQUIRE(r.size() == static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
        BOOST_TEST(r[static_cast<std::size_t>(i)].reason == tag + " " + std::to_string(i));
}

// The emulator fixture with this file's client (config()).
struct env : aibatch::test::emulator_fixture {
    explicit env(aibatch::emulator::options o = emu_options())
        : emulator_fixture(std::move(o), config({})) {}
};

} // namespace

BOOST_AUTO_TEST_SUITE(public_surface)

// The README's headline line, exactly: no options. (g++ 12 crashed here when the
// coroutine took a defaulted batch_options.)
BOOST_AUTO_TEST_CASE(batch_without_options_works_empty_and_not) {
    env e;
    auto messages = make_messages(3);
    auto r = run_task(e.ioc(), aibatch::batch<SpamResult>(e.client(), messages, model));
    check_values(r, 3);
    std::vector<aibatch::conversation> none;
    BOOST_TEST(run_task(e.ioc(), aibatch::batch<SpamResult>(e.client(), none, model)).empty());
    auto run = run_task(e.ioc(), aibatch::run_batch<SpamResult>(e.client(), messages, model));
    BOOST_TEST(run.all_succeeded());
    BOOST_TEST(
        run_task(e.ioc(), aibatch::run_batch<SpamResult>(e.client(), none, model)).items.empty());
}

// Large inputs are built in slices that yield to the event loop, while several workers
// build batches side by side (a 100,000-item job once crashed here).
BOOST_AUTO_TEST_CASE(large_inputs_split_over_concurrent_workers_keep_order) {
    env e;
    aibatch::batch_options o;
    o.poll_interval = 10ms;
    o.max_requests_per_batch = 300;
    o.max_batches_in_flight = 4;
    // A slow customize makes every slice long enough to yield.
    o.customize = [](aibatch::message_params&, std::size_t) {
        auto until = std::chrono::steady_clock::now() + 100us;
        while (std::chrono::steady_clock::now() < until) {
        }
    };
    auto r =
        run_task(e.ioc(), aibatch::batch<SpamResult>(e.client(), make_messages(3000), model, o));
    check_values(r, 3000);
}

// A canceled large run returns its outcome (run_batch never throws for it): the call's
// own work after the engine (which yields on large inputs) must not see the
// cancellation again. It once threw operation_aborted here and lost every outcome.
BOOST_AUTO_TEST_CASE(a_canceled_large_run_returns_its_outcome) {
    env emu(held());
    auto& ioc = emu.ioc();
    auto& client = emu.client();
    aibatch::batch_options o;
    o.poll_interval = 20ms;
    asio::cancellation_signal sig;
    std::optional<aibatch::batch_run<SpamResult>> run;
    std::exception_ptr failure;
    asio::co_spawn(ioc, aibatch::run_batch<SpamResult>(client, make_messages(9000), model, o),
                   asio::bind_cancellation_slot(
                       sig.slot(), [&](std::exception_ptr e, aibatch::batch_run<SpamResult> r) {
                           failure = e;
                           run = std::move(r);
                       }));
    asio::steady_timer t(ioc, 800ms);
    t.async_wait([&](auto) { sig.emit(asio::cancellation_type::terminal); });
    ioc.run();
    BOOST_REQUIRE(!failure);
    BOOST_REQUIRE(run.has_value());
    BOOST_TEST(run->stop_code == asio::error::operation_aborted);
    BOOST_TEST(run->items.size() == 9000u);
}

// A cancellation that arrives while a large input is still being checked (the engine
// yields every millisecond there) stops the run before anything is sent: nothing is
// created, every item is not_submitted, and run_batch returns instead of throwing. A
// cancellation in that window could be lost (the engine's own strand thread was not
// listening yet) and the run went on to pay for every item.
BOOST_AUTO_TEST_CASE(a_cancel_while_inputs_are_checked_sends_nothing) {
    env emu(held());
    auto& ioc = emu.ioc();
    auto& client = emu.client();
    aibatch::batch_options o;
    o.poll_interval = 20ms;
    asio::cancellation_signal sig;
    std::optional<aibatch::batch_run<SpamResult>> run;
    std::exception_ptr failure;
    const std::size_t n = 100'000; // checking them takes several slices of ~1 ms
    asio::co_spawn(ioc, aibatch::run_batch<SpamResult>(client, make_messages(n), model, o),
                   asio::bind_cancellation_slot(
                       sig.slot(), [&](std::exception_ptr e, aibatch::batch_run<SpamResult> r) {
                           failure = e;
                           run = std::move(r);
                       }));
    // Runs at the run's first yield, while its inputs are being checked.
    asio::post(ioc, [&] { sig.emit(asio::cancellation_type::terminal); });
    ioc.run();
    BOOST_REQUIRE(!failure);
    BOOST_REQUIRE(run.has_value());
    BOOST_TEST(run->stop_code == asio::error::operation_aborted);
    BOOST_REQUIRE(run->items.size() == n);
    BOOST_TEST(emu.emu().batches().empty());
    std::size_t not_submitted = 0;
    for (const auto& it : run->items)
        not_submitted += it.status == aibatch::item_status::not_submitted ? 1 : 0;
    BOOST_TEST(not_submitted == n);
    BOOST_TEST(run->items[0].message.find("canceled") != std::string::npos, run->items[0].message);
}

// The caller's coroutine can still be canceled after batch<T>() returns: batch<T>() runs
// in the caller's coroutine and turned its cancellation off for the hand-over of the
// outcome, then never turned it back on, so every later wait of that coroutine (a
// server's connection handler, say) ignored its cancellation signal for good.
void check_cancelable_after_batch(bool on_client_executor) {
    env e;
    asio::cancellation_signal sig;
    bool batch_done = false;
    boost::system::error_code wait_result;
    std::exception_ptr failure;
    asio::co_spawn(
        on_client_executor ? e.client().get_executor()
                           : asio::any_io_executor(e.ioc().get_executor()),
        [&]() -> aibatch::task<void> {
            auto values = co_await aibatch::batch<SpamResult>(e.client(), make_messages(3), model);
            check_values(values, 3);
            batch_done = true;
            auto ex = co_await asio::this_coro::executor;
            // The cancel is emitted once this coroutine waits on the timer (bounded).
            asio::post(ex, [&] { sig.emit(asio::cancellation_type::terminal); });
            asio::steady_timer t(ex, 3s);
            auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
            wait_result = ec;
        },
        asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr ex) { failure = ex; }));
    e.ioc().run();
    BOOST_TEST(batch_done);
    BOOST_TEST(!failure);
    BOOST_TEST(wait_result == asio::error::operation_aborted,
               "the wait after batch<T>() was not canceled: " << wait_result.message());
}

BOOST_AUTO_TEST_CASE(the_caller_stays_cancelable_after_batch_returns) {
    check_cancelable_after_batch(false);
}

// The same for a coroutine on the client's own executor (its strand), where the run's
// accounting steps ran inline in the caller's coroutine.
BOOST_AUTO_TEST_CASE(a_caller_on_the_client_executor_stays_cancelable_after_batch_returns) {
    check_cancelable_after_batch(true);
}

// The completion-token forms are canceled through the token's cancellation slot, on a
// four-thread io_context (the emit comes from the handler's strand, as Asio requires):
// each form completes once, with the cancellation in its own terms, and the signal can
// be used again afterwards (the operation clears its handler from the slot).
BOOST_AUTO_TEST_CASE(completion_token_forms_are_canceled_through_their_slot) {
    env emu(held());
    asio::io_context ioc(4);
    aibatch::client client = emu.make_client(ioc.get_executor(), config({}));
    aibatch::batch_options o;
    o.poll_interval = 20ms;
    auto strand = asio::make_strand(ioc);
    asio::cancellation_signal sig;
    std::atomic<int> calls{0};
    std::atomic<int> slot_misuse{0}; // Boost.Test is not thread-safe: checked at the end
    std::promise<aibatch::batch_run<SpamResult>> run_done;
    std::promise<std::exception_ptr> batch_done;
    std::promise<boost::system::error_code> diag_done;
    aibatch::diagnostics diag;
    auto cancel_after = [&](std::chrono::milliseconds d) {
        auto t = std::make_shared<asio::steady_timer>(strand, d);
        t->async_wait([&, t](boost::system::error_code) {
            if (!sig.slot().has_handler()) // the running operation's
                ++slot_misuse;
            sig.emit(asio::cancellation_type::terminal);
        });
    };
    auto work = asio::make_work_guard(ioc);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] { ioc.run(); });

    asio::dispatch(strand, [&] {
        aibatch::async_run_batch<SpamResult>(
            client, make_messages(6), model, o,
            asio::bind_cancellation_slot(
                sig.slot(), asio::bind_executor(strand, [&](boost::system::error_code,
                                                            aibatch::batch_run<SpamResult> r) {
                    ++calls;
                    if (sig.slot().has_handler()) // still the finished operation's
                        ++slot_misuse;
                    run_done.set_value(std::move(r));
                })));
        cancel_after(300ms);
    });
    auto run = run_done.get_future().get();
    BOOST_TEST(run.stop_code == asio::error::operation_aborted);
    BOOST_TEST(run.items.size() == 6u);

    asio::dispatch(strand, [&] {
        aibatch::async_batch<SpamResult>(
            client, make_messages(3), model, o,
            asio::bind_cancellation_slot(
                sig.slot(),
                asio::bind_executor(strand, [&](std::exception_ptr e, std::vector<SpamResult>) {
                    ++calls;
                    batch_done.set_value(e);
                })));
        cancel_after(300ms);
    });
    auto e = batch_done.get_future().get();
    BOOST_REQUIRE(e);
    try {
        std::rethrow_exception(e);
    } catch (const aibatch::batch_error& err) {
        BOOST_TEST(err.code() == asio::error::operation_aborted);
    }

    asio::dispatch(strand, [&] {
        aibatch::async_batch<SpamResult>(
            client, make_messages(2), model, o, diag,
            asio::bind_cancellation_slot(
                sig.slot(), asio::bind_executor(
                                strand, [&](boost::system::error_code c, std::vector<SpamResult>) {
                                    ++calls;
                                    diag_done.set_value(c);
                                })));
        cancel_after(300ms);
    });
    BOOST_TEST(diag_done.get_future().get() == asio::error::operation_aborted);
    work.reset();
    for (auto& t : threads)
        t.join();
    BOOST_TEST(calls == 3);
    BOOST_TEST(slot_misuse == 0);
}

// A temporary input is owned by the task; a braced list is accepted.
BOOST_AUTO_TEST_CASE(temporaries_and_braced_lists_are_owned_by_the_task) {
    env e;
    std::vector<SpamResult> r;
    std::exception_ptr failure;
    asio::co_spawn(e.ioc(), aibatch::batch<SpamResult>(e.client(), make_messages(4), model),
                   [&](std::exception_ptr ex, std::vector<SpamResult> v) {
                       failure = ex;
                       r = std::move(v);
                   });
    e.ioc().run();
    BOOST_REQUIRE(!failure);
    check_values(r, 4);
    auto one = make_messages(2);
    auto braced =
        run_task(e.ioc(), aibatch::batch<SpamResult>(e.client(), {one[0], one[1]}, model, {}));
    check_values(braced, 2);
}

// Completion tokens: a callback with the exception (batch_error with its details), the
// error_code + diagnostics form, async_run_batch, and use_future from a plain thread.
BOOST_AUTO_TEST_CASE(completion_token_forms_carry_every_detail) {
    env e;
    auto messages = make_messages(3);
    messages[1] = {aibatch::user("EMULATOR_RESULT: errored")};
    aibatch::batch_options o;
    o.poll_interval = 10ms;
    o.repair_rounds = 0;

    std::exception_ptr ex;
    aibatch::async_batch<SpamResult>(
        e.client(), messages, model, o,
        [&](std::exception_ptr x, std::vector<SpamResult>) { ex = x; });
    e.ioc().run();
    BOOST_REQUIRE(ex);
    try {
        std::rethrow_exception(ex);
    } catch (const aibatch::batch_error& err) {
        BOOST_TEST(err.failures().size() == 1u);
        BOOST_TEST(err.results<SpamResult>()[0]->reason == "S 0");
    }

    aibatch::diagnostics diag;
    boost::system::error_code code;
    aibatch::async_batch<SpamResult>(e.client(), make_messages(2), model, o, diag,
                                     [&](boost::system::error_code c, std::vector<SpamResult> v) {
                                         code = c;
                                         check_values(v, 2);
                                     });
    e.ioc().restart();
    e.ioc().run();
    BOOST_TEST(!code);

    aibatch::batch_run<SpamResult> run;
    aibatch::async_run_batch<SpamResult>(
        e.client(), messages, model, o,
        [&](boost::system::error_code c, aibatch::batch_run<SpamResult> r) {
            code = c;
            run = std::move(r);
        });
    e.ioc().restart();
    e.ioc().run();
    BOOST_TEST(!code);
    BOOST_TEST(run.succeeded() == 2u);
    BOOST_TEST((run.items[1].status == aibatch::item_status::errored));

    // Bad input through async_run_batch: the error_code says so.
    aibatch::batch_options bad = o;
    bad.max_tokens = 0;
    aibatch::async_run_batch<SpamResult>(
        e.client(), make_messages(1), model, bad,
        [&](boost::system::error_code c, aibatch::batch_run<SpamResult> r) {
            code = c;
            BOOST_TEST(r.stop_message.find("max_tokens") != std::string::npos);
        });
    e.ioc().restart();
    e.ioc().run();
    BOOST_TEST(code == aibatch::errc::invalid_argument);

    // use_future from a plain thread while another thread runs the io_context.
    e.ioc().restart();
    auto guard = asio::make_work_guard(e.ioc());
    std::thread runner([&] { e.ioc().run(); });
    auto fut =
        aibatch::async_batch<SpamResult>(e.client(), make_messages(5), model, o, asio::use_future);
    check_values(fut.get(), 5);
    auto failing =
        aibatch::async_batch<SpamResult>(e.client(), messages, model, o, asio::use_future);
    auto err = aibatch::test::expect_throw<aibatch::batch_error>([&] { failing.get(); });
    BOOST_TEST(std::string(err.what()).find("1 of 3 items did not succeed") != std::string::npos);
    BOOST_TEST(err.failures().at(0).index == 1u);
    guard.reset();
    runner.join();
}

// The client's operations in their no-argument forms, and a lister that outlives a move
// of its client.
BOOST_AUTO_TEST_CASE(client_operations_in_every_documented_form) {
    env e;
    auto b = run_task(e.ioc(), aibatch::run_batch<SpamResult>(e.client(), make_messages(2), model));
    BOOST_TEST(b.all_succeeded());
    auto page = run_task(e.ioc(), e.client().list_batches());
    BOOST_TEST(page.data.size() == 1u);
    auto lister = e.client().list_all_batches();
    aibatch::client moved = std::move(e.client());
    auto first = run_task(e.ioc(), lister.next());
    BOOST_REQUIRE(first.has_value());
    BOOST_TEST(first->id == b.batch_ids.at(0));
    BOOST_TEST(!run_task(e.ioc(), lister.next()).has_value());
    auto lines = run_task(e.ioc(), moved.results(first->id));
    BOOST_TEST(lines.size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------ concurrency
BOOST_AUTO_TEST_SUITE(concurrency)

// One client, an io_context run by four threads, hundreds of concurrent batch<T>()
// calls started from every thread: every call gets exactly its own values.
BOOST_AUTO_TEST_CASE(one_client_four_threads_hundreds_of_concurrent_calls) {
    auto eo = emu_options();
    eo.processing_time = 20ms;
    env emu(eo);
    asio::io_context ioc(4);
    aibatch::client client = emu.make_client(ioc.get_executor(), config({}));
    constexpr int calls = 200;
    std::atomic<int> ok{0}, bad{0};
    aibatch::test::completion_count finished;
    aibatch::batch_options o;
    o.poll_interval = 5ms;
    o.poll_interval_max = 20ms;
    o.max_requests_per_batch = 3;
    auto work = asio::make_work_guard(ioc);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] { ioc.run(); });
    // Calls start from the four threads (each through a strand of its own, as a server's
    // connections would) and from this one.
    for (int k = 0; k < calls; ++k) {
        std::string tag = "c" + std::to_string(k);
        int n = 1 + k % 7;
        auto ex = k % 2 ? asio::any_io_executor(asio::make_strand(ioc)) : ioc.get_executor();
        asio::co_spawn(ex, aibatch::batch<SpamResult>(client, make_messages(n, tag), model, o),
                       [&, tag, n](std::exception_ptr e, std::vector<SpamResult> r) {
                           bool good = !e && r.size() == static_cast<std::size_t>(n);
                           for (int i = 0; good && i < n; ++i)
                               good = r[static_cast<std::size_t>(i)].reason ==
                                      tag + " " + std::to_string(i);
                           (good ? ok : bad)++;
                           finished.add();
                       });
    }
    BOOST_TEST(finished.wait_for(calls, 30s));
    work.reset();
    for (auto& t : threads)
        t.join();
    BOOST_TEST(ok == calls);
    BOOST_TEST(bad == 0);
    auto stats = client.stats();
    BOOST_TEST(stats.requests > 0u);
}

// Journals on a multi-threaded io_context: the records are written on the io_context's
// journal thread and each call resumes on its own strand (the tsan preset runs this).
// Every call gets its own values and its own records; run again with the same journals,
// every call re-attaches to its batches instead of paying again.
BOOST_AUTO_TEST_CASE(journaled_calls_on_four_threads) {
    auto eo = emu_options();
    eo.processing_time = 20ms;
    env emu(eo);
    const auto dir = std::filesystem::temp_directory_path() /
                     ("aibatch-surface-journals-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    constexpr int calls = 16;
    aibatch::batch_options o;
    o.poll_interval = 5ms;
    o.poll_interval_max = 20ms;
    o.max_requests_per_batch = 2;
    auto run_all = [&] {
        asio::io_context ioc(4);
        aibatch::client client = emu.make_client(ioc.get_executor(), config({}));
        std::atomic<int> ok{0};
        aibatch::test::completion_count finished;
        auto work = asio::make_work_guard(ioc);
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&] { ioc.run(); });
        for (int k = 0; k < calls; ++k) {
            std::string tag = "j" + std::to_string(k);
            const int n = 1 + k % 5;
            auto ko = o;
            ko.journal = dir / (tag + ".journal");
            auto ex = k % 2 ? asio::any_io_executor(asio::make_strand(ioc)) : ioc.get_executor();
            asio::co_spawn(ex, aibatch::batch<SpamResult>(client, make_messages(n, tag), model, ko),
                           [&, tag, n](std::exception_ptr e, std::vector<SpamResult> r) {
                               bool good = !e && r.size() == static_cast<std::size_t>(n);
                               for (int i = 0; good && i < n; ++i)
                                   good = r[static_cast<std::size_t>(i)].reason ==
                                          tag + " " + std::to_string(i);
                               ok += good ? 1 : 0;
                               finished.add();
                           });
        }
        BOOST_TEST(finished.wait_for(calls, 60s));
        work.reset();
        for (auto& t : threads)
            t.join();
        return ok.load();
    };
    BOOST_TEST(run_all() == calls);
    const auto created = emu.emu().batches_created();
    BOOST_TEST(created >= static_cast<std::size_t>(calls));
    for (int k = 0; k < calls; ++k) {
        std::ifstream in(dir / ("j" + std::to_string(k) + ".journal"));
        std::string line;
        std::size_t records = 0;
        while (std::getline(in, line))
            records += line.find("\"created\"") != std::string::npos;
        BOOST_TEST(records == static_cast<std::size_t>((1 + k % 5 + 1) / 2), "journal " << k);
    }
    BOOST_TEST(run_all() == calls); // re-attached from the journals
    BOOST_TEST(emu.emu().batches_created() == created);
    std::filesystem::remove_all(dir);
}

// Cancellations racing completions: every client call hops to the client's strand, and
// the caller's cancellation follows it there. Boost 1.81's co_spawn forwarded it with a
// raw pointer to a signal that the completion may already have freed (use-after-free
// when a cancel and a completion cross on two threads); the client forwards it itself.
// Thousands of calls on four threads, each canceled at a different moment: every call
// ends (value or operation_aborted), nothing crashes (asan/tsan presets run this).
BOOST_AUTO_TEST_CASE(cancellations_racing_completions_on_four_threads) {
    env emu;
    asio::io_context ioc(4);
    aibatch::client client = emu.make_client(ioc.get_executor(), config({}));
    std::vector<aibatch::batch_request> reqs(1);
    reqs[0].custom_id = "a";
    reqs[0].params.model = model;
    reqs[0].params.max_tokens = 16;
    reqs[0].params.messages = {aibatch::user("hello")};
    const auto made = run_task(ioc, client.create_batch(reqs));
    ioc.restart();
    constexpr int calls = 2000;
    std::atomic<int> ended{0}, odd{0};
    aibatch::test::completion_count finished;
    std::mutex odd_mutex;
    std::string odd_what; // the last unexpected error, for the failure message
    auto work = asio::make_work_guard(ioc);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] { ioc.run(); });
    for (int k = 0; k < calls; ++k) {
        auto strand = asio::make_strand(ioc);
        auto sig = std::make_shared<asio::cancellation_signal>();
        asio::co_spawn(strand, client.retrieve_batch(made.id),
                       asio::bind_cancellation_slot(
                           sig->slot(), [&, sig](std::exception_ptr e, aibatch::batch_info b) {
                               bool fine = e ? true : b.id == made.id;
                               if (e) {
                                   try {
                                       std::rethrow_exception(e);
                                   } catch (const boost::system::system_error& se) {
                                       fine = se.code() == asio::error::operation_aborted;
                                       if (!fine) {
                                           std::lock_guard lock(odd_mutex);
                                           odd_what = se.what();
                                       }
                                   }
                               }
                               (fine ? ended : odd)++;
                               finished.add();
                           }));
        // The cancel is emitted on the call's strand (as Asio requires), at a moment that
        // varies from call to call: at once, after a few handlers, or after a short timer.
        if (k % 3 == 0) {
            asio::post(strand, [sig] { sig->emit(asio::cancellation_type::terminal); });
        } else {
            auto t = std::make_shared<asio::steady_timer>(strand);
            t->expires_after(std::chrono::microseconds(50 * (k % 40)));
            t->async_wait([sig, t](boost::system::error_code) {
                sig->emit(asio::cancellation_type::terminal);
            });
        }
    }
    BOOST_TEST(finished.wait_for(calls, 60s));
    work.reset();
    for (auto& t : threads)
        t.join();
    BOOST_TEST(ended + odd == calls);
    BOOST_TEST(odd == 0, odd_what);
}

BOOST_AUTO_TEST_SUITE_END()
