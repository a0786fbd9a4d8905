// Issue 14's conformance test: every create body the library can produce (each output
// mode, each supported field type, thinking through customize) goes to the emulator, which
// refuses what the API refuses; none comes back errored for a model that supports it, and
// the combinations the API would refuse fail on the client side before any network call.
#include <aibatch/batch/batch.hpp>
#include <aibatch/emulator/emulator.hpp>

#include "../support/emulator_fixture.hpp"
#include "../support/expect_throw.hpp"
#include "../support/run_task.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/describe.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using aibatch::output_mode;
using aibatch::test::run_task;

namespace conformance {

BOOST_DEFINE_ENUM_CLASS(colour, red, green, blue)

struct leaf {
    std::string name;
    colour tint;
};
BOOST_DESCRIBE_STRUCT(leaf, (), (name, tint))

// Every field type the schema layer supports in every output mode.
struct everything {
    bool flag;
    int count;
    unsigned natural;
    std::int64_t big;
    std::uint16_t small;
    float ratio;
    double score;
    std::string text;
    colour main;
    std::optional<colour> maybe_colour;
    std::optional<std::string> maybe_text;
    std::optional<double> maybe_number;
    std::optional<leaf> maybe_leaf;
    std::vector<std::string> words;
    std::vector<leaf> leaves;
    std::vector<std::vector<int>> grid;
    std::array<double, 2> pair;
    leaf one;
};
BOOST_DESCRIBE_STRUCT(everything, (),
                      (flag, count, natural, big, small, ratio, score, text, main, maybe_colour,
                       maybe_text, maybe_number, maybe_leaf, words, leaves, grid, pair, one))

// Documented, with constraints: the schema carries them in tool and json_text modes;
// structured outputs leave them to the decoder.
struct rated {
    double probability;
    std::string summary;
    std::vector<std::string> tags;
};
BOOST_DESCRIBE_STRUCT(rated, (), (probability, summary, tags))

// Types structured outputs cannot express: a map, a recursive type, anything.
struct with_map {
    std::map<std::string, int> counts;
};
BOOST_DESCRIBE_STRUCT(with_map, (), (counts))

struct with_unordered_map {
    std::unordered_map<std::string, double> values;
};
BOOST_DESCRIBE_STRUCT(with_unordered_map, (), (values))

struct node {
    std::string label;
    std::vector<node> children;
};
BOOST_DESCRIBE_STRUCT(node, (), (label, children))

struct free_form {
    json::value payload;
};
BOOST_DESCRIBE_STRUCT(free_form, (), (payload))

} // namespace conformance

template <>
struct aibatch::schema_docs<conformance::rated> {
    static constexpr std::string_view description = "A rated summary";
    static constexpr aibatch::field_doc fields[] = {
        {.name = "probability", .description = "0 to 1", .minimum = 0, .maximum = 1},
        {.name = "summary", .min_length = 5, .max_length = 80},
        {.name = "tags", .min_length = 2, .max_length = 4},
    };
};

using namespace conformance;

namespace {

// The emulator fixture with this file's defaults: 40 ms of processing, seed 14, a key of
// its own.
struct env : aibatch::test::emulator_fixture {
    env() : emulator_fixture(emulator_fixture::options(40ms, 14), config()) {}
    static aibatch::client_config config() {
        aibatch::client_config c;
        c.api_key = "sk-ant-conformance";
        return c;
    }
};

aibatch::batch_options options(output_mode mode) {
    aibatch::batch_options o;
    o.output_mode = mode;
    o.poll_interval = 10ms;
    o.poll_interval_max = 40ms;
    o.repair_rounds = 0;
    return o;
}

std::vector<aibatch::conversation> prompts() {
    return {{aibatch::user("Describe the first thing you see.")},
            {aibatch::user("Describe the second."), aibatch::user("In more detail.")},
            {aibatch::user("And a third."), aibatch::assistant("Here it is."),
             aibatch::user("Go on.")}};
}

// Every item errored by the emulator, as "index: type: message".
template <class T>
std::string errored_items(const aibatch::batch_run<T>& run) {
    std::string out;
    for (const auto& i : run.items)
        if (i.status == aibatch::item_status::errored ||
            i.status == aibatch::item_status::not_submitted)
            out += std::to_string(i.index) + ": " + i.error_type + ": " + i.message + "; ";
    return out;
}

// Every item answered by the emulator: succeeded, or, in json_schema mode, an answer that
// breaks a constraint the structured-outputs subset cannot carry (std::array sizes,
// field_doc bounds): the decoder checks those, as it should, and the repair round would
// resend them. Never an errored item.
template <class T>
void every_item_is_answered(env& e, const std::string& model, aibatch::batch_options o,
                            const std::string& what) {
    const bool native = o.output_mode == output_mode::json_schema;
    auto run = run_task(e.ioc(), aibatch::run_batch<T>(e.client(), prompts(), model, std::move(o)));
    BOOST_TEST_CONTEXT(what << " on " << model) {
        BOOST_TEST(errored_items(run).empty(), errored_items(run));
        BOOST_TEST(run.items.size() == prompts().size());
        for (const auto& i : run.items)
            BOOST_TEST((i.status == aibatch::item_status::succeeded ||
                        (native && i.status == aibatch::item_status::invalid_output)),
                       i.index << ": " << aibatch::to_string(i.status) << " " << i.message);
    }
}

template <class T>
std::string refused_before_sending(env& e, const std::string& model, aibatch::batch_options o) {
    auto before = e.emu().log().size();
    auto err = aibatch::test::expect_throw<aibatch::error>(
        [&] { run_task(e.ioc(), aibatch::batch<T>(e.client(), prompts(), model, std::move(o))); });
    BOOST_TEST(err.code() == aibatch::errc::invalid_argument);
    BOOST_TEST(e.emu().log().size() == before, "a refused request reached the network");
    return err.what();
}

// The models the table says support structured outputs, one per family and generation.
const std::array<const char*, 6> structured_models = {"claude-haiku-4-5", "claude-sonnet-4-5",
                                                      "claude-opus-4-5",  "claude-sonnet-4-6",
                                                      "claude-opus-4-6",  "claude-opus-4-7"};

} // namespace

BOOST_AUTO_TEST_SUITE(create_body_conformance)

BOOST_AUTO_TEST_CASE(every_output_mode_and_field_type_is_accepted_by_supported_models) {
    env e;
    for (const char* model : structured_models)
        for (auto mode : {output_mode::tool, output_mode::json_schema, output_mode::json_text}) {
            std::string what(aibatch::to_string(mode));
            every_item_is_answered<everything>(e, model, options(mode), what + " everything");
            every_item_is_answered<rated>(e, model, options(mode), what + " rated");
        }
    // Forced tool use and JSON in text work on the older models too.
    for (const char* model : {"claude-opus-4-1", "claude-opus-4-1-20250805"})
        for (auto mode : {output_mode::tool, output_mode::json_text})
            every_item_is_answered<everything>(e, model, options(mode),
                                               std::string(aibatch::to_string(mode)));
}

BOOST_AUTO_TEST_CASE(tool_mode_keeps_full_json_schema_for_maps_recursion_and_anything) {
    env e;
    auto o = options(output_mode::tool);
    every_item_is_answered<with_map>(e, "claude-haiku-4-5", o, "map");
    every_item_is_answered<with_unordered_map>(e, "claude-haiku-4-5", o, "unordered_map");
    every_item_is_answered<node>(e, "claude-haiku-4-5", o, "recursive");
    every_item_is_answered<free_form>(e, "claude-haiku-4-5", o, "json::value");
    every_item_is_answered<with_map>(e, "claude-haiku-4-5", options(output_mode::json_text),
                                     "map as json_text");
}

BOOST_AUTO_TEST_CASE(thinking_through_customize_is_accepted_without_a_forced_tool) {
    env e;
    for (auto mode : {output_mode::json_schema, output_mode::json_text}) {
        auto o = options(mode);
        o.max_tokens = 4096;
        o.customize = [](aibatch::message_params& p, std::size_t) {
            p.extra["thinking"] = json::object{{"type", "enabled"}, {"budget_tokens", 2048}};
        };
        every_item_is_answered<everything>(
            e, "claude-sonnet-4-5", o, "thinking with " + std::string(aibatch::to_string(mode)));
    }
}

BOOST_AUTO_TEST_CASE(what_the_api_would_refuse_fails_before_any_network_call) {
    env e;
    // Types outside the structured-outputs subset, named with the way out.
    auto o = options(output_mode::json_schema);
    for (const std::string& msg :
         {refused_before_sending<with_map>(e, "claude-haiku-4-5", o),
          refused_before_sending<with_unordered_map>(e, "claude-haiku-4-5", o),
          refused_before_sending<node>(e, "claude-haiku-4-5", o),
          refused_before_sending<free_form>(e, "claude-haiku-4-5", o)}) {
        BOOST_TEST(msg.find("output_mode::json_schema cannot express") != std::string::npos, msg);
        BOOST_TEST(msg.find("use output_mode::tool") != std::string::npos, msg);
    }
    BOOST_TEST(refused_before_sending<node>(e, "claude-haiku-4-5", o).find("node") !=
               std::string::npos);
    BOOST_TEST(
        refused_before_sending<with_map>(e, "claude-haiku-4-5", o).find("additionalProperties") !=
        std::string::npos);
    // Structured outputs on a model without them.
    BOOST_TEST(refused_before_sending<everything>(e, "claude-opus-4-1", o)
                   .find("does not support structured outputs") != std::string::npos);
    // Thinking with the forced tool of tool mode.
    auto t = options(output_mode::tool);
    t.max_tokens = 4096;
    t.customize = [](aibatch::message_params& p, std::size_t) {
        p.extra["thinking"] = json::object{{"type", "enabled"}, {"budget_tokens", 2048}};
    };
    BOOST_TEST(refused_before_sending<everything>(e, "claude-sonnet-4-5", t)
                   .find("Thinking may not be enabled when tool_choice forces tool use") !=
               std::string::npos);
    // Sampling parameters on a model released after Opus 4.6; max_tokens over the cap.
    auto s = options(output_mode::tool);
    s.temperature = 0.3;
    BOOST_TEST(refused_before_sending<everything>(e, "claude-opus-4-7", s).find("temperature") !=
               std::string::npos);
    auto m = options(output_mode::tool);
    m.max_tokens = 64001;
    BOOST_TEST(refused_before_sending<everything>(e, "claude-haiku-4-5", m).find("64001 > 64000") !=
               std::string::npos);
    // The same options on a model the table does not know pass through to the API (here the
    // emulator, which answers an unknown model with not_found_error per item).
    auto run = run_task(
        e.ioc(), aibatch::run_batch<everything>(e.client(), prompts(), "claude-future-9", s));
    for (const auto& i : run.items)
        BOOST_TEST(i.error_type == "not_found_error", i.message);
}

// A customize that breaks a model rule on one item only (here temperature on Opus 4.7 for
// item 2): that item is not sent (no money spent on an answer the API would refuse) and
// says why, naming the model and the rule; the others are sent and answered. It used to
// be checked on the first item only, so item 2 went out and came back errored.
BOOST_AUTO_TEST_CASE(a_rule_broken_by_one_item_keeps_that_item_from_the_network) {
    env e;
    auto o = options(output_mode::tool);
    o.customize = [](aibatch::message_params& p, std::size_t i) {
        if (i == 2)
            p.temperature = 0.2;
    };
    auto run = run_task(
        e.ioc(), aibatch::run_batch<everything>(e.client(), prompts(), "claude-opus-4-7", o));
    BOOST_REQUIRE(run.items.size() == 3u);
    BOOST_TEST((run.items[0].status == aibatch::item_status::succeeded));
    BOOST_TEST((run.items[1].status == aibatch::item_status::succeeded));
    const auto& bad = run.items[2];
    BOOST_TEST((bad.status == aibatch::item_status::not_submitted), aibatch::to_string(bad.status)
                                                                        << ": " << bad.message);
    BOOST_TEST(bad.message.find("claude-opus-4-7") != std::string::npos, bad.message);
    BOOST_TEST(bad.message.find("temperature") != std::string::npos, bad.message);
    BOOST_TEST(bad.message.find("messages[2]") != std::string::npos, bad.message);
    std::size_t sent = 0;
    for (const auto& b : e.emu().batches())
        sent += b.custom_ids.size();
    BOOST_TEST(sent == 2u, "the emulator received " << sent << " requests");
}

BOOST_AUTO_TEST_SUITE_END()
