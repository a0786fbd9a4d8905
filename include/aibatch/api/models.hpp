// What aibatch knows of Anthropic's models: one table (src/api/model_table.inc, generated and
// checked against the OpenAPI description by scripts/gen-known-models) that the client's
// checks, the price estimates and the emulator all read.
//
//   if (const aibatch::model_info* m = aibatch::find_model("claude-haiku-4-5"))
//       std::cout << m->max_output_tokens;  // 64000
//
// The rules below are the ones the API enforces per model (a 400 for a Messages call, an
// `errored` line in a batch). The client checks them before it sends anything; a model the
// table does not know passes unchecked (new models appear faster than releases).
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace aibatch {

/// One model: its alias and dated snapshot id (either names it), and its limits.
struct model_info {
    std::string_view alias;             ///< "claude-haiku-4-5"
    std::string_view snapshot;          ///< "claude-haiku-4-5-20251001"; empty when none
    std::string_view name;              ///< "Claude Haiku 4.5"
    std::int64_t max_output_tokens = 0; ///< the largest max_tokens the API accepts
    bool structured_outputs = false;    ///< accepts output_config.format (json_schema)
    bool restricted_sampling = false;   ///< released after Claude Opus 4.6: temperature
                                        ///< only 1.0, top_p only >= 0.99, no top_k
    std::string_view end_of_life;       ///< "YYYY-MM-DD" from the OpenAPI notes, or empty
    double input_per_mtok = 0;          ///< list price, USD per million input tokens
    double output_per_mtok = 0;         ///< list price, USD per million output tokens

    /// The id the API names in its messages: the snapshot when there is one.
    std::string_view api_id() const noexcept { return snapshot.empty() ? alias : snapshot; }
    /// Whether the model has reached its end of life on `day` (then the API answers
    /// not_found_error).
    bool retired_on(std::chrono::sys_days day) const noexcept;
};

/// Every model of the table, newest first.
std::span<const model_info> known_models() noexcept;

/// The model an id or alias names, or nullptr when the table does not know it.
const model_info* find_model(std::string_view id) noexcept;

/// The first per-model rule that `params` (the JSON params of one Messages request) breaks,
/// as the API words it where its wording is known; std::nullopt when none. The rules:
/// max_tokens at most max_output_tokens; on restricted_sampling models temperature only
/// 1.0, top_p only >= 0.99, no top_k; output_config.format only on models with
/// structured_outputs, and not with a prefilled final assistant turn; extended thinking
/// ("enabled") only with tool_choice auto/none and 1024 <= budget_tokens < max_tokens.
std::optional<std::string> model_rule_violation(const model_info& model,
                                                const boost::json::object& params);

/// Throws aibatch::error (errc::invalid_argument) naming the model, the rule and the fix
/// when `params` break a rule of their model (model_rule_violation); does nothing for a
/// model the table does not know. `what` starts the message ("batch", "create_batch").
void check_model_rules(const boost::json::object& params, std::string_view what);

} // namespace aibatch
