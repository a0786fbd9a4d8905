// The emulator's rules table: what the API refuses in a request body or query, with the
// API's status type and wording. Pure functions of the request (and the day), no state:
// the Messages params of POST /v1/messages, count_tokens and each batch item, the body of
// a batch create, the query of a batch list. The per-model rules themselves are the
// library's model table (aibatch/models.hpp: model_rule_violation, native_schema_problem).
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aibatch::emulator {

/// A per-item failure as the API reports it inside an `errored` result.
struct item_error {
    std::string type;    ///< e.g. "invalid_request_error"
    std::string message; ///< e.g. "max_tokens: Field required"
};

/// Where and when params are checked.
struct validation_context {
    bool batch_item = false; ///< a request inside a batch: `stream: true` is refused
    /// End-of-life dates of the model table are compared with this day (the emulator's
    /// clock, or options::today).
    std::chrono::sys_days today =
        std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
};

/// Checks one request's `params` as the API does per item: required fields, a known
/// model that has not reached its end of life (else not_found_error), positive
/// max_tokens, non-empty messages starting with "user" (consecutive same-role turns are
/// accepted: the API combines them), non-empty content, tool names matching
/// ^[a-zA-Z0-9_-]{1,128}$, tools and tool_choice consistent, temperature range, thinking
/// shape, output_config.format within the structured-outputs subset
/// (native_schema_problem), cache_control breakpoints (cache_control_problem in
/// prompt_cache.hpp), the per-model rules of the model table
/// (model_rule_violation: max_tokens cap, sampling, structured-output support, prefill,
/// thinking with tool_choice and budget), and `stream` in a batch. std::nullopt when the
/// params are fine.
std::optional<item_error> validate_params(const boost::json::value& params,
                                          const validation_context& ctx);
/// validate_params with the default context (not a batch item, today).
std::optional<item_error> validate_params(const boost::json::value& params);

/// Whether `model` is an id or alias of the model table (models.hpp), which holds every id
/// of the API's `Model` schema.
bool is_known_model(std::string_view model);

/// Checks the parsed body of POST /v1/messages/batches as the API does before creating a
/// batch: an object with only `requests`, a list of 1 to `max_requests` items, each with
/// only a unique `custom_id` matching ^[a-zA-Z0-9_-]{1,64}$ and a `params` object (whose
/// contents are checked per item, later). std::nullopt when fine, else the
/// invalid_request_error message.
std::optional<std::string> batch_body_problem(const boost::json::value& body,
                                              std::uint64_t max_requests);

/// The query of GET /v1/messages/batches.
struct list_query {
    std::size_t limit = 20;
    std::string before_id, after_id;
};
/// Reads `limit` (an integer in [1, 1000]), `before_id` and `after_id` from a request
/// target ("/v1/messages/batches?limit=5"); other parameters are ignored. Returns the
/// invalid_request_error message when `limit` is not valid.
std::optional<std::string> read_list_query(std::string_view target, list_query& out);

} // namespace aibatch::emulator
