#include "batch_store.hpp"

#include <aibatch/emulator/emulator.hpp>
#include <aibatch/emulator/simulated_model.hpp>
#include <aibatch/models.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <regex>
#include <thread>
#include <unordered_set>

namespace aibatch::emulator {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// A response to write, or an instruction to stream a batch's results.
struct reply {
    unsigned status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    bool close = false;
    std::shared_ptr<const batch_record> results_of; ///< set: stream this batch's JSONL
};

struct route {
    std::string
        endpoint; ///< create, retrieve, list, cancel, delete, results, messages, count_tokens
    std::string batch_id;
    std::vector<http::verb> methods;
};

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

const char* status_error_type(unsigned status) {
    switch (status) {
    case 400:
        return "invalid_request_error";
    case 401:
        return "authentication_error";
    case 402:
        return "billing_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 413:
        return "request_too_large";
    case 429:
        return "rate_limit_error";
    case 504:
        return "timeout_error";
    case 529:
        return "overloaded_error";
    default:
        return "api_error";
    }
}

const char* status_error_message(unsigned status) {
    switch (status) {
    case 429:
        return "Number of requests has exceeded your rate limit. Please try again later.";
    case 529:
        return "Overloaded";
    case 500:
        return "Internal server error";
    case 504:
        return "Request timed out";
    default:
        return "Error injected by aibatch-emulator";
    }
}

std::string chunk(std::string_view data) {
    char head[24];
    int n = std::snprintf(head, sizeof head, "%zx\r\n", data.size());
    std::string out(head, static_cast<std::size_t>(n));
    out.append(data);
    out += "\r\n";
    return out;
}

const std::regex& custom_id_pattern() {
    static const std::regex re("^[a-zA-Z0-9_-]{1,64}$");
    return re;
}

} // namespace

struct server::impl {
    options opts;
    asio::io_context ioc{1};
    asio::ssl::context ssl_ctx{asio::ssl::context::tls_server};
    bool tls = false;
    tcp::acceptor acceptor{ioc};
    std::thread thread;
    std::string origin;

    mutable std::mutex mtx;
    std::vector<std::shared_ptr<batch_record>> batches; // oldest first
    std::vector<std::shared_ptr<batch_record>> history; // every batch created, oldest first
    std::vector<fault> faults;
    std::vector<log_entry> log_entries;
    std::size_t created = 0;
    rng ids;
    std::ofstream log_out;

    explicit impl(options o) : opts(std::move(o)), ids(opts.seed ^ 0xA1B2C3D4ULL) {
        faults = opts.faults;
        tls = !opts.tls_cert.empty() || !opts.tls_key.empty();
        if (tls) {
            if (opts.tls_cert.empty() || opts.tls_key.empty())
                throw std::invalid_argument("TLS needs both --tls-cert and --tls-key");
            ssl_ctx.use_certificate_chain_file(opts.tls_cert.string());
            ssl_ctx.use_private_key_file(opts.tls_key.string(), asio::ssl::context::pem);
        }
        tcp::endpoint ep(asio::ip::make_address(opts.host), opts.port);
        acceptor.open(ep.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(ep);
        acceptor.listen(asio::socket_base::max_listen_connections);
        auto port = acceptor.local_endpoint().port();
        std::string host = opts.host;
        if (tls && (host == "127.0.0.1" || host == "::1"))
            host = "localhost"; // certificates name hosts, rarely loopback addresses
        else if (host.find(':') != std::string::npos)
            host = "[" + host + "]";
        origin = std::string(tls ? "https://" : "http://") + host + ":" + std::to_string(port);
        if (!opts.log_file.empty())
            log_out.open(opts.log_file, std::ios::app);
        asio::co_spawn(ioc, accept_loop(), asio::detached);
    }

    /// The day model end-of-life dates are compared with.
    std::chrono::sys_days today(sys_clock::time_point now) const {
        return opts.today ? *opts.today : std::chrono::floor<std::chrono::days>(now);
    }

    // ---------------------------------------------------------------- connections
    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, sock] = co_await acceptor.async_accept(use_tuple);
            if (ec) {
                if (ec == asio::error::operation_aborted)
                    co_return;
                continue;
            }
            sock.set_option(tcp::no_delay(true));
            asio::co_spawn(ioc, session(std::move(sock)), asio::detached);
        }
    }

    asio::awaitable<void> session(tcp::socket sock) {
        if (!tls) {
            beast::tcp_stream s(std::move(sock));
            co_await serve(s);
            co_return;
        }
        beast::ssl_stream<beast::tcp_stream> s(std::move(sock), ssl_ctx);
        auto [ec] = co_await s.async_handshake(asio::ssl::stream_base::server, use_tuple);
        if (ec)
            co_return;
        co_await serve(s);
    }

    template <class Stream>
    asio::awaitable<void> serve(Stream& s) {
        beast::flat_buffer buf;
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.header_limit(64 * 1024);
            // Beast checks Content-Length against the body limit while reading the
            // header: lift it there, answer 413 ourselves, then limit chunked bodies.
            parser.body_limit(boost::none);
            auto [hec, hn] = co_await http::async_read_header(s, buf, parser, use_tuple);
            if (hec)
                co_return;
            parser.body_limit(opts.max_batch_bytes);
            auto length = parser.content_length();
            if (length && *length > opts.max_batch_bytes) {
                // Take the whole body so the client sees the answer, then close.
                co_await drain(s, buf, *length);
                co_await write_reply(s, too_large(*length), false);
                co_return;
            }
            auto [ec, n] = co_await http::async_read(s, buf, parser, use_tuple);
            if (ec == http::error::body_limit) {
                co_await write_reply(s, too_large(opts.max_batch_bytes + 1), false);
                co_return;
            }
            if (ec)
                co_return;
            auto req = parser.release();
            bool keep_alive = req.keep_alive();
            if (!co_await handle(s, req))
                co_return;
            if (!keep_alive)
                co_return;
        }
    }

    template <class Stream>
    asio::awaitable<void> drain(Stream& s, beast::flat_buffer& buf, std::uint64_t length) {
        std::uint64_t left = length;
        std::size_t have = std::min<std::uint64_t>(buf.size(), left);
        buf.consume(have);
        left -= have;
        std::vector<char> sink(std::size_t{64} << 10);
        while (left > 0) {
            auto [ec, n] = co_await s.async_read_some(
                asio::buffer(sink.data(), std::min<std::uint64_t>(sink.size(), left)), use_tuple);
            if (ec)
                co_return;
            left -= n;
        }
    }

    reply too_large(std::uint64_t bytes) {
        auto r = error_reply(413, "request_too_large",
                             "Request exceeds the maximum allowed number of bytes (" +
                                 std::to_string(bytes) + " > " +
                                 std::to_string(opts.max_batch_bytes) + ")");
        r.close = true;
        log_request("POST", "/v1/messages/batches", 413, "create", "", 0);
        return r;
    }

    // ---------------------------------------------------------------- responses
    std::string request_id() {
        std::lock_guard lock(mtx);
        return ids.id("req_");
    }

    reply error_reply(unsigned status, std::string type, std::string message) {
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

    reply json_reply(const json::value& v) {
        reply r;
        r.body = json::serialize(v);
        r.headers.emplace_back("request-id", request_id());
        return r;
    }

    template <class Stream>
    asio::awaitable<bool> write_reply(Stream& s, const reply& r, bool keep_alive) {
        http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
        res.set(http::field::content_type, "application/json");
        res.set(http::field::server, "aibatch-emulator");
        for (const auto& [k, v] : r.headers)
            res.set(k, v);
        res.body() = r.body;
        res.keep_alive(keep_alive && !r.close);
        res.prepare_payload();
        auto [ec, n] = co_await http::async_write(s, res, use_tuple);
        co_return !ec && keep_alive && !r.close;
    }

    void log_request(std::string method, std::string path, unsigned status, std::string endpoint,
                     std::string batch_id, std::uint64_t requests) {
        std::lock_guard lock(mtx);
        log_entry e{std::move(method),   std::move(path),     status,
                    std::move(endpoint), std::move(batch_id), requests};
        if (log_out) {
            json::object line{{"method", e.method},
                              {"path", e.path},
                              {"status", e.status},
                              {"endpoint", e.endpoint},
                              {"batch_id", e.batch_id},
                              {"requests", e.requests},
                              {"time", rfc3339(sys_clock::now())}};
            log_out << json::serialize(line) << '\n' << std::flush;
        }
        log_entries.push_back(std::move(e));
    }

    // ---------------------------------------------------------------- faults
    struct fault_decision {
        std::optional<unsigned> status;
        bool drop = false;
        bool drop_after = false;
        std::chrono::milliseconds delay{0};
    };

    fault_decision take_faults(const std::string& endpoint) {
        std::lock_guard lock(mtx);
        fault_decision d;
        for (auto& f : faults) {
            if (!f.endpoint.empty() && f.endpoint != endpoint)
                continue;
            bool request_fault = f.what == fault::kind::status || f.what == fault::kind::drop ||
                                 f.what == fault::kind::drop_after || f.what == fault::kind::delay;
            if (!request_fault)
                continue;
            if (f.what == fault::kind::status && f.fraction > 0) {
                if (!d.status && static_cast<double>(ids.below(1'000'000)) < f.fraction * 1e6)
                    d.status = f.status;
                continue;
            }
            if (f.count == 0)
                continue;
            bool used = false;
            switch (f.what) {
            case fault::kind::status:
                if (!d.status) {
                    d.status = f.status;
                    used = true;
                }
                break;
            case fault::kind::drop:
                if (!d.drop) {
                    d.drop = true;
                    used = true;
                }
                break;
            case fault::kind::drop_after:
                if (!d.drop_after) {
                    d.drop_after = true;
                    used = true;
                }
                break;
            case fault::kind::delay:
                if (d.delay.count() == 0) {
                    d.delay = f.delay;
                    used = true;
                }
                break;
            default:
                break;
            }
            if (used)
                --f.count;
        }
        std::erase_if(faults, [](const fault& f) { return f.count == 0 && f.fraction == 0; });
        return d;
    }

    std::optional<fault> take_fault(fault::kind k) {
        std::lock_guard lock(mtx);
        for (auto& f : faults)
            if (f.what == k && f.count > 0) {
                --f.count;
                fault copy = f;
                std::erase_if(faults,
                              [](const fault& x) { return x.count == 0 && x.fraction == 0; });
                return copy;
            }
        return std::nullopt;
    }

    std::optional<std::uint64_t> take_stream_fault(fault::kind k) {
        std::lock_guard lock(mtx);
        for (auto& f : faults)
            if (f.what == k && f.count > 0) {
                --f.count;
                auto bytes = f.bytes;
                std::erase_if(faults,
                              [](const fault& x) { return x.count == 0 && x.fraction == 0; });
                return bytes;
            }
        return std::nullopt;
    }

    // ---------------------------------------------------------------- dispatch
    // Handles one request; returns whether the connection stays open.
    template <class Stream>
    asio::awaitable<bool> handle(Stream& s, http::request<http::string_body>& req) {
        std::string target(req.target());
        std::string path = target.substr(0, target.find('?'));
        std::string method(req.method_string());
        auto r = match_route(path);
        if (!r) {
            auto rep = error_reply(404, "not_found_error", "Not found");
            log_request(method, path, 404, "", "", 0);
            co_return co_await write_reply(s, rep, req.keep_alive());
        }
        std::string endpoint = endpoint_of(*r, req.method());
        auto fd = take_faults(endpoint);
        if (fd.drop) {
            log_request(method, path, 0, endpoint, r->batch_id, 0);
            co_return false;
        }
        if (fd.delay.count() > 0) {
            asio::steady_timer t(ioc, fd.delay);
            co_await t.async_wait(use_tuple);
        }
        reply rep;
        if (fd.status) {
            rep = error_reply(*fd.status, status_error_type(*fd.status),
                              status_error_message(*fd.status));
            log_request(method, path, *fd.status, endpoint, r->batch_id, 0);
        } else {
            rep = dispatch(*r, req, endpoint);
        }
        if (fd.drop_after) {
            log_request(method, path, 0, endpoint, r->batch_id, 0);
            co_return false;
        }
        if (rep.results_of)
            co_return co_await stream_results(s, *rep.results_of, rep, req.keep_alive());
        co_return co_await write_reply(s, rep, req.keep_alive());
    }

    reply dispatch(const route& r, const http::request<http::string_body>& req,
                   const std::string& endpoint) {
        std::string method(req.method_string());
        std::string path(req.target().substr(0, req.target().find('?')));
        auto finish = [&](reply rep, std::string batch_id = {}, std::uint64_t n = 0) {
            log_request(method, path, rep.status, endpoint, std::move(batch_id), n);
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
                return finish(
                    error_reply(401, "authentication_error", "x-api-key header is required"));
            if (!opts.api_key.empty() && *key != opts.api_key)
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
        if (endpoint == "create")
            return create(req.body(), finish);
        if (endpoint == "list")
            return finish(list(req.target()));
        if (endpoint == "messages")
            return finish(messages(req.body()));
        if (endpoint == "count_tokens")
            return finish(count_tokens(req.body()));
        return finish(on_batch(endpoint, r.batch_id), r.batch_id);
    }

    // ---------------------------------------------------------------- endpoints
    template <class Finish>
    reply create(const std::string& body, Finish& finish) {
        auto rec = std::make_shared<batch_record>();
        boost::system::error_code ec;
        rec->body = json::parse(body, ec, json::storage_ptr(&rec->arena));
        auto bad = [&](std::string msg) {
            return finish(error_reply(400, "invalid_request_error", std::move(msg)));
        };
        if (ec)
            return bad("There was an error parsing the body of your request: " + ec.message());
        if (!rec->body.is_object())
            return bad("Input should be a valid dictionary");
        for (const auto& [k, v] : rec->body.get_object())
            if (k != "requests")
                return bad(std::string(k) + ": Extra inputs are not permitted");
        const auto* reqs = rec->body.get_object().if_contains("requests");
        if (!reqs)
            return bad("requests: Field required");
        if (!reqs->is_array())
            return bad("requests: Input should be a valid list");
        const auto& a = reqs->get_array();
        if (a.empty())
            return bad("requests: List should have at least 1 item after validation, not 0");
        if (a.size() > opts.max_batch_requests)
            return bad("requests: List should have at most " +
                       std::to_string(opts.max_batch_requests) + " items after validation, not " +
                       std::to_string(a.size()));
        std::unordered_set<std::string_view> seen;
        seen.reserve(a.size());
        for (std::size_t i = 0; i < a.size(); ++i) {
            std::string where = "requests." + std::to_string(i);
            if (!a[i].is_object())
                return bad(where + ": Input should be a valid dictionary");
            const auto& item = a[i].get_object();
            for (const auto& [k, v] : item)
                if (k != "custom_id" && k != "params")
                    return bad(where + "." + std::string(k) + ": Extra inputs are not permitted");
            const auto* cid = item.if_contains("custom_id");
            if (!cid)
                return bad(where + ".custom_id: Field required");
            if (!cid->is_string())
                return bad(where + ".custom_id: Input should be a valid string");
            std::string_view id = cid->get_string();
            if (!std::regex_match(id.begin(), id.end(), custom_id_pattern()))
                return bad(where + ".custom_id: String should match pattern "
                                   "'^[a-zA-Z0-9_-]{1,64}$'");
            if (!seen.insert(id).second)
                return bad(where + ".custom_id: Duplicate custom_id '" + std::string(id) +
                           "'; each custom_id must be unique within a batch");
            const auto* params = item.if_contains("params");
            if (!params)
                return bad(where + ".params: Field required");
            if (!params->is_object())
                return bad(where + ".params: Input should be a valid dictionary");
        }
        auto now = sys_clock::now();
        bool expire = take_stream_fault(fault::kind::expire).has_value();
        auto hidden = take_fault(fault::kind::transient_404);
        json::object answer;
        {
            std::lock_guard lock(mtx);
            rec->id = ids.id("msgbatch_");
            rec->seed = hash_bytes(rec->id, opts.seed);
            rec->created_at = now;
            rec->validation_day = today(now);
            rec->expires_at = now + std::chrono::hours(24);
            rec->processing_ends_at =
                now + std::chrono::duration_cast<sys_clock::duration>(opts.processing_time);
            rec->expire = expire;
            if (hidden)
                rec->not_found_until =
                    now + std::chrono::duration_cast<sys_clock::duration>(hidden->delay);
            rec->completion_order.resize(a.size());
            for (std::uint32_t i = 0; i < a.size(); ++i)
                rec->completion_order[i] = i;
            rng shuffle(rec->seed);
            for (std::size_t i = a.size(); i > 1; --i)
                std::swap(rec->completion_order[i - 1], rec->completion_order[shuffle.below(i)]);
            batches.push_back(rec);
            history.push_back(rec);
            ++created;
            answer = rec->to_json(now, origin);
        }
        return finish(json_reply(answer), rec->id, a.size());
    }

    std::shared_ptr<batch_record> find_locked(const std::string& id) {
        for (auto& b : batches)
            if (b->id == id)
                return b;
        return nullptr;
    }

    reply on_batch(const std::string& endpoint, const std::string& id) {
        std::unique_lock lock(mtx);
        auto b = find_locked(id);
        auto now = sys_clock::now();
        if (!b) {
            lock.unlock();
            return error_reply(404, "not_found_error",
                               "Message Batch with id " + id + " not found");
        }
        if ((endpoint == "retrieve" || endpoint == "results") && b->not_found_until &&
            now < *b->not_found_until) {
            lock.unlock();
            return error_reply(404, "not_found_error",
                               "Message Batch with id " + id + " not found");
        }
        if (endpoint == "retrieve") {
            auto v = b->to_json(now, origin);
            lock.unlock();
            return json_reply(v);
        }
        if (endpoint == "cancel") {
            if (!b->ended(now) && !b->cancel_initiated_at) {
                b->cancel_initiated_at = now;
                b->cancel_done_at =
                    now + std::chrono::duration_cast<sys_clock::duration>(opts.cancel_time);
            }
            auto v = b->to_json(now, origin);
            lock.unlock();
            return json_reply(v);
        }
        if (endpoint == "delete") {
            if (!b->ended(now)) {
                lock.unlock();
                return error_reply(
                    400, "invalid_request_error",
                    "Message Batch " + id +
                        " cannot be deleted while it is "
                        "still processing; cancel it first and wait until it has ended");
            }
            std::erase(batches, b);
            b->deleted = true;
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

    reply list(std::string_view target) {
        std::size_t limit = 20;
        std::string before, after;
        if (auto u = boost::urls::parse_origin_form(target)) {
            for (auto p : u->params()) {
                if (p.key == "limit") {
                    char* end = nullptr;
                    long v = std::strtol(p.value.c_str(), &end, 10);
                    if (p.value.empty() || *end != '\0')
                        return error_reply(400, "invalid_request_error",
                                           "limit: Input should be a valid integer");
                    if (v < 1)
                        return error_reply(400, "invalid_request_error",
                                           "limit: Input should be greater than or equal to 1");
                    if (v > 1000)
                        return error_reply(400, "invalid_request_error",
                                           "limit: Input should be less than or equal to 1000");
                    limit = static_cast<std::size_t>(v);
                } else if (p.key == "before_id") {
                    before = p.value;
                } else if (p.key == "after_id") {
                    after = p.value;
                }
            }
        }
        std::unique_lock lock(mtx);
        auto now = sys_clock::now();
        // Newest first.
        std::vector<std::shared_ptr<batch_record>> order(batches.rbegin(), batches.rend());
        auto pos_of = [&](const std::string& id) -> std::optional<std::size_t> {
            for (std::size_t i = 0; i < order.size(); ++i)
                if (order[i]->id == id)
                    return i;
            return std::nullopt;
        };
        std::size_t from = 0, to = 0;
        bool has_more = false;
        if (!before.empty()) {
            auto p = pos_of(before);
            std::size_t end = p.value_or(0);
            from = end > limit ? end - limit : 0;
            to = end;
            has_more = from > 0;
        } else {
            std::size_t start = 0;
            if (!after.empty()) {
                auto p = pos_of(after);
                start = p ? *p + 1 : order.size();
            }
            from = std::min(start, order.size());
            to = std::min(from + limit, order.size());
            has_more = to < order.size();
        }
        json::array data;
        for (std::size_t i = from; i < to; ++i)
            data.push_back(order[i]->to_json(now, origin));
        json::object page;
        page["data"] = std::move(data);
        page["has_more"] = has_more;
        page["first_id"] = from < to ? json::value(order[from]->id) : json::value(nullptr);
        page["last_id"] = from < to ? json::value(order[to - 1]->id) : json::value(nullptr);
        lock.unlock();
        return json_reply(page);
    }

    reply messages(const std::string& body) {
        boost::system::error_code ec;
        auto params = json::parse(body, ec);
        if (ec)
            return error_reply(400, "invalid_request_error",
                               "There was an error parsing the body of your request");
        if (auto err =
                validate_params(params, validation_context{false, today(sys_clock::now())})) {
            unsigned status = err->type == "not_found_error" ? 404 : 400;
            return error_reply(status, err->type, err->message);
        }
        return json_reply(
            simulate_message(params.get_object(), hash_bytes(body, opts.seed), "standard"));
    }

    reply count_tokens(const std::string& body) {
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

    // ---------------------------------------------------------------- results
    std::string result_line(const batch_record& b, std::size_t i) {
        json::object line;
        line["custom_id"] = b.custom_id(i);
        json::object result;
        const auto& params = b.request(i).at("params");
        std::uint64_t item_seed = hash_bytes(b.custom_id(i), b.seed);
        switch (b.outcome(i)) {
        case item_outcome::succeeded:
            result["type"] = "succeeded";
            result["message"] = simulate_message(params.get_object(), item_seed);
            break;
        case item_outcome::errored: {
            result["type"] = "errored";
            auto err = b.validate(params);
            item_error e = err ? *err : item_error{"api_error", "Internal server error"};
            rng r(item_seed);
            result["error"] =
                json::object{{"type", "error"},
                             {"error", json::object{{"type", e.type}, {"message", e.message}}},
                             {"request_id", r.id("req_")}};
            break;
        }
        case item_outcome::canceled:
            result["type"] = "canceled";
            break;
        case item_outcome::expired:
            result["type"] = "expired";
            break;
        }
        line["result"] = std::move(result);
        std::string s = json::serialize(line);
        s += '\n';
        return s;
    }

    template <class Stream>
    asio::awaitable<bool> stream_results(Stream& s, const batch_record& b, const reply& rep,
                                         bool keep_alive) {
        auto cut = take_stream_fault(fault::kind::cut_results);
        auto trickle = take_stream_fault(fault::kind::trickle);
        auto dup = take_fault(fault::kind::dup_line);
        auto inject = take_fault(fault::kind::inject_line);
        std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/x-jsonl\r\n"
                           "Server: aibatch-emulator\r\nTransfer-Encoding: chunked\r\n";
        for (const auto& [k, v] : rep.headers)
            head.append(k).append(": ").append(v).append("\r\n");
        head += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
        auto [hec, hn] = co_await asio::async_write(s, asio::buffer(head), use_tuple);
        if (hec)
            co_return false;

        std::uint64_t sent = 0;
        std::string pending;
        constexpr std::size_t flush_at = std::size_t{64} << 10;
        auto send = [&](std::string_view data) -> asio::awaitable<bool> {
            while (!data.empty()) {
                std::string_view piece = data;
                if (trickle)
                    piece = piece.substr(0, *trickle);
                if (cut && sent + piece.size() > *cut)
                    piece = piece.substr(0, *cut - sent);
                if (!piece.empty()) {
                    auto c = chunk(piece);
                    auto [ec, n] = co_await asio::async_write(s, asio::buffer(c), use_tuple);
                    if (ec)
                        co_return false;
                    sent += piece.size();
                }
                data.remove_prefix(piece.size());
                if (cut && sent >= *cut)
                    co_return false; // cut: close without the terminating chunk
                if (trickle) {
                    asio::steady_timer t(ioc, std::chrono::milliseconds(10));
                    co_await t.async_wait(use_tuple);
                }
            }
            co_return true;
        };
        if (inject && !co_await send(inject->line + "\n"))
            co_return false;
        if (auto cached = b.rendered_results) {
            // Generated before: the same bytes, at memory speed.
            constexpr std::size_t piece = std::size_t{1} << 20;
            for (std::size_t off = 0; off < cached->size(); off += piece)
                if (!co_await send(std::string_view(*cached).substr(off, piece)))
                    co_return false;
        } else {
            // Generate line by line; keep the whole text for later downloads when small.
            const std::size_t keep_limit = opts.results_cache_bytes;
            auto keep = keep_limit > 0 ? std::make_shared<std::string>() : nullptr;
            for (std::size_t k = 0; k < b.size(); ++k) {
                pending += result_line(b, b.completion_order[k]);
                if (pending.size() >= flush_at) {
                    if (keep && keep->size() + pending.size() <= keep_limit)
                        keep->append(pending);
                    else
                        keep.reset();
                    if (!co_await send(pending))
                        co_return false;
                    pending.clear();
                }
            }
            if (keep && keep->size() + pending.size() <= keep_limit) {
                keep->append(pending);
                b.rendered_results = std::move(keep);
            }
            if (!pending.empty() && !co_await send(pending))
                co_return false;
        }
        if (dup && b.size() > 0 && !co_await send(result_line(b, b.completion_order[0])))
            co_return false;
        auto [tec, tn] = co_await asio::async_write(s, asio::buffer("0\r\n\r\n", 5), use_tuple);
        co_return !tec && keep_alive;
    }
};

server::server(options opts) : impl_(std::make_unique<impl>(std::move(opts))) {}

server::~server() {
    stop();
}

void server::start() {
    impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

void server::run() {
    asio::signal_set signals(impl_->ioc, SIGINT, SIGTERM);
    signals.async_wait([this](const error_code& ec, int) {
        if (!ec)
            impl_->ioc.stop();
    });
    impl_->ioc.run();
}

void server::stop() {
    impl_->ioc.stop();
    if (impl_->thread.joinable())
        impl_->thread.join();
}

std::string server::url() const {
    return impl_->origin;
}
unsigned short server::port() const {
    return impl_->acceptor.local_endpoint().port();
}

void server::add_fault(fault f) {
    std::lock_guard lock(impl_->mtx);
    impl_->faults.push_back(std::move(f));
}

std::vector<log_entry> server::log() const {
    std::lock_guard lock(impl_->mtx);
    return impl_->log_entries;
}

std::size_t server::batches_created() const {
    std::lock_guard lock(impl_->mtx);
    return impl_->created;
}

std::vector<batch_summary> server::batches() const {
    std::lock_guard lock(impl_->mtx);
    std::vector<batch_summary> out;
    for (const auto& b : impl_->history) {
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

std::size_t server::batch_count() const {
    std::lock_guard lock(impl_->mtx);
    return impl_->batches.size();
}

} // namespace aibatch::emulator
