// JSON Schema generation and decoding of described C++ types (layer 3).
#include "schema_test_types.hpp"

#include <aibatch/typed/schema.hpp>

#include <boost/describe.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace json = boost::json;

using namespace schema_test;

// Two recursive types of one name in different namespaces (review s13).
namespace org_chart {
struct node {
    std::string name;
    std::vector<node> reports;
};
BOOST_DESCRIBE_STRUCT(node, (), (name, reports))
} // namespace org_chart
namespace parse_tree {
struct node {
    int token;
    std::vector<node> operands;
};
BOOST_DESCRIBE_STRUCT(node, (), (token, operands))
} // namespace parse_tree
struct two_trees {
    org_chart::node people;
    parse_tree::node expression;
};
BOOST_DESCRIBE_STRUCT(two_trees, (), (people, expression))

// A field_doc whose name is no member (review s13).
struct typo_docs {
    double score;
};
BOOST_DESCRIBE_STRUCT(typo_docs, (), (score))
template <>
struct aibatch::schema_docs<typo_docs> {
    static constexpr aibatch::field_doc fields[] = {{.name = "scroe", .maximum = 1}};
};

// Constraints that the member's type never checks (review s13): bounds on a string, a
// length on an enum, a length on a map, bounds on a vector and on a bool.
struct misfit_docs {
    std::string name;
    std::optional<int> stars;
    std::map<std::string, int> counts;
    std::vector<double> scores;
    bool flag;
};
BOOST_DESCRIBE_STRUCT(misfit_docs, (), (name, stars, counts, scores, flag))
template <std::size_t K>
struct one_misfit : misfit_docs {
    BOOST_DESCRIBE_CLASS(one_misfit, (misfit_docs), (), (), ())
};
constexpr aibatch::field_doc misfit(std::size_t k) {
    switch (k) {
    case 0:
        return {.name = "name", .minimum = 1};
    case 1:
        return {.name = "stars", .max_length = 3};
    case 2:
        return {.name = "counts", .min_length = 1};
    case 3:
        return {.name = "scores", .maximum = 1};
    default:
        return {.name = "flag", .minimum = 0};
    }
}
template <std::size_t K>
struct aibatch::schema_docs<one_misfit<K>> {
    static constexpr aibatch::field_doc fields[] = {misfit(K)};
};
// The same members, each constraint where it is checked (optional ones too).
template <>
struct aibatch::schema_docs<misfit_docs> {
    static constexpr aibatch::field_doc fields[] = {
        {.name = "name", .min_length = 1, .max_length = 9},
        {.name = "stars", .minimum = 1, .maximum = 5},
        {.name = "counts", .description = "a description fits any member"},
        {.name = "scores", .min_length = 1, .max_length = 2},
    };
};

namespace {

json::value parse(std::string_view s) {
    return json::parse(s);
}

void check_schema(const json::object& got, std::string_view expected) {
    json::value want = parse(expected);
    BOOST_TEST(json::value(got) == want,
               "schema\n  got:  " << json::serialize(got) << "\n  want: " << json::serialize(want));
}

template <class T>
std::string decode_failure(std::string_view text, const aibatch::decode_options& o = {}) {
    auto r = aibatch::decode<T>(parse(text), o);
    BOOST_REQUIRE_MESSAGE(!r, "expected a decode failure for " << text);
    return r.error().to_string();
}

} // namespace

BOOST_AUTO_TEST_SUITE(schema_generation)

BOOST_AUTO_TEST_CASE(flat_struct) {
    check_schema(aibatch::json_schema<spam_result>(), R"({
        "type":"object",
        "properties":{"is_spam":{"type":"boolean"},"confidence":{"type":"number"},
                      "reason":{"type":"string"}},
        "required":["is_spam","confidence","reason"],
        "additionalProperties":false})");
}

BOOST_AUTO_TEST_CASE(nested_arrays_enums_maps_optionals_unsigned_any) {
    check_schema(aibatch::json_schema<order>(), R"({
        "type":"object",
        "properties":{
          "items":{"type":"array","items":{
              "type":"object",
              "properties":{"name":{"type":"string"},"quantity":{"type":"integer"},
                            "price":{"type":"number"}},
              "required":["name","quantity"],"additionalProperties":false}},
          "mood":{"type":"string","enum":["positive","negative","neutral"]},
          "counters":{"type":"object","additionalProperties":{"type":"integer"}},
          "point":{"type":"array","items":{"type":"number"},"minItems":2,"maxItems":2},
          "tags":{"type":"array","items":{"type":"string"}},
          "priority":{"type":"integer","minimum":0},
          "extra":{}},
        "required":["items","mood","counters","point","priority","extra"],
        "additionalProperties":false})");
}

BOOST_AUTO_TEST_CASE(nullable_optionals_without_constraints) {
    aibatch::schema_options o;
    o.nullable_optionals = true;
    o.constraints = false;
    check_schema(aibatch::json_schema<item>(o), R"({
        "type":"object",
        "properties":{"name":{"type":"string"},"quantity":{"type":"integer"},
                      "price":{"type":["number","null"]}},
        "required":["name","quantity"],"additionalProperties":false})");
    // Optional arrays become nullable too; constraints from the C++ type are left out.
    check_schema(aibatch::json_schema<order>(o).at("properties").at("tags").as_object(),
                 R"({"type":["array","null"],"items":{"type":"string"}})");
    check_schema(aibatch::json_schema<order>(o).at("properties").at("point").as_object(),
                 R"({"type":"array","items":{"type":"number"}})");
}

BOOST_AUTO_TEST_CASE(recursive_types_use_defs) {
    check_schema(aibatch::json_schema<tree_node>(), R"({
        "type":"object",
        "properties":{"label":{"type":"string"},
                      "children":{"type":"array","items":{"$ref":"#/$defs/tree_node"}}},
        "required":["label","children"],"additionalProperties":false,
        "$defs":{"tree_node":{
            "type":"object",
            "properties":{"label":{"type":"string"},
                          "children":{"type":"array","items":{"$ref":"#/$defs/tree_node"}}},
            "required":["label","children"],"additionalProperties":false}}})");
    check_schema(aibatch::json_schema<forest>(), R"({
        "type":"object",
        "properties":{"trees":{"type":"array","items":{"$ref":"#/$defs/tree_node"}}},
        "required":["trees"],"additionalProperties":false,
        "$defs":{"tree_node":{
            "type":"object",
            "properties":{"label":{"type":"string"},
                          "children":{"type":"array","items":{"$ref":"#/$defs/tree_node"}}},
            "required":["label","children"],"additionalProperties":false}}})");
}

// Found by review s13: $defs were keyed by the unqualified type name, so a second
// recursive type named `node` (another namespace) overwrote the first one's entry and
// both $refs named it: the model was asked for a parse_tree::node where the decoder
// reads an org_chart::node, and every answer failed validation (repair round included).
BOOST_AUTO_TEST_CASE(recursive_types_of_one_name_get_their_own_defs) {
    json::object s = aibatch::json_schema<two_trees>();
    const json::object& props = s.at("properties").as_object();
    auto target = [&](const char* member) -> json::object {
        std::string ref(props.at(member).at("$ref").as_string());
        BOOST_REQUIRE(ref.starts_with("#/$defs/"));
        return s.at("$defs").at(ref.substr(8)).as_object();
    };
    BOOST_TEST(props.at("people").at("$ref") != props.at("expression").at("$ref"));
    BOOST_TEST(target("people").at("properties").as_object().contains("name"));
    BOOST_TEST(target("expression").at("properties").as_object().contains("token"));
    // Each type's own recursion points at its own entry.
    BOOST_TEST(target("people").at("properties").at("reports").at("items") == props.at("people"));
    BOOST_TEST(target("expression").at("properties").at("operands").at("items") ==
               props.at("expression"));
}

// Found by review s13: a field_doc naming no member (a typo, a renamed member) was
// ignored without a word: json_schema<T>() lost its constraint and decode<T>() accepted
// a score of 5 against the intended maximum 1. Such a type now fails to compile
// (field_docs_of() asserts this predicate).
BOOST_AUTO_TEST_CASE(a_field_doc_naming_no_member_is_caught) {
    BOOST_TEST(!aibatch::detail::field_docs_name_members<typo_docs>());
    BOOST_TEST(aibatch::detail::field_docs_name_members<rated>());
    BOOST_TEST(aibatch::detail::field_docs_name_members<derived_part>()); // no docs
    static_assert(aibatch::detail::field_docs_name_members<rated>());
}

// Found by review s13: a bound or a length on a member whose type never checks it (minimum
// on a string, max_length on an int, ...) went into the schema and was never checked by
// decode<T>(). Such a type now fails to compile (field_docs_of() asserts this predicate).
BOOST_AUTO_TEST_CASE(a_field_doc_constraint_the_member_never_checks_is_caught) {
    static_assert(aibatch::detail::field_docs_fit_members<misfit_docs>());
    static_assert(aibatch::detail::field_docs_fit_members<rated>());
    BOOST_TEST(aibatch::detail::field_docs_fit_members<misfit_docs>());
    BOOST_TEST(!aibatch::detail::field_docs_fit_members<one_misfit<0>>());
    BOOST_TEST(!aibatch::detail::field_docs_fit_members<one_misfit<1>>());
    BOOST_TEST(!aibatch::detail::field_docs_fit_members<one_misfit<2>>());
    BOOST_TEST(!aibatch::detail::field_docs_fit_members<one_misfit<3>>());
    BOOST_TEST(!aibatch::detail::field_docs_fit_members<one_misfit<4>>());
    // what fits is checked by decode<T>()
    auto r = aibatch::decode<misfit_docs>(
        parse(R"({"name":"","stars":9,"counts":{},"scores":[1,2,3],"flag":true})"));
    BOOST_REQUIRE(!r.has_value());
    const std::string e = r.error().to_string();
    BOOST_TEST(e.find("$.name") != std::string::npos, e);
    BOOST_TEST(e.find("$.stars") != std::string::npos, e);
    BOOST_TEST(e.find("$.scores") != std::string::npos, e);
}

BOOST_AUTO_TEST_CASE(base_class_members_are_included) {
    check_schema(aibatch::json_schema<derived_part>(), R"({
        "type":"object",
        "properties":{"id":{"type":"string"},"size":{"type":"integer"}},
        "required":["id","size"],"additionalProperties":false})");
}

BOOST_AUTO_TEST_CASE(descriptions_and_constraints) {
    check_schema(aibatch::json_schema<rated>(), R"({
        "type":"object","description":"A rating of one review",
        "properties":{
          "score":{"type":"number","description":"0 = awful, 1 = perfect","minimum":0.0,"maximum":1.0},
          "summary":{"type":"string","minLength":3,"maxLength":10},
          "keywords":{"type":"array","items":{"type":"string"},"description":"Salient words",
                      "minItems":1,"maxItems":3},
          "stars":{"type":"integer","minimum":1.0,"maximum":5.0}},
        "required":["score","summary","keywords"],"additionalProperties":false})");
    aibatch::schema_options plain;
    plain.constraints = false;
    check_schema(aibatch::json_schema<rated>(plain).at("properties").at("score").as_object(),
                 R"({"type":"number","description":"0 = awful, 1 = perfect"})");
}

BOOST_AUTO_TEST_CASE(user_traits_for_undescribable_types) {
    check_schema(aibatch::json_schema<dated>(), R"({
        "type":"object",
        "properties":{"when":{"type":"string","format":"date"},
                      "until":{"type":"string","format":"date"}},
        "required":["when"],"additionalProperties":false})");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(schema_decoding)

BOOST_AUTO_TEST_CASE(decodes_a_complete_document) {
    auto r = aibatch::decode<order>(parse(R"({
        "items":[{"name":"tea","quantity":3,"price":2.5},{"name":"cup","quantity":1}],
        "mood":"neutral","counters":{"a":1,"b":-2},"point":[1,2.5],"tags":null,
        "priority":255,"extra":{"anything":[1,"x"]}})"));
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
    const order& o = *r;
    BOOST_TEST(o.items.size() == 2u);
    BOOST_TEST(o.items[0].name == "tea");
    BOOST_TEST(o.items[0].quantity == 3);
    BOOST_TEST(*o.items[0].price == 2.5);
    BOOST_TEST(!o.items[1].price.has_value());
    BOOST_TEST((o.mood == sentiment::neutral));
    BOOST_TEST(o.counters.at("b") == -2);
    BOOST_TEST(o.point[1] == 2.5f);
    BOOST_TEST(!o.tags.has_value());
    BOOST_TEST(o.priority == 255);
    BOOST_TEST(json::serialize(o.extra) == R"({"anything":[1,"x"]})");
}

BOOST_AUTO_TEST_CASE(integers_given_as_whole_doubles_and_numbers_as_integers) {
    auto r = aibatch::decode<item>(parse(R"({"name":"a","quantity":4.0,"price":7})"));
    BOOST_REQUIRE(r);
    BOOST_TEST(r->quantity == 4);
    BOOST_TEST(*r->price == 7.0);
}

BOOST_AUTO_TEST_CASE(recursive_and_inherited_and_custom) {
    auto t = aibatch::decode<tree_node>(parse(
        R"({"label":"r","children":[{"label":"a","children":[{"label":"b","children":[]}]}]})"));
    BOOST_REQUIRE(t);
    BOOST_TEST(t->children[0].children[0].label == "b");
    auto d = aibatch::decode<derived_part>(parse(R"({"id":"x","size":2})"));
    BOOST_REQUIRE(d);
    BOOST_TEST(d->id == "x");
    auto w = aibatch::decode<dated>(parse(R"({"when":"2024-01-31"})"));
    BOOST_REQUIRE(w);
    BOOST_TEST(w->when.m == 1);
    BOOST_TEST(!w->until.has_value());
}

BOOST_AUTO_TEST_CASE(failure_messages_name_the_path_and_the_problem) {
    BOOST_TEST(
        decode_failure<spam_result>(R"({"is_spam":true,"confidence":"high","reason":"x"})") ==
        "$.confidence: expected number, got string");
    BOOST_TEST(decode_failure<spam_result>(R"({"is_spam":true,"confidence":0.5})") ==
               "$: missing required field \"reason\"");
    BOOST_TEST(decode_failure<order>(R"({"items":[],"mood":"happy","counters":{},"point":[1,2],
                                        "priority":1,"extra":null})") ==
               "$.mood: \"happy\" is not one of positive, negative, neutral");
    BOOST_TEST(
        decode_failure<order>(R"({"items":[{"name":"a","quantity":1},{"name":"b","quantity":1},
                                        {"name":"c","quantity":"2"}],"mood":"positive","counters":{},
                                        "point":[1,2],"priority":1,"extra":1})") ==
        "$.items[2].quantity: expected integer, got string");
    BOOST_TEST(decode_failure<spam_result>(R"([1])") == "$: expected object, got array");
    BOOST_TEST(decode_failure<spam_result>(R"({"is_spam":1,"confidence":0,"reason":""})") ==
               "$.is_spam: expected boolean, got integer");
}

BOOST_AUTO_TEST_CASE(integer_range_and_integrality) {
    BOOST_TEST(decode_failure<item>(R"({"name":"a","quantity":2.5})") ==
               "$.quantity: expected integer, got 2.5");
    BOOST_TEST(decode_failure<item>(R"({"name":"a","quantity":3000000000})") ==
               "$.quantity: 3000000000 is out of range (-2147483648 to 2147483647)");
    BOOST_TEST(decode_failure<order>(R"({"items":[],"mood":"positive","counters":{},"point":[1,2],
                                        "priority":256,"extra":1})") ==
               "$.priority: 256 is out of range (0 to 255)");
    BOOST_TEST(decode_failure<order>(R"({"items":[],"mood":"positive","counters":{},"point":[1,2],
                                        "priority":-1,"extra":1})") ==
               "$.priority: -1 is out of range (0 to 255)");
    BOOST_TEST(decode_failure<order>(
                   R"({"items":[],"mood":"positive","counters":{"k":18446744073709551615},
                                        "point":[1,2],"priority":1,"extra":1})") ==
               "$.counters.k: 18446744073709551615 is out of range (-9223372036854775808 to "
               "9223372036854775807)");
}

BOOST_AUTO_TEST_CASE(arrays_maps_and_fixed_sizes) {
    BOOST_TEST(decode_failure<order>(R"({"items":{},"mood":"positive","counters":[],"point":[1],
                                        "priority":1,"extra":1})") ==
               "$.items: expected array, got object; $.counters: expected object, got array; "
               "$.point: expected 2 items, got 1");
    BOOST_TEST(
        decode_failure<order>(R"({"items":[],"mood":"positive","counters":{"a":true},
                                        "point":[1,null],"priority":1,"extra":1})") ==
        "$.counters.a: expected integer, got boolean; $.point[1]: expected number, got null");
}

BOOST_AUTO_TEST_CASE(unknown_fields_rejected_or_allowed) {
    BOOST_TEST(decode_failure<spam_result>(
                   R"({"is_spam":true,"confidence":1,"reason":"x","mood":"sad"})") ==
               "$: unknown field \"mood\"");
    aibatch::decode_options allow;
    allow.allow_unknown_fields = true;
    auto r = aibatch::decode<spam_result>(
        parse(R"({"is_spam":true,"confidence":1,"reason":"x","mood":"sad"})"), allow);
    BOOST_TEST(r.has_value());
}

BOOST_AUTO_TEST_CASE(constraints_are_checked) {
    BOOST_TEST(decode_failure<rated>(R"({"score":1.5,"summary":"ok","keywords":[],"stars":9})") ==
               "$.score: 1.5 is greater than the maximum 1; "
               "$.summary: text of 2 characters is shorter than the minimum 3; "
               "$.keywords: 0 items, fewer than the minimum 1; "
               "$.stars: 9 is greater than the maximum 5");
    BOOST_TEST(decode_failure<rated>(
                   R"({"score":-0.25,"summary":"far too long","keywords":["a","b","c","d"]})") ==
               "$.score: -0.25 is less than the minimum 0; "
               "$.summary: text of 12 characters is longer than the maximum 10; "
               "$.keywords: 4 items, more than the maximum 3");
    // Characters, not bytes: "héllo" is 5 characters, 6 bytes.
    BOOST_TEST(
        aibatch::decode<rated>(parse(R"({"score":0,"summary":"h\u00e9llo wor","keywords":["a"]})"))
            .has_value());
}

BOOST_AUTO_TEST_CASE(custom_traits_report_through_the_context) {
    BOOST_TEST(decode_failure<dated>(R"({"when":"31/01/2024","until":5})") ==
               "$.when: \"31/01/2024\" is not a date like 2024-01-31; "
               "$.until: expected a date string like 2024-01-31");
}

BOOST_AUTO_TEST_CASE(issue_count_is_capped) {
    aibatch::decode_options o;
    o.max_issues = 2;
    auto r = aibatch::decode<order>(parse("{}"), o);
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().issues.size() == 2u);
    BOOST_TEST(r.error().issues[0].path == "$");
}

BOOST_AUTO_TEST_CASE(decode_or_throw_carries_the_diagnostic) {
    try {
        aibatch::decode_or_throw<spam_result>(parse(R"({"is_spam":"no"})"));
        BOOST_FAIL("no exception");
    } catch (const aibatch::error& e) {
        BOOST_TEST(e.code() == aibatch::errc::invalid_output);
        std::string what = e.what();
        BOOST_TEST(what.find("$.is_spam: expected boolean, got string") != std::string::npos);
        BOOST_TEST(what.find("missing required field \"confidence\"") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(integers_written_as_doubles_must_fit_exactly) {
    BOOST_TEST(decode_failure<wide_numbers>(R"({"i64":9223372036854775808.0,"u64":0,"f":0})") ==
               "$.i64: 9.22337203685478e+18 is out of range (-9223372036854775808 to "
               "9223372036854775807)");
    BOOST_TEST(decode_failure<wide_numbers>(R"({"i64":0,"u64":18446744073709551616.0,"f":0})")
                   .find("$.u64: ") == 0u);
    auto r =
        aibatch::decode<wide_numbers>(parse(R"({"i64":-9223372036854775808.0,"u64":1e19,"f":0})"));
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(r->i64 == std::numeric_limits<std::int64_t>::min());
    BOOST_TEST(r->u64 == 10000000000000000000ull);
}

BOOST_AUTO_TEST_CASE(nan_and_infinity_are_rejected_at_their_path) {
    // Boost.JSON 1.81 reads 0e400 as NaN and 1e400 as infinity; neither may pass a
    // [0, 1] constraint or reach a field.
    BOOST_TEST(decode_failure<rated>(R"({"score":0e400,"summary":"abcd","keywords":["k"]})") ==
               "$.score: expected a finite number, got NaN (the JSON number is out of range)");
    BOOST_TEST(decode_failure<wide_numbers>(R"({"i64":0,"u64":0,"f":1e400})") ==
               "$.f: expected a finite number, got infinity (the JSON number is out of range)");
    BOOST_TEST(decode_failure<wide_numbers>(R"({"i64":0e400,"u64":0,"f":0})").find("$.i64: ") ==
               0u);
}

BOOST_AUTO_TEST_CASE(values_overflowing_a_float_are_rejected) {
    BOOST_TEST(decode_failure<wide_numbers>(R"({"i64":0,"u64":0,"f":1e300})")
                   .find("$.f: 1e+300 is out of range (a float field holds at most") == 0u);
    auto r = aibatch::decode<wide_numbers>(parse(R"({"i64":0,"u64":0,"f":3.4e38})"));
    BOOST_TEST(r.has_value());
}

BOOST_AUTO_TEST_SUITE_END()
