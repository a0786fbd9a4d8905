// The state behind every aibatch::client (client_impl.hpp): requests with the API's
// headers, the observer's events, the one retry loop, creates that may have made their
// batch, and where a batch's results are read from.
#include "client_impl.hpp"

#include "api_rules.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

namespace aibatch {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

client_config checked(client_config c) {
    c.require_api_key();
    return c;
}

bool is_cancelled(const asio::cancellation_state& cs) {
    return cs.cancelled() != asio::cancellation_type::none;
}

error with_suffix(const error& e, const std::string& suffix) {
    diagnostics d = e.diag();
    d.message += suffix;
    return error(e.code(), std::move(d));
}

} // namespace

client_state::client_state(const asio::any_io_executor& ex, client_config c)
    : cfg(checked(std::move(c))), strand(asio::make_strand(ex)),
      http(asio::any_io_executor(strand), cfg.base_url, cfg.transport) {}

void client_state::claim(const std::string& id) {
    std::lock_guard lock(own_mtx);
    own_batches.insert(id);
}

bool client_state::owns(const std::string& id) const {
    std::lock_guard lock(own_mtx);
    return own_batches.count(id) != 0;
}

http_request client_state::make_request(std::string method, std::string target, std::string body,
                                        std::string_view accept) {
    http_request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.headers.add("x-api-key", cfg.api_key);
    r.headers.add("anthropic-version", cfg.anthropic_version);
    if (!cfg.anthropic_beta.empty()) {
        std::string betas;
        for (const auto& b : cfg.anthropic_beta)
            betas += (betas.empty() ? "" : ",") + b;
        r.headers.add("anthropic-beta", betas);
    }
    r.headers.add("accept", std::string(accept));
    if (!body.empty() || r.method == "POST") {
        r.headers.add("content-type", "application/json");
        r.body = std::move(body);
    }
    return r;
}

bool client_state::retryable(const error& e) {
    return is_retryable(e.code());
}

bool client_state::ambiguous(const error& e) {
    return detail::maybe_delivered(e.code());
}

void client_state::tell(const client_event& e) const noexcept {
    if (!cfg.observer)
        return;
    try {
        cfg.observer(e);
    } catch (...) { // an observer never breaks a run
    }
}

task<void> client_state::backoff_sleep(int retry_index, const http_headers* headers,
                                       const std::string& why) {
    std::uniform_real_distribution<double> d(0.0, 1.0);
    const auto wait = detail::retry_wait(cfg.retry, retry_index, headers, d(jitter_rng));
    ++stats.retries;
    if (cfg.observer) {
        client_event e;
        e.what = client_event::kind::retry;
        e.attempt = retry_index + 1;
        e.delay = wait;
        e.detail = why;
        tell(e);
    }
    asio::steady_timer t(co_await asio::this_coro::executor, wait);
    co_await t.async_wait(asio::use_awaitable); // operation_aborted on cancellation
}

namespace {
using clock_type = std::chrono::steady_clock;
std::chrono::milliseconds since(clock_type::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t);
}
} // namespace

clock_type::time_point client_state::announce(const http_request& req) const {
    if (cfg.observer) {
        client_event e;
        e.what = client_event::kind::request;
        e.method = req.method;
        e.target = req.target;
        tell(e);
    }
    return clock_type::now();
}

void client_state::answered(const http_request& req, unsigned status, const http_headers& headers,
                            clock_type::time_point started) const {
    if (!cfg.observer)
        return;
    client_event e;
    e.what = client_event::kind::response;
    e.method = req.method;
    e.target = req.target;
    e.status = status;
    e.request_id = std::string(headers.find("request-id").value_or(""));
    e.elapsed = since(started);
    tell(e);
}

void client_state::failed(const http_request& req, const error& err,
                          clock_type::time_point started) const {
    if (!cfg.observer)
        return;
    client_event e;
    e.what = client_event::kind::failure;
    e.method = req.method;
    e.target = req.target;
    e.detail = err.diag().to_string();
    e.elapsed = since(started);
    tell(e);
}

// The transport's edge: its exception becomes a value here, once. A non-2xx answer is a
// failed attempt too (with its headers, for the retry rules).
task<client_state::attempt<http_response>> client_state::send_once(const http_request& req,
                                                                   std::string_view what) {
    attempt<http_response> a;
    const auto started = announce(req);
    try {
        http_response resp = co_await http.request(req);
        answered(req, resp.status, resp.headers, started);
        if (resp.status / 100 == 2)
            a.value = std::move(resp);
        else
            a.failure = detail::answer_failure(resp.status, resp.headers, resp.body, what);
    } catch (const error& e) {
        a.failure = detail::failed_attempt{e, std::nullopt, 0, false};
    }
    if (a.failure && !a.failure->headers)
        failed(req, a.failure->err, started);
    co_return a;
}

task<client_state::attempt<response_stream>> client_state::open_once(const http_request& req,
                                                                     std::string_view what) {
    attempt<response_stream> a;
    const auto started = announce(req);
    try {
        response_stream rs = co_await http.open(req);
        answered(req, rs.status(), rs.headers(), started);
        if (rs.status() / 100 == 2) {
            a.value.emplace(std::move(rs));
            co_return a;
        }
        // Collect a bounded prefix of the error body.
        std::string body;
        for (;;) {
            auto piece = co_await rs.read_some();
            if (piece.empty())
                break;
            body.append(piece.substr(0, std::min<std::size_t>(piece.size(), 65536 - body.size())));
            if (body.size() >= 65536)
                break;
        }
        a.failure = detail::answer_failure(rs.status(), rs.headers(), body, what);
    } catch (const error& e) {
        a.failure = detail::failed_attempt{e, std::nullopt, 0, false};
    }
    if (a.failure && !a.failure->headers)
        failed(req, a.failure->err, started);
    co_return a;
}

// The one retry loop of the client (call, open, create): `once(n)` makes attempt n;
// the rules are detail::retry_allowed and detail::retry_wait (pure, in api_rules); a
// canceled caller is not retried after a transport failure. `before_retry(f, n)` may end
// the loop with an error (a create that may have created its batch). Nothing is thrown:
// the caller throws at its own edge.
template <class R, class Once, class BeforeRetry>
task<client_state::retried<R>> client_state::retrying(Once once, BeforeRetry before_retry) {
    const int max = std::max(0, cfg.retry.max_retries);
    retried<R> out;
    for (int n = 0;; ++n) {
        ++stats.requests;
        attempt<R> a = co_await once(n);
        if (a.value) {
            out.value = std::move(a.value);
            co_return out;
        }
        out.retries = n;
        // (No co_await inside && or ?: here: g++ 12 miscompiles some of those.)
        const bool cancel_seen = is_cancelled(co_await asio::this_coro::cancellation_state);
        const bool canceled = cancel_seen && !a.failure->headers;
        if (canceled || n >= max || !detail::retry_allowed(*a.failure)) {
            out.failure = std::move(a.failure);
            co_return out;
        }
        if (std::optional<error> stop = co_await before_retry(*a.failure, n)) {
            out.stopped = std::move(stop);
            co_return out;
        }
        const http_headers* headers = a.failure->headers ? &*a.failure->headers : nullptr;
        co_await backoff_sleep(n, headers, a.failure->err.diag().to_string());
    }
}

namespace {
auto no_hook = [](const detail::failed_attempt&, int) -> task<std::optional<error>> {
    co_return std::nullopt;
};
} // namespace

task<http_response> client_state::call(http_request req, std::string what) {
    auto r = co_await retrying<http_response>([&](int) { return send_once(req, what); }, no_hook);
    if (r.value)
        co_return std::move(*r.value);
    throw r.retries > 0
        ? with_suffix(r.failure->err, " (after " + std::to_string(r.retries) + " retries)")
        : r.failure->err;
}

task<response_stream> client_state::open(http_request req, std::string what) {
    auto r = co_await retrying<response_stream>([&](int) { return open_once(req, what); }, no_hook);
    if (r.value)
        co_return std::move(*r.value);
    throw r.failure->err;
}

task<std::vector<batch_info>> client_state::find_candidates(std::uint64_t count, timestamp sent_at,
                                                            bool* complete) {
    if (complete)
        *complete = false;
    // Other creates of the same size from this client must finish first: their batches
    // would otherwise look like candidates.
    asio::steady_timer t(co_await asio::this_coro::executor);
    for (auto waited = 0ms; creates_in_flight[count] > 0 && waited < cfg.transport.timeouts.request;
         waited += 20ms) {
        t.expires_after(20ms);
        co_await t.async_wait(asio::use_awaitable);
    }
    const timestamp window_start = sent_at - 2min;
    std::vector<batch_info> out;
    std::optional<std::string> after;
    for (int page = 0; page < 10; ++page) {
        http_request req = make_request("GET", "/v1/messages/batches?limit=100" +
                                                   (after ? "&after_id=" + *after : ""));
        http_response r = co_await call(std::move(req), "list_batches (create_batch check)");
        batch_page p = batch_page::from_json(parse_body(r, "list_batches"));
        bool older_seen = false;
        for (auto& b : p.data) {
            if (b.created_at < window_start) {
                older_seen = true;
                continue;
            }
            if (b.request_counts.total() == count && !owns(b.id))
                out.push_back(std::move(b));
        }
        if (older_seen || !p.has_more || !p.last_id) {
            if (complete) // a page that says there is more but names no cursor: not complete
                *complete = older_seen || !p.has_more;
            break;
        }
        after = p.last_id;
    }
    co_return out;
}

task<batch_info> client_state::create(std::string body, std::uint64_t count) {
    co_return co_await create_shared(std::make_shared<const std::string>(std::move(body)), count,
                                     true);
}

task<batch_info> client_state::create_shared(std::shared_ptr<const std::string> body,
                                             std::uint64_t count, bool resend_after_ambiguous) {
    http_request req = make_request("POST", "/v1/messages/batches");
    req.shared_body = std::move(body); // no copy per attempt
    co_return co_await create_request(std::move(req), count, resend_after_ambiguous);
}

task<batch_info> client_state::create_streamed(streamed_body body, std::uint64_t count,
                                               bool resend_after_ambiguous) {
    http_request req = make_request("POST", "/v1/messages/batches");
    req.streamed = std::move(body); // written anew at every attempt
    co_return co_await create_request(std::move(req), count, resend_after_ambiguous);
}

task<batch_info> client_state::create_request(http_request req, std::uint64_t count,
                                              bool resend_after_ambiguous) {
    if (count == 0)
        throw error(errc::invalid_argument, "create_batch: a batch needs at least one request");
    req.idempotent = false;
    timestamp sent_at{};
    // One attempt: counted as in flight (same-size creates wait for it before looking for
    // candidates), its 2xx answer read into the batch.
    auto once = [&](int) -> task<attempt<batch_info>> {
        sent_at = std::chrono::system_clock::now();
        attempt<http_response> a;
        {
            ++creates_in_flight[count];
            struct in_flight {
                std::map<std::uint64_t, unsigned>& m;
                std::uint64_t n;
                ~in_flight() { --m[n]; }
            } counted{creates_in_flight, count};
            a = co_await send_once(req, "create_batch");
        }
        attempt<batch_info> out;
        if (a.failure) {
            out.failure = std::move(a.failure);
            co_return out;
        }
        boost::system::error_code ec;
        json::value v = json::parse(a.value->body, ec);
        std::optional<batch_info> b;
        std::string why;
        if (ec)
            why = "create_batch: the answer is not JSON (" + ec.message() + ")";
        if (!ec) {
            try {
                b = batch_info::from_json(v);
            } catch (const error& e) {
                why = e.diag().message;
            }
        }
        if (!b) {
            // The API said yes: the batch exists, but its id is unreadable.
            out.failure = detail::failed_attempt{
                error(make_error_code(errc::ambiguous_create),
                      diagnostics{"create_batch: the API accepted the batch but its answer "
                                  "cannot be read (" +
                                      why + "); the batch may exist: check list_batches",
                                  a.value->headers.find("request-id").value_or("").data(),
                                  a.value->status,
                                  {},
                                  {}}),
                std::nullopt, 0, true};
            co_return out;
        }
        claim(b->id);
        out.value = std::move(b);
        co_return out;
    };
    // Before sending a create again: did the failed attempt maybe create the batch?
    auto before_retry = [&](const detail::failed_attempt& f, int) -> task<std::optional<error>> {
        const bool maybe_created =
            f.headers ? detail::answer_maybe_created(f.status) : ambiguous(f.err);
        if (!maybe_created)
            co_return std::nullopt;
        if (!resend_after_ambiguous)
            co_return with_suffix(f.err, " (the batch may have been created; not sent again)");
        client_event look;
        look.what = client_event::kind::ambiguous_create;
        look.detail = "create_batch of " + std::to_string(count) +
                      " requests may have made its batch (" + f.err.diag().to_string() +
                      "): looking for it before sending again";
        tell(look);
        std::vector<batch_info> candidates;
        std::optional<error> check_failed;
        try {
            candidates = co_await find_candidates(count, sent_at);
        } catch (const error& e) {
            check_failed = with_suffix(e, " (create_batch failed ambiguously and the check for "
                                          "a batch it may have created failed too; not sending "
                                          "it again to avoid paying twice)");
        }
        if (check_failed)
            co_return check_failed;
        if (candidates.empty())
            co_return std::nullopt;
        std::string ids;
        for (const auto& c : candidates)
            ids += (ids.empty() ? "" : ", ") + c.id;
        diagnostics d;
        d.message = "create_batch failed ambiguously (" +
                    (f.headers ? "HTTP " + std::to_string(f.status) : f.err.diag().to_string()) +
                    ") and batches of the same size created since then exist: " + ids +
                    ". One may be the batch this create made, or another program's; only the "
                    "custom_ids of their results can tell. The create was not sent again";
        co_return error(make_error_code(errc::ambiguous_create), std::move(d));
    };
    auto r = co_await retrying<batch_info>(once, before_retry);
    if (r.value)
        co_return std::move(*r.value);
    if (r.stopped)
        throw *r.stopped;
    if (!r.failure->headers && ambiguous(r.failure->err))
        throw with_suffix(r.failure->err, " (the batch may have been created: check list_batches "
                                          "before creating it again)");
    throw r.failure->err;
}

std::string client_state::results_target(const std::string& id,
                                         const std::optional<std::string>& url) const {
    std::string standard = "/v1/messages/batches/" + id + "/results";
    if (!url)
        return standard;
    try {
        endpoint e = endpoint::parse(*url);
        const endpoint& ours = http.endpoint();
        if (e.origin() != ours.origin())
            return standard; // never send the key to another origin
        std::string path = e.base_path;
        if (!ours.base_path.empty()) {
            if (path.rfind(ours.base_path, 0) != 0)
                return standard;
            path = path.substr(ours.base_path.size());
        }
        return path.empty() ? standard : path;
    } catch (const error&) {
        return standard;
    }
}
} // namespace aibatch
