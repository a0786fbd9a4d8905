#include <aibatch/typed/structured_output.hpp>

#include <aibatch/detail/ascii.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <string_view>

namespace aibatch {

std::optional<std::string> tool_property_key_problem(const boost::json::object& schema) {
    const auto* props = schema.if_contains("properties");
    if (!props || !props->is_object())
        return std::nullopt;
    for (const auto& kv : props->get_object()) {
        const std::string_view k = kv.key();
        const bool ok = !k.empty() && k.size() <= 64 && std::all_of(k.begin(), k.end(), [](char c) {
            return detail::ascii::is_alnum(c) || c == '_' || c == '.' || c == '-';
        });
        if (!ok)
            return "property \"" + std::string(k) +
                   "\" cannot be a key of a tool's input_schema (the API refuses keys outside "
                   "^[a-zA-Z0-9_.-]{1,64}$)";
    }
    return std::nullopt;
}

namespace json = boost::json;

std::string_view to_string(output_mode m) noexcept {
    switch (m) {
    case output_mode::tool:
        return "tool";
    case output_mode::json_schema:
        return "json_schema";
    case output_mode::json_text:
        return "json_text";
    }
    return "unknown";
}

std::string_view to_string(output_failure f) noexcept {
    switch (f) {
    case output_failure::none:
        return "none";
    case output_failure::no_output:
        return "no_output";
    case output_failure::truncated:
        return "truncated";
    case output_failure::refusal:
        return "refusal";
    case output_failure::invalid_json:
        return "invalid_json";
    case output_failure::validation:
        return "validation";
    }
    return "unknown";
}

void apply_output_spec(message_params& params, const output_spec& spec) {
    switch (spec.mode) {
    case output_mode::tool:
        params.tools.push_back(tool_definition{spec.name, spec.description, spec.schema});
        params.tool_choice = tool_choice{"tool", spec.name, std::nullopt};
        break;
    case output_mode::json_schema:
        params.output_schema = spec.schema;
        break;
    case output_mode::json_text: {
        std::string instructions =
            "Answer with only a JSON object that conforms to this JSON Schema, without any "
            "other text:\n" +
            json::serialize(spec.schema);
        if (params.system && !params.system->empty())
            *params.system += "\n\n" + instructions;
        else
            params.system = std::move(instructions);
        break;
    }
    }
}

namespace {

const json::array* content_of(const json::object& message) {
    const auto* c = message.if_contains("content");
    return c && c->is_array() ? &c->get_array() : nullptr;
}

std::string_view stop_reason_of(const json::object& message) {
    const auto* s = message.if_contains("stop_reason");
    return s && s->is_string() ? std::string_view(s->get_string()) : std::string_view();
}

// The text of the first text block (enough for both text modes; a model answers
// structured output in one block).
std::string_view first_text(const json::object& message) {
    if (const auto* c = content_of(message))
        for (const auto& b : *c)
            if (b.is_object()) {
                const auto& bo = b.get_object();
                const auto* t = bo.if_contains("type");
                const auto* text = bo.if_contains("text");
                if (t && *t == "text" && text && text->is_string())
                    return text->get_string();
            }
    return {};
}

const json::value* tool_input(const json::object& message, std::string_view name) {
    if (const auto* c = content_of(message))
        for (const auto& b : *c)
            if (b.is_object()) {
                const auto& bo = b.get_object();
                const auto* t = bo.if_contains("type");
                const auto* n = bo.if_contains("name");
                if (t && *t == "tool_use" && n && n->is_string() && n->get_string() == name)
                    return bo.if_contains("input");
            }
    return nullptr;
}

std::optional<json::value> try_parse(std::string_view s) {
    boost::system::error_code ec;
    auto v = json::parse(s, ec);
    if (ec || !(v.is_object() || v.is_array()))
        return std::nullopt;
    return v;
}

// End of the balanced JSON value starting at text[start] ('{' or '['), strings aware.
std::size_t balanced_end(std::string_view text, std::size_t start) {
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = start; i < text.size(); ++i) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"')
            in_string = true;
        else if (c == '{' || c == '[')
            ++depth;
        else if (c == '}' || c == ']') {
            if (--depth == 0)
                return i + 1;
        }
    }
    return std::string_view::npos;
}

} // namespace

std::optional<json::value> find_json_in_text(std::string_view text) {
    // 1. A fenced block: ```json ... ``` (or any language tag, or none).
    std::size_t fence = text.find("```");
    while (fence != std::string_view::npos) {
        std::size_t body = text.find('\n', fence + 3);
        if (body == std::string_view::npos)
            break;
        std::size_t close = text.find("```", body + 1);
        if (close == std::string_view::npos)
            break;
        if (auto v = try_parse(text.substr(body + 1, close - body - 1)))
            return v;
        fence = text.find("```", close + 3);
    }
    // 2. The first balanced object or array that parses.
    int attempts = 0;
    for (std::size_t i = text.find_first_of("{["); i != std::string_view::npos && attempts < 32;
         i = text.find_first_of("{[", i + 1), ++attempts) {
        std::size_t end = balanced_end(text, i);
        if (end == std::string_view::npos)
            continue;
        if (auto v = try_parse(text.substr(i, end - i)))
            return v;
    }
    return std::nullopt;
}

extracted_output extract_output(const json::object& message, const output_spec& spec) {
    extracted_output e;
    std::string_view stop = stop_reason_of(message);
    auto fail = [&](output_failure f, std::string msg) {
        e.failure = f;
        e.message = std::move(msg);
        e.borrowed = nullptr;
        return std::move(e);
    };
    if (stop == "refusal")
        return fail(output_failure::refusal, "the model refused to answer (stop_reason refusal)");
    if (stop == "max_tokens")
        return fail(output_failure::truncated,
                    "the answer was cut off at max_tokens; raise max_tokens");
    switch (spec.mode) {
    case output_mode::tool: {
        e.borrowed = tool_input(message, spec.name);
        if (!e.borrowed)
            return fail(output_failure::no_output, "the answer has no tool_use block named \"" +
                                                       spec.name + "\" (stop_reason " +
                                                       std::string(stop) + ")");
        return e;
    }
    case output_mode::json_schema:
    case output_mode::json_text: {
        e.text = first_text(message);
        if (e.text.empty())
            return fail(output_failure::no_output, "the answer has no text block");
        std::optional<json::value> v;
        if (spec.mode == output_mode::json_schema)
            v = try_parse(e.text);
        if (!v)
            v = find_json_in_text(e.text);
        if (!v)
            return fail(output_failure::invalid_json, "the answer's text holds no JSON object");
        e.owned = std::move(*v);
        return e;
    }
    }
    return e;
}

std::string raw_output(const json::object& message, const output_spec& spec) {
    if (spec.mode == output_mode::tool)
        if (const auto* in = tool_input(message, spec.name))
            return json::serialize(*in);
    std::string text(first_text(message));
    if (!text.empty())
        return text;
    if (const auto* c = content_of(message))
        return json::serialize(*c);
    return {};
}

} // namespace aibatch
