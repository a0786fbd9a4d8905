#include <aibatch/transport/http_client.hpp>
#include <aibatch/version.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace aibatch {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

std::optional<std::string_view> http_headers::find(std::string_view name) const {
    for (const auto& [k, v] : fields_) {
        if (k.size() == name.size() &&
            std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) ==
                       std::tolower(static_cast<unsigned char>(b));
            }))
            return std::string_view(v);
    }
    return std::nullopt;
}

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// One connection: plain TCP or TLS over TCP, with its read buffer.
struct connection {
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
    beast::flat_buffer buffer;

    beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

    // Calls f(stream) with the concrete stream type; f returns an awaitable.
    template <class F>
    auto with_stream(F&& f) {
        return tls ? f(*tls) : f(*plain);
    }

    // An idle pooled connection is usable when the peer has neither closed it nor sent
    // anything unasked (a TLS close_notify, say).
    bool idle_usable() {
        auto& sock = tcp().socket();
        if (!sock.is_open())
            return false;
        char b;
        ssize_t n = ::recv(sock.native_handle(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
};

bool is_ssl_error(const error_code& ec) {
    return ec.category() == asio::error::get_ssl_category() ||
           ec.category() == asio::ssl::error::get_stream_category();
}

[[noreturn]] void fail(error_code ec, std::string message) {
    throw error(ec, diagnostics{std::move(message), {}, 0, {}, {}});
}

[[noreturn]] void fail(errc e, std::string message) {
    fail(make_error_code(e), std::move(message));
}

http::verb to_verb(const std::string& method) {
    auto v = http::string_to_verb(method);
    if (v == http::verb::unknown)
        fail(errc::invalid_argument, "unknown HTTP method \"" + method + "\"");
    return v;
}

bool default_idempotent(http::verb v) {
    return v == http::verb::get || v == http::verb::head || v == http::verb::delete_ ||
           v == http::verb::put || v == http::verb::options;
}

template <class Fields>
http_headers copy_headers(const Fields& fields) {
    http_headers h;
    for (const auto& f : fields)
        h.add(std::string(f.name_string()), std::string(f.value()));
    return h;
}

// What went wrong in one exchange, before it becomes an exception: whether it may be
// retried on a fresh connection depends on whether the peer said anything at all.
struct exchange_failure {
    error_code ec;
    bool got_response_bytes = false;
};

bool is_stale_connection_error(const error_code& ec) {
    return ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == asio::ssl::error::stream_truncated;
}

} // namespace

struct http_client::impl : std::enable_shared_from_this<http_client::impl> {
    asio::any_io_executor ex;
    aibatch::endpoint ep;
    transport_options opts;
    asio::ssl::context ssl_ctx{asio::ssl::context::tls_client};
    std::vector<std::unique_ptr<connection>> idle;
    std::size_t opened = 0;
    std::string host_field;
    std::string user_agent = "aibatch/" AIBATCH_VERSION_STRING;

    impl(asio::any_io_executor e, std::string_view url, transport_options o)
        : ex(std::move(e)), ep(endpoint::parse(url)), opts(std::move(o)) {
        ep.check_security(opts.allow_insecure_http);
        bool default_port = ep.port == (ep.tls ? "443" : "80");
        host_field = ep.host.find(':') != std::string::npos ? "[" + ep.host + "]" : ep.host;
        if (!default_port)
            host_field += ":" + ep.port;
        if (ep.tls)
            setup_tls();
    }

    void setup_tls() {
        SSL_CTX_set_min_proto_version(ssl_ctx.native_handle(), TLS1_2_VERSION);
        ssl_ctx.set_verify_mode(asio::ssl::verify_peer);
        error_code ec;
        ssl_ctx.set_default_verify_paths(ec); // a machine without a store still takes ca_file
        if (!opts.ca_file.empty()) {
            ssl_ctx.load_verify_file(opts.ca_file, ec);
            if (ec)
                fail(errc::invalid_config, "cannot load the CA file \"" + opts.ca_file + "\" (" +
                                               ec.message() + "); it must be a readable PEM file");
        }
    }

    std::string where() const { return ep.origin(); }

    task<std::unique_ptr<connection>> connect() {
        using namespace asio::experimental::awaitable_operators;
        auto deadline = std::chrono::steady_clock::now() + opts.timeouts.connect;
        auto c = std::make_unique<connection>();
        if (ep.tls)
            c->tls.emplace(ex, ssl_ctx);
        else
            c->plain.emplace(ex);

        asio::ip::tcp::resolver resolver(ex);
        asio::steady_timer timer(ex);
        timer.expires_at(deadline);
        auto raced = co_await (resolver.async_resolve(ep.host, ep.port, use_tuple) ||
                               timer.async_wait(use_tuple));
        // The caller's cancellation ends both waits: the timer's operation_aborted is then
        // a cancellation, not the timeout.
        if (raced.index() == 1 && std::get<0>(std::get<1>(raced)) == asio::error::operation_aborted)
            fail(asio::error::operation_aborted, "resolving " + ep.host + ": canceled");
        if (raced.index() == 1)
            fail(errc::connect_timeout, "resolving " + ep.host +
                                            " took longer than the connect "
                                            "timeout (" +
                                            std::to_string(opts.timeouts.connect.count()) + " ms)");
        auto [rec, results] = std::get<0>(std::move(raced));
        if (rec)
            fail(rec, "cannot resolve " + ep.host + ": " + rec.message());

        auto& tcp = c->tcp();
        tcp.expires_at(deadline);
        auto [cec, connected] = co_await tcp.async_connect(results, use_tuple);
        (void)connected;
        if (cec)
            connect_failed(cec, "cannot connect to " + where());
        tcp.socket().set_option(asio::ip::tcp::no_delay(true));

        if (c->tls) {
            if (!SSL_set_tlsext_host_name(c->tls->native_handle(), ep.host.c_str()))
                fail(errc::tls_handshake, "cannot set TLS SNI host name " + ep.host);
            c->tls->set_verify_mode(asio::ssl::verify_peer);
            c->tls->set_verify_callback(asio::ssl::host_name_verification(ep.host));
            auto [hec] =
                co_await c->tls->async_handshake(asio::ssl::stream_base::client, use_tuple);
            if (hec) {
                long verify = SSL_get_verify_result(c->tls->native_handle());
                if (hec == beast::error::timeout || hec == asio::error::operation_aborted)
                    connect_failed(hec, "TLS handshake with " + where());
                // The connection dropped mid-handshake (reset, closed): a network failure,
                // retried like any other, not a certificate or protocol problem.
                if (verify == X509_V_OK &&
                    (hec == asio::ssl::error::stream_truncated || hec == asio::error::eof ||
                     hec == asio::error::connection_reset ||
                     hec == asio::error::connection_aborted || hec == asio::error::broken_pipe))
                    fail(errc::connection_failed, "TLS handshake with " + where() +
                                                      " failed: the connection was closed (" +
                                                      hec.message() + "); nothing was sent");
                std::string detail =
                    verify != X509_V_OK ? X509_verify_cert_error_string(verify) : hec.message();
                fail(errc::tls_handshake,
                     "TLS handshake with " + where() + " failed: " + detail +
                         (verify != X509_V_OK
                              ? " (the server certificate is not trusted for host " + ep.host +
                                    "; add its CA with transport_options::ca_file / "
                                    "AIBATCH_CA_FILE if it is a private CA)"
                              : ""));
            }
        }
        tcp.expires_never();
        ++opened;
        co_return c;
    }

    [[noreturn]] void connect_failed(const error_code& ec, const std::string& what) {
        if (ec == beast::error::timeout)
            fail(errc::connect_timeout, what + ": no answer within the connect timeout (" +
                                            std::to_string(opts.timeouts.connect.count()) + " ms)");
        fail(ec, what + ": " + ec.message());
    }

    // A pooled idle connection that is still alive, or a new one.
    task<std::pair<std::unique_ptr<connection>, bool>> acquire() {
        while (!idle.empty()) {
            auto c = std::move(idle.back());
            idle.pop_back();
            if (c->idle_usable())
                co_return std::pair{std::move(c), true};
        }
        co_return std::pair{co_await connect(), false};
    }

    void release(std::unique_ptr<connection> c) {
        c->tcp().expires_never();
        idle.push_back(std::move(c));
    }

    // The body is referenced, not copied: `req` outlives the exchange.
    http::request<http::span_body<const char>> build(const http_request& req) {
        http::request<http::span_body<const char>> r{to_verb(req.method), ep.base_path + req.target,
                                                     11};
        r.set(http::field::host, host_field);
        r.set(http::field::user_agent, user_agent);
        for (const auto& [k, v] : req.headers.fields())
            r.set(k, v);
        const std::string& body = req.shared_body ? *req.shared_body : req.body;
        r.body() = boost::span<const char>(body.data(), body.size());
        r.keep_alive(true);
        r.prepare_payload();
        return r;
    }

    // Writes the request and reads the response head into `parser`, within the request
    // timeout. Returns the failure instead of throwing so the caller can decide on a retry.
    template <class Body>
    task<exchange_failure> send_and_read_head(connection& c,
                                              const http::request<http::span_body<const char>>& r,
                                              http::response_parser<Body>& parser) {
        c.tcp().expires_after(opts.timeouts.request);
        exchange_failure f;
        // At most 256 KiB per write: one write of a 65 MB create body would copy megabytes
        // into the socket in one system call and hold the event loop for milliseconds
        // (bench/run's loop-stall watchdog saw 3-4 ms); smaller writes let it breathe.
        http::request_serializer<http::span_body<const char>> sr(r);
        sr.limit(std::size_t{256} << 10);
        auto [wec, wn] =
            co_await c.with_stream([&](auto& s) { return http::async_write(s, sr, use_tuple); });
        (void)wn;
        if (wec) {
            f.ec = wec;
            co_return f;
        }
        auto [rec, rn] = co_await c.with_stream(
            [&](auto& s) { return http::async_read_header(s, c.buffer, parser, use_tuple); });
        (void)rn;
        f.ec = rec;
        f.got_response_bytes = parser.got_some();
        co_return f;
    }

    [[noreturn]] void request_failed(const exchange_failure& f, const http_request& req,
                                     bool streaming_body) {
        std::string what = req.method + " " + where() + ep.base_path + req.target;
        const auto& ec = f.ec;
        if (ec == beast::error::timeout)
            fail(streaming_body ? errc::idle_timeout : errc::request_timeout,
                 what + ": " +
                     (streaming_body ? "no body bytes for the idle timeout (" +
                                           std::to_string(opts.timeouts.idle.count()) + " ms)"
                                     : "no complete response within the request timeout (" +
                                           std::to_string(opts.timeouts.request.count()) + " ms)"));
        if (ec == http::error::body_limit)
            fail(errc::body_too_large, what + ": response body larger than " +
                                           std::to_string(opts.max_body_size) +
                                           " bytes (raise transport_options::max_body_size or "
                                           "stream the body)");
        if (ec == asio::error::operation_aborted)
            fail(ec, what + ": canceled");
        if (is_stale_connection_error(ec) || ec == http::error::partial_message ||
            ec == asio::error::connection_aborted)
            fail(errc::connection_closed,
                 what + ": the server closed the connection (" + ec.message() + ")");
        if (is_ssl_error(ec))
            fail(errc::tls_handshake, what + ": TLS error: " + ec.message());
        if (ec.category() == make_error_code(http::error::end_of_stream).category())
            fail(errc::bad_response, what + ": malformed HTTP response: " + ec.message());
        fail(ec, what + ": " + ec.message());
    }

    static bool should_retry_fresh(const exchange_failure& f, bool reused, bool idempotent) {
        return reused && idempotent && !f.got_response_bytes && is_stale_connection_error(f.ec);
    }

    task<http_response> request(http_request req) {
        auto r = build(req);
        bool idempotent = req.idempotent.value_or(default_idempotent(r.method()));
        for (;;) {
            auto [conn, reused] = co_await acquire();
            http::response_parser<http::string_body> parser;
            parser.body_limit(opts.max_body_size);
            auto f = co_await send_and_read_head(*conn, r, parser);
            if (f.ec) {
                if (should_retry_fresh(f, reused, idempotent))
                    continue;
                request_failed(f, req, false);
            }
            if (!parser.is_done()) {
                auto [ec, n] = co_await conn->with_stream([&c = *conn, &parser](auto& s) {
                    return http::async_read(s, c.buffer, parser, use_tuple);
                });
                (void)n;
                if (ec)
                    request_failed({ec, true}, req, false);
            }
            auto msg = parser.release();
            http_response out;
            out.status = msg.result_int();
            out.headers = copy_headers(msg);
            out.body = std::move(msg.body());
            if (msg.keep_alive())
                release(std::move(conn));
            co_return out;
        }
    }

    task<response_stream> open(http_request req);
};

struct response_stream::state {
    std::shared_ptr<http_client::impl> owner;
    std::unique_ptr<connection> conn;
    http::response_parser<http::buffer_body> parser;
    http_request request; // for messages
    unsigned status = 0;
    http_headers headers;
    std::vector<char> buf = std::vector<char>(std::size_t{64} << 10);
    bool done = false;

    void finish() {
        done = true;
        if (conn && parser.get().keep_alive())
            owner->release(std::move(conn));
        conn.reset();
    }
};

task<response_stream> http_client::impl::open(http_request req) {
    auto r = build(req);
    bool idempotent = req.idempotent.value_or(default_idempotent(r.method()));
    for (;;) {
        auto [conn, reused] = co_await acquire();
        auto st = std::make_unique<response_stream::state>();
        st->parser.body_limit(boost::none);
        // Beast reads as much as the buffer's free capacity allows: without room, a
        // streamed body arrives in ~1.5 KB reads (45,000 syscalls for 68 MB).
        conn->buffer.reserve(std::size_t{64} << 10);
        auto f = co_await send_and_read_head(*conn, r, st->parser);
        if (f.ec) {
            if (should_retry_fresh(f, reused, idempotent))
                continue;
            request_failed(f, req, false);
        }
        conn->tcp().expires_never();
        st->owner = shared_from_this();
        st->conn = std::move(conn);
        st->status = st->parser.get().result_int();
        st->headers = copy_headers(st->parser.get());
        st->request = std::move(req);
        st->request.body.clear();
        if (st->parser.is_done())
            st->finish();
        co_return response_stream(std::move(st));
    }
}

response_stream::response_stream(std::unique_ptr<state> s) : state_(std::move(s)) {}
response_stream::response_stream(response_stream&&) noexcept = default;
response_stream& response_stream::operator=(response_stream&&) noexcept = default;
response_stream::~response_stream() = default;

unsigned response_stream::status() const {
    return state_->status;
}
const http_headers& response_stream::headers() const {
    return state_->headers;
}
bool response_stream::done() const {
    return state_->done;
}

task<std::string_view> response_stream::read_some() {
    auto& st = *state_;
    if (st.done)
        co_return std::string_view{};
    if (st.parser.is_done()) {
        st.finish();
        co_return std::string_view{};
    }
    auto& body = st.parser.get().body();
    auto& conn = *st.conn;
    // Deliver whatever arrives: read_some returns after each socket read, so a slow
    // trickle reaches the caller at once instead of waiting to fill the buffer.
    std::size_t got = 0;
    while (got == 0 && !st.parser.is_done()) {
        body.data = st.buf.data();
        body.size = st.buf.size();
        conn.tcp().expires_after(st.owner->opts.timeouts.idle);
        auto [ec, n] = co_await conn.with_stream(
            [&](auto& s) { return http::async_read_some(s, conn.buffer, st.parser, use_tuple); });
        (void)n;
        if (ec == http::error::need_buffer)
            ec = {};
        if (ec) {
            st.done = true;
            auto owner = st.owner;
            st.conn.reset(); // a connection that failed mid-body is never reused
            owner->request_failed({ec, true}, st.request, true);
        }
        got = st.buf.size() - body.size;
    }
    conn.tcp().expires_never();
    if (st.parser.is_done()) {
        st.finish();
        if (got == 0)
            co_return std::string_view{};
    }
    co_return std::string_view(st.buf.data(), got);
}

http_client::http_client(asio::any_io_executor ex, std::string_view base_url,
                         transport_options opts)
    : impl_(std::make_shared<impl>(std::move(ex), base_url, std::move(opts))) {}
http_client::http_client(http_client&&) noexcept = default;
http_client& http_client::operator=(http_client&&) noexcept = default;
http_client::~http_client() = default;

task<http_response> http_client::request(http_request req) {
    return impl_->request(std::move(req));
}
task<response_stream> http_client::open(http_request req) {
    return impl_->open(std::move(req));
}
asio::any_io_executor http_client::get_executor() const {
    return impl_->ex;
}
const aibatch::endpoint& http_client::endpoint() const {
    return impl_->ep;
}
const transport_options& http_client::options() const {
    return impl_->opts;
}
std::size_t http_client::connections_opened() const {
    return impl_->opened;
}
std::size_t http_client::idle_connections() const {
    return impl_->idle.size();
}
void http_client::close_idle() {
    impl_->idle.clear();
}

} // namespace aibatch
