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

json::value parse_body(const http_response& r, std::string_view what) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec)
        throw error(errc::bad_response,
                    std::string(what) + ": the answer is not JSON (" + ec.message() + ")");
    return v;
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

void check_batch_id(const std::string& id) {
    if (id.empty())
        throw error(errc::invalid_argument, "the batch id is empty");
    for (char c : id)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'))
            throw error(errc::invalid_argument,
                        "\"" + id + "\" is not a batch id (ids look like msgbatch_013Zva2C...)");
}

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
    const auto& ec = e.code();
    if (ec.category() == error_category()) {
        auto c = static_cast<errc>(ec.value());
        return c == errc::request_timeout || c == errc::connection_closed;
    }
    // A refused or unreachable connection never carried the request.
    if (ec == asio::error::connection_refused || ec == asio::error::host_unreachable ||
        ec == asio::error::network_unreachable || ec == asio::error::host_not_found ||
        ec == asio::error::host_not_found_try_again || ec == asio::error::operation_aborted)
        return false;
    // Neither did a connection dropped while it was being set up (the TLS handshake): once
    // a request is under way, the transport reports these as errc::connection_closed, so
    // as raw codes they come from connecting only.
    return ec != asio::error::eof && ec != asio::error::connection_reset &&
           ec != asio::error::connection_aborted && ec != asio::error::broken_pipe &&
           ec != asio::ssl::error::stream_truncated;
}

task<void> client_state::backoff_sleep(int retry_index, const http_headers* headers) {
    std::chrono::milliseconds wait{0};
    std::optional<std::chrono::milliseconds> asked;
    if (headers)
        asked = detail::retry_after(*headers);
    if (asked) {
        wait = *asked;
    } else {
        std::uniform_real_distribution<double> d(0.0, 1.0);
        wait = detail::backoff(cfg.retry, retry_index, d(jitter_rng));
    }
    ++stats.retries;
    asio::steady_timer t(co_await asio::this_coro::executor, wait);
    co_await t.async_wait(asio::use_awaitable); // operation_aborted on cancellation
}

task<http_response> client_state::call(http_request req, std::string what) {
    const int max = std::max(0, cfg.retry.max_retries);
    for (int attempt = 0;; ++attempt) {
        http_response resp;
        std::optional<error> failure;
        ++stats.requests;
        try {
            resp = co_await http.request(req);
        } catch (const error& e) {
            failure = e;
        }
        if (failure) {
            if (!retryable(*failure) || attempt >= max ||
                is_cancelled(co_await asio::this_coro::cancellation_state))
                throw attempt > 0
                    ? with_suffix(*failure, " (after " + std::to_string(attempt) + " retries)")
                    : *failure;
            co_await backoff_sleep(attempt, nullptr);
            continue;
        }
        if (resp.status / 100 == 2)
            co_return resp;
        bool retry = detail::should_retry_header(resp.headers)
                         .value_or(detail::retryable_status(resp.status));
        error e = detail::api_error_from_response(resp.status, resp.headers, resp.body, what);
        if (!retry || attempt >= max)
            throw attempt > 0 ? with_suffix(e, " (after " + std::to_string(attempt) + " retries)")
                              : e;
        co_await backoff_sleep(attempt, &resp.headers);
    }
}

task<response_stream> client_state::open(http_request req, std::string what) {
    const int max = std::max(0, cfg.retry.max_retries);
    for (int attempt = 0;; ++attempt) {
        std::optional<response_stream> rs;
        std::optional<error> failure;
        ++stats.requests;
        try {
            rs.emplace(co_await http.open(req));
        } catch (const error& e) {
            failure = e;
        }
        if (failure) {
            if (!retryable(*failure) || attempt >= max ||
                is_cancelled(co_await asio::this_coro::cancellation_state))
                throw *failure;
            co_await backoff_sleep(attempt, nullptr);
            continue;
        }
        if (rs->status() / 100 == 2)
            co_return std::move(*rs);
        // Collect a bounded prefix of the error body.
        std::string body;
        for (;;) {
            auto piece = co_await rs->read_some();
            if (piece.empty())
                break;
            body.append(piece.substr(0, std::min<std::size_t>(piece.size(), 65536 - body.size())));
            if (body.size() >= 65536)
                break;
        }
        http_headers headers = rs->headers();
        bool retry =
            detail::should_retry_header(headers).value_or(detail::retryable_status(rs->status()));
        error e = detail::api_error_from_response(rs->status(), headers, body, what);
        if (!retry || attempt >= max)
            throw e;
        co_await backoff_sleep(attempt, &headers);
    }
}

task<std::vector<batch_info>> client_state::find_candidates(std::uint64_t count,
                                                            timestamp sent_at) {
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
        if (older_seen || !p.has_more || !p.last_id)
            break;
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
    if (count == 0)
        throw error(errc::invalid_argument, "create_batch: a batch needs at least one request");
    http_request req = make_request("POST", "/v1/messages/batches");
    req.shared_body = std::move(body); // no copy per attempt
    req.idempotent = false;
    const int max = std::max(0, cfg.retry.max_retries);
    for (int attempt = 0;; ++attempt) {
        const timestamp sent_at = std::chrono::system_clock::now();
        http_response resp;
        std::optional<error> failure;
        ++stats.requests;
        {
            ++creates_in_flight[count];
            struct in_flight {
                std::map<std::uint64_t, unsigned>& m;
                std::uint64_t n;
                ~in_flight() { --m[n]; }
            } counted{creates_in_flight, count};
            try {
                resp = co_await http.request(req);
            } catch (const error& e) {
                failure = e;
            }
        }
        bool maybe_created = false;
        const http_headers* headers = nullptr;
        if (failure) {
            if (!retryable(*failure) || attempt >= max ||
                is_cancelled(co_await asio::this_coro::cancellation_state)) {
                if (ambiguous(*failure))
                    throw with_suffix(*failure,
                                      " (the batch may have been created: check list_batches "
                                      "before creating it again)");
                throw *failure;
            }
            maybe_created = ambiguous(*failure);
            if (maybe_created && !resend_after_ambiguous)
                throw with_suffix(*failure, " (the batch may have been created; not sent again)");
        } else if (resp.status / 100 == 2) {
            std::optional<batch_info> b;
            try {
                b = batch_info::from_json(parse_body(resp, "create_batch"));
            } catch (const error& e) {
                // The API said yes: the batch exists, but its id is unreadable.
                throw error(make_error_code(errc::ambiguous_create),
                            diagnostics{"create_batch: the API accepted the batch but its answer "
                                        "cannot be read (" +
                                            e.diag().message +
                                            "); the batch may exist: check list_batches",
                                        resp.headers.find("request-id").value_or("").data(),
                                        resp.status,
                                        {}});
            }
            claim(b->id);
            co_return std::move(*b);
        } else {
            bool retry = detail::should_retry_header(resp.headers)
                             .value_or(detail::retryable_status(resp.status));
            error e = detail::api_error_from_response(resp.status, resp.headers, resp.body,
                                                      "create_batch");
            if (!retry || attempt >= max)
                throw e;
            maybe_created = resp.status >= 500 && resp.status != 529;
            if (maybe_created && !resend_after_ambiguous)
                throw with_suffix(e, " (the batch may have been created; not sent again)");
            headers = &resp.headers;
        }
        if (maybe_created) {
            std::vector<batch_info> candidates;
            try {
                candidates = co_await find_candidates(count, sent_at);
            } catch (const error& e) {
                throw with_suffix(e, " (create_batch failed ambiguously and the check for a "
                                     "batch it may have created failed too; not sending it "
                                     "again to avoid paying twice)");
            }
            if (!candidates.empty()) {
                std::string ids;
                for (const auto& c : candidates)
                    ids += (ids.empty() ? "" : ", ") + c.id;
                diagnostics d;
                d.message = "create_batch failed ambiguously (" +
                            (failure ? failure->diag().to_string()
                                     : "HTTP " + std::to_string(resp.status)) +
                            ") and batches of the same size created since then exist: " + ids +
                            ". One may be the batch this create made, or another program's; "
                            "only the custom_ids of their results can tell. The create was "
                            "not sent again";
                throw error(make_error_code(errc::ambiguous_create), std::move(d));
            }
        }
        co_await backoff_sleep(attempt, headers);
    }
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

// ------------------------------------------------------------------ client
client::client(const asio::any_io_executor& ex, client_config cfg)
    : impl_(std::make_shared<client_state>(ex, std::move(cfg))) {}
client::client(std::shared_ptr<client_state> s) : impl_(std::move(s)) {}
client client_from_state(std::shared_ptr<client_state> s) {
    return client(std::move(s));
}
client::client(client&&) noexcept = default;
client& client::operator=(client&&) noexcept = default;
client::~client() = default;

asio::any_io_executor client::get_executor() const {
    return impl_->strand;
}
const client_config& client::config() const {
    return impl_->cfg;
}
http_client& client::http() {
    return impl_->http;
}
client_stats client::stats() const {
    client_stats s;
    s.requests = impl_->stats.requests;
    s.retries = impl_->stats.retries;
    s.creates_adopted = impl_->stats.creates_adopted;
    s.results_resumed = impl_->stats.results_resumed;
    return s;
}
void client::claim_batch(const std::string& id) {
    impl_->claim(id);
}
bool client::owns_batch(const std::string& id) const {
    return impl_->owns(id);
}

namespace {

using state_ptr = std::shared_ptr<client_state>;

task<batch_info> do_create(state_ptr self, std::span<const batch_request> requests) {
    for (std::size_t i = 0; i < requests.size(); ++i)
        if (auto why = check_custom_id(requests[i].custom_id))
            throw error(errc::invalid_argument,
                        "create_batch: requests[" + std::to_string(i) + "]: " + *why);
    std::string body;
    serialize_create_body(requests, body);
    co_return co_await self->create(std::move(body), requests.size());
}

task<batch_info> do_create_from_body(state_ptr self, std::string body, std::uint64_t count) {
    co_return co_await self->create(std::move(body), count);
}

task<batch_info> do_retrieve(state_ptr self, std::string id) {
    check_batch_id(id);
    auto r = co_await self->call(self->make_request("GET", "/v1/messages/batches/" + id),
                                 "retrieve_batch " + id);
    co_return batch_info::from_json(parse_body(r, "retrieve_batch"));
}

task<batch_info> do_cancel(state_ptr self, std::string id) {
    check_batch_id(id);
    // Canceling twice is harmless, so a retry after an ambiguous failure is safe.
    auto req = self->make_request("POST", "/v1/messages/batches/" + id + "/cancel");
    req.idempotent = true;
    auto r = co_await self->call(std::move(req), "cancel_batch " + id);
    co_return batch_info::from_json(parse_body(r, "cancel_batch"));
}

task<deleted_batch> do_delete(state_ptr self, std::string id) {
    check_batch_id(id);
    auto r = co_await self->call(self->make_request("DELETE", "/v1/messages/batches/" + id),
                                 "delete_batch " + id);
    json::value v = parse_body(r, "delete_batch");
    deleted_batch d;
    if (v.is_object()) {
        if (const auto* i = v.get_object().if_contains("id"); i && i->is_string())
            d.id = std::string(i->get_string());
        if (const auto* t = v.get_object().if_contains("type"); t && t->is_string())
            d.type = std::string(t->get_string());
    }
    if (d.id.empty())
        throw error(errc::bad_response, "delete_batch: the answer has no id");
    co_return d;
}

task<batch_page> do_list(state_ptr self, list_options opts) {
    std::string target = "/v1/messages/batches";
    char sep = '?';
    auto add = [&](std::string_view k, const std::string& v) {
        target += sep;
        target += k;
        target += '=';
        target += v;
        sep = '&';
    };
    if (opts.limit) {
        if (*opts.limit < 1 || *opts.limit > 1000)
            throw error(errc::invalid_argument, "list_batches: limit must be 1 to 1000 (got " +
                                                    std::to_string(*opts.limit) + ")");
        add("limit", std::to_string(*opts.limit));
    }
    if (opts.before_id) {
        check_batch_id(*opts.before_id);
        add("before_id", *opts.before_id);
    }
    if (opts.after_id) {
        check_batch_id(*opts.after_id);
        add("after_id", *opts.after_id);
    }
    auto r = co_await self->call(self->make_request("GET", target), "list_batches");
    co_return batch_page::from_json(parse_body(r, "list_batches"));
}

task<std::vector<batch_info>> do_find(state_ptr self, std::uint64_t count, timestamp not_before) {
    co_return co_await self->find_candidates(count, not_before);
}

} // namespace

task<batch_info> client::create_batch(std::span<const batch_request> requests) {
    return client_state::on_strand(impl_, do_create(impl_, requests));
}

task<batch_info> client::create_batch_from_body(std::string body, std::uint64_t count) {
    return client_state::on_strand(impl_, do_create_from_body(impl_, std::move(body), count));
}

task<batch_info> client::retrieve_batch(std::string id) {
    return client_state::on_strand(impl_, do_retrieve(impl_, std::move(id)));
}

task<batch_info> client::cancel_batch(std::string id) {
    return client_state::on_strand(impl_, do_cancel(impl_, std::move(id)));
}

task<deleted_batch> client::delete_batch(std::string id) {
    return client_state::on_strand(impl_, do_delete(impl_, std::move(id)));
}

task<batch_page> client::list_batches(list_options opts) {
    return client_state::on_strand(impl_, do_list(impl_, std::move(opts)));
}

batch_lister client::list_all_batches(list_options opts) {
    return batch_lister(impl_, std::move(opts));
}

task<std::optional<batch_info>> batch_lister::next() {
    if (pos_ == page_.size()) {
        if (!more_)
            co_return std::nullopt;
        batch_page p = co_await client_state::on_strand(state_, do_list(state_, opts_));
        ++pages_;
        page_ = std::move(p.data);
        pos_ = 0;
        more_ = p.has_more && !page_.empty();
        if (more_) {
            // Page on in the direction the listing started (as the official SDKs do):
            // back with before_id = first_id, onward with after_id = last_id.
            if (opts_.before_id) {
                if (!p.first_id)
                    more_ = false;
                else
                    opts_.before_id = p.first_id;
            } else {
                if (!p.last_id)
                    more_ = false;
                else
                    opts_.after_id = p.last_id;
            }
        }
        if (page_.empty())
            co_return std::nullopt;
    }
    co_return std::move(page_[pos_++]);
}

task<std::vector<batch_info>> client::find_created_batches(std::uint64_t count,
                                                           timestamp not_before) {
    return client_state::on_strand(impl_, do_find(impl_, count, not_before));
}

namespace {

task<std::optional<batch_info>> first_found(task<std::vector<batch_info>> all) {
    auto v = co_await std::move(all);
    if (v.empty())
        co_return std::nullopt;
    co_return std::move(v.front());
}

task<std::vector<result_line>> collect(task<result_stream> opening) {
    result_stream rs = co_await std::move(opening);
    std::vector<result_line> out;
    while (auto line = co_await rs.next())
        out.push_back(std::move(*line));
    co_return out;
}

} // namespace

// Plain functions: the tasks hold the client's shared state, not `this`.
task<std::optional<batch_info>> client::find_created_batch(std::uint64_t count,
                                                           timestamp not_before) {
    return first_found(find_created_batches(count, not_before));
}

task<std::vector<result_line>> client::results(std::string batch_id) {
    return collect(open_results(std::move(batch_id)));
}

} // namespace aibatch
