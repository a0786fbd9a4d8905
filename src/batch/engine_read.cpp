// batch<T>()'s engine (engine.hpp), reading batches: polling one until it ends, reading
// its results line by line into the ledger (ledger.hpp), abandoning or cancelling it.
#include "engine.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

namespace aibatch::detail {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

// A tentative candidate's lines proved it is j's batch.
task<void> engine::confirm(job& j) {
    state_->claim(j.batch_id);
    ++state_->stats.creates_adopted;
    if (auto it = ambiguous_.find(j.number); it != ambiguous_.end())
        ++it->second.found; // the batch of one of its lost creates
    release_body(j);
    std::optional<error> unrecorded; // handled out of the catch (no co_await there)
    try {
        co_await journal_.created(j.round, j.ranges, j.hash, j.batch_id);
    } catch (const error& e) {
        unrecorded = e;
    }
    if (unrecorded) {
        // The batch is this call's and paid for: keep reading it (as after a create
        // the journal could not record), and say so.
        stop(unrecorded->code(), unrecorded->diag().message);
        unread(j, "confirmed as this call's, but the journal could not record it (" +
                      unrecorded->diag().message + "); it is read by this call only");
    }
}

// One result line of j's batch, decoded: what the ledger made of it (the engine keeps
// the value here; confirming a candidate is the caller's, as it waits for the journal).
line_use engine::on_line(job& j, const line_head& head, const decode_report& output,
                         std::uint64_t identity) {
    line_facts f;
    f.custom_id = head.custom_id;
    f.type = head.type;
    f.identity = identity;
    f.error = &head.error;
    if (head.type == result_type::succeeded) {
        f.tokens = head.token_usage ? &*head.token_usage : nullptr;
        f.output = &output;
    }
    line_use use = ledger_.take_line(j, f);
    // The value first: the item is `succeeded` from here on, and nothing may come
    // between that and its value.
    if (use.value_for)
        decode_.keep(*use.value_for);
    return use;
}

// One line of rs for j, decoded once. False when it is not used: a line that is not
// a result (taken by the ledger) or one delivered before the download was resumed.
bool engine::decode_line(job& j, result_stream& rs, std::string_view text, decode_report& output,
                         const line_head*& head, std::uint64_t& identity) {
    not_json_.clear();
    std::optional<error> bad;
    try {
        head = decode_.decode(text, output, not_json_);
        if (!head)
            bad = raw_results::not_json(rs, text, not_json_);
    } catch (const error& e) {
        if (e.code() != errc::bad_response)
            throw;
        bad = raw_results::not_a_result(rs, text, e);
    }
    if (bad) {
        ledger_.take_bad_line(j, rs.bad_line_custom_id(), bad->diag().message);
        return false;
    }
    const std::string_view answer = answer_of(*head);
    identity = result_identity(head->type, answer);
    return raw_results::deliver(rs, head->custom_id, head->type, answer);
}

// Polls j's batch until it ends, then reads its results.
task<track_result> engine::track(job& j) {
    auto wait = opts_.poll_interval;
    asio::steady_timer t(co_await asio::this_coro::executor);
    batch_info b;
    std::string last_error;
    for (;;) {
        if (aborting_)
            co_return track_result::stopped;
        j.ph = job::phase::waiting;
        t.expires_after(wait);
        auto [wec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        if (wec || aborting_)
            co_return track_result::stopped;
        wait = std::min(std::chrono::duration_cast<std::chrono::milliseconds>(wait * 1.5),
                        opts_.poll_interval_max);
        std::optional<error> poll_error; // handled out of the catch: abandon() yields
        try {
            b = co_await do_retrieve(j.batch_id);
        } catch (const boost::system::system_error& se) {
            poll_error = as_error(se);
        }
        if (poll_error) {
            const error& e = *poll_error;
            if (aborting_ || e.code() == asio::error::operation_aborted)
                co_return track_result::stopped;
            auto give_up = j.expires_at ? *j.expires_at + std::chrono::hours(1)
                                        : std::chrono::system_clock::now() + 1s;
            if (transient(e, std::chrono::steady_clock::now() - j.known_since) &&
                std::chrono::system_clock::now() < give_up) {
                last_error = e.diag().to_string();
                continue;
            }
            co_await abandon(j, "polling it failed: " + e.diag().to_string());
            co_return track_result::abandoned;
        }
        j.counts = b.request_counts;
        j.expires_at = b.expires_at;
        j.ended = b.ended();
        if (!j.tentative)
            progress(j);
        if (j.ended)
            break;
    }
    j.ph = job::phase::reading;
    co_return co_await read(j, std::move(b));
}

task<batch_info> engine::do_retrieve(const std::string& id) {
    auto r = co_await state_->call(state_->make_request("GET", "/v1/messages/batches/" + id),
                                   "retrieve_batch " + id);
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec)
        throw error(errc::bad_response, "retrieve_batch: the answer is not JSON");
    co_return batch_info::from_json(v);
}

// Reads an ended batch's results; downloads that fail transiently are tried again.
task<track_result> engine::read(job& j, batch_info b) {
    constexpr int attempts = 5;
    auto wait = opts_.poll_interval;
    for (int attempt = 1;; ++attempt) {
        ledger_.begin_download();
        std::optional<error> read_error;
        try {
            // The stream's line cap comes from what this call sent, not from the
            // counts the server reports.
            batch_info capped = b;
            capped.request_counts = {};
            capped.request_counts.processing = j.indices.size();
            result_stream rs = co_await open_results_on_strand(std::move(capped));
            decode_report output;
            unsigned lines_since_clock = 0;
            for (;;) {
                // Decoding a piece (up to 256 KiB) takes milliseconds; the check is inline,
                // reads the clock every 8 lines (a line takes about a microsecond, the
                // clock a few percent of that), and the lines already received are taken
                // without a coroutine frame each.
                if (++lines_since_clock % 8 == 0 && breath_.due())
                    co_await breathe();
                std::optional<std::string_view> text = raw_results::buffered(rs);
                if (!text) {
                    text = co_await raw_results::next(rs);
                    if (!text)
                        break;
                }
                // The line's item is fetched into the cache while the line is decoded
                // (lines come in no particular order: each item would be a miss).
                ledger_.prefetch(*text);
                const line_head* head = nullptr;
                std::uint64_t identity = 0;
                if (!decode_line(j, rs, *text, output, head, identity))
                    continue;
                const line_use use = on_line(j, *head, output, identity);
                if (use.confirmed)
                    co_await confirm(j);
                if (!use.keep_reading)
                    co_return track_result::foreign;
            }
            if (j.tentative)
                co_return track_result::foreign; // nothing proved it is j's
            j.read_done = true;
            co_return track_result::done;
        } catch (const boost::system::system_error& se) {
            const error e = as_error(se);
            if (e.code() == asio::error::operation_aborted)
                throw;
            if (e.code() == errc::body_too_large) {
                anomaly("batch " + j.batch_id + ": " + e.diag().message);
                if (j.tentative)
                    co_return track_result::foreign;
                j.read_done = true;
                co_return track_result::done;
            }
            if (attempt >= attempts ||
                !transient(e, std::chrono::steady_clock::now() - j.known_since)) {
                read_error = e;
            }
        }
        if (read_error) { // out of the catch: abandon() yields
            co_await abandon(j, "reading its results failed (" + std::to_string(attempt) +
                                    " attempts): " + read_error->diag().to_string());
            co_return track_result::abandoned;
        }
        asio::steady_timer t(co_await asio::this_coro::executor, wait);
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        wait = std::min(std::chrono::duration_cast<std::chrono::milliseconds>(wait * 2),
                        opts_.poll_interval_max);
    }
}

task<result_stream> engine::open_results_on_strand(batch_info b) {
    client c = client_from_state(state_);
    co_return co_await c.open_results(std::move(b));
}

task<void> engine::abandon(job& j, const std::string& why) {
    std::string msg = "batch " + j.batch_id + " was submitted but ";
    msg += why;
    msg += j.tentative ? " (it may be the batch of an ambiguous create of these items; "
                         "not verified)"
                       : " (the batch may still finish: its id is in unread_batches)";
    stop(errc::items_failed, msg);
    unread(j, why);
    co_await mark(j, item_status::failed, "client_error", std::move(msg));
}

// The call is stopping (cancel or timeout) while j's batch runs: cancel it if it is
// surely this call's and has not ended, never when it has ended or is unverified.
task<void> engine::stop_batch(job& j) {
    const std::string why = ledger_.stop_message();
    if (j.tentative) {
        co_await mark(j, item_status::failed, "stopped",
                      why + "; batch " + j.batch_id +
                          " may hold these items (an ambiguous create), not verified, not "
                          "canceled");
        unread(j, why + " while checking whether it is this call's batch (not canceled)");
        co_return;
    }
    if (j.ended) {
        co_await mark(j, item_status::failed, "stopped",
                      why + "; batch " + j.batch_id + " has ended but its results were not read");
        unread(j, why + " before its results were read; they remain available");
        co_return;
    }
    std::string note;
    try {
        client c = client_from_state(state_);
        co_await c.cancel_batch(j.batch_id);
        note = "; batch " + j.batch_id + " was canceled";
        // Items that finished before the cancel are paid for, and the API counts them
        // only once the batch has ended: name it so nothing paid is lost silently.
        unread(j, "canceled while running (" + why +
                      "); items that finished before the cancel are paid for: their "
                      "results are readable with client.results(\"" +
                      j.batch_id + "\") (from a shell: aibatch results " + j.batch_id +
                      ") once it has ended");
    } catch (const boost::system::system_error& se) {
        const error e = as_error(se);
        note = "; canceling batch " + j.batch_id + " failed: " + e.diag().to_string();
        unread(j, "canceling it failed: " + e.diag().to_string());
    }
    co_await mark(j, item_status::canceled, "canceled", why + note);
}

} // namespace aibatch::detail
