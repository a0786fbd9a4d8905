// The one error model of aibatch.
//
// Low level: a boost::system::error_code in the aibatch category (aibatch::errc) plus an
// aibatch::diagnostics object carrying what the server or the check said. Coroutine
// level: aibatch::error (a boost::system::system_error) carrying the same diagnostics.
// No message built here ever contains the API key.
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <iosfwd>
#include <optional>
#include <string>
#include <type_traits>

namespace aibatch {

/// Every error condition aibatch reports itself.
enum class errc {
    // configuration and input
    missing_api_key = 1, ///< ANTHROPIC_API_KEY is not set (environment or .env)
    invalid_config,      ///< a configuration value cannot be used
    invalid_url,         ///< the base URL does not parse or has an unsupported scheme
    insecure_http,       ///< plain http:// to a non-loopback host without explicit opt-in
    dotenv_syntax,       ///< a .env file line cannot be parsed
    invalid_argument,    ///< an argument to a call is not acceptable
    invalid_output,      ///< the model's output does not decode into the requested type
    items_failed,        ///< batch<T>(): some items did not succeed (see batch_error)
    timed_out,           ///< batch<T>(): batch_options::timeout passed
    cost_limit,          ///< batch<T>(): batch_options::cost_limit stopped submissions
    journal,             ///< batch<T>(): the journal file cannot be used

    // transport
    connect_timeout,   ///< resolve + TCP connect + TLS handshake took too long
    request_timeout,   ///< sending the request and receiving the response head took too long
    idle_timeout,      ///< no body bytes arrived for the idle timeout while streaming
    body_too_large,    ///< a collected response body exceeded its size limit
    tls_handshake,     ///< TLS failed (certificate not trusted, wrong host name, ...)
    connection_closed, ///< the peer closed the connection before the response was complete
    bad_response,      ///< the response is not valid HTTP or not the expected JSON

    // answers of the API (HTTP status != 2xx); see api_error_type in diagnostics
    invalid_request,   ///< 400 invalid_request_error
    authentication,    ///< 401 authentication_error
    billing,           ///< 402 billing_error
    permission,        ///< 403 permission_error
    not_found,         ///< 404 not_found_error
    request_too_large, ///< 413 request_too_large
    rate_limited,      ///< 429 rate_limit_error
    api_internal,      ///< 500 api_error
    gateway_timeout,   ///< 504 timeout_error
    overloaded,        ///< 529 overloaded_error
    http_status,       ///< any other non-2xx status

    // added later (kept at the end: the numbers above do not move)
    /// create_batch failed ambiguously and batches were found that may be the one it
    /// created (diagnostics::message names them); it did not send the create again
    ambiguous_create,
    /// a streamed body (results) arrived slower than transport_options::min_stream_rate
    stream_too_slow,
    /// batch<T>(): every item succeeded, but batches were left unread (see
    /// batch_error::unread_batches(): a paid duplicate, a batch that may be this call's)
    unread_batches,
    /// the connection dropped while being set up (e.g. mid TLS handshake) or while the
    /// request was being sent, before all of it was: the server cannot have acted on it;
    /// retried, and never taken for a create that may have happened
    connection_failed,
};

/// The category of aibatch::errc; its name is "aibatch". One category for aibatch's own
/// conditions and the API's answers alike, on purpose: code that checks
/// `ec.category() == aibatch::error_category()` keeps working. is_api_error() tells the
/// API's answers (a non-2xx status) apart from aibatch's own errors.
const boost::system::error_category& error_category() noexcept;

/// Whether an errc is an answer of the API (a non-2xx status) rather than aibatch's own.
constexpr bool is_api_errc(errc e) noexcept {
    return e >= errc::invalid_request && e <= errc::http_status;
}
/// Whether ec is an answer of the API: errc::invalid_request .. errc::http_status.
bool is_api_error(const boost::system::error_code& ec) noexcept;
/// The errc of an error_code of the aibatch category; nullopt for other categories
/// (Asio's, the system's).
std::optional<errc> errc_of(const boost::system::error_code& ec) noexcept;

/// Whether a failed request with this error may succeed if sent again: transport failures
/// (timeouts, refused, reset or dropped connections, DNS) are; a cancellation, bad input,
/// a TLS certificate problem, a malformed answer and every API error code are not here
/// (the API's own retryable statuses, 408/409/429/5xx/529 and x-should-retry, are decided
/// from the response by the client, which retries them itself).
bool is_retryable(const boost::system::error_code& ec) noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

/// Prints "aibatch:N (message)".
std::ostream& operator<<(std::ostream& os, errc e);

/// What accompanies an error_code: the human story of one failure.
struct diagnostics {
    std::string message;        ///< what happened and what to do; never contains secrets
    std::string request_id;     ///< the API's request-id header, when there was a response
    unsigned http_status = 0;   ///< HTTP status, 0 when no response was received
    std::string api_error_type; ///< e.g. "rate_limit_error", empty when not from the API
    /// The API's own error message, word for word (empty when not from the API);
    /// `message` is aibatch's account, which quotes it and says what to do.
    std::string api_message;

    void clear() { *this = diagnostics{}; }
    /// One line: message, then status, error type and request id where known.
    std::string to_string() const;
};

/// Base of every exception aibatch throws: an error_code plus diagnostics.
class error : public boost::system::system_error {
public:
    error(boost::system::error_code ec, diagnostics diag);
    error(errc e, std::string message);

    const diagnostics& diag() const noexcept { return diag_; }

private:
    diagnostics diag_;
};

/// Throws aibatch::error for (ec, diag) when ec is set; does nothing otherwise.
void throw_if_error(boost::system::error_code ec, const diagnostics& diag);

} // namespace aibatch

namespace boost::system {
template <>
struct is_error_code_enum<aibatch::errc> : std::true_type {};
} // namespace boost::system
