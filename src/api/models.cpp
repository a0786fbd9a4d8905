#include <aibatch/api/models.hpp>
#include <aibatch/detail/c_locale.hpp>
#include <aibatch/error.hpp>

#include <boost/json/value.hpp>

#include <array>

namespace aibatch {

namespace json = boost::json;

namespace {

constexpr model_info table[] = {
#include "model_table.inc"
};

// A number as the API prints it ("1", "0.5", "999999").
std::string number(double d) {
    return detail::c_format(d, 15); // with a point whatever the locale
}

std::optional<double> number_field(const json::object& o, std::string_view key) {
    if (const auto* v = o.if_contains(key); v && v->is_number())
        return v->to_number<double>();
    return std::nullopt;
}

struct violation {
    std::string message; ///< the API's words where known
    std::string fix;     ///< what to do instead
};

// Whether the last turn is an assistant turn (a prefill).
bool ends_with_assistant_turn(const json::object& params) {
    const auto* msgs = params.if_contains("messages");
    if (!msgs || !msgs->is_array() || msgs->get_array().empty())
        return false;
    const auto& last = msgs->get_array().back();
    if (!last.is_object())
        return false;
    const auto* role = last.get_object().if_contains("role");
    return role && role->is_string() && role->get_string() == "assistant";
}

std::optional<violation> first_violation(const model_info& m, const json::object& p) {
    std::string id(m.api_id());
    if (const auto* mt = p.if_contains("max_tokens"); mt && mt->is_number()) {
        double v = mt->to_number<double>();
        if (v > static_cast<double>(m.max_output_tokens))
            return violation{"max_tokens: " + number(v) + " > " +
                                 std::to_string(m.max_output_tokens) +
                                 ", which is the maximum allowed number of output tokens for " + id,
                             "lower max_tokens to at most " + std::to_string(m.max_output_tokens)};
    }
    if (m.restricted_sampling) {
        if (auto t = number_field(p, "temperature"); t && *t != 1.0)
            return violation{"temperature: " + id +
                                 " does not support setting temperature (models released after "
                                 "Claude Opus 4.6 accept only 1.0); got " +
                                 number(*t),
                             "leave temperature unset"};
        if (auto t = number_field(p, "top_p"); t && *t < 0.99)
            return violation{"top_p: " + id +
                                 " does not support setting top_p (models released after Claude "
                                 "Opus 4.6 accept only values >= 0.99); got " +
                                 number(*t),
                             "leave top_p unset"};
        if (p.contains("top_k"))
            return violation{"top_k: " + id +
                                 " does not accept top_k (models released after Claude Opus 4.6)",
                             "leave top_k unset"};
    }
    const json::object* format = nullptr;
    if (const auto* oc = p.if_contains("output_config"); oc && oc->is_object())
        if (const auto* f = oc->get_object().if_contains("format"); f && f->is_object())
            format = &f->get_object();
    if (format && !m.structured_outputs)
        return violation{"output_config.format: " + id +
                             " does not support structured outputs (they need Claude Opus "
                             "4.5/4.6, Sonnet 4.5/4.6, Haiku 4.5 or a newer model)",
                         "use output_mode::tool (forced tool use works on every model) or a "
                         "newer model"};
    if (format && ends_with_assistant_turn(p))
        return violation{"output_config.format: structured outputs are not compatible with a "
                         "prefilled final assistant turn",
                         "end the conversation with a user turn, or use output_mode::tool"};
    if (const auto* th = p.if_contains("thinking"); th && th->is_object()) {
        const auto& t = th->get_object();
        const auto* type = t.if_contains("type");
        if (type && type->is_string() && type->get_string() == "enabled") {
            if (const auto* tc = p.if_contains("tool_choice"); tc && tc->is_object()) {
                const auto* tt = tc->get_object().if_contains("type");
                if (tt && tt->is_string() &&
                    (tt->get_string() == "tool" || tt->get_string() == "any"))
                    return violation{"Thinking may not be enabled when tool_choice forces tool "
                                     "use.",
                                     "use tool_choice auto (or none) with thinking, or "
                                     "output_mode::json_schema / json_text, which force no tool"};
            }
            if (auto b = number_field(t, "budget_tokens")) {
                if (*b < 1024)
                    return violation{"thinking.enabled.budget_tokens: Input should be greater "
                                     "than or equal to 1024",
                                     "set budget_tokens to at least 1024"};
                if (auto mt = number_field(p, "max_tokens"); mt && *b >= *mt)
                    return violation{"max_tokens must be greater than thinking.budget_tokens",
                                     "raise max_tokens above budget_tokens (" + number(*b) + ")"};
            }
        }
    }
    return std::nullopt;
}

} // namespace

bool model_info::retired_on(std::chrono::sys_days day) const noexcept {
    if (end_of_life.size() != 10)
        return false;
    auto digits = [&](std::size_t at, std::size_t n) {
        int v = 0;
        for (std::size_t i = at; i < at + n; ++i)
            v = v * 10 + (end_of_life[i] - '0');
        return v;
    };
    std::chrono::year_month_day eol{std::chrono::year(digits(0, 4)),
                                    std::chrono::month(static_cast<unsigned>(digits(5, 2))),
                                    std::chrono::day(static_cast<unsigned>(digits(8, 2)))};
    return day >= std::chrono::sys_days(eol);
}

std::span<const model_info> known_models() noexcept {
    return table;
}

const model_info* find_model(std::string_view id) noexcept {
    for (const auto& m : table)
        if (m.alias == id || (!m.snapshot.empty() && m.snapshot == id))
            return &m;
    return nullptr;
}

std::optional<std::string> model_rule_violation(const model_info& model,
                                                const json::object& params) {
    if (auto v = first_violation(model, params))
        return std::move(v->message);
    return std::nullopt;
}

void check_model_rules(const json::object& params, std::string_view what) {
    const auto* mv = params.if_contains("model");
    if (!mv || !mv->is_string())
        return;
    const model_info* m = find_model(mv->get_string());
    if (!m)
        return;
    if (auto v = first_violation(*m, params))
        throw error(errc::invalid_argument,
                    std::string(what) + ": " + std::string(mv->get_string()) + " (" +
                        std::string(m->name) + ") would refuse this request: " + v->message + "; " +
                        v->fix);
}

} // namespace aibatch
