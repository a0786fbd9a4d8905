// The endpoints of the emulator's API, each a request -> reply function of the service's
// state: create, retrieve / cancel / delete / results, list, messages, count_tokens.
#include "request_rules.hpp"
#include "service.hpp"
#include "simulated_model.hpp"

#include <aibatch/api/models.hpp>

#include <boost/json/parse.hpp>

#include <algorithm>
#include <memory>

namespace aibatch::emulator {

namespace json = boost::json;

reply service::create(std::string body) {
    auto rec = std::make_shared<batch_record>();
    if (auto why = batch_requests::read(std::move(body), opts_.max_batch_requests, rec->requests))
        return error_reply(400, "invalid_request_error", std::move(*why));
    const std::size_t n = rec->size();
    auto now = sys_clock::now();
    bool expire = take_fault(fault::kind::expire).has_value();
    auto hidden = take_fault(fault::kind::transient_404);
    json::object answer;
    {
        std::lock_guard lock(mtx_);
        rec->id = ids_.id("msgbatch_");
        rec->seed = hash_bytes(rec->id, opts_.seed);
        rec->created_at = now;
        rec->validation_day = today(now);
        rec->cache = &cache_;
        rec->expires_at = now + std::chrono::hours(24);
        rec->held = opts_.hold_batches;
        rec->processing_ends_at =
            rec->held
                ? sys_clock::time_point::max()
                : now + std::chrono::duration_cast<sys_clock::duration>(opts_.processing_time);
        rec->expire = expire;
        if (hidden) {
            rec->not_found_until =
                now + std::chrono::duration_cast<sys_clock::duration>(hidden->delay);
            rec->not_found_endpoint = hidden->endpoint;
        }
        rec->completion_order.resize(n);
        for (std::uint32_t i = 0; i < n; ++i)
            rec->completion_order[i] = i;
        rng shuffle(rec->seed);
        for (std::size_t i = n; i > 1; --i)
            std::swap(rec->completion_order[i - 1], rec->completion_order[shuffle.below(i)]);
        batches_.push_back(rec);
        history_.push_back(rec);
        ++created_;
        answer = rec->to_json(now, origin_, opts_.clock_offset);
    }
    auto rep = json_reply(answer);
    rep.batch_id = rec->id;
    rep.requests = n;
    return rep;
}

std::shared_ptr<batch_record> service::find_locked(const std::string& id) {
    for (auto& b : batches_)
        if (b->id == id)
            return b;
    return nullptr;
}

reply service::on_batch(const std::string& endpoint, const std::string& id) {
    std::unique_lock lock(mtx_);
    auto b = find_locked(id);
    auto now = sys_clock::now();
    if (!b) {
        lock.unlock();
        return error_reply(404, "not_found_error", "Message Batch with id " + id + " not found");
    }
    const bool hidden_here = b->not_found_endpoint.empty()
                                 ? endpoint == "retrieve" || endpoint == "results"
                                 : endpoint == b->not_found_endpoint;
    if (hidden_here && b->not_found_until && now < *b->not_found_until) {
        lock.unlock();
        return error_reply(404, "not_found_error", "Message Batch with id " + id + " not found");
    }
    if (endpoint == "retrieve") {
        auto v = b->to_json(now, origin_, opts_.clock_offset);
        lock.unlock();
        return json_reply(v);
    }
    if (endpoint == "cancel") {
        if (!b->ended(now) && !b->cancel_initiated_at) {
            b->cancel_initiated_at = now;
            b->cancel_done_at =
                now + std::chrono::duration_cast<sys_clock::duration>(opts_.cancel_time);
            changed_.notify_all(); // the batch ends sooner: wait_ended() looks again
        }
        auto v = b->to_json(now, origin_, opts_.clock_offset);
        lock.unlock();
        return json_reply(v);
    }
    if (endpoint == "delete") {
        if (!b->ended(now)) {
            lock.unlock();
            return error_reply(400, "invalid_request_error",
                               "Message Batch " + id +
                                   " cannot be deleted while it is "
                                   "still processing; cancel it first and wait until it has ended");
        }
        // What stays of it: its facts and custom ids (for batches()). Its requests,
        // outcomes and kept results go (once a results stream still reading them ends).
        std::erase(batches_, b);
        std::replace(history_.begin(), history_.end(), b, b->deleted_copy());
        results_cache_.erase(id);
        lock.unlock();
        return json_reply(json::object{{"id", id}, {"type", "message_batch_deleted"}});
    }
    // results
    if (!b->ended(now)) {
        lock.unlock();
        return error_reply(400, "invalid_request_error",
                           "Message Batch " + id +
                               " has not yet ended; results are "
                               "available once processing_status is \"ended\"");
    }
    if (b->size() > 0)
        b->outcome(0); // computes every outcome under the lock, once
    lock.unlock();
    reply r;
    r.results_of = b;
    r.headers.emplace_back("request-id", request_id());
    return r;
}

reply service::list(std::string_view target) {
    list_query q;
    if (auto why = read_list_query(target, q))
        return error_reply(400, "invalid_request_error", std::move(*why));
    std::unique_lock lock(mtx_);
    auto now = sys_clock::now();
    // Newest first.
    std::vector<std::shared_ptr<batch_record>> order(batches_.rbegin(), batches_.rend());
    auto pos_of = [&](const std::string& id) -> std::optional<std::size_t> {
        for (std::size_t i = 0; i < order.size(); ++i)
            if (order[i]->id == id)
                return i;
        return std::nullopt;
    };
    std::size_t from = 0, to = 0;
    bool has_more = false;
    if (!q.before_id.empty()) {
        auto p = pos_of(q.before_id);
        std::size_t end = p.value_or(0);
        from = end > q.limit ? end - q.limit : 0;
        to = end;
        has_more = from > 0;
    } else {
        std::size_t start = 0;
        if (!q.after_id.empty()) {
            auto p = pos_of(q.after_id);
            start = p ? *p + 1 : order.size();
        }
        from = std::min(start, order.size());
        to = std::min(from + q.limit, order.size());
        has_more = to < order.size();
    }
    json::array data;
    for (std::size_t i = from; i < to; ++i)
        data.push_back(order[i]->to_json(now, origin_, opts_.clock_offset));
    json::object page;
    page["data"] = std::move(data);
    page["has_more"] = has_more;
    page["first_id"] = from < to ? json::value(order[from]->id) : json::value(nullptr);
    page["last_id"] = from < to ? json::value(order[to - 1]->id) : json::value(nullptr);
    lock.unlock();
    return json_reply(page);
}

reply service::messages(const std::string& body) {
    boost::system::error_code ec;
    auto params = json::parse(body, ec);
    if (ec)
        return error_reply(400, "invalid_request_error",
                           "There was an error parsing the body of your request");
    if (auto err = validate_params(params, validation_context{false, today(sys_clock::now())})) {
        unsigned status = err->type == "not_found_error" ? 404 : 400;
        return error_reply(status, err->type, err->message);
    }
    cache_usage cached;
    if (has_cache_control(params.get_object())) {
        std::lock_guard lock(mtx_);
        cached = cache_.use(params.get_object(), sys_clock::now());
    }
    return json_reply(
        simulate_message(params.get_object(), hash_bytes(body, opts_.seed), "standard", cached));
}

reply service::count_tokens(const std::string& body) {
    boost::system::error_code ec;
    auto params = json::parse(body, ec);
    if (ec || !params.is_object())
        return error_reply(400, "invalid_request_error",
                           "There was an error parsing the body of your request");
    // max_tokens is not part of a token count request.
    // The model's own cap stands in, so rules that compare with max_tokens (thinking
    // budget) judge only what a count request carries.
    auto copy = params.get_object();
    if (!copy.contains("max_tokens")) {
        const model_info* m = nullptr;
        if (const auto* mv = copy.if_contains("model"); mv && mv->is_string())
            m = find_model(mv->get_string());
        copy["max_tokens"] = m ? m->max_output_tokens : 1;
    }
    if (auto err = validate_params(copy, validation_context{false, today(sys_clock::now())})) {
        unsigned status = err->type == "not_found_error" ? 404 : 400;
        return error_reply(status, err->type, err->message);
    }
    return json_reply(json::object{{"input_tokens", count_input_tokens(params.get_object())}});
}

} // namespace aibatch::emulator
