#include "service.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>

namespace aibatch::emulator {

namespace http = boost::beast::http;
namespace json = boost::json;

std::optional<route> match_route(std::string_view path) {
    constexpr std::string_view batches = "/v1/messages/batches";
    if (path == "/v1/messages")
        return route{"messages", {}, {http::verb::post}};
    if (path == "/v1/messages/count_tokens")
        return route{"count_tokens", {}, {http::verb::post}};
    if (path == batches)
        return route{"batches", {}, {http::verb::post, http::verb::get}};
    if (!path.starts_with(batches) || path.size() <= batches.size() + 1 ||
        path[batches.size()] != '/')
        return std::nullopt;
    std::string_view rest = path.substr(batches.size() + 1);
    auto slash = rest.find('/');
    std::string id(rest.substr(0, slash));
    if (id.empty())
        return std::nullopt;
    if (slash == std::string_view::npos)
        return route{"batch", id, {http::verb::get, http::verb::delete_}};
    std::string_view action = rest.substr(slash + 1);
    if (action == "cancel")
        return route{"cancel", id, {http::verb::post}};
    if (action == "results")
        return route{"results", id, {http::verb::get}};
    return std::nullopt;
}

std::string endpoint_of(const route& r, http::verb method) {
    if (r.endpoint == "batches")
        return method == http::verb::post ? "create" : "list";
    if (r.endpoint == "batch")
        return method == http::verb::delete_ ? "delete" : "retrieve";
    return r.endpoint;
}

service::service(options opts, std::string origin)
    : opts_(std::move(opts)), origin_(std::move(origin)), faults_(opts_.faults),
      ids_(opts_.seed ^ 0xA1B2C3D4ULL), results_cache_(opts_.results_cache_bytes) {
    if (!opts_.log_file.empty())
        log_out_.open(opts_.log_file, std::ios::app);
}

// ---------------------------------------------------------------- request -> reply
reply service::answer(http_request req) {
    std::string target(req.target());
    std::string path = target.substr(0, target.find('?'));
    auto r = match_route(path);
    if (!r)
        return not_found(std::string(req.method_string()), path);
    return dispatch(*r, req, endpoint_of(*r, req.method()));
}

reply service::dispatch(const route& r, http_request& req, const std::string& endpoint) {
    std::string method(req.method_string());
    std::string path(req.target().substr(0, req.target().find('?')));
    const body_print print = body_print::of(req.body()); // before a create takes the body
    auto finish = [&](reply rep, std::string batch_id = {}, std::uint64_t n = 0) {
        log_request(method, path, rep.status, endpoint, std::move(batch_id), n, print);
        return rep;
    };
    {
        // The reference documents x-api-key; the official SDKs (1.x) send the key as
        // "Authorization: Bearer KEY". The API takes either; so does the emulator. A
        // request without a key gets 401 like the API's; without --api-key any
        // non-empty key is accepted.
        std::optional<std::string_view> key;
        if (auto k = req.find("x-api-key"); k != req.end())
            key = k->value();
        else if (auto a = req.find(http::field::authorization);
                 a != req.end() && a->value().starts_with("Bearer "))
            key = a->value().substr(7);
        if (!key || key->empty())
            return finish(error_reply(401, "authentication_error", "x-api-key header is required"));
        if (!opts_.api_key.empty() && *key != opts_.api_key)
            return finish(error_reply(401, "authentication_error", "invalid x-api-key"));
    }
    if (req.find("anthropic-version") == req.end())
        return finish(
            error_reply(400, "invalid_request_error", "anthropic-version: header is required"));
    if (std::find(r.methods.begin(), r.methods.end(), req.method()) == r.methods.end()) {
        auto rep = error_reply(405, "invalid_request_error",
                               "Method " + method + " is not allowed for " + path);
        std::string allow;
        for (auto m : r.methods)
            allow += (allow.empty() ? "" : ", ") + std::string(http::to_string(m));
        rep.headers.emplace_back("allow", allow);
        return finish(std::move(rep));
    }
    if (endpoint == "create") {
        auto rep = create(std::move(req.body()));
        std::string id = rep.batch_id;
        std::uint64_t n = rep.requests;
        return finish(std::move(rep), std::move(id), n);
    }
    if (endpoint == "list")
        return finish(list(req.target()));
    if (endpoint == "messages")
        return finish(messages(req.body()));
    if (endpoint == "count_tokens")
        return finish(count_tokens(req.body()));
    return finish(on_batch(endpoint, r.batch_id), r.batch_id);
}

reply service::not_found(const std::string& method, const std::string& path) {
    auto rep = error_reply(404, "not_found_error", "Not found");
    log_request(method, path, 404, "", "", 0);
    return rep;
}

reply service::injected(unsigned status, const std::string& method, const std::string& path,
                        const std::string& endpoint, const std::string& batch_id) {
    auto rep = error_reply(status, status_error_type(status), status_error_message(status));
    log_request(method, path, status, endpoint, batch_id, 0);
    return rep;
}

reply service::too_large(std::uint64_t bytes) {
    auto r = error_reply(413, "request_too_large",
                         "Request exceeds the maximum allowed number of bytes (" +
                             std::to_string(bytes) + " > " + std::to_string(opts_.max_batch_bytes) +
                             ")");
    r.close = true;
    log_request("POST", "/v1/messages/batches", 413, "create", "", 0);
    return r;
}

// ---------------------------------------------------------------- replies
std::string service::request_id() {
    std::lock_guard lock(mtx_);
    return ids_.id("req_");
}

reply service::error_reply(unsigned status, std::string type, std::string message) {
    reply r;
    r.status = status;
    std::string rid = request_id();
    json::object body{{"type", "error"},
                      {"error", json::object{{"type", type}, {"message", message}}},
                      {"request_id", rid}};
    r.body = json::serialize(body);
    r.headers.emplace_back("request-id", rid);
    if (status == 429)
        r.headers.emplace_back("retry-after", "1");
    return r;
}

reply service::json_reply(const json::value& v) {
    reply r;
    r.body = json::serialize(v);
    r.headers.emplace_back("request-id", request_id());
    return r;
}

std::chrono::sys_days service::today(sys_clock::time_point now) const {
    return opts_.today ? *opts_.today : std::chrono::floor<std::chrono::days>(now);
}

// ---------------------------------------------------------------- faults, log, state
fault_decision service::take_request_faults(const std::string& endpoint) {
    std::lock_guard lock(mtx_);
    return faults_.take_for_request(endpoint, ids_);
}

std::optional<std::uint64_t> service::take_cut_request(const std::string& endpoint) {
    std::lock_guard lock(mtx_);
    return faults_.take_cut(endpoint);
}

std::optional<fault> service::take_fault(fault::kind k) {
    std::lock_guard lock(mtx_);
    return faults_.take(k);
}

void service::add_fault(fault f) {
    std::lock_guard lock(mtx_);
    faults_.add(std::move(f));
}

body_print body_print::of(std::string_view body) {
    std::uint64_t hash = 1469598103934665603ull; // FNV-1a
    for (unsigned char c : body) {
        hash ^= c;
        hash *= 1099511628211ull;
    }
    return {body.size(), body.empty() ? 0 : hash};
}

void service::log_request(std::string method, std::string path, unsigned status,
                          std::string endpoint, std::string batch_id, std::uint64_t requests,
                          body_print body) {
    std::lock_guard lock(mtx_);
    log_entry e{std::move(method),   std::move(path), status,     std::move(endpoint),
                std::move(batch_id), requests,        body.bytes, body.hash};
    if (log_out_) {
        json::object line{{"method", e.method},
                          {"path", e.path},
                          {"status", e.status},
                          {"endpoint", e.endpoint},
                          {"batch_id", e.batch_id},
                          {"requests", e.requests},
                          {"time", rfc3339(sys_clock::now())}};
        log_out_ << json::serialize(line) << '\n' << std::flush;
    }
    log_entries_.push_back(std::move(e));
    changed_.notify_all();
}

std::vector<log_entry> service::log() const {
    std::lock_guard lock(mtx_);
    return log_entries_;
}

std::size_t service::batches_created() const {
    std::lock_guard lock(mtx_);
    return created_;
}

std::size_t service::batch_count() const {
    std::lock_guard lock(mtx_);
    return batches_.size();
}

namespace {

// Ends batch b at `now` when it is held or canceling: true when it did.
bool end_now(batch_record& b, sys_clock::time_point now) {
    if (b.ended(now))
        return false;
    if (b.cancel_initiated_at)
        b.cancel_done_at = now;
    else if (b.waiting_for_release())
        b.processing_ends_at = now;
    else
        return false;
    return true;
}

} // namespace

bool service::release(const std::string& id) {
    std::lock_guard lock(mtx_);
    auto now = sys_clock::now();
    for (auto& b : history_)
        if (b->id == id && end_now(*b, now)) {
            changed_.notify_all();
            return true;
        }
    return false;
}

std::size_t service::release_all() {
    std::lock_guard lock(mtx_);
    auto now = sys_clock::now();
    std::size_t n = 0;
    for (auto& b : history_)
        n += end_now(*b, now);
    if (n > 0)
        changed_.notify_all();
    return n;
}

bool service::wait_ended(const std::string& id, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mtx_);
    auto deadline = sys_clock::now() + std::chrono::duration_cast<sys_clock::duration>(timeout);
    for (;;) {
        auto it = std::find_if(history_.begin(), history_.end(),
                               [&](const auto& b) { return b->id == id; });
        if (it == history_.end())
            return false;
        auto now = sys_clock::now();
        if ((*it)->ended(now))
            return true;
        if (now >= deadline)
            return false;
        // Woken at the batch's end, or sooner when it moves (release, cancel).
        changed_.wait_until(lock, std::min((*it)->ends_at(), deadline));
    }
}

bool service::wait_for_log(const std::function<bool(const std::vector<log_entry>&)>& done,
                           std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mtx_);
    return changed_.wait_for(lock, timeout, [&] { return done(log_entries_); });
}

void service::note_received(const std::string& endpoint) {
    {
        std::lock_guard lock(mtx_);
        ++received_[endpoint];
    }
    changed_.notify_all();
}

bool service::wait_received(const std::string& endpoint, std::size_t n,
                            std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mtx_);
    return changed_.wait_for(lock, timeout, [&] {
        auto it = received_.find(endpoint);
        return it != received_.end() && it->second >= n;
    });
}

std::shared_ptr<const std::string> service::kept_results(const std::string& id) {
    std::lock_guard lock(mtx_);
    return results_cache_.find(id);
}

void service::keep_results(const std::string& id, std::shared_ptr<const std::string> text) {
    std::lock_guard lock(mtx_);
    if (find_locked(id))
        results_cache_.keep(id, std::move(text));
}

results_cache_stats service::results_cache() const {
    std::lock_guard lock(mtx_);
    return results_cache_.stats();
}

std::vector<batch_summary> service::batches() const {
    std::lock_guard lock(mtx_);
    std::vector<batch_summary> out;
    for (const auto& b : history_) {
        batch_summary s;
        s.id = b->id;
        s.custom_ids.reserve(b->size());
        for (std::size_t i = 0; i < b->size(); ++i)
            s.custom_ids.emplace_back(b->custom_id(i));
        s.cancel_requested = b->cancel_initiated_at.has_value();
        s.deleted = b->deleted;
        out.push_back(std::move(s));
    }
    return out;
}

} // namespace aibatch::emulator
