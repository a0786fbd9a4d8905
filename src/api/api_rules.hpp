// The API layer's pure rules, apart from I/O so they are unit-tested on their own:
// mapping error responses to aibatch::error, and when and how long to wait before a
// retry.
#pragma once

#include <aibatch/config.hpp>
#include <aibatch/error.hpp>
#include <aibatch/transport/http_client.hpp>

#include <chrono>
#include <optional>
#include <string_view>

namespace aibatch::detail {

/// The errc for a non-2xx HTTP status (errc::http_status for statuses without one).
errc errc_for_status(unsigned status) noexcept;

/// The error for a non-2xx response: status, the API's error type and message when the
/// body is the documented ErrorResponse, else the first bytes of the body; the
/// request-id from the header or the body. `what` names the operation
/// ("create_batch", "retrieve_batch msgbatch_...").
error api_error_from_response(unsigned status, const http_headers& headers, std::string_view body,
                              std::string_view what);

/// Statuses the official SDKs retry: 408, 409, 429 and >= 500.
bool retryable_status(unsigned status) noexcept;

/// The x-should-retry header: true, false, or nullopt when absent.
std::optional<bool> should_retry_header(const http_headers& headers);

/// The server's requested wait: retry-after-ms, else retry-after (seconds, or an HTTP
/// date relative to `now`). nullopt when absent, unparsable, negative or over 60 s
/// (then the backoff rule applies, as in the official SDKs).
std::optional<std::chrono::milliseconds>
retry_after(const http_headers& headers,
            std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

/// Exponential backoff for the n-th retry (0-based): initial * 2^n capped at max, less
/// up to 25% jitter (`jitter01` in [0, 1)).
std::chrono::milliseconds backoff(const retry_policy& p, int retry_index, double jitter01) noexcept;

/// A failed attempt of a request: the error, and the API's answer headers when there was
/// an answer (none for a transport failure).
struct failed_attempt {
    error err;
    std::optional<http_headers> headers; ///< set when the API answered (non-2xx)
    unsigned status = 0;                 ///< the answer's status, 0 for a transport failure
    bool final = false;                  ///< never sent again (e.g. an unreadable 2xx create)
};

/// The failure of an API answer (status != 2xx).
failed_attempt answer_failure(unsigned status, const http_headers& headers, std::string_view body,
                              std::string_view what);

/// The one retry rule: whether a failed attempt may be sent again. A transport failure
/// when is_retryable(); an answer as x-should-retry says, else by its status (408, 409,
/// 429, >= 500); never a final failure.
bool retry_allowed(const failed_attempt& f) noexcept;

/// Whether a transport failure may have happened after the request reached the server
/// (a timeout waiting for the answer, a connection closed mid-response): a create may
/// then have created the batch. A refused or unreachable connection, a DNS failure, a
/// cancellation, or a connection dropped while it was being set up never carried it.
bool maybe_delivered(const boost::system::error_code& ec) noexcept;

/// Whether an API answer leaves a create's outcome unknown: a 5xx other than 529
/// (overloaded is refused before any work).
bool answer_maybe_created(unsigned status) noexcept;

/// The wait before retry `retry_index`: the server's retry-after when given (and sane),
/// else backoff().
std::chrono::milliseconds retry_wait(const retry_policy& p, int retry_index,
                                     const http_headers* headers, double jitter01);

} // namespace aibatch::detail
