#include "simulated_model.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/stream_parser.hpp>

#include <algorithm>

namespace aibatch::emulator {

namespace json = boost::json;

namespace {

// All the text of a message's content: a string, or the text blocks of an array.
std::string content_text(const json::value& content) {
    if (content.is_string())
        return std::string(content.get_string());
    std::string out;
    if (content.is_array())
        for (const auto& b : content.get_array())
            if (b.is_object())
                if (auto* t = b.get_object().if_contains("text"); t && t->is_string()) {
                    out += t->get_string();
                    out += '\n';
                }
    return out;
}

std::optional<std::string> line_value(std::string_view text, std::string_view key) {
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos)
            end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
            line.remove_prefix(1);
        if (line.starts_with(key)) {
            line.remove_prefix(key.size());
            while (!line.empty() &&
                   (line.front() == ' ' || line.back() == '\r' || line.back() == ' ')) {
                if (line.front() == ' ')
                    line.remove_prefix(1);
                else
                    line.remove_suffix(1);
            }
            return std::string(line);
        }
        pos = end + 1;
    }
    return std::nullopt;
}

std::uint64_t tokens_for(std::size_t chars) {
    return (chars + 3) / 4;
}

} // namespace

script read_script(const json::object& params) {
    script s;
    const auto* msgs = params.if_contains("messages");
    if (!msgs || !msgs->is_array())
        return s;
    const auto& ma = msgs->get_array();
    for (auto it = ma.rbegin(); it != ma.rend(); ++it) {
        if (!it->is_object())
            continue;
        const auto& m = it->get_object();
        if (!m.contains("role") || m.at("role") != "user" || !m.contains("content"))
            continue;
        std::string text = content_text(m.at("content"));
        s.output = line_value(text, "EMULATOR_OUTPUT:");
        s.result = line_value(text, "EMULATOR_RESULT:");
        break;
    }
    return s;
}

std::uint64_t count_input_tokens(const json::object& params) {
    std::size_t chars = 0;
    if (const auto* sys = params.if_contains("system"))
        chars += sys->is_string() ? sys->get_string().size() : json::serialize(*sys).size();
    if (const auto* msgs = params.if_contains("messages"); msgs && msgs->is_array())
        for (const auto& m : msgs->get_array())
            if (m.is_object() && m.get_object().contains("content"))
                chars += content_text(m.get_object().at("content")).size() + 8;
    if (const auto* tools = params.if_contains("tools"))
        chars += json::serialize(*tools).size();
    if (const auto* oc = params.if_contains("output_config"))
        chars += json::serialize(*oc).size();
    return tokens_for(chars) + 3;
}

namespace {

// The JSON Schema a system prompt asks the answer to conform to ("... JSON Schema ...
// {schema}"), as aibatch's json_text mode and similar instructions put it.
std::optional<json::value> schema_in_system_prompt(const json::object& params) {
    const auto* sys = params.if_contains("system");
    if (!sys || !sys->is_string())
        return std::nullopt;
    std::string_view text = sys->get_string();
    auto at = text.find("JSON Schema");
    if (at == std::string_view::npos)
        return std::nullopt;
    auto open = text.find('{', at);
    if (open == std::string_view::npos)
        return std::nullopt;
    json::stream_parser p;
    boost::system::error_code ec;
    std::size_t used = p.write_some(text.data() + open, text.size() - open, ec);
    (void)used;
    if (ec || !p.done())
        return std::nullopt;
    json::value v = p.release();
    if (!v.is_object() || !v.get_object().contains("type") || check_schema(v))
        return std::nullopt; // a schema the emulator cannot answer: a plain text answer
    return v;
}

} // namespace

json::object simulate_message(const json::object& params, std::uint64_t seed,
                              std::string_view service_tier, const cache_usage& cache) {
    rng r(seed);
    json::object msg;
    msg["id"] = r.id("msg_");
    msg["type"] = "message";
    msg["role"] = "assistant";
    msg["model"] = params.contains("model") ? params.at("model") : json::value("unknown");

    script sc = read_script(params);
    auto scripted_json = [&]() -> std::optional<json::value> {
        if (!sc.output)
            return std::nullopt;
        boost::system::error_code ec;
        auto v = json::parse(*sc.output, ec);
        if (ec)
            return json::value(json::string(*sc.output)); // not JSON: returned as a string
        return v;
    };

    const json::object* forced_tool = nullptr;
    if (const auto* tc = params.if_contains("tool_choice"); tc && tc->is_object()) {
        const auto& tco = tc->get_object();
        const auto* tools = params.if_contains("tools");
        if (tools && tools->is_array() && !tools->get_array().empty()) {
            if (tco.contains("type") && tco.at("type") == "tool" && tco.contains("name")) {
                for (const auto& t : tools->get_array())
                    if (t.is_object() && t.get_object().contains("name") &&
                        t.get_object().at("name") == tco.at("name"))
                        forced_tool = &t.get_object();
            } else if (tco.contains("type") && tco.at("type") == "any") {
                forced_tool = tools->get_array()[0].is_object()
                                  ? &tools->get_array()[0].get_object()
                                  : nullptr;
            }
        }
    }
    const json::value* format_schema = nullptr;
    if (const auto* oc = params.if_contains("output_config"); oc && oc->is_object())
        if (const auto* f = oc->get_object().if_contains("format"); f && f->is_object())
            format_schema = f->get_object().if_contains("schema");

    // Read as an integer: any uint64 is valid JSON (a double would not convert back).
    std::uint64_t max_tokens = 1024;
    if (const auto* mt = params.if_contains("max_tokens")) {
        if (mt->is_uint64())
            max_tokens = mt->get_uint64();
        else if (mt->is_int64())
            max_tokens = mt->get_int64() > 0 ? static_cast<std::uint64_t>(mt->get_int64()) : 0;
    }
    json::array content;
    std::string stop_reason;
    std::size_t out_chars = 0;
    if (forced_tool) {
        json::value input;
        if (auto s = scripted_json())
            input = std::move(*s);
        else
            input = generate_conforming(forced_tool->contains("input_schema")
                                            ? forced_tool->at("input_schema")
                                            : json::value(json::object()),
                                        r.next());
        out_chars = json::serialize(input).size();
        stop_reason = "tool_use";
        if (tokens_for(out_chars) > max_tokens) {
            input = json::object(); // cut off before the input was complete
            stop_reason = "max_tokens";
        }
        json::object block;
        block["type"] = "tool_use";
        block["id"] = r.id("toolu_");
        block["name"] = forced_tool->at("name");
        block["input"] = std::move(input);
        block["caller"] = json::object{{"type", "direct"}};
        content.push_back(std::move(block));
    } else {
        std::string text;
        if (sc.output)
            text = *sc.output;
        else if (format_schema)
            text = json::serialize(generate_conforming(*format_schema, r.next()));
        else if (auto schema = schema_in_system_prompt(params))
            // A model told to answer in JSON does, wrapped in the usual prose and fence.
            text = "Here is the result:\n```json\n" +
                   json::serialize(generate_conforming(*schema, r.next())) + "\n```";
        else
            text = "This is a simulated answer from aibatch-emulator (" +
                   std::string(sample_words[r.below(sample_words.size())]) + ").";
        stop_reason = "end_turn";
        if (tokens_for(text.size()) > max_tokens) {
            text.resize(max_tokens * 4);
            stop_reason = "max_tokens";
        }
        out_chars = text.size();
        content.push_back(json::object{{"type", "text"}, {"text", text}, {"citations", nullptr}});
    }
    msg["content"] = std::move(content);
    msg["stop_reason"] = stop_reason;
    msg["stop_sequence"] = nullptr;
    msg["stop_details"] = nullptr;
    msg["container"] = nullptr;
    json::object usage;
    // The cached prefixes are counted apart: input_tokens is what follows the last one.
    const std::uint64_t all_input = count_input_tokens(params);
    const std::uint64_t cached = cache.read + cache.written();
    usage["input_tokens"] = all_input > cached ? all_input - cached : 0;
    usage["output_tokens"] = std::min<std::uint64_t>(tokens_for(out_chars) + 1, max_tokens);
    usage["cache_creation_input_tokens"] = cache.written();
    usage["cache_read_input_tokens"] = cache.read;
    usage["cache_creation"] = json::object{{"ephemeral_5m_input_tokens", cache.write_5m},
                                           {"ephemeral_1h_input_tokens", cache.write_1h}};
    usage["server_tool_use"] = nullptr;
    usage["service_tier"] = service_tier;
    usage["inference_geo"] = nullptr;
    msg["usage"] = std::move(usage);
    return msg;
}

} // namespace aibatch::emulator
