// An http_client's exchanges: a request written and its response read on a pooled
// connection (connection.cpp), once more on a fresh one when a reused one turns out stale;
// what each failure means; a streamed body (response_stream).
#include "http_client_impl.hpp"

#include <aibatch/detail/ascii.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <array>

namespace aibatch {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

std::optional<std::string_view> http_headers::find(std::string_view name) const {
    for (const auto& [k, v] : fields_) {
        if (detail::ascii::iequals(k, name))
            return std::string_view(v);
    }
    return std::nullopt;
}

namespace {

bool is_ssl_error(const error_code& ec) {
    return ec.category() == asio::error::get_ssl_category() ||
           ec.category() == asio::ssl::error::get_stream_category();
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

bool is_stale_connection_error(const error_code& ec) {
    return ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == asio::ssl::error::stream_truncated;
}

} // namespace

http::request<http::span_body<const char>> http_client::impl::build(const http_request& req) {
    http::request<http::span_body<const char>> r{to_verb(req.method), ep.base_path + req.target,
                                                 11};
    r.set(http::field::host, host_field);
    r.set(http::field::user_agent, user_agent);
    for (const auto& [k, v] : req.headers.fields())
        r.set(k, v);
    r.keep_alive(true);
    if (req.streamed) {
        if (!req.streamed->start)
            fail(errc::invalid_argument, req.method + " " + req.target +
                                             ": streamed_body::start is empty (set it to a "
                                             "function that returns the body's writer)");
        // The head only: the pieces follow (write_pieces).
        r.content_length(req.streamed->size);
        return r;
    }
    const std::string& body = req.shared_body ? *req.shared_body : req.body;
    r.body() = boost::span<const char>(body.data(), body.size());
    r.prepare_payload();
    return r;
}

task<std::pair<error_code, bool>> http_client::impl::write_pieces(connection& c,
                                                                  const http_request& req) {
    const streamed_body& sb = *req.streamed;
    auto write = sb.start();
    if (!write)
        fail(errc::invalid_argument, req.method + " " + where() + ep.base_path + req.target +
                                         ": streamed_body::start() returned no writer");
    // One piece ahead: the piece that would complete Content-Length is sent only once the
    // writer has said the body ends there. Whatever goes wrong, the server never has a
    // complete body that is not the announced one.
    std::string piece, next;
    write(piece);
    std::uint64_t sent = 0;
    while (!piece.empty()) {
        next.clear();
        write(next);
        const std::uint64_t after = sent + piece.size();
        if (next.empty() ? after != sb.size : after >= sb.size) {
            std::uint64_t total = after;
            for (std::size_t i = 0; !next.empty() && i < 64; ++i) { // how much more, roughly
                total += next.size();
                next.clear();
                write(next);
            }
            fail(errc::invalid_argument,
                 req.method + " " + where() + ep.base_path + req.target +
                     ": the streamed body came to " + (next.empty() ? "" : "more than ") +
                     std::to_string(total) + " bytes, not the " + std::to_string(sb.size) +
                     " announced (Content-Length); the connection was closed before the "
                     "body was complete, so the server did not act on it");
        }
        auto [ec, n] = co_await c.with_stream(
            [&](auto& s) { return asio::async_write(s, asio::buffer(piece), use_tuple); });
        if (ec) // whole only if this was the last piece and every byte of it went
            co_return std::pair{ec, next.empty() && n == piece.size()};
        sent = after;
        piece.swap(next);
    }
    if (sent != sb.size) // an empty body announced as non-empty
        fail(errc::invalid_argument,
             req.method + " " + where() + ep.base_path + req.target +
                 ": the streamed body came to 0 bytes, not the " + std::to_string(sb.size) +
                 " announced (Content-Length); the connection was closed before the body was "
                 "complete, so the server did not act on it");
    co_return std::pair{error_code{}, false};
}

template <class Body>
task<exchange_failure>
http_client::impl::send_and_read_head(connection& c, const http_request& req,
                                      const http::request<http::span_body<const char>>& r,
                                      http::response_parser<Body>& parser) {
    c.tcp().expires_after(opts.timeouts.request);
    exchange_failure f;
    // At most 256 KiB per write: one write of a 65 MB create body would copy megabytes
    // into the socket in one system call and hold the event loop for milliseconds
    // (bench/run's loop-stall watchdog saw 3-4 ms); smaller writes let it breathe.
    http::request_serializer<http::span_body<const char>> sr(r);
    sr.limit(std::size_t{256} << 10);
    auto [wec, wn] = co_await c.with_stream([&](auto& s) {
        return req.streamed ? http::async_write_header(s, sr, use_tuple)
                            : http::async_write(s, sr, use_tuple);
    });
    // A timeout reported for the write that completed the request may have raced its
    // success (the timer fired just after the last bytes were handed over, then closed
    // the socket, which still delivers them; Beast still reports the bytes written): then
    // the request may be whole on the server, and the failure is not "not sent". A write
    // that timed out with bytes of the request still unwritten (a shared body: fewer than
    // the body alone, as the head comes first; a streamed body: its head, a piece before
    // the last, or part of the last) surely left it incomplete.
    bool maybe_whole = wec == beast::error::timeout && !req.streamed && wn >= r.body().size();
    if (!wec && req.streamed) {
        auto [pec, last_piece] = co_await write_pieces(c, req);
        wec = pec;
        maybe_whole = pec == beast::error::timeout && last_piece;
    }
    if (wec) {
        f.ec = wec;
        f.sent = maybe_whole;
        co_return f;
    }
    auto [rec, rn] = co_await c.with_stream(
        [&](auto& s) { return http::async_read_header(s, c.buffer, parser, use_tuple); });
    (void)rn;
    f.ec = rec;
    f.got_response_bytes = parser.got_some();
    co_return f;
}

void http_client::impl::request_failed(const exchange_failure& f, const http_request& req,
                                       bool streaming_body) {
    std::string what = req.method + " " + where() + ep.base_path + req.target;
    const auto& ec = f.ec;
    if (!f.sent && ec != asio::error::operation_aborted)
        fail(errc::connection_failed,
             what + ": the request could not be sent whole (" +
                 (ec == beast::error::timeout
                      ? "the request timeout of " + std::to_string(opts.timeouts.request.count()) +
                            " ms passed first; raise transport_options::timeouts.request for "
                            "large bodies"
                      : ec.message()) +
                 "); the server never had all of it, so it did not act on it");
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
    // The request was sent whole (a failure while sending it is handled above): a TLS
    // failure or an unreachable network now may follow a request the server carried out,
    // so it is reported as such, not as an error that says nothing was sent
    // (errc::tls_handshake and these raw codes are taken for "never carried the request").
    if (is_ssl_error(ec) || ec == asio::error::host_unreachable ||
        ec == asio::error::network_unreachable || ec == asio::error::connection_refused)
        fail(errc::connection_closed, what + ": the connection broke after the request was sent (" +
                                          (is_ssl_error(ec) ? "TLS error: " : "") + ec.message() +
                                          "); the server may have acted on it");
    if (ec.category() == make_error_code(http::error::end_of_stream).category())
        fail(errc::bad_response, what + ": malformed HTTP response: " + ec.message());
    fail(ec, what + ": " + ec.message());
}

bool http_client::impl::should_retry_fresh(const exchange_failure& f, bool reused,
                                           bool idempotent) {
    // A request not sent whole was not acted on: sent again even when not idempotent.
    return reused && (idempotent || !f.sent) && !f.got_response_bytes &&
           is_stale_connection_error(f.ec);
}

task<http_response> http_client::impl::request(http_request req) {
    auto r = build(req);
    bool idempotent = req.idempotent.value_or(default_idempotent(r.method()));
    for (;;) {
        auto [conn, reused] = co_await acquire();
        http::response_parser<http::string_body> parser;
        parser.body_limit(opts.max_body_size);
        auto f = co_await send_and_read_head(*conn, req, r, parser);
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

struct response_stream::state {
    std::shared_ptr<http_client::impl> owner;
    std::unique_ptr<connection> conn;
    http::response_parser<http::buffer_body> parser;
    http_request request; // for messages
    unsigned status = 0;
    http_headers headers;
    std::vector<char> buf = std::vector<char>(std::size_t{256} << 10);
    bool done = false;
    boost::system::error_code deferred; // a failure after bytes this piece delivers

    // A read failed: the connection is never reused; throws what request_failed throws.
    [[noreturn]] void fail(boost::system::error_code ec) {
        done = true;
        auto o = owner;
        conn.reset(); // a connection that failed mid-body is never reused
        o->request_failed({ec, true}, request, true);
    }

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
        auto f = co_await send_and_read_head(*conn, req, r, st->parser);
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
        st->request.shared_body.reset();
        st->request.streamed.reset();
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
    if (st.deferred) // a read failed after the bytes of the last piece: report it now
        st.fail(std::exchange(st.deferred, {}));
    if (st.parser.is_done()) {
        st.finish();
        co_return std::string_view{};
    }
    auto& body = st.parser.get().body();
    auto& conn = *st.conn;
    // Deliver whatever arrives: read_some returns once a socket read brought bytes, so a
    // slow trickle reaches the caller at once instead of waiting to fill the buffer; and
    // whatever more is already here: Beast reads at most 64 KiB at a time, and more
    // reads per piece while bytes wait in the socket save the caller
    // a round trip per 64 KiB (5% of reading 68 MB of results).
    std::size_t got = 0;
    auto more_waiting = [&] {
        if (got == 0)
            return true;
        if (st.buf.size() - got < (std::size_t{64} << 10))
            return false;
        // Bytes in the socket only: what Beast already holds may be a part (of a chunk
        // header) that waits for more, and bytes already read would wait with it; it is
        // parsed at the next call.
        boost::system::error_code aec;
        return conn.tcp().socket().available(aec) > 0;
    };
    while (!st.parser.is_done() && more_waiting()) {
        body.data = st.buf.data() + got;
        body.size = st.buf.size() - got;
        conn.tcp().expires_after(st.owner->opts.timeouts.idle);
        auto [ec, n] = co_await conn.with_stream(
            [&](auto& s) { return http::async_read_some(s, conn.buffer, st.parser, use_tuple); });
        (void)n;
        if (ec == http::error::need_buffer)
            ec = {};
        if (ec) {
            // The bytes of earlier reads are delivered first (what failed is not).
            if (got > 0) {
                st.deferred = ec;
                break;
            }
            st.fail(ec);
        }
        got = st.buf.size() - body.size;
    }
    if (st.conn)
        conn.tcp().expires_never();
    if (!st.deferred && st.parser.is_done()) {
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
