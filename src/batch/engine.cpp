// batch<T>()'s engine: validate, plan, submit, poll, read results, repair, account.
#include "journal.hpp"
#include "ledger.hpp"
#include "planner.hpp"
#include "rules.hpp"

#include "../api/client_impl.hpp"

#include <aibatch/api/models.hpp>
#include <aibatch/batch/batch.hpp>
#include <aibatch/detail/batch_engine.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <limits>
#include <set>

#ifdef __linux__
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace aibatch {

namespace asio = boost::asio;
namespace json = boost::json;

namespace detail {
namespace {

using namespace std::chrono_literals;

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

enum class track_result { done, foreign, stopped, abandoned };

class engine {
public:
    engine(std::shared_ptr<client_state> c, std::span<const conversation> messages,
           std::string model, batch_options opts, output_spec spec, item_store& items,
           line_decoder& decode)
        : state_(std::move(c)), messages_(messages), model_(std::move(model)),
          opts_(std::move(opts)), spec_(std::move(spec)), decode_(decode),
          ledger_(items, messages.size(), opts_.price ? opts_.price : find_price(model_),
                  opts_.repair_rounds, opts_.max_tokens) {}

    task<engine_result> run() {
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
            journal_ = journal::open(opts_.journal, model_, n, run_id_, !opts_.run_id.empty());
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
        co_await sweep_ambiguous();
        co_await fill_in();
        co_await asio::this_coro::throw_if_cancelled(throwing);
        co_return finish();
    }

private:
    // Yields to the event loop once the engine has held it for about a millisecond:
    // loops over a run's items call it every few dozen items, so no step of a
    // 100,000-item run stalls an async server (bench/run measures the longest stall).
    // A breath is never where a cancellation is seen: callers account for every item
    // they touch, so the post must not throw operation_aborted into them.
    task<void> breathe() {
        auto now = std::chrono::steady_clock::now();
        if (now - breath_ < 1ms)
            co_return;
        const bool throwing = co_await asio::this_coro::throw_if_cancelled();
        co_await asio::this_coro::throw_if_cancelled(false);
        co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
        co_await asio::this_coro::throw_if_cancelled(throwing);
        breath_ = std::chrono::steady_clock::now();
    }

    // ------------------------------------------------------------- the body turn
    // One request body at a time: a worker takes the turn to plan a batch and build its
    // body, and to (re)build and send it; the body is freed as soon as its create has
    // answered, and the turn passed on. Memory above the inputs is then one body (up to
    // max_bytes_per_batch), whatever max_batches_in_flight; the uploads share one link
    // anyway. A body needed again (an ambiguous create) is rebuilt from its items.
    task<void> take_turn(job* j) {
        // The gate never expires; end_turn() cancels its waits, which wakes every waiter
        // (the first to run takes the turn). Setting its expiry here would cancel the
        // other waiters' waits, and they would wake each other in a busy loop.
        while (turn_taken_)
            co_await turn_gate_->async_wait(asio::as_tuple(asio::use_awaitable));
        turn_taken_ = true;
        if (j)
            j->has_turn = true;
    }
    void end_turn() {
        turn_taken_ = false;
        turn_gate_->cancel();
    }
    // The job's body is not needed now: freed (in slices), and the turn passed on.
    void release_body(job& j) {
        if (j.body)
            asio::co_spawn(state_->strand, free_in_slices(std::move(j.body)), asio::detached);
        if (j.has_turn) {
            j.has_turn = false;
            end_turn();
        }
    }
    // The turn and the body, for a create.
    task<void> body_for_create(job& j) {
        if (!j.has_turn)
            co_await take_turn(&j);
        if (j.body)
            co_return;
        chunk_builder chunk(j.indices.size(), std::numeric_limits<std::size_t>::max(),
                            j.indices.size());
        std::size_t k = 0;
        for (std::size_t i : j.indices) {
            chunk.add(i, [&](std::string& body) { append_request(i, body); });
            if (++k % 16 == 0)
                co_await breathe();
        }
        job built = chunk.finish(j.round, false);
        j.body = std::move(built.body);
    }

    // ------------------------------------------------------------- requests
    conversation conversation_for(std::size_t i) const {
        conversation conv = messages_[i];
        if (const conversation* fb = ledger_.feedback(i))
            for (const auto& t : *fb)
                conv.push_back(t);
        return conv;
    }

    message_params prototype() const {
        message_params p;
        p.model = model_;
        p.max_tokens = opts_.max_tokens;
        p.system = opts_.system;
        p.temperature = opts_.temperature;
        apply_output_spec(p, spec_);
        return p;
    }

    // The per-model rules (models.hpp) on the params of the first item, customize
    // included, before anything is sent: what one item breaks, all items built the same
    // way break.
    void check_request_rules() const {
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
    void append_request(std::size_t i, std::string& body) {
        const std::string& cid = ledger_.item(i).custom_id;
        if (!opts_.customize) {
            // Fast path: everything but the messages is serialised once.
            if (!template_)
                template_.emplace(prototype());
            body += R"({"custom_id":)";
            append_json_string(cid, body);
            body += R"(,"params":)";
            if (ledger_.feedback(i))
                template_->append(conversation_for(i), body);
            else
                template_->append(messages_[i], body);
            body += '}';
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

    // The next batch of the round: as many pending items as the limits allow (the
    // planner, planner.hpp, decides). Yields to the event loop every couple of
    // milliseconds so a large body never stalls it.
    // Called with the body turn (take_turn): one planner at a time, so a worker that
    // yields mid-batch keeps its place and the batches are contiguous runs of the pending
    // list whatever the timing (a journal resume finds the same batches again).
    task<std::optional<job>> next_job() {
        const unsigned round = ledger_.round();
        chunk_builder chunk(opts_.max_requests_per_batch, opts_.max_bytes_per_batch,
                            pending_.size() - cursor_);
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
                v = chunk.add(i, [&](std::string& body) { append_request(i, body); });
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
        co_return chunk.finish(round, journal_.enabled());
    }

    // ------------------------------------------------------------- outcomes (ledger.hpp)
    // Gives every item of the job without a result this round an outcome. A job holds up
    // to 100,000 items, each outcome a copy of the message: it yields as it goes (no
    // other coroutine touches a job's items while its worker marks them).
    task<void> mark(const job& j, item_status st, std::string type, std::string msg) {
        std::size_t k = 0;
        for (std::size_t i : j.indices) {
            if (++k % 64 == 0)
                co_await breathe();
            ledger_.mark(i, st, type, msg);
        }
    }

    void stop(boost::system::error_code ec, std::string msg) { ledger_.stop(ec, std::move(msg)); }
    void anomaly(std::string what) { ledger_.anomaly(std::move(what)); }
    void unread(const job& j, std::string why) { ledger_.unread(j, std::move(why)); }

    // A tentative candidate's lines proved it is j's batch.
    void confirm(job& j) {
        state_->claim(j.batch_id);
        ++state_->stats.creates_adopted;
        release_body(j);
        try {
            journal_.created(j.round, j.ranges, j.hash, j.batch_id);
        } catch (const error& e) {
            // The batch is this call's and paid for: keep reading it (as after a create
            // the journal could not record), and say so.
            stop(e.code(), e.diag().message);
            unread(j, "confirmed as this call's, but the journal could not record it (" +
                          e.diag().message + "); it is read by this call only");
        }
    }

    // One result line of j's batch, decoded. False when the line shows that the batch is
    // not j's (a tentative candidate that belongs to someone else).
    bool on_line(job& j, const line_head& head, const decode_report& output,
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
        if (use.confirmed)
            confirm(j);
        return use.keep_reading;
    }

    // One line of rs for j, decoded once. False when it is not used: a line that is not
    // a result (taken by the ledger) or one delivered before the download was resumed.
    bool decode_line(job& j, result_stream& rs, std::string_view text, decode_report& output,
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

    // ------------------------------------------------------------- progress
    void progress(const job& j) {
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

    // ------------------------------------------------------------- one batch
    // Finds the batch of job j: its journal record, a candidate left by an ambiguous
    // create (tentative until its results prove it), or a new create. False when the
    // items were not submitted (they have their outcome then).
    task<bool> obtain_batch(job& j) {
        const journal::entry* known = journal_.find(j.round, j.ranges);
        if (known && journal_.enabled() && known->hash != j.hash)
            throw error(errc::journal,
                        "journal " + journal_.path().string() + ": the record for items " +
                            j.ranges + " (round " + std::to_string(j.round) +
                            ") was written for a different input; use another journal path");
        if (known && !known->batch_id.empty() && j.rejected.empty()) {
            j.batch_id = known->batch_id; // re-attach
            j.known_since = std::chrono::steady_clock::now();
            release_body(j);
            co_return true;
        }
        if (known && known->creating_at && !j.ambiguous_since) {
            j.ambiguous_since = *known->creating_at; // a crash during a create
            ambiguous_.push_back({j.number, *j.ambiguous_since});
            last_ambiguous_ = std::chrono::steady_clock::now();
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
            journal_.creating(j.round, j.ranges, j.indices.size(), j.hash);
            const timestamp sent_at = std::chrono::system_clock::now();
            j.ph = job::phase::creating;
            std::optional<batch_info> made;
            std::optional<error> create_error; // handled out of the catch: marking yields
            try {
                made = co_await state_->create_shared(j.body, j.indices.size(), false);
            } catch (const boost::system::system_error& se) {
                create_error = as_error(se);
            }
            release_body(j); // answered: rebuilt if it must be sent again
            if (create_error) {
                const error& e = *create_error;
                if (!may_have_created(e)) {
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
                ambiguous_.push_back({j.number, *j.ambiguous_since});
                last_ambiguous_ = std::chrono::steady_clock::now();
            }
            if (made) {
                j.batch_id = made->id;
                j.counts = made->request_counts;
                j.expires_at = made->expires_at;
                j.known_since = std::chrono::steady_clock::now();
                known_ids_.insert(made->id);
                try {
                    journal_.created(j.round, j.ranges, j.hash, j.batch_id);
                } catch (const error& e) {
                    // The batch exists and is paid for: keep tracking it, and say the
                    // journal could not record it.
                    stop(e.code(), e.diag().message);
                    unread(j, "created, but the journal could not record it (" + e.diag().message +
                                  "); it is read by this call only");
                }
                co_return true;
            }
            // Give a slow create time to show up in the listing before looking.
            asio::steady_timer t(co_await asio::this_coro::executor, settle_time());
            co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        }
    }

    std::chrono::milliseconds settle_time() const {
        return std::clamp(
            std::chrono::duration_cast<std::chrono::milliseconds>(state_->cfg.retry.max_backoff),
            std::chrono::milliseconds(200), std::chrono::milliseconds(5000));
    }

    // A batch that an ambiguous create of j may have made: same size, recent, not known
    // to be anyone's, not already rejected by j or being tracked for another job.
    task<std::optional<batch_info>> candidate_for(job& j) {
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

    // Polls j's batch until it ends, then reads its results.
    task<track_result> track(job& j) {
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

    task<batch_info> do_retrieve(const std::string& id) {
        auto r = co_await state_->call(state_->make_request("GET", "/v1/messages/batches/" + id),
                                       "retrieve_batch " + id);
        boost::system::error_code ec;
        json::value v = json::parse(r.body, ec);
        if (ec)
            throw error(errc::bad_response, "retrieve_batch: the answer is not JSON");
        co_return batch_info::from_json(v);
    }

    // Reads an ended batch's results; downloads that fail transiently are tried again.
    task<track_result> read(job& j, batch_info b) {
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
                for (;;) {
                    // Decoding a 64 KiB piece takes milliseconds; the check is inline and
                    // the lines already received are taken without a coroutine frame each.
                    if (std::chrono::steady_clock::now() - breath_ >= 1ms)
                        co_await breathe();
                    std::optional<std::string_view> text = raw_results::buffered(rs);
                    if (!text) {
                        text = co_await raw_results::next(rs);
                        if (!text)
                            break;
                    }
                    const line_head* head = nullptr;
                    std::uint64_t identity = 0;
                    if (!decode_line(j, rs, *text, output, head, identity))
                        continue;
                    if (!on_line(j, *head, output, identity))
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

    task<result_stream> open_results_on_strand(batch_info b) {
        client c = client_from_state(state_);
        co_return co_await c.open_results(std::move(b));
    }

    task<void> abandon(job& j, const std::string& why) {
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
    task<void> stop_batch(job& j) {
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
                          why + "; batch " + j.batch_id +
                              " has ended but its results were not read");
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

    task<void> run_job(job& j) {
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
                co_await mark(j, item_status::not_submitted, "journal",
                              journal_error->diag().message);
                co_return;
            }
            if (!have)
                break;
            if (!j.tentative) {
                ledger_.record_batch(j.batch_id);
                // Read by the caller only, at the end: safe to fill in slices.
                for (std::size_t k = 0; k < j.indices.size(); ++k) {
                    ledger_.item(j.indices[k]).batch_id = j.batch_id;
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
    task<void> recover_planning(std::exception_ptr failure) {
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
    task<void> recover(job& j, std::exception_ptr failure) {
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
            co_await mark(j, item_status::failed, "client_error",
                          "batch " + j.batch_id + ": " + why);
            unread(j, why);
        }
    }

    task<void> worker(job*& current) {
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
    task<void> run_round(unsigned round) {
        if (!turn_gate_) {
            turn_gate_.emplace(co_await asio::this_coro::executor);
            turn_gate_->expires_at(std::chrono::steady_clock::time_point::max());
        }
        ledger_.begin_round(round);
        auto ex = co_await asio::this_coro::executor;
        std::size_t running = 0;
        asio::steady_timer wake(ex);
        std::vector<std::unique_ptr<asio::cancellation_signal>> signals;
        const std::size_t workers = opts_.max_batches_in_flight;
        std::vector<job*> current(workers, nullptr);
        std::exception_ptr worker_failure;
        for (std::size_t k = 0; k < workers; ++k) {
            signals.push_back(std::make_unique<asio::cancellation_signal>());
            ++running;
            asio::co_spawn(ex, worker(current[k]),
                           asio::bind_cancellation_slot(signals.back()->slot(),
                                                        [&](const std::exception_ptr& e) {
                                                            --running;
                                                            if (e && !worker_failure)
                                                                worker_failure = e;
                                                            wake.cancel();
                                                        }));
        }
        bool signaled = false;
        while (running > 0) {
            wake.expires_at(signaled
                                ? std::chrono::steady_clock::time_point::max()
                                : deadline_.value_or(std::chrono::steady_clock::time_point::max()));
            auto [ec] = co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
            if (running == 0)
                break;
            auto cs = co_await asio::this_coro::cancellation_state;
            bool canceled = cs.cancelled() != asio::cancellation_type::none;
            if (canceled)
                co_await asio::this_coro::reset_cancellation_state();
            bool timed_out = !ec && deadline_ && std::chrono::steady_clock::now() >= *deadline_;
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
            // Interrupt only the waits: creates and downloads in progress finish, so a
            // batch being created is canceled once known and results that exist are read.
            signaled = true;
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
        for (std::size_t k = cursor_; k < pending_.size(); ++k) {
            if (stopping_)
                ledger_.not_submitted_at_stop(pending_[k], cost_stopped_);
            if (k % 64 == 63)
                co_await breathe();
        }
    }

    // After ambiguous creates: name every batch that one of them may have made and that
    // the run did not use, so no paid batch is forgotten silently.
    task<void> sweep_ambiguous() {
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
    task<std::optional<bool>> first_line_is_ours(const batch_info& b) {
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

    // Index, custom_id and message of every item, in slices that yield to the loop.
    task<void> fill_in() {
        for (std::size_t i = 0; i < ledger_.size(); ++i) {
            ledger_.fill_in(i);
            if (i % 64 == 63)
                co_await breathe();
        }
    }

    engine_result finish() { return ledger_.finish(); }

    std::shared_ptr<client_state> state_;
    std::span<const conversation> messages_;
    std::string model_;
    batch_options opts_;
    output_spec spec_;
    line_decoder& decode_;
    outcome_ledger ledger_; // every item's outcome, the run's record and its cost
    std::optional<params_template> template_;
    journal journal_;
    std::string run_id_;
    std::optional<std::chrono::steady_clock::time_point> deadline_;
    std::vector<std::size_t> pending_; // this round's items, in order
    std::size_t cursor_ = 0;           // the next pending item to plan
    bool stopping_ = false;
    bool cost_stopped_ = false;
    bool progress_failed_ = false;
    bool turn_taken_ = false;                     // a worker holds the body turn
    std::optional<asio::steady_timer> turn_gate_; // the others wait on it
    bool aborting_ = false; // canceled or timed out: running batches are canceled
    std::vector<std::unique_ptr<job>> jobs_;
    std::chrono::steady_clock::time_point breath_ = std::chrono::steady_clock::now();
    std::string not_json_;                 // why the last line read was not JSON
    std::set<std::string> known_ids_;      // batches this run (or its journal) created
    std::set<std::string> tracking_;       // candidates being checked
    std::set<std::string> known_not_ours_; // candidates proven to be another run's
    std::vector<std::pair<std::uint32_t, timestamp>> ambiguous_;
    std::chrono::steady_clock::time_point last_ambiguous_{};
};

} // namespace

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

} // namespace detail
} // namespace aibatch
