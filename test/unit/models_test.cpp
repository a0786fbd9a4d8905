// The model table (models.hpp), the prices read from it, and the per-model rules the
// client checks before sending.
#include <aibatch/api/models.hpp>
#include <aibatch/api/pricing.hpp>
#include <aibatch/error.hpp>

#include <boost/json.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <set>

namespace json = boost::json;
namespace data = boost::unit_test::data;

namespace {

struct listed_price {
    const char* id;
    double input, output; // USD per million tokens, standard API (Anthropic's pricing page)
};

std::ostream& operator<<(std::ostream& os, const listed_price& p) {
    return os << p.id;
}

// Every id and alias of the table with its list price.
const listed_price listed[] = {
    {"claude-opus-4-7", 5, 25},
    {"claude-mythos-preview", 25, 125},
    {"claude-opus-4-6", 5, 25},
    {"claude-sonnet-4-6", 3, 15},
    {"claude-haiku-4-5", 1, 5},
    {"claude-haiku-4-5-20251001", 1, 5},
    {"claude-opus-4-5", 5, 25},
    {"claude-opus-4-5-20251101", 5, 25},
    {"claude-sonnet-4-5", 3, 15},
    {"claude-sonnet-4-5-20250929", 3, 15},
    {"claude-opus-4-1", 15, 75},
    {"claude-opus-4-1-20250805", 15, 75},
    {"claude-opus-4-0", 15, 75},
    {"claude-opus-4-20250514", 15, 75},
    {"claude-sonnet-4-0", 3, 15},
    {"claude-sonnet-4-20250514", 3, 15},
    {"claude-3-haiku-20240307", 0.25, 1.25},
};

json::object params(std::string_view model, std::int64_t max_tokens = 1024) {
    return json::object{
        {"model", model},
        {"max_tokens", max_tokens},
        {"messages", json::array{json::object{{"role", "user"}, {"content", "hello"}}}}};
}

std::string violation(const json::object& p) {
    const auto* m = aibatch::find_model(p.at("model").as_string());
    BOOST_TEST_REQUIRE(m != nullptr);
    return aibatch::model_rule_violation(*m, p).value_or("");
}

} // namespace

BOOST_AUTO_TEST_SUITE(pricing)

BOOST_DATA_TEST_CASE(each_listed_model_has_its_exact_price, data::make(listed), p) {
    auto price = aibatch::find_price(p.id);
    BOOST_TEST_REQUIRE(price.has_value());
    BOOST_TEST(price->input_per_mtok == p.input);
    BOOST_TEST(price->output_per_mtok == p.output);
}

BOOST_AUTO_TEST_CASE(the_price_list_covers_every_id_of_the_model_table) {
    std::set<std::string_view> priced;
    for (const auto& p : listed)
        priced.insert(p.id);
    std::set<std::string_view> ids;
    for (const auto& m : aibatch::known_models()) {
        ids.insert(m.alias);
        if (!m.snapshot.empty())
            ids.insert(m.snapshot);
    }
    BOOST_TEST(priced == ids, "a model of the table lacks a price test, or the reverse");
}

BOOST_AUTO_TEST_CASE(unknown_and_prefix_only_ids_have_no_price) {
    for (const char* id : {"claude-opus-4-8", "claude-opus-4", "claude-opus", "claude-sonnet-4",
                           "claude-haiku", "claude-3-5-haiku", "claude-haiku-4-5-x", "gpt-4o", ""})
        BOOST_TEST(!aibatch::find_price(id).has_value(), id);
}

BOOST_AUTO_TEST_CASE(batch_cost_is_half_the_standard_price) {
    auto p = *aibatch::find_price("claude-opus-4-6");
    aibatch::usage u;
    u.input_tokens = 1'000'000;
    u.output_tokens = 1'000'000;
    BOOST_TEST(aibatch::batch_cost(u, p) == (5.0 + 25.0) / 2);
}

// Found by review s13: every cache write was priced at the 5-minute rate (1.25x input);
// a 1-hour write costs 2x input (usage.cache_creation.ephemeral_1h_input_tokens), and
// batches, which can run past 5 minutes, are where the 1-hour cache is used.
BOOST_AUTO_TEST_CASE(cache_writes_are_priced_by_their_duration) {
    auto p = *aibatch::find_price("claude-opus-4-6"); // $5 per million input tokens
    aibatch::usage u;
    u.cache_creation_input_tokens = 3'000'000;    // of which
    u.cache_creation_1h_input_tokens = 1'000'000; // one million for an hour
    u.cache_read_input_tokens = 1'000'000;
    BOOST_TEST(aibatch::batch_cost(u, p) ==
                   (2'000'000 * 5.0 * 1.25 + 1'000'000 * 5.0 * 2.0 + 1'000'000 * 5.0 * 0.1) / 1e6 /
                       2,
               boost::test_tools::tolerance(1e-12));
    // more 1-hour tokens than writes (a malformed usage): never a negative 5-minute part
    u.cache_creation_input_tokens = 0;
    BOOST_TEST(aibatch::batch_cost(u, p) ==
                   (1'000'000 * 5.0 * 2.0 + 1'000'000 * 5.0 * 0.1) / 1e6 / 2,
               boost::test_tools::tolerance(1e-12));
    aibatch::usage sum = u;
    sum += u;
    BOOST_TEST(sum.cache_creation_1h_input_tokens == 2'000'000u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(model_rules)

BOOST_AUTO_TEST_CASE(aliases_and_snapshots_name_the_same_model) {
    BOOST_TEST(aibatch::find_model("claude-haiku-4-5") ==
               aibatch::find_model("claude-haiku-4-5-20251001"));
    BOOST_TEST(aibatch::find_model("claude-opus-4-0") ==
               aibatch::find_model("claude-opus-4-20250514"));
    BOOST_TEST(aibatch::find_model("claude-haiku-4") == nullptr);
}

BOOST_AUTO_TEST_CASE(end_of_life_is_compared_with_the_day) {
    using namespace std::chrono;
    const auto* m = aibatch::find_model("claude-sonnet-4-0");
    BOOST_TEST(!m->retired_on(sys_days(2026y / June / 14)));
    BOOST_TEST(m->retired_on(sys_days(2026y / June / 15)));
    BOOST_TEST(!aibatch::find_model("claude-haiku-4-5")->retired_on(sys_days(2100y / 1 / 1)));
}

BOOST_AUTO_TEST_CASE(max_tokens_above_the_cap_is_named_with_the_snapshot_id) {
    BOOST_TEST(violation(params("claude-haiku-4-5", 999999)) ==
               "max_tokens: 999999 > 64000, which is the maximum allowed number of output tokens "
               "for claude-haiku-4-5-20251001");
    BOOST_TEST(violation(params("claude-haiku-4-5", 64000)).empty());
    BOOST_TEST(violation(params("claude-opus-4-6", 128000)).empty());
}

BOOST_AUTO_TEST_CASE(models_after_opus_4_6_refuse_sampling_parameters) {
    auto p = params("claude-opus-4-7");
    p["temperature"] = 0.2;
    BOOST_TEST(violation(p).find("temperature: claude-opus-4-7") == 0u, violation(p));
    p["temperature"] = 1.0;
    BOOST_TEST(violation(p).empty());
    p["top_p"] = 0.5;
    BOOST_TEST(violation(p).find("top_p") == 0u);
    p["top_p"] = 0.99;
    BOOST_TEST(violation(p).empty());
    p["top_k"] = 5;
    BOOST_TEST(violation(p).find("top_k") == 0u);
    // Opus 4.6 and Sonnet 4.6 (the 4.6 generation) keep them.
    for (const char* id : {"claude-opus-4-6", "claude-sonnet-4-6"}) {
        auto q = params(id);
        q["temperature"] = 0.2;
        q["top_k"] = 5;
        BOOST_TEST(violation(q).empty(), id);
    }
}

BOOST_AUTO_TEST_CASE(thinking_with_a_forced_tool_or_a_bad_budget_is_refused) {
    auto p = params("claude-sonnet-4-5", 4096);
    p["thinking"] = json::object{{"type", "enabled"}, {"budget_tokens", 2048}};
    BOOST_TEST(violation(p).empty());
    p["tool_choice"] = json::object{{"type", "tool"}, {"name", "answer"}};
    BOOST_TEST(violation(p) == "Thinking may not be enabled when tool_choice forces tool use.");
    p["tool_choice"] = json::object{{"type", "any"}};
    BOOST_TEST(!violation(p).empty());
    p["tool_choice"] = json::object{{"type", "auto"}};
    BOOST_TEST(violation(p).empty());
    p["thinking"] = json::object{{"type", "enabled"}, {"budget_tokens", 512}};
    BOOST_TEST(violation(p).find("budget_tokens") != std::string::npos);
    p["thinking"] = json::object{{"type", "enabled"}, {"budget_tokens", 4096}};
    BOOST_TEST(violation(p) == "max_tokens must be greater than thinking.budget_tokens");
}

BOOST_AUTO_TEST_CASE(structured_outputs_need_a_model_that_has_them_and_no_prefill) {
    auto p = params("claude-opus-4-1");
    p["output_config"] =
        json::object{{"format", json::object{{"type", "json_schema"}, {"schema", json::object{}}}}};
    BOOST_TEST(violation(p).find("does not support structured outputs") != std::string::npos);
    p["model"] = "claude-haiku-4-5";
    BOOST_TEST(violation(p).empty());
    p["messages"].as_array().push_back(json::object{{"role", "assistant"}, {"content", "{"}});
    BOOST_TEST(violation(p).find("prefilled") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(check_model_rules_names_model_rule_and_fix_and_skips_unknown_models) {
    auto p = params("claude-opus-4-7");
    p["temperature"] = 0.0;
    try {
        aibatch::check_model_rules(p, "batch");
        BOOST_FAIL("no error");
    } catch (const aibatch::error& e) {
        BOOST_TEST(e.code() == aibatch::make_error_code(aibatch::errc::invalid_argument));
        std::string what = e.what();
        BOOST_TEST(what.find("batch: claude-opus-4-7 (Claude Opus 4.7)") != std::string::npos,
                   what);
        BOOST_TEST(what.find("leave temperature unset") != std::string::npos, what);
    }
    p["model"] = "claude-opus-9-9"; // unknown: passes through unchanged
    BOOST_CHECK_NO_THROW(aibatch::check_model_rules(p, "batch"));
}

BOOST_AUTO_TEST_SUITE_END()
