// batch<T>()'s engine (engine.hpp), creating batches: the body turn (one request body
// at a time), building requests, planning a batch (planner.hpp) and creating it, with a
// journal record, re-attachment, and the candidates of an ambiguous create.
#include "engine.hpp"

#include <aibatch/api/models.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/assert.hpp>
#include <boost/json/serialize.hpp>

#include <limits>

#ifdef __linux__
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace aibatch::detail {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// Frees a request body. A large one (tens of MB) is first handed back to the kernel a
// megabyte at a time with a yield in between: unmapping it at once holds the event loop
// for milliseconds (measured by bench/run). Only the last owner does this.
task<void> free_in_slices(std::shared_ptr<const std::string> body) {
#ifdef __linux__
    constexpr std::uintptr_t slice = std::uintptr_t{1} << 20;
    if (body && body.use_count() == 1 && body->capacity() >= 8 * slice) {
        const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
        char* data = const_cast<char*>(body->data()); // the last owner: nobody reads it again
        const auto start = reinterpret_cast<std::uintptr_t>(data);
        // Whole pages inside the string's own storage: [first, last) as offsets from data.
        const std::uintptr_t first = ((start + page - 1) & ~(page - 1)) - start;
        const std::uintptr_t last = ((start + body->capacity()) & ~(page - 1)) - start;
        for (std::uintptr_t off = first; off < last; off += slice) {
            ::madvise(data + off, std::min(slice, last - off), MADV_DONTNEED);
            co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
        }
    }
#endif
    body.reset();
}

} // namespace

// ------------------------------------------------------------- the body turn
// One request body at a time: a worker takes the turn to plan a batch and build its
// body, and to (re)build and send it; the body is freed as soon as its create has
// answered, and the turn passed on. Memory above the inputs is then one body (up to
// max_bytes_per_batch), whatever max_batches_in_flight; the uploads share one link
// anyway. A body needed again (an ambiguous create) is rebuilt from its items.
task<void> engine::take_turn(job* j) {
    // The turn is a token in a channel of capacity one (a semaphore): taking it is a
    // receive, and end_turn() sends it back, which wakes the longest waiter only. The
    // receive is not cancelable (its own empty slot): a worker holding no turn has
    // nothing to give up, and a receive cut by a cancellation (the run interrupts waiting
    // workers) leaves Boost 1.81's channel refusing try_send while no receiver waits
    // (send_state_ = block): end_turn() would drop the token, and every worker then
    // waits for it forever.
    for (;;) {
        auto [ec] = co_await turn_->async_receive(asio::bind_cancellation_slot(
            asio::cancellation_slot(), asio::as_tuple(asio::use_awaitable)));
        if (!ec)
            break;
    }
    if (j)
        j->has_turn = true;
}

void engine::end_turn() {
    const bool handed_on = turn_->try_send(boost::system::error_code{});
    BOOST_ASSERT_MSG(handed_on, "the body turn was ended twice");
    (void)handed_on;
}

// The job's body is not needed now: freed (in slices), and the turn passed on.
void engine::release_body(job& j) {
    if (j.body)
        asio::co_spawn(state_->strand, free_in_slices(std::move(j.body)), asio::detached);
    if (j.has_turn) {
        j.has_turn = false;
        end_turn();
    }
}

// The turn and the body, for a create. A streamed body (streams_bodies()) is written
// while it is sent (body_pieces): only the turn then.
task<void> engine::body_for_create(job& j) {
    if (!j.has_turn)
        co_await take_turn(&j);
    if (j.body || streams_bodies())
        co_return;
    chunk_builder chunk(j.indices.size(), std::numeric_limits<std::size_t>::max(),
                        j.indices.size());
    std::size_t k = 0;
    for (std::size_t i : j.indices) {
        chunk.add(i, [&](std::string& body) { append_request(i, body); });
        if (++k % 16 == 0)
            co_await breathe();
    }
    job built = chunk.finish(j.round);
    j.body = std::move(built.body);
}

// Job j's body, written piece by piece while it is sent, anew at every attempt: the
// same bytes as the planner measured (and hashed), since the requests are built from
// the same items, custom_ids and template. The transport refuses to complete a body that
// does not come to the planned size; with a journal, the writer also refuses (throws
// before handing over the last piece, which the transport then never sends) a body whose
// bytes do not hash to the planned hash its journal record names: an input changed
// during the call, say, must not make a batch under a record of other bytes.
streamed_body engine::body_pieces(const job& j) {
    streamed_body b;
    b.size = j.input_bytes;
    const bool check = journal_.enabled(); // the planned hash is known
    b.start = [this, &j, check] {
        return [this, &j, check, k = std::size_t{0}, begun = false, ended = false,
                h = fnv1a_basis](std::string& out) mutable {
            if (ended)
                return;
            const std::size_t from = out.size();
            if (!begun) {
                out += chunk_builder::head;
                begun = true;
            }
            // About 256 KiB a piece: a few hundred requests, well under a loop breath.
            constexpr std::size_t piece = std::size_t{256} << 10;
            while (k < j.indices.size() && out.size() < piece) {
                if (k > 0)
                    out += ',';
                append_request(j.indices[k++], out);
            }
            if (k == j.indices.size()) {
                out += chunk_builder::tail;
                ended = true;
            }
            if (check) {
                h = fnv1a(std::string_view(out).substr(from), h);
                if (ended && h != j.hash)
                    throw error(errc::invalid_argument,
                                "the body of items " + j.ranges + " (round " +
                                    std::to_string(j.round) +
                                    ") is not the one planned and recorded in the journal (same "
                                    "size, other bytes: did the input change during the call?); "
                                    "it was not sent");
            }
        };
    };
    return b;
}

// ------------------------------------------------------------- requests
conversation engine::conversation_for(std::size_t i) const {
    conversation conv = messages_[i];
    if (const conversation* fb = ledger_.feedback(i))
        for (const auto& t : *fb)
            conv.push_back(t);
    return conv;
}

message_params engine::prototype() const {
    return request_prototype(model_, opts_, spec_);
}

// The per-model rules (models.hpp) on the params of the first item, customize
// included, before anything is sent: what one item breaks, all items built the same
// way break.
void engine::check_request_rules() const {
    if (messages_.empty())
        return;
    message_params p = prototype();
    p.messages = messages_[0];
    if (opts_.customize)
        opts_.customize(p, 0);
    check_model_rules(p.to_json(), "batch");
}

// Appends item i's request to a batch body. Throws errc::invalid_argument, before
// writing anything, when customize breaks a model rule for this item.
void engine::append_request(std::size_t i, std::string& body) {
    const std::string& cid = ledger_.item(i).custom_id;
    if (!opts_.customize) {
        // Fast path: everything but the messages is serialised once.
        if (!template_)
            template_.emplace(prototype());
        if (ledger_.feedback(i))
            append_batch_request(cid, *template_, conversation_for(i), body);
        else
            append_batch_request(cid, *template_, messages_[i], body);
        return;
    }
    message_params p = prototype();
    p.messages = conversation_for(i);
    opts_.customize(p, i);
    json::value params = p.to_json();
    // customize may break a model rule on this item only: it is then not sent.
    check_model_rules(params.as_object(), "batch: messages[" + std::to_string(i) + "]");
    body += R"({"custom_id":)";
    body += json::serialize(json::value(cid));
    body += R"(,"params":)";
    body += json::serialize(params);
    body += '}';
}

// What the fast path of append_request writes, counted without writing it: a streamed
// body without a journal is planned from sizes, and written only when it is sent.
std::optional<std::size_t> engine::request_size(std::size_t i) {
    if (opts_.customize)
        return std::nullopt;
    if (!template_)
        template_.emplace(prototype());
    const std::string& cid = ledger_.item(i).custom_id;
    return ledger_.feedback(i) ? batch_request_size(cid, *template_, conversation_for(i))
                               : batch_request_size(cid, *template_, messages_[i]);
}

// The next batch of the round: as many pending items as the limits allow (the
// planner, planner.hpp, decides). Yields to the event loop every couple of
// milliseconds so a large body never stalls it.
// Called with the body turn (take_turn): one planner at a time, so a worker that
// yields mid-batch keeps its place and the batches are contiguous runs of the pending
// list whatever the timing (a journal resume finds the same batches again).
task<std::optional<job>> engine::next_job() {
    const unsigned round = ledger_.round();
    chunk_builder chunk(opts_.max_requests_per_batch, opts_.max_bytes_per_batch,
                        pending_.size() - cursor_, streams_bodies(), journal_.enabled());
    std::size_t since_check = 0;
    while (cursor_ < pending_.size() && !chunk.full()) {
        if (++since_check == 16) {
            since_check = 0;
            co_await breathe(); // other workers wait at the planning gate
        }
        const std::size_t i = pending_[cursor_];
        ledger_.item(i).custom_id = ledger_.ids().make(round, i);
        chunk_builder::verdict v{};
        std::optional<std::string> threw; // customize's exception, handled below
        try {
            const std::optional<std::size_t> size =
                chunk.sizes_only() ? request_size(i) : std::nullopt;
            v = size ? chunk.add_sized(i, *size)
                     : chunk.add(i, [&](std::string& body) { append_request(i, body); });
        } catch (const error& e) {
            if (e.code() != errc::invalid_argument)
                throw;
            // A request the model would refuse (a rule broken by customize for this
            // item): never sent, the reason kept.
            ledger_.set(i, item_status::not_submitted, "invalid_request", e.diag().message);
            ++cursor_;
            continue;
        } catch (const std::exception& e) {
            threw = e.what();
        } catch (...) {
            threw = "an exception that is not a std::exception";
        }
        if (threw) {
            // The caller's callback is broken: nothing more is sent (the batch being
            // planned included), and what was paid for is still read and returned.
            std::string msg = "batch_options::customize threw for item " + std::to_string(i) +
                              " (" + *threw +
                              "); the run stopped: the items not yet sent were not sent";
            ledger_.set(i, item_status::not_submitted, "customize_failed", msg);
            stop(make_error_code(errc::invalid_argument), std::move(msg));
            stopping_ = true;
            ++cursor_;
            co_return std::nullopt;
        }
        if (v == chunk_builder::verdict::full)
            break;
        if (v == chunk_builder::verdict::too_large)
            ledger_.set(i, item_status::not_submitted, "request_too_large",
                        "the request is " + std::to_string(chunk.last_size()) +
                            " bytes, more than max_bytes_per_batch (" +
                            std::to_string(opts_.max_bytes_per_batch) + "); shorten it");
        ++cursor_;
    }
    if (chunk.empty())
        co_return std::nullopt;
    co_return chunk.finish(round);
}

// ------------------------------------------------------------- one batch
// Finds the batch of job j: its journal record, a candidate left by an ambiguous
// create (tentative until its results prove it), or a new create. False when the
// items were not submitted (they have their outcome then).
task<bool> engine::obtain_batch(job& j) {
    journal_reached_.insert({j.round, j.ranges});
    const journal::entry* known = journal_.find(j.round, j.ranges);
    if (known && journal_.enabled() && known->hash != j.hash)
        throw error(errc::journal,
                    "journal " + journal_.path().string() + ": the record for items " + j.ranges +
                        " (round " + std::to_string(j.round) +
                        ") was written for a different input; use another journal path");
    if (known && !j.journal_read) {
        j.journal_read = true;
        // Creates an earlier process sent and never had the answer to (it crashed, or
        // the batch was not found before it ended): each may have made a batch. Looked
        // for now if the items have no batch yet, and by the final sweep in any case.
        if (known->unanswered() > 0 && known->first_creating_at) {
            note_ambiguous(j, *known->first_creating_at,
                           known->creating_at.value_or(*known->first_creating_at),
                           known->unanswered());
            if (known->batch_id.empty())
                j.ambiguous_since = *known->first_creating_at;
        }
    }
    if (known && !known->batch_id.empty() && j.rejected.empty()) {
        j.batch_id = known->batch_id; // re-attach
        j.known_since = std::chrono::steady_clock::now();
        release_body(j);
        co_return true;
    }
    for (int cycle = 0;; ++cycle) {
        if (j.ambiguous_since) {
            release_body(j); // rebuilt if it must be sent again
            auto cand = co_await candidate_for(j);
            if (!cand) {
                // Nothing (more) to check yet: a slow create may still show up. Look
                // once more after a pause before paying for the items again.
                asio::steady_timer t(co_await asio::this_coro::executor, settle_time());
                co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
                cand = co_await candidate_for(j);
            }
            if (cand) {
                client_event e;
                e.what = client_event::kind::adopted;
                e.batch_id = cand->id;
                e.detail = "may be the batch of an ambiguous create of items " + j.ranges +
                           "; its results are checked against this run's custom_ids";
                state_->tell(e);
                j.batch_id = cand->id;
                j.tentative = true;
                j.verified_line = false;
                j.unmatched_lines = 0;
                j.foreign_run_seen = false;
                j.expires_at = cand->expires_at;
                j.known_since = std::chrono::steady_clock::now();
                tracking_.insert(j.batch_id);
                co_return true;
            }
        }
        co_await body_for_create(j);
        if (stopping_) {
            release_body(j);
            co_await mark(j, item_status::not_submitted, "stopped",
                          ledger_.stop_message() + " before the batch was created");
            co_return false;
        }
        if (cycle >= 3) {
            release_body(j);
            std::string msg = "create_batch failed ambiguously " + std::to_string(cycle) +
                              " times for items " + j.ranges +
                              "; not sending it again (see unread_batches for batches it "
                              "may have made)";
            stop(make_error_code(errc::ambiguous_create), msg);
            co_await mark(j, item_status::not_submitted, "create_failed", msg);
            co_return false;
        }
        co_await journal_.creating(j.round, j.ranges, j.indices.size(), j.hash);
        if (stopping_) {
            // The run stopped while the record was written (off the loop): the create is
            // not sent, and the record is answered so no rerun looks for its batch.
            try {
                co_await journal_.refused(j.round, j.ranges, j.hash);
            } catch (const error&) {
                // Not recorded: a rerun looks for a batch this create never made, and
                // finds none (the answer is only noisier).
            }
            release_body(j);
            co_await mark(j, item_status::not_submitted, "stopped",
                          ledger_.stop_message() + " before the batch was created");
            co_return false;
        }
        const timestamp sent_at = std::chrono::system_clock::now();
        j.ph = job::phase::creating;
        std::optional<batch_info> made;
        std::optional<error> create_error; // handled out of the catch: marking yields
        try {
            if (streams_bodies())
                made = co_await state_->create_streamed(body_pieces(j), j.indices.size(), false);
            else
                made = co_await state_->create_shared(j.body, j.indices.size(), false);
        } catch (const boost::system::system_error& se) {
            create_error = as_error(se);
        }
        release_body(j); // answered: rebuilt if it must be sent again
        if (create_error) {
            const error& e = *create_error;
            if (!may_have_created(e)) {
                try {
                    co_await journal_.refused(j.round, j.ranges, j.hash);
                } catch (const error&) {
                    // Not recorded: a rerun looks for a batch this create cannot have
                    // made, and finds none (the answer is only noisier).
                }
                stop(e.code(),
                     "create_batch failed for items " + j.ranges + ": " + e.diag().to_string());
                // Named, not a ?: temporary inside the co_await: g++ 12 destroys such
                // a temporary twice in a coroutine.
                std::string type = e.diag().api_error_type;
                if (type.empty())
                    type = "create_failed";
                std::string msg = "create_batch failed: " + e.diag().to_string();
                co_await mark(j, item_status::not_submitted, std::move(type), std::move(msg));
                co_return false;
            }
            if (!j.ambiguous_since)
                j.ambiguous_since = sent_at;
            note_ambiguous(j, *j.ambiguous_since, sent_at);
        }
        if (made) {
            j.batch_id = made->id;
            j.counts = made->request_counts;
            j.expires_at = made->expires_at;
            j.known_since = std::chrono::steady_clock::now();
            known_ids_.insert(made->id);
            std::optional<error> unrecorded; // handled out of the catch (no co_await there)
            try {
                co_await journal_.created(j.round, j.ranges, j.hash, j.batch_id);
            } catch (const error& e) {
                unrecorded = e;
            }
            if (unrecorded) {
                // The batch exists and is paid for: keep tracking it, and say the
                // journal could not record it.
                stop(unrecorded->code(), unrecorded->diag().message);
                unread(j, "created, but the journal could not record it (" +
                              unrecorded->diag().message + "); it is read by this call only");
            }
            co_return true;
        }
        // Give a slow create time to show up in the listing before looking.
        asio::steady_timer t(co_await asio::this_coro::executor, settle_time());
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

} // namespace aibatch::detail
