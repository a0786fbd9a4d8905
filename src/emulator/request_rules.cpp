#include "request_rules.hpp"

#include "prompt_cache.hpp"
#include "schema_values.hpp"

#include <aibatch/api/models.hpp>
#include <aibatch/detail/ascii.hpp>
#include <aibatch/typed/structured_output.hpp>

#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <regex>
#include <unordered_set>
#include <vector>

namespace aibatch::emulator {

namespace json = boost::json;

namespace {

using problem = std::optional<item_error>;

item_error bad(std::string msg) {
    return item_error{"invalid_request_error", std::move(msg)};
}

bool valid_tool_name(std::string_view n) {
    return !n.empty() && n.size() <= 128 && std::all_of(n.begin(), n.end(), [](char c) {
        return aibatch::detail::ascii::is_alnum(c) || c == '_' || c == '-';
    });
}

problem check_fields(const json::object& p) {
    static const std::array allowed = {
        "model",         "messages", "max_tokens",    "cache_control", "container",
        "inference_geo", "metadata", "output_config", "service_tier",  "stop_sequences",
        "stream",        "system",   "temperature",   "thinking",      "tool_choice",
        "tools",         "top_k",    "top_p",         "mcp_servers",   "context_management"};
    for (const auto& [k, v] : p)
        if (std::find(allowed.begin(), allowed.end(), std::string_view(k)) == allowed.end())
            return bad(std::string(k) + ": Extra inputs are not permitted");
    return std::nullopt;
}

// The model, looked up in the model table (`info`), when known and not retired.
problem check_model(const json::object& p, const validation_context& ctx, const model_info*& info) {
    const auto* model = p.if_contains("model");
    if (!model)
        return bad("model: Field required");
    if (!model->is_string())
        return bad("model: Input should be a valid string");
    info = find_model(model->get_string());
    if (!info) // the API answers unknown models with 404
        return item_error{"not_found_error", "model: " + std::string(model->get_string())};
    if (info->retired_on(ctx.today))
        return item_error{"not_found_error", "model: " + std::string(model->get_string()) +
                                                 " reached its end of life on " +
                                                 std::string(info->end_of_life) +
                                                 "; use a current model"};
    return std::nullopt;
}

problem check_max_tokens(const json::object& p) {
    const auto* mt = p.if_contains("max_tokens");
    if (!mt)
        return bad("max_tokens: Field required");
    if (!mt->is_int64() && !mt->is_uint64())
        return bad("max_tokens: Input should be a valid integer");
    if (mt->to_number<double>() < 1)
        return bad("max_tokens: Input should be greater than or equal to 1");
    return std::nullopt;
}

problem check_content_blocks(const json::array& blocks, const std::string& where) {
    for (std::size_t b = 0; b < blocks.size(); ++b) {
        const auto& block = blocks[b];
        if (!block.is_object() || !block.get_object().contains("type"))
            return bad(where + ".content." + std::to_string(b) + ".type: Field required");
        const auto& bo = block.get_object();
        if (bo.at("type") == "text") {
            auto* t = bo.if_contains("text");
            if (!t || !t->is_string())
                return bad(where + ".content." + std::to_string(b) + ".text: Field required");
            if (t->get_string().empty())
                return bad(where + ".content." + std::to_string(b) +
                           ".text: text content blocks must be non-empty");
        }
    }
    return std::nullopt;
}

problem check_messages(const json::object& p) {
    const auto* msgs = p.if_contains("messages");
    if (!msgs)
        return bad("messages: Field required");
    if (!msgs->is_array())
        return bad("messages: Input should be a valid list");
    const auto& ma = msgs->get_array();
    if (ma.empty())
        return bad("messages: at least one message is required");
    for (std::size_t i = 0; i < ma.size(); ++i) {
        std::string where = "messages." + std::to_string(i);
        if (!ma[i].is_object())
            return bad(where + ": Input should be a valid dictionary");
        const auto& m = ma[i].get_object();
        const auto* role = m.if_contains("role");
        if (!role || !role->is_string() || (*role != "user" && *role != "assistant"))
            return bad(where + ".role: Input should be 'user' or 'assistant'");
        std::string r(role->get_string());
        if (i == 0 && r != "user")
            return bad("messages: first message must use the \"user\" role");
        // Consecutive turns of the same role are accepted: the API combines them into one.
        const auto* content = m.if_contains("content");
        if (!content)
            return bad(where + ".content: Field required");
        if (content->is_string()) {
            if (content->get_string().empty() && i + 1 < ma.size())
                return bad(where + ": all messages must have non-empty content except for the "
                                   "optional final assistant message");
            if (content->get_string().empty() && r == "user")
                return bad(where + ": all messages must have non-empty content except for the "
                                   "optional final assistant message");
        } else if (content->is_array()) {
            if (content->get_array().empty() && r == "user")
                return bad(where + ": all messages must have non-empty content except for the "
                                   "optional final assistant message");
            if (auto e = check_content_blocks(content->get_array(), where))
                return e;
        } else {
            return bad(where + ".content: Input should be a valid string or list");
        }
    }
    return std::nullopt;
}

problem check_sampling(const json::object& p) {
    if (const auto* t = p.if_contains("temperature")) {
        if (!t->is_number() || t->to_number<double>() < 0 || t->to_number<double>() > 1)
            return bad("temperature: Input should be less than or equal to 1");
    }
    if (const auto* ss = p.if_contains("stop_sequences"); ss && !ss->is_array())
        return bad("stop_sequences: Input should be a valid list");
    return std::nullopt;
}

bool valid_property_key(std::string_view k) {
    return !k.empty() && k.size() <= 64 && std::all_of(k.begin(), k.end(), [](char c) {
        return aibatch::detail::ascii::is_alnum(c) || c == '_' || c == '.' || c == '-';
    });
}

// The tools, whose names go to `tool_names` (for tool_choice).
problem check_tools(const json::object& p, std::vector<std::string>& tool_names) {
    const auto* tools = p.if_contains("tools");
    if (!tools)
        return std::nullopt;
    if (!tools->is_array())
        return bad("tools: Input should be a valid list");
    for (std::size_t i = 0; i < tools->get_array().size(); ++i) {
        const auto& tv = tools->get_array()[i];
        std::string where = "tools." + std::to_string(i);
        if (!tv.is_object())
            return bad(where + ": Input should be a valid dictionary");
        const auto& t = tv.get_object();
        auto* name = t.if_contains("name");
        if (!name || !name->is_string() || name->get_string().empty())
            return bad(where + ".name: Field required");
        bool custom = !t.contains("type") || t.at("type") == "custom";
        if (custom && !valid_tool_name(name->get_string()))
            return bad(where + ".custom.name: String should match pattern "
                               "'^[a-zA-Z0-9_-]{1,128}$'");
        if (custom) {
            auto* schema = t.if_contains("input_schema");
            if (!schema)
                return bad(where + ".custom.input_schema: Field required");
            if (!schema->is_object())
                return bad(where + ".custom.input_schema: Input should be a valid dictionary");
            auto* st = schema->get_object().if_contains("type");
            if (!st || *st != "object")
                return bad(where + ".custom.input_schema.type: Input should be 'object'");
            // The top level's property keys only, as the API checks them.
            if (const auto* props = schema->get_object().if_contains("properties");
                props && props->is_object())
                for (const auto& kv : props->get_object())
                    if (!valid_property_key(kv.key()))
                        return bad(where + ".custom.input_schema.properties: Property keys "
                                           "should match pattern '^[a-zA-Z0-9_.-]{1,64}$'");
            if (auto why = check_schema(*schema))
                return bad(where + ".custom.input_schema: " + *why);
        }
        tool_names.emplace_back(name->get_string());
    }
    return std::nullopt;
}

problem check_tool_choice(const json::object& p, const std::vector<std::string>& tool_names) {
    const auto* tc = p.if_contains("tool_choice");
    if (!tc)
        return std::nullopt;
    if (!tc->is_object() || !tc->get_object().contains("type"))
        return bad("tool_choice: Input tag not found; expected 'auto', 'any', 'tool' or 'none'");
    const auto& tco = tc->get_object();
    auto type = tco.at("type");
    if (type == "tool") {
        auto* name = tco.if_contains("name");
        if (!name || !name->is_string())
            return bad("tool_choice.tool.name: Field required");
        if (std::find(tool_names.begin(), tool_names.end(), name->get_string()) == tool_names.end())
            return bad("tool_choice: tool '" + std::string(name->get_string()) +
                       "' was not found in the provided `tools`");
    } else if (type == "any") {
        if (tool_names.empty())
            return bad("tool_choice: 'any' requires at least one tool in `tools`");
    } else if (type != "auto" && type != "none") {
        return bad("tool_choice: Input tag '" + json::serialize(type) +
                   "' found using 'type' does not match any of the expected tags: 'auto', "
                   "'any', 'tool', 'none'");
    }
    return std::nullopt;
}

problem check_output_config(const json::object& p) {
    const auto* oc = p.if_contains("output_config");
    if (!oc)
        return std::nullopt;
    if (!oc->is_object())
        return bad("output_config: Input should be a valid dictionary");
    if (const auto* f = oc->get_object().if_contains("format"); f && !f->is_null()) {
        if (!f->is_object() || !f->get_object().contains("type") ||
            f->get_object().at("type") != "json_schema")
            return bad("output_config.format.type: Input should be 'json_schema'");
        const auto* schema = f->get_object().if_contains("schema");
        if (!schema || !schema->is_object())
            return bad("output_config.format.schema: Field required");
        if (auto why = native_schema_problem(*schema))
            return bad("output_config.format.schema: " + *why);
        if (auto why = check_schema(*schema))
            return bad("output_config.format.schema: " + *why);
    }
    return std::nullopt;
}

problem check_thinking(const json::object& p) {
    const auto* th = p.if_contains("thinking");
    if (!th)
        return std::nullopt;
    if (!th->is_object() || !th->get_object().contains("type"))
        return bad("thinking: Input tag not found; expected 'enabled', 'disabled' or "
                   "'adaptive'");
    const auto& t = th->get_object();
    if (t.at("type") == "enabled") {
        const auto* b = t.if_contains("budget_tokens");
        if (!b)
            return bad("thinking.enabled.budget_tokens: Field required");
        if (!b->is_int64() && !b->is_uint64())
            return bad("thinking.enabled.budget_tokens: Input should be a valid integer");
    } else if (t.at("type") != "disabled" && t.at("type") != "adaptive") {
        return bad("thinking: Input tag " + json::serialize(t.at("type")) +
                   " found using 'type' does not match any of the expected tags: 'enabled', "
                   "'disabled', 'adaptive'");
    }
    return std::nullopt;
}

const std::regex& custom_id_pattern() {
    static const std::regex re("^[a-zA-Z0-9_-]{1,64}$");
    return re;
}

} // namespace

bool is_known_model(std::string_view model) {
    return find_model(model) != nullptr;
}

std::optional<item_error> validate_params(const json::value& pv) {
    return validate_params(pv, validation_context{});
}

std::optional<item_error> validate_params(const json::value& pv, const validation_context& ctx) {
    if (!pv.is_object())
        return bad("params: Input should be a valid dictionary");
    const auto& p = pv.get_object();
    if (auto e = check_fields(p))
        return e;
    const model_info* info = nullptr;
    if (auto e = check_model(p, ctx, info))
        return e;
    if (ctx.batch_item)
        if (const auto* st = p.if_contains("stream"); st && st->is_bool() && st->get_bool())
            return bad("stream: streaming is not supported for requests in a message batch");
    if (auto e = check_max_tokens(p))
        return e;
    if (auto e = check_messages(p))
        return e;
    if (auto e = check_sampling(p))
        return e;
    std::vector<std::string> tool_names;
    if (auto e = check_tools(p, tool_names))
        return e;
    if (auto e = check_tool_choice(p, tool_names))
        return e;
    if (auto e = check_output_config(p))
        return e;
    if (auto e = check_thinking(p))
        return e;
    if (auto e = cache_control_problem(p))
        return e;
    if (auto why = model_rule_violation(*info, p))
        return bad(std::move(*why));
    return std::nullopt;
}

std::optional<std::string> batch_body_problem(const json::value& body, std::uint64_t max_requests) {
    if (!body.is_object())
        return "Input should be a valid dictionary";
    for (const auto& [k, v] : body.get_object())
        if (k != "requests")
            return std::string(k) + ": Extra inputs are not permitted";
    const auto* reqs = body.get_object().if_contains("requests");
    if (!reqs)
        return "requests: Field required";
    if (!reqs->is_array())
        return "requests: Input should be a valid list";
    const auto& a = reqs->get_array();
    if (a.empty())
        return "requests: List should have at least 1 item after validation, not 0";
    if (a.size() > max_requests)
        return "requests: List should have at most " + std::to_string(max_requests) +
               " items after validation, not " + std::to_string(a.size());
    std::unordered_set<std::string_view> seen;
    seen.reserve(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        std::string where = "requests." + std::to_string(i);
        if (!a[i].is_object())
            return where + ": Input should be a valid dictionary";
        const auto& item = a[i].get_object();
        for (const auto& [k, v] : item)
            if (k != "custom_id" && k != "params")
                return where + "." + std::string(k) + ": Extra inputs are not permitted";
        const auto* cid = item.if_contains("custom_id");
        if (!cid)
            return where + ".custom_id: Field required";
        if (!cid->is_string())
            return where + ".custom_id: Input should be a valid string";
        std::string_view id = cid->get_string();
        if (!std::regex_match(id.begin(), id.end(), custom_id_pattern()))
            return where + ".custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'";
        if (!seen.insert(id).second)
            return where + ".custom_id: Duplicate custom_id '" + std::string(id) +
                   "'; each custom_id must be unique within a batch";
        const auto* params = item.if_contains("params");
        if (!params)
            return where + ".params: Field required";
        if (!params->is_object())
            return where + ".params: Input should be a valid dictionary";
    }
    return std::nullopt;
}

std::optional<std::string> read_list_query(std::string_view target, list_query& out) {
    auto u = boost::urls::parse_origin_form(target);
    if (!u)
        return std::nullopt;
    for (auto p : u->params()) {
        if (p.key == "limit") {
            char* end = nullptr;
            long v = std::strtol(p.value.c_str(), &end, 10);
            if (p.value.empty() || *end != '\0')
                return "limit: Input should be a valid integer";
            if (v < 1)
                return "limit: Input should be greater than or equal to 1";
            if (v > 1000)
                return "limit: Input should be less than or equal to 1000";
            out.limit = static_cast<std::size_t>(v);
        } else if (p.key == "before_id") {
            out.before_id = p.value;
        } else if (p.key == "after_id") {
            out.after_id = p.value;
        }
    }
    return std::nullopt;
}

} // namespace aibatch::emulator
