// Layer 1: an HTTP/1.1 client over TCP or TLS with keep-alive, timeouts, body limits and
// streamed bodies. Knows nothing of Anthropic.
//
// Not thread-safe: use one http_client from one strand / io_context thread, as a
// Boost.MySQL connection. Many requests may run concurrently on it (each gets its own
// connection from the pool).
#pragma once

#include <aibatch/config.hpp>
#include <aibatch/detail/async_run.hpp>
#include <aibatch/error.hpp>
#include <aibatch/task.hpp>
#include <aibatch/transport/endpoint.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aibatch {

/// Header fields in order; names compare case-insensitively in find().
class http_headers {
public:
    /// Throws aibatch::error (errc::invalid_argument) when the name or value holds CR, LF
    /// or NUL: they would end the header and inject others (the value is not shown: it
    /// may be the API key).
    void add(std::string name, std::string value) {
        if (name.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos ||
            value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
            throw error(errc::invalid_argument,
                        "HTTP header \"" + printable_header_name(name) +
                            "\": its value holds CR, LF or NUL, which would end the header; "
                            "refused");
        fields_.emplace_back(std::move(name), std::move(value));
    }
    /// The first value of a field, or nullopt.
    std::optional<std::string_view> find(std::string_view name) const;
    const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

private:
    static std::string printable_header_name(std::string_view n) {
        std::string out;
        for (char c : n.substr(0, 64))
            out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) ? '?' : c;
        return out;
    }
    std::vector<std::pair<std::string, std::string>> fields_;
};

/// A request body written piece by piece while it is sent, never whole in memory (a
/// create body of tens of MB). Content-Length is `size`: the pieces of every attempt must
/// come to exactly `size` bytes. The last byte is sent only once the writer has said the
/// body is complete, so a writer that gives more or fewer bytes, or throws, leaves the
/// server with an incomplete body it cannot act on: the connection is closed and the
/// request fails (errc::invalid_argument naming both sizes, or the writer's exception).
struct streamed_body {
    std::uint64_t size = 0;
    /// Called at the start of every attempt (a body may be sent again); returns that
    /// attempt's writer. The writer appends the next piece (up to a few hundred KiB) to
    /// the empty string it is given, and appends nothing once the body is complete.
    std::function<std::function<void(std::string&)>()> start;
};

/// One request. `target` is appended to the endpoint's base path ("/v1/messages/batches").
struct http_request {
    std::string method = "GET"; ///< GET, POST, DELETE, PUT, PATCH, HEAD
    std::string target = "/";
    http_headers headers; ///< Host, Content-Length and User-Agent are added
    std::string body;
    /// When set, sent instead of `body`, without a copy: for large bodies that may be
    /// sent more than once (retries).
    std::shared_ptr<const std::string> shared_body;
    /// When set, sent instead of `body` and `shared_body`, piece by piece.
    std::optional<streamed_body> streamed;
    /// Whether the request may be sent again when a reused connection turns out to be
    /// closed. Defaults by method: GET, HEAD, DELETE and PUT are idempotent.
    std::optional<bool> idempotent;
};

/// A response whose body was collected in memory.
struct http_response {
    unsigned status = 0;
    http_headers headers;
    std::string body;
};

class http_client;

/// A response whose body is read piece by piece (bounded memory). Holds a connection of
/// its client until the body is read to the end (then the connection goes back to the
/// pool) or the stream is destroyed (then the connection is closed).
class response_stream {
public:
    response_stream(response_stream&&) noexcept;
    response_stream& operator=(response_stream&&) noexcept;
    ~response_stream();

    unsigned status() const;
    const http_headers& headers() const;

    /// The next piece of the body; an empty view at the end. The view stays valid until
    /// the next call. A piece is what has arrived, up to 256 KiB: the call returns as
    /// soon as some bytes are there and reads on only while more are already waiting.
    /// Errors: errc::idle_timeout when no byte arrives for timeouts.idle,
    /// errc::connection_closed when the peer closes early; a failure after some bytes of
    /// this call were read comes at the next call, after those bytes. Honours
    /// per-operation cancellation (operation_aborted).
    task<std::string_view> read_some();

    /// Whether the end of the body was reached.
    bool done() const;

    struct state;
    explicit response_stream(std::unique_ptr<state> s);

private:
    std::unique_ptr<state> state_;
};

/// The HTTP client: a pool of keep-alive connections to one endpoint.
class http_client {
public:
    /// Throws aibatch::error: errc::invalid_url, errc::insecure_http (plain http to a
    /// non-loopback host without opts.allow_insecure_http), errc::invalid_config (a CA
    /// file that cannot be loaded).
    http_client(boost::asio::any_io_executor ex, std::string_view base_url,
                transport_options opts = {});
    http_client(http_client&&) noexcept;
    http_client& operator=(http_client&&) noexcept;
    ~http_client();

    /// Sends a request and collects the response body (at most opts.max_body_size
    /// bytes, else errc::body_too_large). Any HTTP status is a success here.
    /// Reuses an idle connection when one is open; when a reused connection proves
    /// closed before any response byte arrives, an idempotent request is sent again on
    /// a fresh connection. Errors (aibatch::error): connect_timeout, request_timeout,
    /// tls_handshake, connection_closed, bad_response, body_too_large, or a system
    /// error (connection refused, ...). Cancellation: per-operation, terminal; the
    /// connection in use is closed.
    task<http_response> request(http_request req);

    /// Sends a request and returns once the response head has arrived; read the body
    /// with response_stream::read_some(). Same errors as request() up to the head.
    task<response_stream> open(http_request req);

    /// request() with a completion token: void(error_code, http_response).
    template <class Token>
    auto async_request(http_request req, diagnostics& diag, Token&& token) {
        return detail::async_run<http_response>(get_executor(), request(std::move(req)), diag,
                                                std::forward<Token>(token));
    }

    boost::asio::any_io_executor get_executor() const;
    const aibatch::endpoint& endpoint() const;
    const transport_options& options() const;

    /// Connections opened so far (a measure of keep-alive reuse).
    std::size_t connections_opened() const;
    /// Idle connections in the pool now.
    std::size_t idle_connections() const;
    /// Closes every idle connection.
    void close_idle();

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

} // namespace aibatch
