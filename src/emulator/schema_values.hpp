// JSON Schema values for the simulated model: the emulator's limits on the schemas it
// answers, the check of a schema against them, and the generator of conforming values.
#pragma once

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace aibatch::emulator {

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

} // namespace aibatch::emulator
