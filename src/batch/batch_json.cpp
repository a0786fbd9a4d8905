#include <aibatch/batch/batch_json.hpp>

#include <aibatch/api/batches.hpp>

#include <boost/json/parser.hpp>

#include <memory>
#include <optional>

namespace aibatch {

namespace json = boost::json;

namespace {

// What the API's structured outputs refuse and for_type<T>() leaves out of a native schema
// (decode checks them): numeric bounds, lengths, item counts above 1.
void strip_constraints(json::value& v) {
    if (v.is_array()) {
        for (auto& x : v.get_array())
            strip_constraints(x);
        return;
    }
    if (!v.is_object())
        return;
    auto& o = v.get_object();
    for (const char* k : {"minimum", "maximum", "minLength", "maxLength", "maxItems"})
        o.erase(k);
    if (const auto* m = o.if_contains("minItems")) {
        bool small = (m->is_int64() && m->get_int64() <= 1) ||
                     (m->is_uint64() && m->get_uint64() <= 1) ||
                     (m->is_double() && m->get_double() <= 1);
        if (!small)
            o.erase("minItems");
    }
    for (auto& kv : o) {
        std::string_view k = kv.key();
        if (k == "properties" || k == "$defs" || k == "definitions") {
            if (kv.value().is_object())
                for (auto& p : kv.value().get_object())
                    strip_constraints(p.value());
        } else if (k == "items" || k == "additionalProperties" || k == "anyOf") {
            strip_constraints(kv.value());
        }
    }
}

// The lines of run_batch_json(): through the tree (result_line::from_json, as
// result_stream::next() reads them), the output checked by the runtime schema.
struct json_lines {
    const json_validator& validator;
    const output_spec& spec;
    decode_options opts;
    line_head head;
    std::optional<json::value> value;
    std::unique_ptr<json::parser> parser = std::make_unique<json::parser>();

    const line_head* decode(std::string_view text, detail::decode_report& output,
                            std::string& not_json) {
        boost::system::error_code ec;
        parser->reset();
        parser->write(text.data(), text.size(), ec);
        if (ec) {
            not_json = ec.message();
            return nullptr;
        }
        result_line r = result_line::from_json(parser->release());
        head.custom_id = std::move(r.custom_id);
        head.type = r.type;
        head.error = std::move(r.error);
        head.message_id.clear();
        head.stop_reason.clear();
        head.token_usage.reset();
        value.reset();
        if (r.type != result_type::succeeded)
            return &head;
        const json::object& m = r.message;
        if (const auto* id = m.if_contains("id"); id && id->is_string())
            head.message_id = std::string(id->get_string());
        if (const auto* u = m.if_contains("usage"))
            head.token_usage = usage_from_json(*u);
        output = read(m);
        return &head;
    }

    detail::decode_report read(const json::object& m) {
        extracted_output e = extract_output(m, spec);
        if (e.failure != output_failure::none)
            return {false, e.failure, std::move(e.message), raw_output(m, spec)};
        auto d = validator.decode(*e.json(), opts);
        if (!d)
            return {false, output_failure::validation, d.error().to_string(), raw_output(m, spec)};
        value = std::move(*d);
        return {true, output_failure::none, {}, {}};
    }

    std::optional<json::value> take() { return std::move(value); }
};

} // namespace

output_spec output_spec_for_schema(const json_validator& validator, output_mode mode,
                                   std::string name, std::string description) {
    // A tool name is what a custom_id is (1-64 of [A-Za-z0-9_-]).
    if (auto why = check_custom_id(name))
        throw error(errc::invalid_argument, "output name \"" + name + "\" cannot be a tool name (" +
                                                *why +
                                                "); use 1 to 64 letters, digits, '_' or '-'");
    // A tool's input_schema must be {"type":"object",...} (the API refuses every other
    // top level, item by item) and a structured output is a JSON object too.
    const json::object& root = validator.schema();
    const auto* top = root.if_contains("type");
    if (!top || !top->is_string() || top->get_string() != "object")
        throw error(
            errc::invalid_argument,
            "the schema's top level must be {\"type\":\"object\", ...}: a tool's input "
            "and a structured output are JSON objects (a top-level $ref, array or "
            "scalar is refused by the API); put the value in a property, e.g. "
            "{\"type\":\"object\",\"properties\":{\"value\":...},\"required\":[\"value\"]}");
    // The API refuses a tool input_schema whose top-level property keys break
    // ^[a-zA-Z0-9_.-]{1,64}$, item by item.
    if (mode == output_mode::tool)
        if (auto why = tool_property_key_problem(root))
            throw error(errc::invalid_argument, "the schema's " + *why +
                                                    "; rename it (e.g. '_' for spaces), or use "
                                                    "output_mode::json_text");
    output_spec s;
    s.mode = mode;
    s.name = std::move(name);
    s.description = description.empty() ? "Record the answer as a " + s.name + " object."
                                        : std::move(description);
    s.schema = validator.schema();
    if (mode == output_mode::json_schema) {
        json::value sent(s.schema);
        strip_constraints(sent);
        if (auto why = native_schema_problem(sent))
            throw error(errc::invalid_argument,
                        "output_mode::json_schema cannot express " + s.name +
                            ": its schema is outside the structured-outputs subset (" + *why +
                            "); use output_mode::tool, whose tool input_schema takes full JSON "
                            "Schema");
        s.schema = std::move(sent.get_object());
    }
    return s;
}

task<batch_run<json::value>> run_batch_json(const client& c, std::vector<conversation> messages,
                                            std::string model, json_validator validator,
                                            output_spec spec, batch_options opts) {
    // `lines` refers to `spec` and `validator` (this frame's): the engine gets a copy.
    json_lines lines{validator, spec, opts.decode, {}, {}};
    co_return co_await detail::run_batch_with<json::value>(c.state(), messages, std::move(model),
                                                           std::move(opts), spec, std::move(lines));
}

} // namespace aibatch
