// batch<T>()'s engine (engine.hpp), after an ambiguous create (a create whose answer was
// lost): the batches it may have made, checked by their custom_ids before one is used,
// and at the end of the run every one not used named, so no paid batch is forgotten.
#include "engine.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace aibatch::detail {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

std::chrono::milliseconds engine::settle_time() const {
    return std::clamp(
        std::chrono::duration_cast<std::chrono::milliseconds>(state_->cfg.retry.max_backoff),
        std::chrono::milliseconds(200), std::chrono::milliseconds(5000));
}

// A batch that an ambiguous create of j may have made: same size, recent, not known
// to be anyone's, not already rejected by j or being tracked for another job.
task<std::optional<batch_info>> engine::candidate_for(job& j) {
    std::vector<batch_info> all;
    try {
        all = co_await state_->find_candidates(j.indices.size(), *j.ambiguous_since);
    } catch (const boost::system::system_error& se) {
        const error e = as_error(se);
        if (e.code() == asio::error::operation_aborted)
            throw;
        anomaly("listing batches to find what an ambiguous create of items " + j.ranges +
                " made failed: " + e.diag().to_string());
        co_return std::nullopt;
    }
    std::optional<batch_info> fallback;
    for (auto& b : all) {
        if (known_ids_.count(b.id) || tracking_.count(b.id) ||
            std::find(j.rejected.begin(), j.rejected.end(), b.id) != j.rejected.end())
            continue;
        if (auto h = ledger_.hint(b.id)) {
            if (*h == j.number)
                co_return std::move(b); // its lines already showed it is j's
            continue;                   // another job's
        }
        if (!fallback)
            fallback = std::move(b);
    }
    co_return fallback;
}

// After ambiguous creates: name every batch that one of them may have made and that
// the run did not use, so no paid batch is forgotten silently.
task<void> engine::sweep_ambiguous() {
    if (ambiguous_.empty())
        co_return;
    auto since = std::chrono::steady_clock::now() - last_ambiguous_;
    if (since < settle_time()) {
        asio::steady_timer t(co_await asio::this_coro::executor, settle_time() - since);
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_await asio::this_coro::reset_cancellation_state();
    std::set<std::string> named;
    for (const auto& [number, since_ts] : ambiguous_) {
        job& j = *jobs_[number];
        std::vector<batch_info> all;
        try {
            all = co_await state_->find_candidates(j.indices.size(), since_ts);
        } catch (const boost::system::system_error& se) {
            const error e = as_error(se);
            ledger_.unread(
                {"", j.ranges,
                 "a create of these items failed ambiguously and listing batches to find "
                 "what it made failed: " +
                     e.diag().to_string()});
            continue;
        }
        for (auto& b : all) {
            if (known_ids_.count(b.id) || known_not_ours_.count(b.id) || named.count(b.id) ||
                state_->owns(b.id))
                continue;
            if (ledger_.is_unread(b.id))
                continue;
            std::string why;
            if (b.ended()) {
                auto verdict = co_await first_line_is_ours(b);
                if (verdict && !*verdict) {
                    known_not_ours_.insert(b.id);
                    continue;
                }
                why = verdict ? "made by an ambiguous create of these items (its custom_ids "
                                "are this run's); its results were not used: the items "
                                "were answered by another batch (paid twice)"
                              : "may have been made by an ambiguous create of these items "
                                "(ended; its results could not be checked)";
            } else {
                why = "may have been made by an ambiguous create of these items (same size, "
                      "created since; still in progress, so not verified and not canceled)";
            }
            named.insert(b.id);
            ledger_.unread({b.id, j.ranges, why});
        }
    }
}

// Whether an ended batch's first result line carries this run's custom_ids.
task<std::optional<bool>> engine::first_line_is_ours(const batch_info& b) {
    try {
        client c = client_from_state(state_);
        result_stream rs = co_await c.open_results(b);
        for (int k = 0; k < 3; ++k) {
            try {
                auto line = co_await rs.next();
                if (!line)
                    co_return std::nullopt;
                co_return ledger_.ids().parse(line->custom_id).has_value();
            } catch (const error& e) {
                if (e.code() != errc::bad_response)
                    throw;
            }
        }
    } catch (const boost::system::system_error&) {
    }
    co_return std::nullopt;
}

} // namespace aibatch::detail
