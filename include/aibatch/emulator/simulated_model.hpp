// The emulator's simulated model: deterministic answers that conform to the schema a
// request asks for, the per-item validation the real API does, and token estimates.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aibatch::emulator {

/// A small deterministic random generator (splitmix64).
class rng {
public:
    explicit rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next();
    /// Uniform in [0, n); n > 0.
    std::uint64_t below(std::uint64_t n) { return next() % n; }
    bool coin() { return (next() & 1) != 0; }
    /// `prefix` followed by `len` base62 characters ("msg_01...").
    std::string id(std::string_view prefix, std::size_t len = 24);

private:
    std::uint64_t state_;
};

/// Stable 64-bit hash of bytes (FNV-1a), combined with a seed.
std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t seed = 0);

/// The emulator's limits on the schemas it answers (tool input_schema, output_config
/// format schema, a schema in the system prompt). A request whose schema exceeds one is
/// answered with 400 invalid_request_error (a batch item: an errored result) naming it.
inline constexpr double max_min_length = 100'000;           ///< largest minLength
inline constexpr double max_min_items = 10'000;             ///< largest minItems
inline constexpr double max_abs_bound = 9007199254740992.0; ///< |minimum|, |maximum| (2^53)
inline constexpr std::size_t max_generated_bytes = std::size_t{1} << 20; ///< one answer
inline constexpr int max_schema_depth = 32; ///< nesting, $ref hops included

/// Checks a schema against the limits above and for $ref cycles that never produce a
/// value; std::nullopt when the emulator can answer it, else the reason.
std::optional<std::string> check_schema(const boost::json::value& schema);

/// A JSON value that conforms to `schema` (the subset models and aibatch use: type
/// (one or a list, "null" included), enum, const, properties, required,
/// additionalProperties (false, true or a schema), items, prefixItems, minItems,
/// maxItems, anyOf, oneOf, allOf (first), $ref into #/$defs or #/definitions,
/// minLength, maxLength, minimum, maximum, exclusiveMinimum, exclusiveMaximum).
/// Deterministic for a given seed; recursion is cut off at a fixed depth. Total for any
/// input: past max_schema_depth levels or max_generated_bytes of output it produces null
/// (a schema that check_schema() accepts never gets there), sizes are clamped to the
/// limits above.
boost::json::value generate_conforming(const boost::json::value& schema, std::uint64_t seed);

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
/// (native_schema_problem), the per-model rules of the model table
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

/// What the scripted lines of the last user message ask for.
struct script {
    std::optional<std::string> output; ///< EMULATOR_OUTPUT: <json>  (raw JSON text)
    std::optional<std::string> result; ///< EMULATOR_RESULT: errored|expired|canceled
};
script read_script(const boost::json::object& params);

/// Estimated input tokens of a request (about 4 characters a token).
std::uint64_t count_input_tokens(const boost::json::object& params);

/// The simulated answer to valid params: a complete `Message` object (id, type, role,
/// model, content, stop_reason, stop_sequence, stop_details, container, usage).
/// Forced tool use yields one tool_use block conforming to the tool's input_schema;
/// output_config.format json_schema yields one text block of conforming JSON; otherwise
/// a short text. An EMULATOR_OUTPUT line replaces the generated JSON or text.
boost::json::object simulate_message(const boost::json::object& params, std::uint64_t seed,
                                     std::string_view service_tier = "batch");

} // namespace aibatch::emulator
