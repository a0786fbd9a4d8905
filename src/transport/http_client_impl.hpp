// Private to src/transport: the state of an http_client, shared by connection.cpp (the
// connections: TLS context, resolve, connect, handshake, the idle pool) and
// http_client.cpp (the exchanges on them: requests, responses, streamed bodies).
#pragma once

#include <aibatch/transport/http_client.hpp>
#include <aibatch/version.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace aibatch {

inline constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

// One connection: plain TCP or TLS over TCP, with its read buffer.
struct connection {
    std::optional<boost::beast::tcp_stream> plain;
    std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls;
    boost::beast::flat_buffer buffer;

    boost::beast::tcp_stream& tcp() { return tls ? boost::beast::get_lowest_layer(*tls) : *plain; }

    // Calls f(stream) with the concrete stream type; f returns an awaitable.
    template <class F>
    auto with_stream(F&& f) {
        return tls ? f(*tls) : f(*plain);
    }

    // An idle pooled connection is usable when the peer has neither closed it nor sent
    // anything unasked (a TLS close_notify, say): not in the socket, and not already read
    // past the end of the last response (into `buffer`, or decrypted and held by TLS),
    // which the next request would otherwise take for its own answer.
    bool idle_usable() {
        auto& sock = tcp().socket();
        if (!sock.is_open() || buffer.size() > 0)
            return false;
        if (tls && ::SSL_pending(tls->native_handle()) > 0)
            return false;
        char b;
        ssize_t n = ::recv(sock.native_handle(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
};

[[noreturn]] inline void fail(boost::system::error_code ec, std::string message) {
    throw error(ec, diagnostics{std::move(message), {}, 0, {}, {}});
}

[[noreturn]] inline void fail(errc e, std::string message) {
    fail(make_error_code(e), std::move(message));
}

// What went wrong in one exchange, before it becomes an exception: whether it may be
// retried on a fresh connection depends on whether the peer said anything at all.
struct exchange_failure {
    boost::system::error_code ec;
    bool got_response_bytes = false;
    // False when sending the request failed before all of it was written: the server
    // never had the whole request, so it cannot have acted on it.
    bool sent = true;
};

struct http_client::impl : std::enable_shared_from_this<http_client::impl> {
    boost::asio::any_io_executor ex;
    aibatch::endpoint ep;
    transport_options opts;
    boost::asio::ssl::context ssl_ctx{boost::asio::ssl::context::tls_client};
    std::vector<std::unique_ptr<connection>> idle;
    std::size_t opened = 0;
    std::string host_field;
    std::string user_agent = "aibatch/" AIBATCH_VERSION_STRING;

    // ---------------------------------------------------- connections (connection.cpp)
    impl(boost::asio::any_io_executor e, std::string_view url, transport_options o);

    void setup_tls();

    std::string where() const { return ep.origin(); }

    task<std::unique_ptr<connection>> connect();

    [[noreturn]] void connect_failed(const boost::system::error_code& ec, const std::string& what);

    // A pooled idle connection that is still alive, or a new one.
    task<std::pair<std::unique_ptr<connection>, bool>> acquire();

    void release(std::unique_ptr<connection> c);

    // ---------------------------------------------------- exchanges (http_client.cpp)
    // The body is referenced, not copied: `req` outlives the exchange.
    boost::beast::http::request<boost::beast::http::span_body<const char>>
    build(const http_request& req);

    // Writes the request and reads the response head into `parser`, within the request
    // timeout. Returns the failure instead of throwing so the caller can decide on a retry.
    template <class Body>
    task<exchange_failure> send_and_read_head(
        connection& c, const http_request& req,
        const boost::beast::http::request<boost::beast::http::span_body<const char>>& r,
        boost::beast::http::response_parser<Body>& parser);

    // The pieces of req.streamed after its head. Throws (the connection must then be
    // closed) when they do not come to Content-Length, or when the writer throws.
    // The error of the write that failed, and whether it was the body's last piece,
    // written whole (a timeout that raced its success).
    task<std::pair<boost::system::error_code, bool>> write_pieces(connection& c,
                                                                  const http_request& req);

    [[noreturn]] void request_failed(const exchange_failure& f, const http_request& req,
                                     bool streaming_body);

    static bool should_retry_fresh(const exchange_failure& f, bool reused, bool idempotent);

    task<http_response> request(http_request req);

    task<response_stream> open(http_request req);
};

} // namespace aibatch
