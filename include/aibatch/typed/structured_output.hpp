// Layer 4: ask a model for a C++ type and read its answer back.
//
//   auto spec = aibatch::output_spec::for_type<SpamResult>(aibatch::output_mode::tool);
//   aibatch::message_params p; ...; aibatch::apply_output_spec(p, spec);
//   ... later, for the "message" object of a result line:
//   aibatch::output_result<SpamResult> r = aibatch::read_output<SpamResult>(message, spec);
#pragma once

#include <aibatch/api/messages.hpp>
#include <aibatch/typed/schema.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace aibatch {

/// How the model is asked for structured output.
enum class output_mode {
    tool,        ///< forced tool use: works on every model (default)
    json_schema, ///< native structured outputs: output_config.format json_schema
    json_text,   ///< instructions only; the JSON is found in the answer's text
};

std::string_view to_string(output_mode m) noexcept;

/// Why `schema` lies outside the JSON Schema subset of the API's structured outputs
/// (output_config.format), with where ("properties.tags: For 'object' type,
/// 'additionalProperties' must be explicitly set to false"); std::nullopt when inside.
/// The subset (Anthropic's structured-outputs docs, "JSON Schema limitations"): types
/// (one or a list), enum of scalars, const, anyOf, allOf (without $ref), local $ref /
/// $defs / definitions without recursion, description, title, default; objects with
/// properties, required and additionalProperties: false (always set); arrays with items
/// and minItems 0 or 1; strings with the documented formats and patterns without
/// lookaround or backreferences. No numeric bounds, string lengths, maxItems, oneOf,
/// prefixItems, or schema that allows anything.
std::optional<std::string> native_schema_problem(const boost::json::value& schema);

/// Why the API would refuse `schema` as a tool's input_schema for its top-level property
/// names (each must match ^[a-zA-Z0-9_.-]{1,64}$; the API checks the top level only), or
/// std::nullopt. The message names the first such key.
std::optional<std::string> tool_property_key_problem(const boost::json::object& schema);

/// What to ask for and how to read the answer: built once per call, shared by items.
struct output_spec {
    output_mode mode = output_mode::tool;
    std::string name;        ///< tool name (tool mode); the type's name by default
    std::string description; ///< tool description; the type's documentation by default
    boost::json::object schema;

    /// The spec for T in `mode`. In output_mode::json_schema, throws aibatch::error
    /// (errc::invalid_argument) before anything is sent when T's schema lies outside the
    /// structured-output subset (a map, a recursive type, boost::json::value, a
    /// schema_traits schema with unsupported keywords), naming T and suggesting
    /// output_mode::tool, whose tool input_schema takes full JSON Schema. In
    /// output_mode::tool, throws the same way when a top-level property name breaks the
    /// API's rule for a tool's input keys (tool_property_key_problem). Field
    /// constraints (field_doc minimum, min_length, ...) are left out of that schema and
    /// checked by the decoder only.
    template <class T>
    static output_spec for_type(output_mode mode = output_mode::tool) {
        output_spec s;
        s.mode = mode;
        schema_options so;
        if (mode == output_mode::json_schema) {
            so.constraints = false; // keep native schemas plain (decode() still checks)
            so.nullable_optionals = true;
        }
        s.schema = json_schema<T>(so);
        s.name = detail::type_name<T>();
        if (mode == output_mode::json_schema)
            if (auto why = native_schema_problem(boost::json::value(s.schema)))
                throw error(errc::invalid_argument,
                            "output_mode::json_schema cannot express " + s.name +
                                ": its schema is outside the structured-outputs subset (" + *why +
                                "); use output_mode::tool, whose tool input_schema takes "
                                "full JSON Schema");
        if (mode == output_mode::tool)
            if (auto why = tool_property_key_problem(s.schema))
                throw error(errc::invalid_argument,
                            "output_mode::tool cannot carry " + s.name + ": its " + *why +
                                "; rename the member (or the schema_traits key), or use "
                                "output_mode::json_text");
        if constexpr (detail::documented_type<T>)
            s.description = std::string(schema_docs<T>::description);
        else
            s.description = "Record the answer as a " + s.name + " object.";
        return s;
    }
};

/// Adds what the mode needs to params: the tool and tool_choice (tool), the
/// output_config format (json_schema), or the instructions in the system prompt
/// (json_text).
void apply_output_spec(message_params& params, const output_spec& spec);

/// Why an answer did not become a value.
enum class output_failure {
    none,
    no_output,    ///< no tool_use block / no text in the answer
    truncated,    ///< stop_reason max_tokens: the answer was cut off
    refusal,      ///< stop_reason refusal
    invalid_json, ///< the text holds no parsable JSON
    validation,   ///< JSON found, but it does not decode into the type
};

std::string_view to_string(output_failure f) noexcept;

/// The JSON answer found in a message: borrowed from the message (tool mode) or owned
/// (parsed from the text in the text modes). Safe to move.
struct extracted_output {
    output_failure failure = output_failure::none;
    std::string message; ///< what went wrong, when failure != none
    const boost::json::value* borrowed = nullptr;
    boost::json::value owned;
    std::string_view text; ///< the answer's text (text modes), into the message

    /// The answer, or nullptr on failure.
    const boost::json::value* json() const noexcept {
        if (failure != output_failure::none)
            return nullptr;
        return borrowed ? borrowed : &owned;
    }
};

/// Finds the answer in a Message JSON object as the mode says.
extracted_output extract_output(const boost::json::object& message, const output_spec& spec);

/// The first JSON object or array in free text: inside a ``` fence if there is one,
/// else the first balanced {...} / [...] that parses. Tolerates prose around it.
std::optional<boost::json::value> find_json_in_text(std::string_view text);

/// A value, or why not, with the raw output kept for the user.
template <class T>
struct output_result {
    std::optional<T> value;
    output_failure failure = output_failure::none;
    std::string message; ///< e.g. "$.confidence: expected number, got string"
    std::string raw;     ///< the model's output (tool input as JSON, or the text) on failure
};

/// The raw output of a message for a failure report (tool input as JSON, or the text).
std::string raw_output(const boost::json::object& message, const output_spec& spec);

/// Reads a Message JSON object into T.
template <class T>
output_result<T> read_output(const boost::json::object& message, const output_spec& spec,
                             const decode_options& opts = {}) {
    output_result<T> r;
    extracted_output e = extract_output(message, spec);
    if (e.failure == output_failure::none) {
        auto d = decode<T>(*e.json(), opts);
        if (d) {
            r.value.emplace(std::move(*d));
            return r;
        }
        r.failure = output_failure::validation;
        r.message = d.error().to_string();
    } else {
        r.failure = e.failure;
        r.message = std::move(e.message);
    }
    r.raw = raw_output(message, spec);
    return r;
}

} // namespace aibatch
