// Output modes in both directions (layer 4), and the property test: the emulator's
// simulated model produces conforming outputs for many described types; all decode.
#include <aibatch/typed/structured_output.hpp>

#include "emulator/simulated_model.hpp"

#include <boost/describe.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace json = boost::json;

namespace so_test {

BOOST_DEFINE_ENUM_CLASS(label, positive, negative, neutral)
BOOST_DEFINE_ENUM_CLASS(level, low, medium, high, critical)

struct spam_result {
    bool is_spam;
    double confidence;
    std::string reason;
};
BOOST_DESCRIBE_STRUCT(spam_result, (), (is_spam, confidence, reason))

struct sentiment {
    label value;
    double score;
};
BOOST_DESCRIBE_STRUCT(sentiment, (), (value, score))

struct line_item {
    std::string sku;
    unsigned quantity;
    std::optional<double> unit_price;
};
BOOST_DESCRIBE_STRUCT(line_item, (), (sku, quantity, unit_price))

struct invoice {
    std::string number;
    std::vector<line_item> lines;
    std::optional<std::string> note;
};
BOOST_DESCRIBE_STRUCT(invoice, (), (number, lines, note))

struct entity {
    std::string text;
    std::string kind;
    std::array<int, 2> span;
};
BOOST_DESCRIBE_STRUCT(entity, (), (text, kind, span))

struct extraction {
    std::vector<entity> entities;
    std::map<std::string, int> counts;
};
BOOST_DESCRIBE_STRUCT(extraction, (), (entities, counts))

struct ticket {
    level severity;
    std::optional<level> escalate_to;
    std::vector<std::string> tags;
    bool needs_human;
};
BOOST_DESCRIBE_STRUCT(ticket, (), (severity, escalate_to, tags, needs_human))

struct comment {
    std::string author;
    std::vector<comment> replies;
};
BOOST_DESCRIBE_STRUCT(comment, (), (author, replies))

struct address {
    std::string street;
    std::string city;
    std::optional<std::string> postcode;
};
BOOST_DESCRIBE_STRUCT(address, (), (street, city, postcode))

struct person {
    std::string name;
    std::int64_t age;
    address home;
    std::optional<address> work;
    std::vector<std::string> emails;
};
BOOST_DESCRIBE_STRUCT(person, (), (name, age, home, work, emails))

struct metrics {
    std::unordered_map<std::string, double> values;
    std::vector<std::vector<int>> matrix;
};
BOOST_DESCRIBE_STRUCT(metrics, (), (values, matrix))

struct scored {
    double probability;
    std::string summary;
    std::vector<label> labels;
};
BOOST_DESCRIBE_STRUCT(scored, (), (probability, summary, labels))

struct anything {
    json::value payload;
    std::optional<bool> flag;
};
BOOST_DESCRIBE_STRUCT(anything, (), (payload, flag))

struct tiny {
    std::int8_t small;
    std::uint16_t medium;
};
BOOST_DESCRIBE_STRUCT(tiny, (), (small, medium))

// Top-level property names a tool's input_schema may not have (review s13): past 64
// characters, and (through schema_traits) a space.
struct long_named {
    int the_number_of_items_that_were_counted_in_the_first_pass_over_the_list;
};
BOOST_DESCRIBE_STRUCT(long_named, (),
                      (the_number_of_items_that_were_counted_in_the_first_pass_over_the_list))

struct ledger_row {
    std::string account;
};

} // namespace so_test

template <>
struct aibatch::schema_traits<so_test::ledger_row> {
    static boost::json::value schema() {
        return boost::json::object{
            {"type", "object"},
            {"properties", boost::json::object{{"Account Number", {{"type", "string"}}}}},
            {"required", boost::json::array{"Account Number"}},
            {"additionalProperties", false}};
    }
    static void decode(const boost::json::value& v, so_test::ledger_row& out,
                       aibatch::decode_context& ctx) {
        const auto* o = v.if_object();
        const auto* a = o ? o->if_contains("Account Number") : nullptr;
        if (!a || !a->is_string())
            return ctx.fail("expected {\"Account Number\": string}");
        out.account = std::string(a->get_string());
    }
};

template <>
struct aibatch::schema_docs<so_test::spam_result> {
    static constexpr std::string_view description = "Whether an email is spam";
};
template <>
struct aibatch::schema_docs<so_test::scored> {
    static constexpr aibatch::field_doc fields[] = {
        {.name = "probability", .minimum = 0, .maximum = 1},
        {.name = "summary", .min_length = 5, .max_length = 40},
        {.name = "labels", .min_length = 1, .max_length = 2},
    };
};

using namespace so_test;

namespace {

json::object parse_object(std::string_view s) {
    return json::parse(s).as_object();
}

json::object tool_message(std::string_view name, std::string_view input_json,
                          std::string_view stop = "tool_use") {
    json::object m = parse_object(R"({"id":"msg_1","type":"message","role":"assistant",
        "model":"claude-haiku-4-5","stop_sequence":null,
        "usage":{"input_tokens":10,"output_tokens":5}})");
    m["stop_reason"] = stop;
    m["content"] = json::array{json::object{{"type", "text"}, {"text", "Let me record that."}},
                               json::object{{"type", "tool_use"},
                                            {"id", "toolu_1"},
                                            {"name", name},
                                            {"input", json::parse(input_json)}}};
    return m;
}

json::object text_message(std::string_view text, std::string_view stop = "end_turn") {
    json::object m = parse_object(R"({"id":"msg_2","type":"message","role":"assistant",
        "model":"claude-haiku-4-5","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}})");
    m["stop_reason"] = stop;
    m["content"] = json::array{json::object{{"type", "text"}, {"text", text}}};
    return m;
}

aibatch::message_params base_params() {
    aibatch::message_params p;
    p.model = "claude-haiku-4-5";
    p.max_tokens = 512;
    p.messages = {aibatch::user("Is this spam? WIN A PRIZE")};
    return p;
}

} // namespace

BOOST_AUTO_TEST_SUITE(output_modes)

BOOST_AUTO_TEST_CASE(tool_mode_request_forces_the_tool) {
    auto spec = aibatch::output_spec::for_type<spam_result>();
    BOOST_TEST(spec.name == "spam_result");
    BOOST_TEST(spec.description == "Whether an email is spam");
    auto p = base_params();
    aibatch::apply_output_spec(p, spec);
    json::object want = parse_object(R"({
        "model":"claude-haiku-4-5","max_tokens":512,
        "messages":[{"role":"user","content":"Is this spam? WIN A PRIZE"}],
        "tools":[{"name":"spam_result","description":"Whether an email is spam",
                  "input_schema":{"type":"object","description":"Whether an email is spam",
                     "properties":{"is_spam":{"type":"boolean"},"confidence":{"type":"number"},
                                   "reason":{"type":"string"}},
                     "required":["is_spam","confidence","reason"],"additionalProperties":false}}],
        "tool_choice":{"type":"tool","name":"spam_result"}})");
    BOOST_TEST(p.to_json() == want, json::serialize(p.to_json()));
}

BOOST_AUTO_TEST_CASE(tool_mode_reads_the_tool_input) {
    auto spec = aibatch::output_spec::for_type<spam_result>();
    auto r = aibatch::read_output<spam_result>(
        tool_message("spam_result", R"({"is_spam":true,"confidence":0.9,"reason":"prize"})"), spec);
    BOOST_REQUIRE(r.value.has_value());
    BOOST_TEST(r.value->is_spam);
    BOOST_TEST(r.value->reason == "prize");
    BOOST_TEST(r.raw.empty());
}

BOOST_AUTO_TEST_CASE(tool_mode_failures_keep_the_raw_output) {
    auto spec = aibatch::output_spec::for_type<spam_result>();
    auto bad = aibatch::read_output<spam_result>(
        tool_message("spam_result", R"({"is_spam":"yes","confidence":0.9,"reason":"x"})"), spec);
    BOOST_TEST(!bad.value.has_value());
    BOOST_TEST((bad.failure == aibatch::output_failure::validation));
    BOOST_TEST(bad.message == "$.is_spam: expected boolean, got string");
    BOOST_TEST(bad.raw == R"({"is_spam":"yes","confidence":9E-1,"reason":"x"})");

    auto other = aibatch::read_output<spam_result>(tool_message("other_tool", "{}"), spec);
    BOOST_TEST((other.failure == aibatch::output_failure::no_output));
    BOOST_TEST(other.message ==
               "the answer has no tool_use block named \"spam_result\" (stop_reason tool_use)");
    BOOST_TEST(other.raw == "Let me record that.");

    auto cut = aibatch::read_output<spam_result>(
        tool_message("spam_result", R"({"is_spam":true})", "max_tokens"), spec);
    BOOST_TEST((cut.failure == aibatch::output_failure::truncated));
    BOOST_TEST(cut.message == "the answer was cut off at max_tokens; raise max_tokens");
    BOOST_TEST(cut.raw == R"({"is_spam":true})");

    auto refused = aibatch::read_output<spam_result>(text_message("I can't help", "refusal"), spec);
    BOOST_TEST((refused.failure == aibatch::output_failure::refusal));
    BOOST_TEST(refused.raw == "I can't help");
}

BOOST_AUTO_TEST_CASE(json_schema_mode_request_uses_output_config) {
    auto spec = aibatch::output_spec::for_type<line_item>(aibatch::output_mode::json_schema);
    auto p = base_params();
    aibatch::apply_output_spec(p, spec);
    json::object j = p.to_json();
    BOOST_TEST(!j.contains("tools"));
    BOOST_TEST(!j.contains("tool_choice"));
    json::value want = json::parse(R"({"format":{"type":"json_schema","schema":{
        "type":"object",
        "properties":{"sku":{"type":"string"},"quantity":{"type":"integer"},
                      "unit_price":{"type":["number","null"]}},
        "required":["sku","quantity"],"additionalProperties":false}}})");
    BOOST_TEST(j.at("output_config") == want, json::serialize(j.at("output_config")));
}

BOOST_AUTO_TEST_CASE(json_schema_mode_reads_the_text) {
    auto spec = aibatch::output_spec::for_type<line_item>(aibatch::output_mode::json_schema);
    auto r = aibatch::read_output<line_item>(
        text_message(R"({"sku":"A-1","quantity":2,"unit_price":null})"), spec);
    BOOST_REQUIRE(r.value.has_value());
    BOOST_TEST(r.value->quantity == 2u);
    BOOST_TEST(!r.value->unit_price.has_value());

    auto bad = aibatch::read_output<line_item>(text_message("not json at all"), spec);
    BOOST_TEST((bad.failure == aibatch::output_failure::invalid_json));
    BOOST_TEST(bad.message == "the answer's text holds no JSON object");
    BOOST_TEST(bad.raw == "not json at all");

    auto neg = aibatch::read_output<line_item>(text_message(R"({"sku":"A","quantity":-3})"), spec);
    BOOST_TEST((neg.failure == aibatch::output_failure::validation));
    BOOST_TEST(neg.message == "$.quantity: -3 is out of range (0 to 4294967295)");
    BOOST_TEST(neg.raw == R"({"sku":"A","quantity":-3})");
}

BOOST_AUTO_TEST_CASE(json_text_mode_request_appends_instructions_to_system) {
    auto spec = aibatch::output_spec::for_type<sentiment>(aibatch::output_mode::json_text);
    auto p = base_params();
    p.system = "You rate reviews.";
    aibatch::apply_output_spec(p, spec);
    json::object j = p.to_json();
    BOOST_TEST(!j.contains("tools"));
    BOOST_TEST(!j.contains("output_config"));
    std::string system(j.at("system").as_string());
    BOOST_TEST(system.rfind("You rate reviews.\n\nAnswer with only a JSON object", 0) == 0u);
    BOOST_TEST(system.find(R"("enum":["positive","negative","neutral"])") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(json_text_mode_tolerates_fences_and_prose) {
    auto spec = aibatch::output_spec::for_type<sentiment>(aibatch::output_mode::json_text);
    for (std::string_view text :
         {std::string_view(R"({"value":"negative","score":0.2})"),
          std::string_view(
              "Here is the result:\n```json\n{\"value\":\"negative\",\"score\":0.2}\n```\nHope it "
              "helps."),
          std::string_view("```\n{\"value\":\"negative\",\"score\":0.2}\n```"),
          std::string_view("Sure! {\"value\":\"negative\",\"score\":0.2} is my answer {not json}."),
          std::string_view("Thinking {about it}... {\"value\":\"negative\",\"score\":0.2}"),
          std::string_view("{\"value\":\"negative\",\"score\":0.2,\"note\":\"} tricky {\"}")}) {
        auto r = aibatch::read_output<sentiment>(
            text_message(text), spec, aibatch::decode_options{.allow_unknown_fields = true});
        BOOST_TEST_CONTEXT(text) {
            BOOST_REQUIRE(r.value.has_value());
            BOOST_TEST((r.value->value == label::negative));
            BOOST_TEST(r.value->score == 0.2);
        }
    }
    BOOST_TEST(!aibatch::find_json_in_text("no braces here").has_value());
    BOOST_TEST(!aibatch::find_json_in_text("{ unbalanced").has_value());
    auto empty = aibatch::read_output<sentiment>(text_message(""), spec);
    BOOST_TEST((empty.failure == aibatch::output_failure::no_output));
}

// Issue 14, item 7: json_schema mode emits only the structured-outputs subset; what it
// cannot express is refused before anything is sent; constraints it lacks stay with the
// decoder.
BOOST_AUTO_TEST_CASE(json_schema_mode_emits_the_subset_and_refuses_what_it_cannot_express) {
    auto native = [](auto tag) {
        using T = typename decltype(tag)::type;
        return aibatch::output_spec::for_type<T>(aibatch::output_mode::json_schema);
    };
    for (const auto& spec :
         {native(std::type_identity<spam_result>{}), native(std::type_identity<sentiment>{}),
          native(std::type_identity<invoice>{}), native(std::type_identity<entity>{}),
          native(std::type_identity<ticket>{}), native(std::type_identity<person>{}),
          native(std::type_identity<scored>{}), native(std::type_identity<tiny>{})})
        BOOST_TEST(!aibatch::native_schema_problem(json::value(spec.schema)).has_value(),
                   spec.name << ": " << *aibatch::native_schema_problem(json::value(spec.schema)));
    auto refused = [](auto tag) -> std::string {
        using T = typename decltype(tag)::type;
        try {
            (void)aibatch::output_spec::for_type<T>(aibatch::output_mode::json_schema);
        } catch (const aibatch::error& e) {
            BOOST_TEST(e.code() == aibatch::errc::invalid_argument);
            return e.what();
        }
        return "no error";
    };
    std::string map = refused(std::type_identity<extraction>{});
    BOOST_TEST(map.find("cannot express extraction") != std::string::npos, map);
    BOOST_TEST(map.find("properties.counts") != std::string::npos, map);
    BOOST_TEST(map.find("use output_mode::tool") != std::string::npos, map);
    BOOST_TEST(refused(std::type_identity<metrics>{}).find("cannot express metrics") !=
               std::string::npos);
    std::string rec = refused(std::type_identity<comment>{});
    BOOST_TEST(rec.find("recursive schemas are not supported") != std::string::npos, rec);
    BOOST_TEST(refused(std::type_identity<anything>{}).find("cannot express anything") !=
               std::string::npos);
    // Tool mode keeps full JSON Schema for all of them.
    BOOST_CHECK_NO_THROW(aibatch::output_spec::for_type<extraction>(aibatch::output_mode::tool));
    BOOST_CHECK_NO_THROW(aibatch::output_spec::for_type<comment>(aibatch::output_mode::tool));
    // scored's field_doc bounds are not in the native schema but the decoder checks them.
    auto spec = native(std::type_identity<scored>{});
    BOOST_TEST(!spec.schema.at("properties").at("probability").as_object().contains("maximum"));
    auto r = aibatch::read_output<scored>(
        text_message(R"({"probability":1.5,"summary":"a fine summary","labels":["positive"]})"),
        spec);
    BOOST_TEST((r.failure == aibatch::output_failure::validation));
    BOOST_TEST(r.message.find("probability") != std::string::npos, r.message);
}

// Found by review s13: the API refuses, item by item, a tool input_schema whose top-level
// property keys break ^[a-zA-Z0-9_.-]{1,64}$; such a type is refused before anything is
// sent, naming the key, in tool mode (json_text mode has no such rule).
BOOST_AUTO_TEST_CASE(tool_mode_refuses_property_names_the_api_refuses) {
    auto refused = [](auto tag) -> std::string {
        using T = typename decltype(tag)::type;
        try {
            (void)aibatch::output_spec::for_type<T>(aibatch::output_mode::tool);
        } catch (const aibatch::error& e) {
            BOOST_TEST(e.code() == aibatch::errc::invalid_argument);
            return e.what();
        }
        return "no error";
    };
    std::string spaced = refused(std::type_identity<ledger_row>{});
    BOOST_TEST(spaced.find("\"Account Number\"") != std::string::npos, spaced);
    BOOST_TEST(spaced.find("^[a-zA-Z0-9_.-]{1,64}$") != std::string::npos, spaced);
    BOOST_TEST(spaced.find("output_mode::json_text") != std::string::npos, spaced);
    std::string long_name = refused(std::type_identity<long_named>{});
    BOOST_TEST(long_name.find("the_number_of_items") != std::string::npos, long_name);
    BOOST_CHECK_NO_THROW(
        aibatch::output_spec::for_type<ledger_row>(aibatch::output_mode::json_text));
    BOOST_CHECK_NO_THROW(
        aibatch::output_spec::for_type<long_named>(aibatch::output_mode::json_text));
    // 64 characters and the allowed punctuation are fine
    BOOST_TEST(!aibatch::tool_property_key_problem(
                    json::parse(R"({"type":"object","properties":{")" + std::string(64, 'a') +
                                R"(":{},"a.b-c_9":{}}})")
                        .as_object())
                    .has_value());
    for (const std::string& key :
         {std::string(65, 'a'), std::string(""), std::string("caf\xC3\xA9"), std::string("a[]"),
          std::string("a b"), std::string("a/b")})
        BOOST_TEST(aibatch::tool_property_key_problem(
                       json::object{{"type", "object"}, {"properties", {{key, json::object{}}}}})
                       .has_value(),
                   key);
}

BOOST_AUTO_TEST_CASE(the_simulated_model_answers_each_mode_in_kind) {
    // Both directions through the emulator's model: params built by apply_output_spec are
    // valid for the API and the answer reads back into the type.
    for (auto mode : {aibatch::output_mode::tool, aibatch::output_mode::json_schema}) {
        auto spec = aibatch::output_spec::for_type<invoice>(mode);
        auto p = base_params();
        aibatch::apply_output_spec(p, spec);
        json::object params = p.to_json();
        BOOST_TEST(!aibatch::emulator::validate_params(params).has_value());
        json::object msg = aibatch::emulator::simulate_message(params, 7);
        auto r = aibatch::read_output<invoice>(msg, spec);
        BOOST_TEST_CONTEXT(aibatch::to_string(mode)) {
            BOOST_TEST(r.value.has_value(), r.message << " raw " << r.raw);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------ property test
namespace {

template <class T>
void every_generated_output_decodes(int samples) {
    const std::string& name = aibatch::detail::type_name<T>();
    for (bool native : {false, true}) {
        aibatch::schema_options so;
        so.nullable_optionals = native;
        json::value schema = aibatch::json_schema<T>(so);
        int failures = 0;
        for (int i = 0; i < samples; ++i) {
            json::value v = aibatch::emulator::generate_conforming(
                schema, aibatch::emulator::hash_bytes(name, static_cast<std::uint64_t>(i)));
            auto r = aibatch::decode<T>(v);
            if (!r && ++failures <= 3)
                BOOST_ERROR(name << " sample " << i << ": " << r.error().to_string() << " in "
                                 << json::serialize(v));
        }
        BOOST_TEST(failures == 0, name << ": " << failures << " of " << samples << " failed");
    }
}

} // namespace

BOOST_AUTO_TEST_SUITE(decode_property)

BOOST_AUTO_TEST_CASE(hundreds_of_conforming_outputs_decode_for_a_dozen_types) {
    constexpr int n = 300;
    every_generated_output_decodes<spam_result>(n);
    every_generated_output_decodes<sentiment>(n);
    every_generated_output_decodes<line_item>(n);
    every_generated_output_decodes<invoice>(n);
    every_generated_output_decodes<entity>(n);
    every_generated_output_decodes<extraction>(n);
    every_generated_output_decodes<ticket>(n);
    every_generated_output_decodes<comment>(n);
    every_generated_output_decodes<person>(n);
    every_generated_output_decodes<metrics>(n);
    every_generated_output_decodes<scored>(n);
    every_generated_output_decodes<anything>(n);
    every_generated_output_decodes<tiny>(n);
}

BOOST_AUTO_TEST_CASE(the_generator_exercises_optionals_and_variety) {
    // Guards the property test against a generator that always emits the same shape.
    json::value schema = aibatch::json_schema<line_item>();
    std::set<std::string> shapes;
    int with_price = 0;
    for (int i = 0; i < 200; ++i) {
        json::value v =
            aibatch::emulator::generate_conforming(schema, static_cast<std::uint64_t>(i));
        with_price += v.as_object().contains("unit_price");
        shapes.insert(json::serialize(v));
    }
    BOOST_TEST(with_price > 20);
    BOOST_TEST(with_price < 180);
    BOOST_TEST(shapes.size() > 150u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(params_serialisation)

BOOST_AUTO_TEST_CASE(template_output_is_byte_identical_to_to_json) {
    aibatch::message_params proto;
    proto.model = "claude-haiku-4-5";
    proto.max_tokens = 300;
    proto.system = "Be \"brief\".\n\tThanks \\ bye";
    proto.temperature = 0.25;
    proto.stop_sequences = {"END"};
    aibatch::apply_output_spec(proto, aibatch::output_spec::for_type<invoice>());
    aibatch::params_template tmpl(proto);
    std::vector<aibatch::conversation> convs = {
        {aibatch::user("plain")},
        {aibatch::user(
             "quotes \" backslash \\ newline \n tab \t bell \x07 del \x7f unicode é 日本"),
         aibatch::assistant("{\"json\": [1, 2]}"), aibatch::user("again")},
        {aibatch::turn{aibatch::role::user, "",
                       json::array{json::object{{"type", "text"}, {"text", "block"}}}}},
    };
    for (const auto& c : convs) {
        aibatch::message_params p = proto;
        p.messages = c;
        std::string fast;
        tmpl.append(c, fast);
        BOOST_TEST(fast == json::serialize(p.to_json()));
    }
}

BOOST_AUTO_TEST_SUITE_END()
