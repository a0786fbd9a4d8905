// batch<T>()'s engine (engine.hpp), the run: validation, rounds and the worker pool
// (one job's lifecycle is in engine_job.cpp).
#include "engine.hpp"

#include "blocking_io.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/assert.hpp>

#include <limits>

namespace aibatch::detail {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

task<engine_result> engine::run() {
    validate_inputs(messages_, model_, opts_);
    check_request_rules();
    state_->cfg.require_api_key();
    const std::size_t n = messages_.size();
    run_id_ = opts_.run_id.empty() ? random_run_id() : opts_.run_id;
    ledger_.set_ids(custom_ids(opts_.custom_id_prefix, run_id_, n));
    // Custom ids and messages are filled in as items are submitted and in finish():
    // 100,000 strings at once would hold the event loop for tens of milliseconds.
    // Likewise the items are checked and set up in slices that yield to the loop.
    // A cancellation meanwhile is seen below, before anything is sent.
    ledger_.set_run_id(run_id_);
    const bool throwing = co_await asio::this_coro::throw_if_cancelled();
    co_await asio::this_coro::throw_if_cancelled(false);
    std::vector<std::size_t> todo;
    todo.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        validate_conversation(i, messages_[i], opts_);
        ledger_.add_item(i);
        todo.push_back(i);
        if (i % 64 == 63)
            co_await breathe();
    }
    co_await asio::this_coro::throw_if_cancelled(throwing);
    if (n == 0)
        co_return finish();
    if ((co_await asio::this_coro::cancellation_state).cancelled() !=
        asio::cancellation_type::none) {
        stopping_ = aborting_ = true;
        stop(asio::error::operation_aborted, "canceled by the caller");
        todo.clear(); // nothing is sent; fill_in() marks every item not submitted
    }
    if (!opts_.journal.empty()) {
        // Read (and a new one's header written and fsync'ed) off the event loop. Opened
        // even after a cancellation: its records name the batches of earlier runs.
        co_await asio::this_coro::throw_if_cancelled(false);
        std::function<void()> open = [&] { // named: see journal::append_off_loop
            journal_ = journal::open(opts_.journal, model_, n, run_id_, !opts_.run_id.empty());
        };
        co_await off_loop(std::move(open));
        auto cs = co_await asio::this_coro::cancellation_state; // not inside && (g++ 12)
        if (!stopping_ && cs.cancelled() != asio::cancellation_type::none) {
            // Canceled while the journal was opened: as above, nothing is sent.
            stopping_ = aborting_ = true;
            stop(asio::error::operation_aborted, "canceled by the caller");
            todo.clear();
        }
        co_await asio::this_coro::throw_if_cancelled(throwing);
        run_id_ = journal_.run_id();
        ledger_.set_ids(custom_ids(opts_.custom_id_prefix, run_id_, n));
        for (const auto& id : journal_.batch_ids()) {
            state_->claim(id); // re-attached batches are this client's own
            known_ids_.insert(id);
            client_event e;
            e.what = client_event::kind::reattached;
            e.batch_id = id;
            e.detail = "re-attached from the journal " + opts_.journal.string();
            state_->tell(e);
        }
    }
    ledger_.set_run_id(run_id_);
    if (opts_.timeout)
        deadline_ = std::chrono::steady_clock::now() + *opts_.timeout;
    for (unsigned round = 0; round <= opts_.repair_rounds && !todo.empty(); ++round) {
        pending_ = std::move(todo);
        cursor_ = 0;
        co_await run_round(round);
        if (!stopping_) {
            // A cancellation that arrived as the round ended.
            auto cs = co_await asio::this_coro::cancellation_state;
            if (cs.cancelled() != asio::cancellation_type::none) {
                stopping_ = aborting_ = true;
                stop(asio::error::operation_aborted, "canceled by the caller");
            }
        }
        if (stopping_)
            break;
        todo = ledger_.repair_todo();
    }
    // What follows accounts for what happened; it must not be cut short.
    co_await asio::this_coro::reset_cancellation_state(asio::disable_cancellation());
    co_await asio::this_coro::throw_if_cancelled(false);
    name_unreached_journal_records();
    co_await sweep_ambiguous();
    co_await fill_in();
    co_await asio::this_coro::throw_if_cancelled(throwing);
    co_return finish();
}

// Yields to the event loop once the engine has held it for breath_period (loop_breath,
// shared by the engine's coroutines): loops over a run's items call it every few dozen
// items, so no step of a 100,000-item run stalls an async server (bench/run measures the
// longest stall).
task<void> engine::breathe() {
    co_await breath_();
}

// ------------------------------------------------------------- progress
void engine::progress(const job& j) {
    if (!opts_.on_progress || progress_failed_)
        return;
    auto p = ledger_.progress(j, jobs_);
    if (!p)
        return;
    try {
        opts_.on_progress(*p);
    } catch (const std::exception& e) {
        progress_failed_ = true; // not called again; the run goes on
        anomaly(std::string("batch_options::on_progress threw (") + e.what() +
                "); it is not called again");
    }
}

// ------------------------------------------------------------- outcomes (ledger.hpp)
// Gives every item of the job without a result this round an outcome. A job holds up
// to 100,000 items, each outcome a copy of the message: it yields as it goes (no
// other coroutine touches a job's items while its worker marks them).
task<void> engine::mark(const job& j, item_status st, std::string type, std::string msg) {
    std::size_t k = 0;
    for (std::size_t i : j.indices) {
        if (++k % 64 == 0)
            co_await breathe();
        ledger_.mark(i, st, type, msg);
    }
}

task<void> engine::worker(job*& current) {
    // The worker handles a cancellation where it waits (the timer and HTTP waits end
    // with operation_aborted); a co_await elsewhere must not throw it instead, or the
    // job's batch would go unaccounted for. (Per awaitable thread: this is the
    // worker's own, co_spawn'ed.)
    co_await asio::this_coro::throw_if_cancelled(false);
    while (!stopping_) {
        co_await take_turn(nullptr);
        std::optional<job> j;
        std::exception_ptr planning_failure; // a bug: the turn is passed on, the run stops
        if (!stopping_) {
            try {
                j = co_await next_job();
            } catch (...) {
                planning_failure = std::current_exception();
            }
        }
        if (planning_failure || !j) {
            end_turn();
            if (planning_failure)
                co_await recover_planning(planning_failure);
            co_return;
        }
        j->has_turn = true;
        j->number = static_cast<std::uint32_t>(jobs_.size());
        ledger_.assign(*j);
        jobs_.push_back(std::make_unique<job>(std::move(*j)));
        current = jobs_.back().get();
        std::exception_ptr failure;
        try {
            co_await run_job(*current);
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure)
            co_await recover(*current, failure);
        release_body(*current);
        current = nullptr;
    }
}

// ------------------------------------------------------------- one round
// The round's workers run side by side (max_batches_in_flight of them), each taking the
// next batch of the round until none is left. Each tells the round it ended by a message
// on a channel, as does the deadline's timer; the round waits on that channel alone, so
// the caller's cancellation reaches it there. On a cancellation or the deadline, only
// the workers that wait (for a batch to end) are interrupted: a create or a download in
// progress finishes, so a batch being created is canceled once known, and results that
// exist are read. (parallel_group's cancel-everything cannot say that.)
namespace {
struct round_event {
    static constexpr std::size_t deadline = std::numeric_limits<std::size_t>::max();
    std::size_t from = deadline;  // the worker that ended, or `deadline`
    std::exception_ptr failure;   // a worker's: a bug past recover()
    bool deadline_passed = false; // the deadline's timer: expired (not canceled)
};
} // namespace

task<void> engine::run_round(unsigned round) {
    auto ex = co_await asio::this_coro::executor;
    if (!turn_) {
        turn_.emplace(ex, 1);
        end_turn(); // the token, free
    }
    ledger_.begin_round(round);
    const std::size_t workers = opts_.max_batches_in_flight;
    // Room for every message the round gets (one per worker, one from the timer). A send
    // is an async_send, not a try_send: when the caller's cancellation cuts the round's
    // receive, Boost 1.81's channel is left refusing try_send (send_state_ = block, the
    // buffer unused) until the next receive, and a message sent meanwhile (the timer's,
    // a worker's) would be dropped and the round wait for it forever. An async_send then
    // waits for that receive; every one has been received when the round ends.
    asio::experimental::channel<void(boost::system::error_code, round_event)> events(ex,
                                                                                     workers + 1);
    auto tell = [&events](round_event e) {
        events.async_send(boost::system::error_code{}, std::move(e),
                          [](boost::system::error_code ec) {
                              BOOST_ASSERT_MSG(!ec, "a round event was lost");
                              (void)ec;
                          });
    };
    std::vector<std::unique_ptr<asio::cancellation_signal>> signals;
    std::vector<job*> current(workers, nullptr);
    for (std::size_t k = 0; k < workers; ++k) {
        signals.push_back(std::make_unique<asio::cancellation_signal>());
        asio::co_spawn(ex, worker(current[k]),
                       asio::bind_cancellation_slot(signals.back()->slot(),
                                                    [&tell, k](const std::exception_ptr& e) {
                                                        tell({k, e, false});
                                                    }));
    }
    asio::steady_timer deadline(ex);
    bool watching = false; // the timer's message is still to come
    if (deadline_) {
        watching = true;
        deadline.expires_at(*deadline_);
        deadline.async_wait([&tell](boost::system::error_code ec) {
            tell({round_event::deadline, nullptr, !ec});
        });
    }
    std::size_t running = workers;
    bool signaled = false;
    std::exception_ptr worker_failure;
    // A cancellation seen as the last worker ends stays set for run() to see, and the
    // round still waits for the timer's message and marks what was not sent: nothing
    // here may throw it meanwhile.
    const bool throwing = co_await asio::this_coro::throw_if_cancelled();
    co_await asio::this_coro::throw_if_cancelled(false);
    while (running > 0 || watching) {
        if (running == 0)
            deadline.cancel(); // nothing left to time: its message comes at once
        auto [ec, e] = co_await events.async_receive(asio::as_tuple(asio::use_awaitable));
        bool timed_out = false;
        if (!ec && e.from == round_event::deadline) {
            watching = false;
            timed_out = e.deadline_passed;
        } else if (!ec) {
            --running;
            if (e.failure && !worker_failure)
                worker_failure = e.failure;
        }
        if (running == 0)
            continue; // the round is over; run() sees a cancellation that came now
        // The caller's cancellation ends the receive (ec) or arrives with a message.
        auto cs = co_await asio::this_coro::cancellation_state;
        const bool canceled = cs.cancelled() != asio::cancellation_type::none;
        if (canceled)
            co_await asio::this_coro::reset_cancellation_state();
        if (signaled || (!canceled && !timed_out))
            continue;
        stopping_ = true;
        aborting_ = true;
        if (canceled)
            stop(asio::error::operation_aborted, "canceled by the caller");
        else
            stop(make_error_code(errc::timed_out), "batch_options::timeout (" +
                                                       std::to_string(opts_.timeout->count()) +
                                                       " ms) passed");
        signaled = true;
        deadline.cancel();
        for (std::size_t k = 0; k < workers; ++k)
            if (current[k] && current[k]->ph == job::phase::waiting)
                signals[k]->emit(asio::cancellation_type::terminal);
    }
    if (worker_failure) {
        // A bug past recover(): the run stops, but what was read is returned.
        std::string why = "unknown";
        try {
            std::rethrow_exception(worker_failure);
        } catch (const std::exception& e) {
            why = e.what();
        } catch (...) {
        }
        stopping_ = true;
        stop(make_error_code(errc::items_failed), "a worker failed (" + why + ")");
    }
    // Still not throwing: a cancellation left set for run() must not cut this short
    // (a co_await of breathe() would throw it, and run() with it: paid results lost).
    for (std::size_t k = cursor_; k < pending_.size(); ++k) {
        if (stopping_)
            ledger_.not_submitted_at_stop(pending_[k], cost_stopped_);
        if (k % 64 == 63)
            co_await breathe();
    }
    co_await asio::this_coro::throw_if_cancelled(throwing);
}

// Index, custom_id and message of every item, in slices that yield to the loop.
task<void> engine::fill_in() {
    for (std::size_t i = 0; i < ledger_.size(); ++i) {
        ledger_.fill_in(i);
        if (i % 64 == 63)
            co_await breathe();
    }
}

task<engine_result> run_engine(std::shared_ptr<client_state> c,
                               std::span<const conversation> messages, std::string model,
                               batch_options opts, output_spec spec, item_store& items,
                               line_decoder& decode) {
    if (!c)
        throw error(errc::invalid_argument, "batch: the client is empty (moved from)");
    engine e(c, messages, std::move(model), std::move(opts), std::move(spec), items, decode);
    // The engine sets its coroutine's cancellation state and throw_if_cancelled: it runs
    // in a coroutine of its own, never inline in a caller that is already on the strand
    // (whose coroutine could otherwise never be canceled again).
    if (co_await asio::this_coro::executor == asio::any_io_executor(c->strand))
        co_return co_await asio::co_spawn(c->strand, e.run(), asio::use_awaitable);
    co_return co_await client_state::on_strand(c, e.run());
}

} // namespace aibatch::detail
