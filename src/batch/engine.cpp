// batch<T>()'s engine: validate, plan, submit, poll, read results, repair, account.
#include "journal.hpp"

#include <aibatch/batch.hpp>
#include <aibatch/detail/batch_engine.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace aibatch {

namespace asio = boost::asio;
namespace json = boost::json;

std::string_view to_string(item_status s) noexcept {
    switch (s) {
    case item_status::succeeded:
        return "succeeded";
    case item_status::errored:
        return "errored";
    case item_status::expired:
        return "expired";
    case item_status::canceled:
        return "canceled";
    case item_status::invalid_output:
        return "invalid_output";
    case item_status::not_submitted:
        return "not_submitted";
    case item_status::failed:
        return "failed";
    }
    return "unknown";
}

namespace detail {

std::string describe_failures(const std::vector<item_report>& failures, std::size_t total,
                              const std::string& stop_message) {
    std::string s;
    if (!stop_message.empty())
        s = stop_message + ". ";
    s +=
        std::to_string(failures.size()) + " of " + std::to_string(total) + " items did not succeed";
    std::map<std::string_view, std::size_t> kinds;
    for (const auto& f : failures)
        ++kinds[to_string(f.status)];
    if (!kinds.empty()) {
        s += " (";
        bool first = true;
        for (const auto& [k, n] : kinds) {
            s += (first ? "" : ", ") + std::to_string(n) + " " + std::string(k);
            first = false;
        }
        s += ")";
    }
    std::size_t shown = 0;
    for (const auto& f : failures) {
        if (shown == 5) {
            s += "; ... (batch_error::failures() lists all)";
            break;
        }
        s += shown == 0 ? ": " : "; ";
        s += "#" + std::to_string(f.index) + " " + f.custom_id + " " +
             std::string(to_string(f.status)) + (f.message.empty() ? "" : ": " + f.message);
        ++shown;
    }
    if (failures.empty())
        s += "; the successful results are kept";
    return s;
}

namespace {

using namespace std::chrono_literals;

[[noreturn]] void bad_input(const std::string& what) {
    throw error(errc::invalid_argument, what);
}

void validate(std::span<const conversation> messages, const std::string& model,
              const batch_options& o) {
    if (model.empty())
        bad_input("batch: the model is empty; pass a model id such as \"claude-haiku-4-5\"");
    if (o.max_tokens <= 0)
        bad_input("batch: batch_options::max_tokens must be positive (got " +
                  std::to_string(o.max_tokens) + ")");
    if (o.temperature && !(*o.temperature >= 0.0 && *o.temperature <= 1.0))
        bad_input("batch: batch_options::temperature must be between 0 and 1 (got " +
                  std::to_string(*o.temperature) + ")");
    if (o.max_requests_per_batch == 0 || o.max_requests_per_batch > 100'000)
        bad_input("batch: batch_options::max_requests_per_batch must be 1 to 100000 (got " +
                  std::to_string(o.max_requests_per_batch) + ")");
    if (o.max_bytes_per_batch < 1024 || o.max_bytes_per_batch > 256'000'000)
        bad_input("batch: batch_options::max_bytes_per_batch must be 1024 to 256000000 (got " +
                  std::to_string(o.max_bytes_per_batch) + ")");
    if (o.max_batches_in_flight == 0)
        bad_input("batch: batch_options::max_batches_in_flight must be at least 1");
    if (o.poll_interval <= 0ms || o.poll_interval_max < o.poll_interval)
        bad_input("batch: batch_options::poll_interval must be positive and at most "
                  "poll_interval_max");
    if (o.timeout && *o.timeout <= 0ms)
        bad_input("batch: batch_options::timeout must be positive");
    if (o.cost_limit && !(*o.cost_limit >= 0))
        bad_input("batch: batch_options::cost_limit must be a non-negative amount of USD");
    if (o.cost_limit && !o.price && !find_price(model))
        bad_input("batch: no price is known for model \"" + model +
                  "\", so cost_limit cannot be enforced; set batch_options::price");
    if (auto why = check_custom_id(o.custom_id_prefix + std::to_string(messages.size())))
        bad_input("batch: batch_options::custom_id_prefix makes a bad custom_id: " + *why);
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const auto& conv = messages[i];
        std::string at = "batch: messages[" + std::to_string(i) + "]";
        if (conv.empty())
            bad_input(at + " is an empty conversation; add a user turn: aibatch::user(\"...\")");
        if (conv.front().role != role::user)
            bad_input(at +
                      " starts with an assistant turn; a conversation starts with a user turn");
        for (std::size_t t = 0; t < conv.size(); ++t) {
            if (t > 0 && conv[t].role == conv[t - 1].role)
                bad_input(at + "[" + std::to_string(t) + "]: two " +
                          (conv[t].role == role::user ? "user" : "assistant") +
                          " turns in a row; turns must alternate user / assistant");
            bool empty = conv[t].blocks.empty() &&
                         conv[t].text.find_first_not_of(" \t\r\n") == std::string::npos;
            if (empty)
                bad_input(at + "[" + std::to_string(t) + "] has empty content");
        }
    }
}

struct job {
    unsigned round = 0;
    std::vector<std::size_t> indices;
    std::string ranges;
    std::string body;
    std::uint64_t hash = 0;
    std::uint64_t input_bytes = 0;
    std::string batch_id;
    request_counts counts;
    bool ended = false;
    double committed = 0; // estimated cost reserved while in flight
};

class engine {
public:
    engine(client& c, std::span<const conversation> messages, std::string model, batch_options opts,
           output_spec spec, decode_fn decode)
        : c_(c), messages_(messages), model_(std::move(model)), opts_(std::move(opts)),
          spec_(std::move(spec)), decode_(std::move(decode)) {
        price_ = opts_.price ? opts_.price : find_price(model_);
    }

    task<engine_result> run() {
        validate(messages_, model_, opts_);
        c_.config().require_api_key();
        const std::size_t n = messages_.size();
        res_.items.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            res_.items[i].index = i;
            res_.items[i].custom_id = opts_.custom_id_prefix + std::to_string(i);
            res_.items[i].message = "not submitted";
        }
        if (n == 0)
            co_return finish();
        if (!opts_.journal.empty())
            journal_ = journal::open(opts_.journal, model_, n);
        if (opts_.timeout)
            deadline_ = std::chrono::steady_clock::now() + *opts_.timeout;

        std::vector<std::size_t> todo(n);
        for (std::size_t i = 0; i < n; ++i)
            todo[i] = i;
        for (unsigned round = 0; round <= opts_.repair_rounds && !todo.empty(); ++round) {
            round_ = round;
            pending_ = std::move(todo);
            cursor_ = 0;
            co_await run_round();
            if (stopping_)
                break;
            todo.clear();
            for (auto& it : res_.items)
                if (it.status == item_status::invalid_output && repairable_.count(it.index))
                    todo.push_back(it.index);
        }
        co_return finish();
    }

private:
    // ------------------------------------------------------------- requests
    conversation conversation_for(std::size_t i) const {
        conversation conv = messages_[i];
        if (auto it = feedback_.find(i); it != feedback_.end())
            for (const auto& t : it->second)
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

    std::string request_json(std::size_t i) {
        if (!opts_.customize) {
            // Fast path: everything but the messages is serialised once.
            if (!template_)
                template_.emplace(prototype());
            std::string s = R"({"custom_id":)";
            append_json_string(res_.items[i].custom_id, s);
            s += R"(,"params":)";
            if (auto it = feedback_.find(i); it != feedback_.end())
                template_->append(conversation_for(i), s);
            else
                template_->append(messages_[i], s);
            s += '}';
            return s;
        }
        message_params p;
        p.model = model_;
        p.max_tokens = opts_.max_tokens;
        p.messages = conversation_for(i);
        p.system = opts_.system;
        p.temperature = opts_.temperature;
        apply_output_spec(p, spec_);
        if (opts_.customize)
            opts_.customize(p, i);
        std::string s = R"({"custom_id":)";
        s += json::serialize(json::value(res_.items[i].custom_id));
        s += R"(,"params":)";
        s += json::serialize(p.to_json());
        s += '}';
        return s;
    }

    // The next batch of the round: as many pending items as the limits allow.
    std::optional<job> next_job() {
        while (cursor_ < pending_.size()) {
            job j;
            j.round = round_;
            j.body = R"({"requests":[)";
            while (cursor_ < pending_.size() && j.indices.size() < opts_.max_requests_per_batch) {
                std::size_t i = pending_[cursor_];
                std::string r = request_json(i);
                if (j.body.size() + r.size() + 3 > opts_.max_bytes_per_batch) {
                    if (!j.indices.empty())
                        break;
                    auto& it = res_.items[i];
                    it.status = item_status::not_submitted;
                    it.error_type = "request_too_large";
                    it.message = "the request is " + std::to_string(r.size()) +
                                 " bytes, more than max_bytes_per_batch (" +
                                 std::to_string(opts_.max_bytes_per_batch) + "); shorten it";
                    ++cursor_;
                    continue;
                }
                if (!j.indices.empty()) {
                    j.body += ',';
                } else {
                    // Room for the whole batch at once, guessed from its first request:
                    // growing by doubling would peak at 1.5-2x the body.
                    std::size_t n =
                        std::min(pending_.size() - cursor_, opts_.max_requests_per_batch);
                    j.body.reserve(
                        std::min(opts_.max_bytes_per_batch, (r.size() + 1) * n * 21 / 20 + 64));
                }
                j.body += r;
                j.indices.push_back(i);
                ++cursor_;
            }
            if (j.indices.empty())
                continue;
            j.body += "]}";
            j.input_bytes = j.body.size();
            j.hash = fnv1a(j.body);
            std::vector<std::size_t> sorted = j.indices;
            std::sort(sorted.begin(), sorted.end());
            j.ranges = format_ranges(sorted);
            return j;
        }
        return std::nullopt;
    }

    // ------------------------------------------------------------- cost
    double estimate(const job& j) const {
        if (!price_)
            return 0;
        double out_per_item = results_seen_ > 0 ? static_cast<double>(res_.usage.output_tokens) /
                                                      static_cast<double>(results_seen_)
                                                : static_cast<double>(opts_.max_tokens);
        usage u;
        u.input_tokens = j.input_bytes / 4;
        u.output_tokens =
            static_cast<std::uint64_t>(out_per_item * static_cast<double>(j.indices.size()));
        return batch_cost(u, *price_);
    }
    double spent() const { return price_ ? batch_cost(res_.usage, *price_) : 0; }

    // ------------------------------------------------------------- outcomes
    void set_outcome(std::size_t i, item_status st, std::string type, std::string msg,
                     std::string raw = {}) {
        auto& it = res_.items[i];
        it.status = st;
        it.error_type = std::move(type);
        it.message = std::move(msg);
        it.raw_output = std::move(raw);
    }

    void mark(const job& j, item_status st, const std::string& type, const std::string& msg) {
        for (std::size_t i : j.indices) {
            auto& it = res_.items[i];
            if (it.status == item_status::succeeded)
                continue;
            if (done_in_round_[i])
                continue;
            set_outcome(i, st, type, msg);
        }
    }

    void stop(boost::system::error_code ec, std::string msg) {
        if (!res_.stop_code) {
            res_.stop_code = ec;
            res_.stop_message = std::move(msg);
        }
    }

    std::optional<std::size_t> index_of(std::string_view custom_id) const {
        if (custom_id.substr(0, opts_.custom_id_prefix.size()) != opts_.custom_id_prefix)
            return std::nullopt;
        custom_id.remove_prefix(opts_.custom_id_prefix.size());
        std::size_t i = 0;
        auto [p, ec] = std::from_chars(custom_id.data(), custom_id.data() + custom_id.size(), i);
        if (ec != std::errc() || p != custom_id.data() + custom_id.size() || i >= res_.items.size())
            return std::nullopt;
        return i;
    }

    void on_line(job& j, result_line& line) {
        auto idx = index_of(line.custom_id);
        if (!idx)
            return; // not one of ours (cannot happen with the API; ignored)
        std::size_t i = *idx;
        done_in_round_[i] = 1;
        auto& it = res_.items[i];
        it.batch_id = j.batch_id;
        switch (line.type) {
        case result_type::succeeded: {
            ++results_seen_;
            const auto* u = line.message.if_contains("usage");
            if (u)
                res_.usage += usage_from_json(*u);
            decode_report d = decode_(line.message, i);
            if (d.ok) {
                set_outcome(i, item_status::succeeded, {}, {});
                repairable_.erase(i);
            } else {
                std::string raw = d.raw;
                set_outcome(i, item_status::invalid_output, std::string(to_string(d.failure)),
                            d.message, std::move(d.raw));
                if (d.failure == output_failure::validation ||
                    d.failure == output_failure::invalid_json ||
                    d.failure == output_failure::no_output) {
                    repairable_.insert(i);
                    conversation fb;
                    fb.push_back(assistant(raw.empty() ? "(no answer)" : raw));
                    fb.push_back(
                        user("That answer does not match the required schema: " + d.message +
                             ". Answer again with output that fixes these problems."));
                    feedback_[i] = std::move(fb);
                } else {
                    repairable_.erase(i);
                }
            }
            break;
        }
        case result_type::errored:
            set_outcome(i, item_status::errored, line.error.type,
                        line.error.message.empty() ? "errored" : line.error.message);
            repairable_.erase(i);
            break;
        case result_type::expired:
            set_outcome(i, item_status::expired, "expired",
                        "the batch expired before this item was processed");
            repairable_.erase(i);
            break;
        case result_type::canceled:
            set_outcome(i, item_status::canceled, "canceled",
                        "the batch was canceled before this item was processed");
            repairable_.erase(i);
            break;
        }
    }

    // ------------------------------------------------------------- one batch
    void progress(const job& j) {
        if (!opts_.on_progress)
            return;
        batch_progress p;
        p.round = j.round;
        p.batch_id = j.batch_id;
        p.batch_counts = j.counts;
        for (const auto* a : jobs_seen_)
            p.total_counts += a->counts;
        p.batches_submitted = jobs_seen_.size();
        for (const auto* a : jobs_seen_)
            p.batches_ended += a->ended;
        p.items_total = res_.items.size();
        for (const auto& it : res_.items)
            p.items_done += it.status != item_status::not_submitted;
        opts_.on_progress(p);
    }

    task<void> submit(job& j) {
        const journal::entry* known = journal_.find(j.round, j.ranges);
        if (known && known->hash != j.hash)
            throw error(errc::journal,
                        "journal " + journal_.path().string() + ": the record for items " +
                            j.ranges + " (round " + std::to_string(j.round) +
                            ") was written for a different input; use another journal path");
        if (known && !known->batch_id.empty()) {
            j.batch_id = known->batch_id; // re-attach
            co_return;
        }
        if (known && known->creating_at) {
            // A create that may or may not have happened before a crash.
            if (auto b = co_await c_.find_created_batch(j.indices.size(), *known->creating_at)) {
                j.batch_id = b->id;
                journal_.created(j.round, j.ranges, j.hash, j.batch_id);
                co_return;
            }
        }
        journal_.creating(j.round, j.ranges, j.indices.size(), j.hash);
        batch_info b = co_await c_.create_batch_from_body(std::move(j.body), j.indices.size());
        j.body = {};
        j.batch_id = b.id;
        j.counts = b.request_counts;
        journal_.created(j.round, j.ranges, j.hash, j.batch_id);
    }

    task<void> run_job(job& j) {
        const double est = estimate(j);
        if (opts_.cost_limit && spent() + committed_ + est > *opts_.cost_limit) {
            char buf[200];
            std::snprintf(buf, sizeof buf,
                          "cost limit $%.4f reached: spent $%.4f, in flight ~$%.4f, next batch "
                          "(%zu items) ~$%.4f",
                          *opts_.cost_limit, spent(), committed_, j.indices.size(), est);
            stop(make_error_code(errc::cost_limit), buf);
            stopping_ = true;
            mark(j, item_status::not_submitted, "cost_limit", buf);
            co_return;
        }
        j.committed = est;
        committed_ += est;
        for (std::size_t i : j.indices)
            ++res_.items[i].rounds;
        try {
            co_await submit(j);
        } catch (const error& e) {
            committed_ -= j.committed;
            if (e.code() == asio::error::operation_aborted)
                throw;
            if (e.code() == errc::journal) {
                stop(e.code(), e.diag().message);
                stopping_ = true;
                mark(j, item_status::not_submitted, "journal", e.diag().message);
                co_return;
            }
            stop(e.code(),
                 "create_batch failed for items " + j.ranges + ": " + e.diag().to_string());
            mark(j, item_status::not_submitted,
                 e.diag().api_error_type.empty() ? "create_failed" : e.diag().api_error_type,
                 "create_batch failed: " + e.diag().to_string());
            co_return;
        }
        res_.batch_ids.push_back(j.batch_id);
        jobs_seen_.push_back(&j);
        for (std::size_t i : j.indices)
            res_.items[i].batch_id = j.batch_id;
        try {
            auto wait = opts_.poll_interval;
            asio::steady_timer t(co_await asio::this_coro::executor);
            for (;;) {
                t.expires_after(wait);
                co_await t.async_wait(asio::use_awaitable);
                batch_info b = co_await c_.retrieve_batch(j.batch_id);
                j.counts = b.request_counts;
                j.ended = b.ended();
                progress(j);
                if (j.ended) {
                    result_stream rs = co_await c_.open_results(b);
                    while (auto line = co_await rs.next())
                        on_line(j, *line);
                    break;
                }
                wait = std::min(std::chrono::duration_cast<std::chrono::milliseconds>(wait * 1.5),
                                opts_.poll_interval_max);
            }
        } catch (const error& e) {
            committed_ -= j.committed;
            if (e.code() == asio::error::operation_aborted)
                throw;
            stop(e.code(), "batch " + j.batch_id + ": " + e.diag().to_string());
            mark(j, item_status::failed, "client_error",
                 "batch " + j.batch_id + " was submitted but its result could not be read: " +
                     e.diag().to_string() + " (the batch may still finish; its id is kept)");
            co_return;
        }
        committed_ -= j.committed;
        for (std::size_t i : j.indices)
            if (!done_in_round_[i])
                set_outcome(i, item_status::failed, "missing_result",
                            "batch " + j.batch_id + " ended without a result line for " +
                                res_.items[i].custom_id);
    }

    task<void> worker() {
        while (!stopping_) {
            auto j = next_job();
            if (!j)
                co_return;
            jobs_.push_back(std::make_unique<job>(std::move(*j)));
            co_await run_job(*jobs_.back());
        }
    }

    // ------------------------------------------------------------- one round
    task<void> run_round() {
        done_in_round_.assign(res_.items.size(), 0);
        auto ex = co_await asio::this_coro::executor;
        std::size_t running = 0;
        asio::steady_timer wake(ex);
        std::vector<std::unique_ptr<asio::cancellation_signal>> signals;
        std::exception_ptr worker_failure;
        const std::size_t workers = opts_.max_batches_in_flight;
        for (std::size_t k = 0; k < workers; ++k) {
            signals.push_back(std::make_unique<asio::cancellation_signal>());
            ++running;
            asio::co_spawn(ex, worker(),
                           asio::bind_cancellation_slot(signals.back()->slot(),
                                                        [&](const std::exception_ptr& e) {
                                                            --running;
                                                            if (e && !worker_failure)
                                                                worker_failure = e;
                                                            wake.cancel();
                                                        }));
        }
        while (running > 0) {
            wake.expires_at(deadline_.value_or(std::chrono::steady_clock::time_point::max()));
            auto [ec] = co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
            if (running == 0)
                break;
            auto cs = co_await asio::this_coro::cancellation_state;
            bool canceled = cs.cancelled() != asio::cancellation_type::none;
            bool timed_out = !ec && deadline_ && std::chrono::steady_clock::now() >= *deadline_;
            if (!canceled && !timed_out)
                continue;
            stopping_ = true;
            if (canceled)
                stop(asio::error::operation_aborted, "canceled by the caller");
            else
                stop(make_error_code(errc::timed_out), "batch_options::timeout (" +
                                                           std::to_string(opts_.timeout->count()) +
                                                           " ms) passed");
            for (auto& s : signals)
                s->emit(asio::cancellation_type::terminal);
            co_await asio::this_coro::reset_cancellation_state();
            while (running > 0) { // canceled operations complete promptly
                wake.expires_after(10ms);
                co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
            }
            co_await cancel_remote();
            break;
        }
        if (worker_failure && !stopping_)
            std::rethrow_exception(worker_failure);
        if (worker_failure && !res_.stop_code) {
            try {
                std::rethrow_exception(worker_failure);
            } catch (const error& e) {
                stop(e.code(), e.diag().to_string());
            } catch (const boost::system::system_error& e) {
                stop(e.code(), e.what());
            }
        }
    }

    // Cancels the remote batches still running and marks their unfinished items.
    task<void> cancel_remote() {
        const std::string why = res_.stop_message;
        for (auto& jp : jobs_) {
            job& j = *jp;
            if (j.batch_id.empty()) {
                mark(j, item_status::not_submitted, "stopped",
                     why + " before the batch was created");
                continue;
            }
            if (j.ended) {
                bool all = std::all_of(j.indices.begin(), j.indices.end(),
                                       [&](std::size_t i) { return done_in_round_[i] != 0; });
                if (all)
                    continue;
            }
            std::string note;
            try {
                co_await c_.cancel_batch(j.batch_id);
                note = "; batch " + j.batch_id + " was canceled";
            } catch (const error& e) {
                note = "; canceling batch " + j.batch_id + " failed: " + e.diag().to_string();
            }
            mark(j, item_status::canceled, "canceled", why + note);
        }
        for (std::size_t k = cursor_; k < pending_.size(); ++k) {
            std::size_t i = pending_[k];
            if (res_.items[i].status == item_status::not_submitted)
                set_outcome(i, item_status::not_submitted, "stopped", why + " before submission");
        }
    }

    engine_result finish() {
        res_.cost_usd = price_ ? std::optional<double>(spent()) : std::nullopt;
        if (stopping_ && res_.stop_code == errc::cost_limit)
            for (std::size_t k = cursor_; k < pending_.size(); ++k) {
                auto& it = res_.items[pending_[k]];
                if (it.status == item_status::not_submitted)
                    set_outcome(pending_[k], item_status::not_submitted, "cost_limit",
                                res_.stop_message);
            }
        return std::move(res_);
    }

    client& c_;
    std::span<const conversation> messages_;
    std::string model_;
    batch_options opts_;
    output_spec spec_;
    decode_fn decode_;
    std::optional<model_price> price_;
    std::optional<params_template> template_;
    journal journal_;
    std::optional<std::chrono::steady_clock::time_point> deadline_;
    engine_result res_;
    unsigned round_ = 0;
    std::vector<std::size_t> pending_;
    std::size_t cursor_ = 0;
    bool stopping_ = false;
    double committed_ = 0;
    std::uint64_t results_seen_ = 0;
    std::vector<std::unique_ptr<job>> jobs_;
    std::vector<const job*> jobs_seen_;
    std::vector<char> done_in_round_; // by item index: a result arrived this round
    std::set<std::size_t> repairable_;
    std::map<std::size_t, conversation> feedback_;
};

} // namespace

task<engine_result> run_engine(client& c, std::span<const conversation> messages, std::string model,
                               batch_options opts, output_spec spec, decode_fn decode) {
    engine e(c, messages, std::move(model), std::move(opts), std::move(spec), std::move(decode));
    co_return co_await e.run();
}

} // namespace detail
} // namespace aibatch
