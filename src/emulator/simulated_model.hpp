// The emulator's simulated model: the scripted lines a request may carry, token estimates,
// and deterministic answers that conform to the schema a request asks for. Params are
// checked before (request_rules.hpp); values come from schema_values.hpp.
#pragma once

#include "prompt_cache.hpp"
#include "request_rules.hpp"
#include "rng.hpp"
#include "schema_values.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aibatch::emulator {

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
/// a short text. An EMULATOR_OUTPUT line replaces the generated JSON or text. `cache`
/// (prompt_cache::use) is the usage's cache part; input_tokens counts what it leaves.
boost::json::object simulate_message(const boost::json::object& params, std::uint64_t seed,
                                     std::string_view service_tier = "batch",
                                     const cache_usage& cache = {});

} // namespace aibatch::emulator
