// batch<T>()'s engine (engine.hpp), one job's lifecycle: its cost reserved, its batch
// obtained (engine_create.cpp), tracked and read (engine_read.cpp), another candidate
// tried when one proves foreign, and what the job becomes when it fails.
#include "engine.hpp"

#include <boost/asio/this_coro.hpp>

namespace aibatch::detail {

namespace asio = boost::asio;

task<void> engine::run_job(job& j) {
    if (auto over = ledger_.reserve(j, opts_.cost_limit)) {
        release_body(j);
        stop(make_error_code(errc::cost_limit), *over);
        stopping_ = true;
        cost_stopped_ = true;
        co_await mark(j, item_status::not_submitted, "cost_limit", *over);
        co_return;
    }
    for (std::size_t k = 0; k < j.indices.size(); ++k) {
        ++ledger_.item(j.indices[k]).rounds;
        if (k % 64 == 63)
            co_await breathe();
    }
    for (;;) {
        bool have = false;
        std::optional<error> journal_error; // handled out of the catch: marking yields
        try {
            have = co_await obtain_batch(j);
        } catch (const error& e) {
            if (e.code() != errc::journal)
                throw;
            journal_error = e;
        }
        if (journal_error) {
            ledger_.release(j);
            j.ph = job::phase::done;
            release_body(j);
            stop(journal_error->code(), journal_error->diag().message);
            stopping_ = true;
            co_await mark(j, item_status::not_submitted, "journal", journal_error->diag().message);
            co_return;
        }
        if (!have)
            break;
        if (!j.tentative) {
            ledger_.record_batch(j.batch_id);
            // Read by the caller only, at the end: safe to fill in slices. One string
            // shared by the items (a pointer each), not a copy per item.
            const shared_string id = outcome_ledger::report_id(j);
            for (std::size_t k = 0; k < j.indices.size(); ++k) {
                ledger_.item(j.indices[k]).batch_id = id;
                if (k % 64 == 63)
                    co_await breathe();
            }
        }
        if (aborting_) {
            co_await stop_batch(j);
            break;
        }
        track_result r = co_await track(j);
        tracking_.erase(j.batch_id);
        if (r == track_result::foreign) {
            anomaly("batch " + j.batch_id +
                    " (same size, created after an ambiguous create "
                    "of items " +
                    j.ranges +
                    ") is not this call's: its results are "
                    "another run's; left untouched");
            j.rejected.push_back(j.batch_id);
            if (j.foreign_run_seen)
                known_not_ours_.insert(j.batch_id); // proof: another run's custom_ids
            j.batch_id.clear();
            j.tentative = false;
            j.ended = false;
            continue;
        }
        if (r == track_result::stopped) {
            co_await asio::this_coro::reset_cancellation_state();
            co_await stop_batch(j);
        }
        if (!j.tentative && r != track_result::done)
            ledger_.record_batch(j.batch_id);
        break;
    }
    release_body(j); // never sent (a create that failed), or sent: unmapped in slices
    j.ph = job::phase::done;
    ledger_.release(j);
    if (j.read_done) {
        std::size_t k = 0;
        for (std::size_t i : j.indices) {
            if (++k % 64 == 0)
                co_await breathe();
            ledger_.missing_result(j, i);
        }
    }
}

// Planning a batch threw (not a refused item: a bug): nothing more is sent, and what
// was paid for is still read and returned.
task<void> engine::recover_planning(std::exception_ptr failure) {
    std::string why;
    try {
        std::rethrow_exception(failure);
    } catch (const std::exception& e) {
        why = e.what();
    } catch (...) {
        why = "an exception that is not a std::exception";
    }
    stopping_ = true;
    stop(make_error_code(errc::items_failed), "planning a batch failed (" + why +
                                                  "); the run stopped: the items not "
                                                  "yet sent were not sent");
    co_return;
}

// A job's run ended with an exception (a cancellation seen by a co_await deep inside,
// a bug): the job's batch is still accounted for, and the run goes on.
task<void> engine::recover(job& j, std::exception_ptr failure) {
    co_await asio::this_coro::reset_cancellation_state();
    std::string why;
    try {
        std::rethrow_exception(failure);
    } catch (const boost::system::system_error& e) {
        why = as_error(e).diag().to_string();
        if (why.empty())
            why = e.what();
    } catch (const std::exception& e) {
        why = e.what();
    } catch (...) {
        why = "an exception that is not a std::exception";
    }
    ledger_.release(j);
    j.ph = job::phase::done;
    release_body(j);
    if (j.batch_id.empty()) {
        co_await mark(j, item_status::not_submitted, "stopped", why);
        co_return;
    }
    if (aborting_ && !j.read_done) {
        co_await stop_batch(j);
        co_return;
    }
    if (!j.read_done) {
        stop(errc::items_failed, "batch " + j.batch_id + ": " + why);
        co_await mark(j, item_status::failed, "client_error", "batch " + j.batch_id + ": " + why);
        unread(j, why);
    }
}

} // namespace aibatch::detail
