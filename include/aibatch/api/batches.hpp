// Wire types of the Message Batches API: the batch object, list pages, one request of a
// batch and one line of its results. JSON conversion lives in src/api/batches.cpp.
#pragma once

#include <aibatch/api/messages.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace aibatch {

using timestamp = std::chrono::system_clock::time_point;

/// Parses an RFC 3339 timestamp ("2024-08-20T18:37:24.100435Z", offsets allowed).
/// std::nullopt when it does not parse, names a day the month does not have, or lies
/// outside what a system_clock time_point holds (about the years 1678-2262).
std::optional<timestamp> parse_rfc3339(std::string_view s);
/// "2024-08-20T18:37:24.100435Z" (UTC, microseconds).
std::string format_rfc3339(timestamp t);

enum class processing_status { in_progress, canceling, ended };
std::string_view to_string(processing_status s) noexcept;

/// Tallies of a batch's requests. All but `processing` stay 0 until the batch has ended.
struct request_counts {
    std::uint64_t processing = 0;
    std::uint64_t succeeded = 0;
    std::uint64_t errored = 0;
    std::uint64_t canceled = 0;
    std::uint64_t expired = 0;

    std::uint64_t total() const noexcept {
        return processing + succeeded + errored + canceled + expired;
    }
    request_counts& operator+=(const request_counts& o) noexcept;
    bool operator==(const request_counts&) const = default;
};

/// The MessageBatch object, every field.
struct batch_info {
    std::string id;   ///< "msgbatch_..."
    std::string type; ///< "message_batch"
    processing_status status = processing_status::in_progress;
    aibatch::request_counts request_counts;
    timestamp created_at{};
    timestamp expires_at{};
    std::optional<timestamp> ended_at;
    std::optional<timestamp> archived_at;
    std::optional<timestamp> cancel_initiated_at;
    std::optional<std::string> results_url; ///< set once ended

    bool ended() const noexcept { return status == processing_status::ended; }

    /// Throws aibatch::error (errc::bad_response) naming the field that is missing or
    /// malformed.
    static batch_info from_json(const boost::json::value& v);
};

/// One request of a batch: a custom id (^[a-zA-Z0-9_-]{1,64}$, unique in the batch) and
/// the Messages params.
struct batch_request {
    std::string custom_id;
    message_params params;
};

/// Checks a custom id as the API does; std::nullopt when fine, else the reason.
std::optional<std::string> check_custom_id(std::string_view id);

/// The create body {"requests":[...]} for requests, appended to `out` (no intermediate
/// JSON tree for the whole batch).
void serialize_create_body(std::span<const batch_request> requests, std::string& out);

/// Options of one list call.
struct list_options {
    std::optional<unsigned> limit = {}; ///< 1..1000 (API default 20)
    std::optional<std::string> before_id = {};
    std::optional<std::string> after_id = {};
};

/// One page of batches, newest first.
struct batch_page {
    std::vector<batch_info> data;
    bool has_more = false;
    std::optional<std::string> first_id;
    std::optional<std::string> last_id;

    static batch_page from_json(const boost::json::value& v);
};

/// DeleteMessageBatchResponse.
struct deleted_batch {
    std::string id;
    std::string type; ///< "message_batch_deleted"
};

enum class result_type { succeeded, errored, canceled, expired };
std::string_view to_string(result_type t) noexcept;

/// The error of an errored result (the ErrorResponse inside it).
struct api_error_info {
    std::string type; ///< e.g. "invalid_request_error"
    std::string message;
    std::string request_id;
};

/// One line of a batch's results.
struct result_line {
    std::string custom_id;
    result_type type = result_type::succeeded;
    /// The Message object (succeeded only), as JSON: read it with read_output<T>() or
    /// aibatch::message::from_json().
    boost::json::object message;
    api_error_info error; ///< errored only

    /// Throws aibatch::error (errc::bad_response) when the line is not a
    /// MessageBatchIndividualResponse.
    static result_line from_json(boost::json::value&& v);
};

} // namespace aibatch
