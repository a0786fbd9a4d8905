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

bool engine::may_settle(const ambiguity& amb) const {
    // Compared in seconds: a very long horizon in the clock's nanoseconds would overflow.
    return opts_.lost_create_horizon != std::chrono::seconds::max() &&
           std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now() - amb.latest) >= opts_.lost_create_horizon;
}

void engine::note_ambiguous(const job& j, timestamp since, timestamp latest, unsigned creates) {
    auto [it, fresh] = ambiguous_.try_emplace(j.number, ambiguity{since, latest});
    if (!fresh && since < it->second.since)
        it->second.since = since;
    if (!fresh && latest > it->second.latest)
        it->second.latest = latest;
    it->second.creates += creates;
    last_ambiguous_ = std::chrono::steady_clock::now();
}

job* engine::ambiguous_job_of(unsigned round, std::size_t index) {
    for (const auto& [number, amb] : ambiguous_) {
        job& o = *jobs_[number];
        if (o.round == round && std::binary_search(o.indices.begin(), o.indices.end(), index))
            return &o;
    }
    return nullptr;
}

// After ambiguous creates: name every batch that one of them may have made and that
// the run did not use, and every one that has not shown up yet (it may still appear),
// so no paid batch is forgotten silently.
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
    std::set<std::uint32_t> unlisted;    // listing failed: already named without an id
    std::set<std::uint32_t> unverified;  // a batch named for it may be its lost create's
    std::set<std::uint32_t> listed_none; // past the horizon, and a complete listing showed
                                         // no batch of its size that may be its own
    // A batch named without proof of whose it is may be the lost create's of any job of
    // its size with lost creates (it is named with the ranges of the job being swept).
    auto may_be_any = [&](std::size_t size) {
        for (const auto& [n, a] : ambiguous_)
            if (jobs_[n]->indices.size() == size)
                unverified.insert(n);
    };
    for (const auto& [number, amb] : ambiguous_) {
        if (amb.found >= amb.creates)
            continue; // every batch its lost creates may have made is accounted for
        job& j = *jobs_[number];
        std::vector<batch_info> all;
        bool complete = false;
        // created_at is the server's clock, amb.since the client's: a lost create that may
        // be settled (below) is looked for back to a horizon before it was sent, so a
        // client clock ahead of the server's (by less than the horizon) does not leave its
        // batch out of the listing that says it made nothing.
        const timestamp window = amb.since - std::chrono::minutes(2); // find_candidates'
        const bool settle = may_settle(amb); // decided once: the listing depends on it
        const timestamp listed_since =
            settle ? amb.since - std::min<std::chrono::seconds>(opts_.lost_create_horizon,
                                                                std::chrono::hours(24 * 30))
                   : amb.since;
        try {
            all = co_await state_->find_candidates(j.indices.size(), listed_since, &complete);
        } catch (const boost::system::system_error& se) {
            const error e = as_error(se);
            unlisted.insert(number);
            ledger_.unread(
                {"", j.ranges,
                 "a create of these items failed ambiguously and listing batches to find "
                 "what it made failed: " +
                     e.diag().to_string()});
            continue;
        }
        bool unexplained = false; // a batch of its size that may be its lost create's
        for (auto& b : all) {
            if (known_ids_.count(b.id) || known_not_ours_.count(b.id) || state_->owns(b.id))
                continue;
            if (named.count(b.id) || ledger_.is_unread(b.id)) {
                unexplained = true;
                continue;
            }
            // Older than the usual window (listed only to decide a settle): named only
            // when its lines prove it this run's; otherwise it only keeps the lost create
            // from being settled.
            const bool older = b.created_at < window;
            if (older && !b.ended()) {
                unexplained = true;
                continue;
            }
            std::string why;
            const job* owner = &j;
            if (b.ended()) {
                const first_line line = co_await first_line_of(b);
                if (line.read && !line.ours) {
                    known_not_ours_.insert(b.id);
                    continue;
                }
                unexplained = true;
                if (older && !line.ours)
                    continue;
                if (line.ours) {
                    // Whose items it carries, among the jobs with lost creates.
                    if (job* o = ambiguous_job_of(line.ours->first, line.ours->second)) {
                        owner = o;
                        ++ambiguous_[o->number].found;
                    }
                    why = owner->batch_id.empty()
                              ? "made by an ambiguous create of these items (its custom_ids "
                                "are this run's); not read: the run ended first"
                              : "made by an ambiguous create of these items (its custom_ids "
                                "are this run's); its results were not used: the items "
                                "were answered by another batch (paid twice)";
                } else {
                    may_be_any(j.indices.size());
                    why = "may have been made by an ambiguous create of these items "
                          "(ended; its results could not be checked)";
                }
            } else {
                unexplained = true;
                may_be_any(j.indices.size());
                why = "may have been made by an ambiguous create of these items (same size, "
                      "created since; still in progress, so not verified and not canceled)";
            }
            named.insert(b.id);
            ledger_.unread({b.id, owner->ranges, why});
        }
        if (settle && complete && !unexplained)
            listed_none.insert(number); // every batch of its size since is accounted for
    }
    // Lost creates whose batch was not found: the server may still be making it.
    for (const auto& [number, amb] : ambiguous_) {
        if (amb.found >= amb.creates || unlisted.count(number))
            continue;
        const job& j = *jobs_[number];
        const unsigned missing = amb.creates - amb.found;
        const auto now = std::chrono::system_clock::now();
        if (listed_none.count(number)) { // past the horizon when it was listed
            // Past the horizon and no batch of its size anywhere since: it made nothing.
            // Recorded, so a rerun does not look for it again.
            try {
                for (unsigned k = 0; k < missing; ++k)
                    co_await journal_.refused(j.round, j.ranges, j.hash);
            } catch (const error&) {
                // Not recorded: the next rerun settles it again.
            }
            continue;
        }
        const std::string listed = format_rfc3339(now);
        std::string why = "the answer to " + std::to_string(amb.creates) +
                          " create(s) of these items was lost (sent since " +
                          format_rfc3339(amb.since) + ") and ";
        if (missing == 1)
            why += "a batch one of them may have made was";
        else
            why += std::to_string(missing) + " batches they may have made were";
        why += " not found when the run last listed batches (";
        why += listed;
        why += "): it may still appear, created after ";
        why += listed;
        why += ", as a batch of ";
        why += std::to_string(j.indices.size());
        why += " requests with custom_ids such as \"";
        why += ledger_.ids().make(j.round, j.indices.front());
        why += "\". Such a batch is this call's, paid and not read: read its results or "
               "cancel it";
        if (unverified.count(number))
            why += " (unless it is one of the batches named above for these items)";
        if (journal_.enabled())
            why += "; running again with the same journal looks for it again";
        ledger_.unread({"", j.ranges, std::move(why)});
    }
}

// A rerun that stops before it plans some items again (its timeout, a cancel, an error)
// never re-attaches their recorded batch nor looks for what an earlier process's
// unanswered create of them made: both are named, or they would be paid and silent.
void engine::name_unreached_journal_records() {
    if (!journal_.enabled())
        return;
    for (const auto& [key, e] : journal_.entries()) {
        if (journal_reached_.count(key))
            continue;
        const auto& [round, items] = key;
        const std::string where =
            " (round " + std::to_string(round) + ") in the journal " + journal_.path().string();
        if (!e.batch_id.empty() && !ledger_.is_unread(e.batch_id))
            ledger_.unread({e.batch_id, items,
                            "recorded as the batch of these items" + where +
                                "; this run stopped before it re-attached it: not read by this "
                                "run; running again with the same journal reads it"});
        if (e.unanswered() == 0)
            continue;
        std::string why = "an earlier process sent " + std::to_string(e.unanswered()) +
                          " create(s) of these items" + where + " and never had the answer";
        if (e.first_creating_at) {
            why += " (sent since ";
            why += format_rfc3339(*e.first_creating_at);
            why += ')';
        }
        why += "; this run stopped before it looked for the batch it may have made: a batch of ";
        why += std::to_string(e.count);
        why += " requests";
        std::size_t first = 0;
        std::size_t digits = 0;
        for (; digits < items.size() && digits < 9 && items[digits] >= '0' && items[digits] <= '9';
             ++digits)
            first = first * 10 + static_cast<std::size_t>(items[digits] - '0');
        if (digits > 0 && first < ledger_.size()) {
            why += " with custom_ids such as \"";
            why += ledger_.ids().make(round, first);
            why += '"';
        }
        why += " may exist, paid and not read; running again with the same journal looks for it";
        ledger_.unread({"", items, std::move(why)});
    }
}

// What an ended batch's result lines say about whose it is: this run's at its first line
// of this run's, another run's only once 16 lines (or all of them) are none of this
// run's. One line is not proof: a stray line can come first (as the tracker knows), and
// the lost-create horizon settles a create on this verdict.
task<engine::first_line> engine::first_line_of(const batch_info& b) {
    first_line out;
    try {
        client c = client_from_state(state_);
        result_stream rs = co_await c.open_results(b);
        unsigned others = 0;
        bool ended = false;
        for (unsigned bad = 0; !ended && others < 16 && bad < 3;) {
            try {
                auto line = co_await rs.next();
                if (!line) {
                    ended = true;
                    continue;
                }
                if (auto id = ledger_.ids().parse(line->custom_id)) {
                    out.read = true;
                    out.ours = id;
                    co_return out;
                }
                ++others;
            } catch (const error& e) {
                if (e.code() != errc::bad_response)
                    throw;
                ++bad;
            }
        }
        // 16 lines, or every line, none of them this run's: another run's. Too many bad
        // lines first: not known.
        out.read = others > 0 && (ended || others >= 16);
    } catch (const boost::system::system_error&) {
        out = first_line{}; // not read to the end of the evidence: not known
    }
    co_return out;
}

} // namespace aibatch::detail
