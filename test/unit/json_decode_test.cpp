// The streaming decoders (decode_json<T>, result_decoder<T>) against the tree path
// (decode<T>, result_line::from_json + read_output<T>): the same values, the same
// messages, for fixed cases, generated conforming values and seeded random mutations.
#include "decoded_value.hpp"
#include "emulator/schema_values.hpp"
#include "schema_test_types.hpp"

#include <aibatch/typed/json_decode.hpp>
#include <aibatch/typed/result_decoder.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace json = boost::json;

namespace schema_test {
json::value encode_custom(const date& d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", d.y, d.m, d.d);
    return json::value(buf);
}
} // namespace schema_test

using namespace schema_test;

namespace {

// What one decode gave, in a comparable form.
struct outcome {
    bool ok = false;
    json::value value;
    std::string error;
    bool operator==(const outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const outcome& o) {
    return os << (o.ok ? "value " + json::serialize(o.value) : "error " + o.error);
}

template <class R>
outcome outcome_of(const R& r) {
    outcome o;
    o.ok = r.has_value();
    if (o.ok)
        o.value = aibatch_test::decoded_value(r.value());
    else
        o.error = r.error().to_string();
    return o;
}

// decode_json<T>(text) and decode<T>(parse(text)): equal outcomes. Text that is not JSON:
// one issue at "$" with the parser's reason. Returns whether the text decoded.
template <class T>
bool agree(std::string_view text, const aibatch::decode_options& opts = {}) {
    boost::system::error_code ec;
    json::value tree = json::parse(text, ec);
    outcome streamed = outcome_of(aibatch::decode_json<T>(text, opts));
    if (ec) {
        BOOST_CHECK_MESSAGE(!streamed.ok && streamed.error == "$: not valid JSON: " + ec.message(),
                            "not JSON: " << text << "\n  streamed: " << streamed);
        return false;
    }
    outcome walked = outcome_of(aibatch::decode<T>(tree, opts));
    BOOST_CHECK_MESSAGE(streamed == walked, aibatch::detail::type_name<T>()
                                                << ": " << text << "\n  tree:     " << walked
                                                << "\n  streamed: " << streamed);
    return walked.ok;
}

std::uint64_t seed_from_env() {
    const char* s = std::getenv("AIBATCH_SEED");
    return s ? std::strtoull(s, nullptr, 10) : 20261125;
}

// ---- random mutations of JSON, seeded

json::value random_scalar(std::mt19937_64& rng) {
    static const char* const scalars[] = {"null",
                                          "true",
                                          "false",
                                          "0",
                                          "-1",
                                          "1",
                                          "2.5",
                                          "-0.25",
                                          "255",
                                          "256",
                                          "3000000000",
                                          "18446744073709551615",
                                          "-9223372036854775808",
                                          "9223372036854775808.0",
                                          "1e300",
                                          "1e400",
                                          "0e400",
                                          "4.0",
                                          "\"\"",
                                          "\"x\"",
                                          "\"neutral\"",
                                          "\"positive\"",
                                          "\"2024-01-31\"",
                                          "\"31/01/2024\"",
                                          "\"h\\u00e9llo wor\"",
                                          "[]",
                                          "{}",
                                          "[1,null]",
                                          "{\"a\":1}"};
    return json::parse(scalars[rng() % std::size(scalars)]);
}

// Every value of a tree, to pick one.
void collect(json::value& v, std::vector<json::value*>& out) {
    out.push_back(&v);
    if (v.is_array())
        for (auto& e : v.get_array())
            collect(e, out);
    else if (v.is_object())
        for (auto& kv : v.get_object())
            collect(kv.value(), out);
}

void collect_keys(const json::value& v, std::vector<std::string>& out) {
    if (v.is_array())
        for (const auto& e : v.get_array())
            collect_keys(e, out);
    else if (v.is_object())
        for (const auto& kv : v.get_object()) {
            out.emplace_back(kv.key());
            collect_keys(kv.value(), out);
        }
}

// One structural or textual change to a JSON text.
std::string mutate(std::string_view text, std::mt19937_64& rng) {
    boost::system::error_code ec;
    json::value tree = json::parse(text, ec);
    unsigned what = static_cast<unsigned>(rng() % 10);
    if (ec || what >= 7) {
        // Bytes: delete, insert, or repeat a slice (mostly not JSON any more, or changed
        // numbers and keys).
        std::string s(text);
        if (s.empty())
            return "{";
        std::size_t at = rng() % s.size();
        static const char alphabet[] = "{}[]\":,0123456789-.eEtrufalsn \\xyz";
        if (what == 7)
            s.erase(at, 1);
        else if (what == 8)
            s.insert(at, 1, alphabet[rng() % (sizeof alphabet - 1)]);
        else
            s.insert(at, s.substr(at, rng() % 16));
        return s;
    }
    std::vector<json::value*> nodes;
    collect(tree, nodes);
    json::value& node = *nodes[rng() % nodes.size()];
    std::vector<std::string> keys;
    collect_keys(tree, keys);
    switch (what) {
    case 0:
    case 1:
        node = random_scalar(rng);
        break;
    case 2: // drop a key
        if (node.is_object() && !node.get_object().empty()) {
            auto& o = node.get_object();
            o.erase(std::next(o.begin(), static_cast<std::ptrdiff_t>(rng() % o.size())));
        } else {
            node = nullptr;
        }
        break;
    case 3: // an unknown key, or one with characters a path must quote
        if (node.is_object())
            node.get_object()[rng() % 2 ? "zzz" : "1 x\"y"] = random_scalar(rng);
        else
            node = json::array{node, node};
        break;
    case 4: // long strings with escapes: the parser hands them over in parts
        if (node.is_object()) {
            std::string k(3000, 'k');
            node.get_object()[k] = std::string(5000, 'e') + "\xc3\xa9";
        } else {
            node = std::string(4000, 'x') + "\n\"\\\xc3\xa9";
        }
        break;
    case 5: { // a repeated key: Boost.JSON keeps the last
        std::string s = json::serialize(tree);
        if (keys.empty())
            return s;
        std::size_t close = s.rfind('}');
        if (close == std::string::npos || close == 0 || s[close - 1] == '{')
            return s;
        return s.substr(0, close) + ",\"" + keys[rng() % keys.size()] +
               "\":" + json::serialize(random_scalar(rng)) + s.substr(close);
    }
    default: // an array grows or shrinks
        if (node.is_array()) {
            auto& a = node.get_array();
            if (!a.empty() && rng() % 2)
                a.pop_back();
            else
                a.push_back(a.empty() ? random_scalar(rng) : a.front());
        } else {
            node = json::array{};
        }
        break;
    }
    return json::serialize(tree);
}

// Conforming values from the type's schema, the given texts, and mutations of both.
template <class T>
void property(const std::vector<std::string>& seeds, std::uint64_t seed, int mutations) {
    std::mt19937_64 rng(seed ^ std::hash<std::string>{}(aibatch::detail::type_name<T>()));
    json::value schema = aibatch::json_schema<T>();
    std::vector<std::string> texts = seeds;
    int valid = 0;
    for (int i = 0; i < 40; ++i) {
        texts.push_back(json::serialize(aibatch::emulator::generate_conforming(schema, rng())));
        valid += agree<T>(texts.back());
    }
    for (const auto& t : seeds)
        agree<T>(t);
    aibatch::decode_options lenient;
    lenient.allow_unknown_fields = true;
    aibatch::decode_options capped;
    capped.max_issues = 2;
    int decoded = 0;
    for (int i = 0; i < mutations; ++i) {
        std::string m = texts[rng() % texts.size()];
        for (unsigned n = 1 + static_cast<unsigned>(rng() % 3); n > 0; --n)
            m = mutate(m, rng);
        decoded += agree<T>(m);
        agree<T>(m, lenient);
        agree<T>(m, capped);
        if (rng() % 4 == 0)
            texts.push_back(m);
    }
    BOOST_TEST_MESSAGE(aibatch::detail::type_name<T>()
                       << ": " << valid << " of 40 generated values decoded, " << decoded << " of "
                       << mutations << " mutations");
    // (The generator knows no "format": date, so dated's values are all invalid.)
    if constexpr (!std::is_same_v<T, dated>)
        BOOST_TEST(valid > 0, aibatch::detail::type_name<T>() << ": no generated value decoded");
}

} // namespace

BOOST_AUTO_TEST_SUITE(stream_decoding)

BOOST_AUTO_TEST_CASE(same_values_as_the_tree_for_complete_documents) {
    BOOST_TEST(agree<order>(R"({
        "items":[{"name":"tea","quantity":3,"price":2.5},{"name":"cup","quantity":1}],
        "mood":"neutral","counters":{"a":1,"b":-2},"point":[1,2.5],"tags":null,
        "priority":255,"extra":{"anything":[1,"x",{"deep":[null]}]}})"));
    BOOST_TEST(agree<item>(R"({"name":"a","quantity":4.0,"price":7})"));
    BOOST_TEST(agree<tree_node>(
        R"({"label":"r","children":[{"label":"a","children":[{"label":"b","children":[]}]}]})"));
    BOOST_TEST(agree<forest>(R"({"trees":[{"label":"x","children":[]}]})"));
    BOOST_TEST(agree<derived_part>(R"({"id":"x","size":2})"));
    BOOST_TEST(agree<dated>(R"({"when":"2024-01-31"})"));
    BOOST_TEST(agree<dated>(R"({"when":"2024-01-31","until":null})"));
    BOOST_TEST(agree<rated>(R"({"score":0,"summary":"h\u00e9llo wor","keywords":["a"]})"));
    BOOST_TEST(agree<wide_numbers>(R"({"i64":-9223372036854775808.0,"u64":1e19,"f":3.4e38})"));
    BOOST_TEST(agree<sentiment>(R"("negative")"));
    BOOST_TEST(agree<std::vector<std::optional<int>>>("[1,null,3]"));
    BOOST_TEST(agree<json::value>(R"({"a":[1,2,{"b":null}]})"));
    auto r = aibatch::decode_json<order>(R"({"items":[],"mood":"positive","counters":{"k":7},
        "point":[0.5,1],"priority":9,"extra":[true]})");
    BOOST_REQUIRE(r);
    BOOST_TEST(r->counters.at("k") == 7);
    BOOST_TEST(r->point[0] == 0.5f);
    BOOST_TEST(json::serialize(r->extra) == "[true]");
}

// Found by review s13: a std::vector<bool> member (the README lists std::vector<T>) did
// not compile: the decoder takes each element's address, which vector<bool> has not.
struct answers {
    std::vector<bool> yes;
    std::optional<std::vector<bool>> maybe;
};
BOOST_DESCRIBE_STRUCT(answers, (), (yes, maybe))

BOOST_AUTO_TEST_CASE(vectors_of_bool_decode_like_other_vectors) {
    BOOST_TEST(json::value(aibatch::json_schema<answers>()) == json::parse(R"({
        "type":"object",
        "properties":{"yes":{"type":"array","items":{"type":"boolean"}},
                      "maybe":{"type":"array","items":{"type":"boolean"}}},
        "required":["yes"],"additionalProperties":false})"));
    BOOST_TEST(agree<answers>(R"({"yes":[true,false,true],"maybe":null})"));
    BOOST_TEST(agree<answers>(R"({"yes":[],"maybe":[false]})"));
    auto r = aibatch::decode_json<answers>(R"({"yes":[true,false,true],"maybe":[false]})");
    BOOST_REQUIRE(r);
    BOOST_TEST((r->yes == std::vector<bool>{true, false, true}));
    BOOST_TEST((r->maybe == std::vector<bool>{false}));
    // The same messages as a std::vector<int> would give, element by element.
    BOOST_TEST(!agree<answers>(R"({"yes":[true,1,"x",[],{}]})"));
    BOOST_TEST(aibatch::decode_json<answers>(R"({"yes":[true,1,[]]})").error().to_string() ==
               "$.yes[1]: expected boolean, got integer; $.yes[2]: expected boolean, got array");
    BOOST_TEST(!agree<answers>(R"({"yes":{}})"));
    BOOST_TEST(!agree<answers>(R"({"yes":true})"));
}

BOOST_AUTO_TEST_CASE(same_messages_in_the_same_order_as_the_tree) {
    // Members are reported in declaration order and unknown fields last, whatever the
    // order of the document.
    BOOST_TEST(!agree<order>(R"({"extra":1,"point":[1],"counters":[],"zz":0,"mood":"positive",
                                 "items":{},"priority":1})"));
    BOOST_TEST(aibatch::decode_json<order>(R"({"extra":1,"point":[1],"counters":[],"zz":0,
            "mood":"positive","items":{},"priority":1})")
                   .error()
                   .to_string() == "$.items: expected array, got object; $.counters: expected "
                                   "object, got array; $.point: expected 2 items, got 1; $: "
                                   "unknown field \"zz\"");
    BOOST_TEST(!agree<spam_result>(R"({"reason":5,"zz":1,"is_spam":"no"})"));
    BOOST_TEST(!agree<rated>(R"({"stars":9,"keywords":[],"summary":"ok","score":1.5})"));
    BOOST_TEST(!agree<order>(R"({"items":[{"name":"a","quantity":1},{"quantity":"2","name":"c"}],
        "mood":"happy","counters":{"k":18446744073709551615,"a":true},"point":[1,null],
        "priority":256,"extra":1})"));
    BOOST_TEST(!agree<dated>(R"({"until":5,"when":"31/01/2024"})"));
    BOOST_TEST(!agree<wide_numbers>(R"({"f":1e300,"u64":18446744073709551616.0,"i64":0e400})"));
    // The same unknown key in an object and in an object inside it: both reported.
    BOOST_TEST(!agree<order>(R"({"items":[{"name":"a","quantity":1,"x":1},{"x":1}],"x":2,
        "mood":"positive","counters":{},"point":[1,2],"priority":1,"extra":1})"));
    BOOST_TEST(aibatch::decode<order>(json::parse(R"({"items":[{"name":"a","quantity":1,"x":1}],
        "x":2,"mood":"positive","counters":{},"point":[1,2],"priority":1,"extra":1})"))
                   .error()
                   .to_string() == "$.items[0]: unknown field \"x\"; $: unknown field \"x\"");
    BOOST_TEST(!agree<spam_result>("[1]"));
    BOOST_TEST(!agree<spam_result>("{}"));
    BOOST_TEST(!agree<tree_node>(R"({"children":[{"children":[{"label":1}]},7],"label":[]})"));
    aibatch::decode_options capped;
    capped.max_issues = 2;
    BOOST_TEST(!agree<order>("{}", capped));
    BOOST_TEST(!agree<order>(R"({"priority":-1,"items":[1,2,3],"mood":1})", capped));
}

BOOST_AUTO_TEST_CASE(unknown_fields_allowed_are_skipped_whole) {
    aibatch::decode_options allow;
    allow.allow_unknown_fields = true;
    BOOST_TEST(agree<spam_result>(
        R"({"x":{"deep":[1,{"y":[]}]},"is_spam":true,"confidence":1,"reason":"r","z":[[]]})",
        allow));
}

BOOST_AUTO_TEST_CASE(a_repeated_key_keeps_the_last_as_the_tree_does) {
    BOOST_TEST(
        agree<spam_result>(R"({"is_spam":"bad","confidence":1,"reason":"x","is_spam":true})"));
    BOOST_TEST(
        !agree<spam_result>(R"({"is_spam":true,"confidence":1,"reason":"x","is_spam":"bad"})"));
    BOOST_TEST(agree<order>(R"({"items":[],"mood":"positive","counters":{"a":"x","a":2},
        "point":[1,2],"priority":1,"extra":{"k":1,"k":2}})"));
    BOOST_TEST(!agree<spam_result>(R"({"is_spam":true,"confidence":1,"reason":"x","u":1,"u":2})"));
}

BOOST_AUTO_TEST_CASE(long_strings_and_keys_arrive_in_parts) {
    std::string text = std::string(9000, 'a') + "\\u00e9\\n";
    BOOST_TEST(agree<spam_result>(R"({"is_spam":true,"confidence":1,"reason":")" + text + "\"}"));
    BOOST_TEST(
        !agree<spam_result>(R"({"is_spam":true,"confidence":1,"reason":"r",")" + text + "\":1}"));
    BOOST_TEST(agree<order>(R"({"items":[],"mood":"positive","counters":{")" + text +
                            R"(":1},"point":[1,2],"priority":1,"extra":")" + text + "\"}"));
    auto r = aibatch::decode_json<spam_result>(R"({"is_spam":true,"confidence":1,"reason":")" +
                                               text + "\"}");
    BOOST_REQUIRE(r);
    BOOST_TEST(r->reason == std::string(9000, 'a') + "\xc3\xa9\n");
}

BOOST_AUTO_TEST_CASE(text_that_is_not_json_is_one_issue) {
    for (std::string_view t : {"", "{", R"({"is_spam":true} x)", "[1,]", "{\"a\" 1}", "nul"})
        BOOST_TEST(!agree<spam_result>(t));
    auto r = aibatch::decode_json<spam_result>("{\"is_spam\":tru}");
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().issues.size() == 1u);
    BOOST_TEST(r.error().issues[0].path == "$");
    BOOST_TEST(r.error().issues[0].message.starts_with("not valid JSON: "));
    // Deeper than Boost.JSON's default limit (32), as boost::json::parse refuses it.
    BOOST_TEST(!agree<json::value>(std::string(40, '[') + std::string(40, ']')));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stream_decode_property)

BOOST_AUTO_TEST_CASE(streamed_and_tree_decodes_agree_on_valid_invalid_and_mutated_inputs) {
    const std::uint64_t seed = seed_from_env();
    BOOST_TEST_MESSAGE("stream_decode_property seed " << seed << " (AIBATCH_SEED to repeat)");
    std::cout << "stream_decode_property: AIBATCH_SEED=" << seed << "\n";
    constexpr int n = 600;
    property<spam_result>({R"({"is_spam":true,"confidence":0.5,"reason":"x"})"}, seed, n);
    property<item>({R"({"name":"a","quantity":4.0,"price":7})"}, seed, n);
    property<order>({R"({"items":[{"name":"tea","quantity":3,"price":2.5}],"mood":"neutral",
        "counters":{"a":1},"point":[1,2.5],"tags":["t"],"priority":255,"extra":{"x":[1]}})"},
                    seed, n);
    property<tree_node>({R"({"label":"r","children":[{"label":"a","children":[]}]})"}, seed, n);
    property<forest>({R"({"trees":[{"label":"r","children":[]}]})"}, seed, n);
    property<base_part>({R"({"id":"x"})"}, seed, n);
    property<derived_part>({R"({"id":"x","size":2})"}, seed, n);
    property<rated>({R"({"score":0.5,"summary":"abcd","keywords":["k"],"stars":3})"}, seed, n);
    property<dated>({R"({"when":"2024-01-31","until":"2025-02-28"})"}, seed, n);
    property<wide_numbers>({R"({"i64":-5,"u64":5,"f":0.5})"}, seed, n);
    property<sentiment>({R"("positive")"}, seed, n);
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------ result lines

namespace {

struct line_outcome {
    bool thrown = false;
    std::string what;
    std::string custom_id;
    aibatch::result_type type{};
    std::string message_id; // the engine tells two answers apart by it
    std::string stop_reason;
    std::optional<json::value> token_usage;
    std::string error;
    bool has_value = false;
    json::value value;
    aibatch::output_failure failure{};
    std::string message;
    std::string raw;
    bool operator==(const line_outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const line_outcome& o) {
    if (o.thrown)
        return os << "threw " << o.what;
    os << o.custom_id << " " << aibatch::to_string(o.type) << " id=" << o.message_id
       << " stop=" << o.stop_reason
       << " usage=" << (o.token_usage ? json::serialize(*o.token_usage) : "-")
       << " error=" << o.error << " ";
    if (o.has_value)
        return os << "value " << json::serialize(o.value);
    return os << aibatch::to_string(o.failure) << " " << o.message << " raw=" << o.raw;
}

json::value usage_json(const std::optional<aibatch::usage>& u) {
    return json::object{{"in", u->input_tokens},
                        {"out", u->output_tokens},
                        {"cc", u->cache_creation_input_tokens},
                        {"cr", u->cache_read_input_tokens},
                        {"c1h", u->cache_creation_1h_input_tokens},
                        {"tier", u->service_tier}};
}

// What dec.decode(line, d) gave, or threw.
template <class T>
line_outcome decode_into(aibatch::result_decoder<T>& dec, std::string_view line,
                         aibatch::decoded_line<T>& d) {
    line_outcome o;
    try {
        dec.decode(line, d);
        o.custom_id = d.custom_id;
        o.type = d.type;
        o.message_id = d.message_id;
        o.stop_reason = d.stop_reason;
        if (d.token_usage)
            o.token_usage = usage_json(d.token_usage);
        o.error = d.error.type + "|" + d.error.message + "|" + d.error.request_id;
        o.has_value = d.output.value.has_value();
        if (o.has_value)
            o.value = aibatch_test::decoded_value(*d.output.value);
        o.failure = d.output.failure;
        o.message = d.output.message;
        o.raw = d.output.raw;
    } catch (const aibatch::error& e) {
        o = {};
        o.thrown = true;
        o.what = e.what();
    }
    return o;
}

// Reads `teacher` twice through `dec`: whether the second read went through the shape the
// first one taught.
template <class T>
bool taught_a_shape(aibatch::result_decoder<T>& dec, const std::string& teacher,
                    aibatch::decoded_line<T>& reused) {
    decode_into(dec, teacher, reused);
    const std::size_t before = dec.line_shape_hits();
    decode_into(dec, teacher, reused);
    return dec.line_shape_hits() > before;
}

template <class T>
line_outcome streamed_line(aibatch::result_decoder<T>& dec, std::string_view line) {
    aibatch::decoded_line<T> d;
    return decode_into(dec, line, d);
}

// The tree path as the engine reads a line today.
template <class T>
line_outcome tree_line(const aibatch::output_spec& spec, std::string_view line,
                       const aibatch::decode_options& opts = {}) {
    line_outcome o;
    try {
        boost::system::error_code ec;
        json::value v = json::parse(line, ec);
        if (ec)
            throw aibatch::error(aibatch::errc::bad_response, "not JSON (" + ec.message() + ")");
        aibatch::result_line r = aibatch::result_line::from_json(std::move(v));
        o.custom_id = r.custom_id;
        o.type = r.type;
        o.error = r.error.type + "|" + r.error.message + "|" + r.error.request_id;
        if (r.type == aibatch::result_type::succeeded) {
            if (const auto* id = r.message.if_contains("id"); id && id->is_string())
                o.message_id = std::string(id->get_string());
            if (const auto* s = r.message.if_contains("stop_reason"); s && s->is_string())
                o.stop_reason = std::string(s->get_string());
            if (const auto* u = r.message.if_contains("usage"))
                o.token_usage = usage_json(aibatch::usage_from_json(*u));
            auto out = aibatch::read_output<T>(r.message, spec, opts);
            o.has_value = out.value.has_value();
            if (o.has_value)
                o.value = aibatch_test::decoded_value(*out.value);
            o.failure = out.failure;
            o.message = out.message;
            o.raw = out.raw;
        }
    } catch (const aibatch::error& e) {
        o = {};
        o.thrown = true;
        o.what = e.what();
    }
    return o;
}

template <class T>
line_outcome lines_agree(aibatch::result_decoder<T>& dec, std::string_view line) {
    line_outcome s = streamed_line(dec, line);
    line_outcome t = tree_line<T>(dec.spec(), line);
    BOOST_CHECK_MESSAGE(s == t, line << "\n  tree:     " << t << "\n  streamed: " << s);
    return s;
}

std::string tool_line(std::string_view id, std::string_view input,
                      std::string_view stop = "tool_use", std::string_view name = "spam_result") {
    return R"({"custom_id":")" + std::string(id) +
           R"(","result":{"type":"succeeded","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"tool_use","id":"toolu_1","name":")" +
           std::string(name) + R"(","input":)" + std::string(input) + R"(}],"stop_reason":")" +
           std::string(stop) +
           R"(","stop_sequence":null,"usage":{"input_tokens":120,"output_tokens":34,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"service_tier":"batch"}}}})";
}

const std::string good_input = R"({"is_spam":true,"confidence":0.9,"reason":"free money"})";

} // namespace

// ---- review16: the flat-struct loop against the tree path, with odd types and options.
namespace review16 {

// Two described bases with a member of one name: the drivers match a key to the first
// member of that name, so the second is always "missing"; the tree never decodes one.
struct left_part {
    int x = 0;
};
BOOST_DESCRIBE_STRUCT(left_part, (), (x))
struct right_part {
    int x = 0;
};
BOOST_DESCRIBE_STRUCT(right_part, (), (x))
struct both_parts : left_part, right_part {
    int y = 0;
};
BOOST_DESCRIBE_STRUCT(both_parts, (left_part, right_part), (y))

// A member listed twice (Boost.Describe takes it).
struct listed_twice {
    int a = 0;
};
BOOST_DESCRIBE_STRUCT(listed_twice, (), (a, a))

// Inherited members first, then the struct's own.
struct inherited_base {
    std::string id;
    bool on = false;
};
BOOST_DESCRIBE_STRUCT(inherited_base, (), (id, on))
struct inherited_record : inherited_base {
    double v = 0;
};
BOOST_DESCRIBE_STRUCT(inherited_record, (inherited_base), (v))

struct no_members {};
BOOST_DESCRIBE_STRUCT(no_members, (), ())

BOOST_DEFINE_ENUM_CLASS(hue, red, green, blue)

struct odd_record {
    char c;
    signed char sc;
    std::int8_t i8;
    std::uint64_t u64;
    std::int64_t i64;
    long double ld;
    float f;
    bool b;
    hue h;
    std::string s;
    std::uint16_t u16;
    double d;
};
BOOST_DESCRIBE_STRUCT(odd_record, (), (c, sc, i8, u64, i64, ld, f, b, h, s, u16, d))

struct wide_record {
    int m0;
    int m1;
    int m2;
    int m3;
    int m4;
    int m5;
    int m6;
    int m7;
    int m8;
    int m9;
    int m10;
    int m11;
    int m12;
    int m13;
    int m14;
    int m15;
    int m16;
    int m17;
    int m18;
    int m19;
    int m20;
    int m21;
    int m22;
    int m23;
    int m24;
    int m25;
    int m26;
    int m27;
    int m28;
    int m29;
    int m30;
    int m31;
    int m32;
    int m33;
    int m34;
    int m35;
    int m36;
    int m37;
    int m38;
    int m39;
};
BOOST_DESCRIBE_STRUCT(wide_record, (),
                      (m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15, m16,
                       m17, m18, m19, m20, m21, m22, m23, m24, m25, m26, m27, m28, m29, m30, m31,
                       m32, m33, m34, m35, m36, m37, m38, m39))

// T() is fine, T{} is not (aggregate init of `t` would use an explicit constructor):
// decode<std::vector<holder>> compiled before 8057802, and must still (flat() assigns a
// T{}, so such a T is no flat struct).
struct explicit_tag {
    explicit explicit_tag() = default;
};
struct holder {
    int a = 0;
    explicit_tag t;
};
BOOST_DESCRIBE_STRUCT(holder, (), (a))

} // namespace review16

template <>
struct aibatch::schema_docs<review16::odd_record> {
    static constexpr aibatch::field_doc fields[] = {
        {.name = "f", .minimum = 0.1},
        {.name = "s", .min_length = 2, .max_length = 4},
        {.name = "u16", .minimum = 3, .maximum = 300},
        {.name = "d", .minimum = -1.5, .maximum = 2.5},
    };
};

BOOST_AUTO_TEST_SUITE(result_lines)

BOOST_AUTO_TEST_CASE(a_succeeded_tool_use_line_decodes_into_the_type) {
    aibatch::result_decoder<spam_result> dec(aibatch::output_spec::for_type<spam_result>());
    auto d = dec.decode(tool_line("run1-0", good_input));
    BOOST_TEST(d.custom_id == "run1-0");
    BOOST_TEST((d.type == aibatch::result_type::succeeded));
    BOOST_TEST(d.stop_reason == "tool_use");
    BOOST_REQUIRE(d.token_usage.has_value());
    BOOST_TEST(d.token_usage->input_tokens == 120u);
    BOOST_TEST(d.token_usage->output_tokens == 34u);
    BOOST_TEST(d.token_usage->service_tier == "batch");
    BOOST_REQUIRE(d.output.value.has_value());
    BOOST_TEST(d.output.value->is_spam);
    BOOST_TEST(d.output.value->reason == "free money");
    BOOST_TEST((d.output.failure == aibatch::output_failure::none));
    lines_agree(dec, tool_line("run1-0", good_input));
}

BOOST_AUTO_TEST_CASE(errored_canceled_and_expired_lines_carry_their_envelope) {
    aibatch::result_decoder<spam_result> dec(aibatch::output_spec::for_type<spam_result>());
    auto e = dec.decode(
        R"({"custom_id":"a","result":{"type":"errored","error":{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: too big"},"request_id":"req_9"}}})");
    BOOST_TEST((e.type == aibatch::result_type::errored));
    BOOST_TEST(e.error.type == "invalid_request_error");
    BOOST_TEST(e.error.message == "max_tokens: too big");
    BOOST_TEST(e.error.request_id == "req_9");
    BOOST_TEST(!e.output.value.has_value());
    for (
        std::string_view line : {
            R"({"custom_id":"a","result":{"type":"errored","error":{"type":"error","error":{"type":"invalid_request_error","message":"m"},"request_id":"req_9"}}})",
            R"({"custom_id":"a","result":{"type":"errored","error":{"type":"overloaded_error","message":"m"}}})",
            R"({"custom_id":"a","result":{"type":"errored","error":{"type":"error","error":{"type":null}}}})",
            R"({"custom_id":"b","result":{"type":"canceled"}})",
            R"({"result":{"type":"expired"},"custom_id":"c"})",
        })
        lines_agree(dec, line);
}

BOOST_AUTO_TEST_CASE(keys_in_any_order_and_other_blocks) {
    aibatch::result_decoder<spam_result> dec(aibatch::output_spec::for_type<spam_result>());
    for (
        const std::string& line : std::vector<std::string>{
            // result type after the message; usage first; input before the block's type
            R"({"result":{"message":{"usage":{"output_tokens":3},"stop_reason":"tool_use","content":[{"input":)" +
                good_input +
                R"(,"name":"spam_result","type":"tool_use"}]},"type":"succeeded"},"custom_id":"x"})",
            // a text block and another tool first
            R"({"custom_id":"x","result":{"type":"succeeded","message":{"content":[{"type":"text","text":"Let me see."},{"type":"tool_use","name":"other","input":{"a":1}},{"type":"tool_use","name":"spam_result","input":)" +
                good_input + R"(}],"stop_reason":"tool_use"}}})",
            // two matching blocks: the first counts
            R"({"custom_id":"x","result":{"type":"succeeded","message":{"content":[{"type":"tool_use","name":"spam_result","input":{"is_spam":1}},{"type":"tool_use","name":"spam_result","input":)" +
                good_input + R"(}],"stop_reason":"tool_use"}}})",
            // a matching block without input
            R"({"custom_id":"x","result":{"type":"succeeded","message":{"content":[{"type":"tool_use","name":"spam_result"}],"stop_reason":"tool_use"}}})",
            // usage that is not an object; content that is not an array
            R"({"custom_id":"x","result":{"type":"succeeded","message":{"content":{},"usage":[1],"stop_reason":5}}})",
            // usage numbers of every kind
            R"({"custom_id":"x","result":{"type":"succeeded","message":{"content":[{"type":"tool_use","name":"spam_result","input":)" +
                good_input +
                R"(}],"usage":{"input_tokens":-1,"output_tokens":2.5,"cache_read_input_tokens":18446744073709551615,"service_tier":null}}}})",
            // the 1-hour cache writes, and cache_creation in every shape
            R"({"custom_id":"x","result":{"type":"succeeded","message":{"content":[{"type":"tool_use","name":"spam_result","input":)" +
                good_input +
                R"(}],"usage":{"input_tokens":3,"cache_creation_input_tokens":17,"cache_creation":{"ephemeral_5m_input_tokens":10,"ephemeral_1h_input_tokens":7},"service_tier":"batch"}}}})",
            R"({"custom_id":"x","result":{"type":"succeeded","message":{"content":[{"type":"tool_use","name":"spam_result","input":)" +
                good_input +
                R"(}],"usage":{"cache_creation":{"ephemeral_1h_input_tokens":-7,"other":{"ephemeral_1h_input_tokens":5}}}}}})",
            R"({"custom_id":"x","result":{"type":"succeeded","message":{"content":[{"type":"tool_use","name":"spam_result","input":)" +
                good_input +
                R"(}],"usage":{"cache_creation":{"ephemeral_1h_input_tokens":[7]}}}}})",
            R"({"custom_id":"x","result":{"type":"succeeded","message":{"content":[{"type":"tool_use","name":"spam_result","input":)" +
                good_input + R"(}],"usage":{"cache_creation":null}}}})",
            R"({"custom_id":"x","result":{"type":"succeeded","message":{"content":[{"type":"tool_use","name":"spam_result","input":)" +
                good_input +
                R"(}],"usage":{"cache_creation":[{"ephemeral_1h_input_tokens":7}]}}}})",
            R"({"custom_id":"x","result":{"type":"succeeded","message":{"content":[{"type":"tool_use","name":"spam_result","input":)" +
                good_input +
                R"(}],"usage":{"cache_creation":{"ephemeral_1h_input_tokens":7},"cache_creation":{"ephemeral_5m_input_tokens":1}}}}})",
            R"({"custom_id":"x","result":{"type":"succeeded","message":{"content":[{"type":"tool_use","name":"spam_result","input":)" +
                good_input +
                R"(}],"usage":{"cache_creation":{"ephemeral_1h_input_tokens":7,"ephemeral_1h_input_tokens":9}}}}})",
            R"({"custom_id":"x","result":{"type":"succeeded","message":{"content":[{"type":"tool_use","name":"spam_result","input":)" +
                good_input +
                R"(}],"usage":{"cache_creation":{"ephemeral_1h_input_tokens":18446744073709551615}}}}})",
        })
        lines_agree(dec, line);
    auto one_hour = dec.decode(
        R"({"custom_id":"x","result":{"type":"succeeded","message":{"content":[{"type":"tool_use","name":"spam_result","input":)" +
        good_input +
        R"(}],"usage":{"cache_creation_input_tokens":17,"cache_creation":{"ephemeral_5m_input_tokens":10,"ephemeral_1h_input_tokens":7}}}}})");
    BOOST_REQUIRE(one_hour.token_usage.has_value());
    BOOST_TEST(one_hour.token_usage->cache_creation_input_tokens == 17u);
    BOOST_TEST(one_hour.token_usage->cache_creation_1h_input_tokens == 7u);
}

BOOST_AUTO_TEST_CASE(failures_have_the_messages_and_raw_output_of_the_tree_path) {
    aibatch::result_decoder<spam_result> dec(aibatch::output_spec::for_type<spam_result>());
    auto bad = lines_agree(dec, tool_line("x", R"({"is_spam":"no","confidence":2})"));
    BOOST_TEST((bad.failure == aibatch::output_failure::validation));
    BOOST_TEST(bad.message == "$.is_spam: expected boolean, got string; $: missing required "
                              "field \"reason\"");
    BOOST_TEST(bad.raw == R"({"is_spam":"no","confidence":2})");
    lines_agree(dec, tool_line("x", good_input, "max_tokens"));
    lines_agree(dec, tool_line("x", good_input, "refusal"));
    lines_agree(dec, tool_line("x", good_input, "tool_use", "another_tool"));
    lines_agree(dec, tool_line("x", "[1,2]"));
    lines_agree(dec, tool_line("x", "7"));
}

BOOST_AUTO_TEST_CASE(lines_that_are_no_result_throw_what_from_json_throws) {
    aibatch::result_decoder<spam_result> dec(aibatch::output_spec::for_type<spam_result>());
    for (std::string_view line : {
             R"([1])",
             R"("x")",
             R"({"result":{"type":"canceled"}})",
             R"({"custom_id":7,"result":{"type":"canceled"}})",
             R"({"custom_id":"a","result":[]})",
             R"({"custom_id":"a","result":{"type":"weird"}})",
             R"({"custom_id":"a","result":{"type":["succeeded"]}})",
             R"({"custom_id":"a","result":{"type":"succeeded","message":[]}})",
             R"({"custom_id":"a","result":{"type":"errored"}})",
             R"({"custom_id":"a","result":{"type":"errored","error":{"error":{"message":5}}}})",
             R"({"custom_id":"a","result":{"type":"errored","error":{"request_id":{}}}})",
             R"({"custom_id":"a","result":{"type":"canceled"}} trailing)",
             R"({"custom_id":"a","result":{"type":"cance)",
         }) {
        auto o = lines_agree(dec, line);
        BOOST_TEST(o.thrown, line);
    }
}

BOOST_AUTO_TEST_CASE(repeated_keys_resolve_as_the_tree_does) {
    aibatch::result_decoder<spam_result> dec(aibatch::output_spec::for_type<spam_result>());
    lines_agree(dec, R"({"custom_id":"a","custom_id":"b","result":{"type":"canceled"}})");
    lines_agree(dec,
                tool_line("x", R"({"is_spam":"no","confidence":1,"reason":"r","is_spam":false})"));
    lines_agree(
        dec,
        R"({"custom_id":"x","result":{"type":"succeeded","message":{"content":[{"type":"text","type":"tool_use","name":"spam_result","input":)" +
            good_input + R"(}]}}})");
}

BOOST_AUTO_TEST_CASE(text_modes_read_the_first_text_block) {
    for (auto mode : {aibatch::output_mode::json_schema, aibatch::output_mode::json_text}) {
        aibatch::result_decoder<spam_result> dec(aibatch::output_spec::for_type<spam_result>(mode));
        auto text_line = [](std::string_view text) {
            return R"({"custom_id":"t","result":{"type":"succeeded","message":{"content":[{"type":"text","text":)" +
                   json::serialize(json::string(text)) + R"(}],"stop_reason":"end_turn"}}})";
        };
        auto ok = lines_agree(dec, text_line(good_input));
        BOOST_TEST(ok.has_value);
        lines_agree(dec, text_line("Sure:\n```json\n" + good_input + "\n```"));
        lines_agree(dec, text_line(" " + good_input + " and more"));
        lines_agree(dec, text_line(R"({"is_spam":1})"));
        lines_agree(dec, text_line(""));
        lines_agree(dec, text_line("no json here"));
    }
}

// The caller's decoded_line is reused line to line (typed_results, the engine): what a
// line leaves in it must be what a fresh one gets, whatever came before (another kind of
// line, a line sent to the tree, a line that threw).
BOOST_AUTO_TEST_CASE(a_reused_line_holds_nothing_of_the_line_before) {
    const std::uint64_t seed = seed_from_env();
    std::mt19937_64 rng(seed);
    aibatch::result_decoder<spam_result> dec(aibatch::output_spec::for_type<spam_result>());
    aibatch::result_decoder<spam_result> fresh_dec(aibatch::output_spec::for_type<spam_result>());
    std::vector<std::string> lines = {
        tool_line("a", good_input),
        tool_line("b", R"({"is_spam":false,"confidence":0.1,"reason":"ok"})", "end_turn"),
        tool_line("x", R"({"is_spam":"no","confidence":2})"),
        tool_line("x", good_input, "refusal"),
        R"({"custom_id":"c","result":{"type":"errored","error":{"type":"error","error":{"type":"api_error","message":"m"},"request_id":"r"}}})",
        R"({"custom_id":"d","result":{"type":"expired"}})",
        R"({"custom_id":"e","result":{"type":"canceled"}})",
        R"({"custom_id":"a","custom_id":"b","result":{"type":"canceled"}})",
        R"({"custom_id":"f","result":{"type":"succeeded","message":{"id":"m2","content":[]}}})",
        R"({"custom_id":"g","result":{"type":"cance)",
        R"({"custom_id":"h","result":{"type":"errored"}})",
    };
    aibatch::decoded_line<spam_result> reused;
    for (int i = 0; i < 3000; ++i) {
        std::string m = lines[rng() % lines.size()];
        if (rng() % 3 == 0)
            m = mutate(m, rng);
        const line_outcome o = decode_into(dec, m, reused);
        line_outcome f = streamed_line(fresh_dec, m);
        BOOST_CHECK_MESSAGE(o == f, m << "\n  fresh:  " << f << "\n  reused: " << o);
    }
}

BOOST_AUTO_TEST_CASE(mutated_lines_agree_with_the_tree_path) {
    const std::uint64_t seed = seed_from_env();
    std::cout << "result_lines mutations: AIBATCH_SEED=" << seed << "\n";
    std::mt19937_64 rng(seed);
    aibatch::result_decoder<spam_result> tool(aibatch::output_spec::for_type<spam_result>());
    aibatch::result_decoder<order> orders(aibatch::output_spec::for_type<order>());
    aibatch::result_decoder<spam_result> text(
        aibatch::output_spec::for_type<spam_result>(aibatch::output_mode::json_text));
    std::vector<std::string> lines = {
        tool_line("a", good_input),
        tool_line("b", R"({"is_spam":false,"confidence":0.1,"reason":"ok"})", "end_turn"),
        R"({"custom_id":"c","result":{"type":"errored","error":{"type":"error","error":{"type":"api_error","message":"m"},"request_id":"r"}}})",
        R"({"custom_id":"d","result":{"type":"expired"}})",
    };
    std::string order_line = tool_line(
        "o",
        R"({"items":[{"name":"tea","quantity":3}],"mood":"neutral","counters":{"a":1},"point":[1,2],"tags":null,"priority":3,"extra":{"k":[1]}})",
        "tool_use", "order");
    for (int i = 0; i < 1500; ++i) {
        std::string m = i % 5 == 4 ? order_line : lines[rng() % lines.size()];
        for (unsigned n = 1 + static_cast<unsigned>(rng() % 2); n > 0; --n)
            m = mutate(m, rng);
        if (i % 5 == 4)
            lines_agree(orders, m);
        else
            lines_agree(tool, m);
        if (i % 7 == 0)
            lines_agree(text, m);
    }
}

// ---- the learned shape (result_decoder reads most lines of a stream through the shape of
// an earlier one): whatever the values, a line reads as the tree path reads it.

// A line as the API writes it (the emulator's fields and order), its values given as JSON.
struct api_values {
    std::string custom_id = R"("run-0")", message_id = R"("msg_01")", tool_id = R"("toolu_01")";
    std::string input = good_input, stop = R"("tool_use")", tier = R"("batch")";
    std::string tokens[6] = {"121", "17", "0", "0", "0", "0"};
    std::string model = R"("claude-haiku-4-5")", name = "spam_result";
};

std::string api_line(const api_values& v) {
    return R"({"custom_id":)" + v.custom_id + R"(,"result":{"type":"succeeded","message":{"id":)" +
           v.message_id + R"(,"type":"message","role":"assistant","model":)" + v.model +
           R"(,"content":[{"type":"tool_use","id":)" + v.tool_id + R"(,"name":")" + v.name +
           R"(","input":)" + v.input + R"(,"caller":{"type":"direct"}}],"stop_reason":)" + v.stop +
           R"(,"stop_sequence":null,"stop_details":null,"container":null,"usage":{"input_tokens":)" +
           v.tokens[0] + R"(,"output_tokens":)" + v.tokens[1] +
           R"(,"cache_creation_input_tokens":)" + v.tokens[2] + R"(,"cache_read_input_tokens":)" +
           v.tokens[3] + R"(,"cache_creation":{"ephemeral_5m_input_tokens":)" + v.tokens[4] +
           R"(,"ephemeral_1h_input_tokens":)" + v.tokens[5] +
           R"(},"server_tool_use":null,"service_tier":)" + v.tier + R"(,"inference_geo":null}}}})";
}

// A value for a hole: mostly of the kind the hole learned, with escapes, odd numbers,
// and sometimes another kind or no JSON at all.
std::string hole_value(bool string_hole, std::mt19937_64& rng) {
    static const char* const strings[] = {R"("")",
                                          R"("x")",
                                          R"("run-7")",
                                          R"("a\"b")",
                                          R"("\u00e9t\u00e9")",
                                          R"("\ud83d\ude00")",
                                          "\"caf\xc3\xa9\"",
                                          "\"\xf0\x9f\x98\x80\"",
                                          R"("tab\there")",
                                          R"("\/\\\b\f\n\r")",
                                          "\"bad \xff byte\"",
                                          "\"\xc3\"",
                                          "\"ctl \x01\"",
                                          R"("\ud800")",
                                          R"("\x")",
                                          R"("open)",
                                          R"("max_tokens")",
                                          R"("refusal")",
                                          R"("end_turn")"};
    static const char* const numbers[] = {"0",
                                          "7",
                                          "-1",
                                          "2.5",
                                          "1e2",
                                          "18446744073709551615",
                                          "-0",
                                          "1e400",
                                          "0e400",
                                          "01",
                                          "-",
                                          "1.",
                                          "1e",
                                          "12345678901234567890",
                                          "9223372036854775808",
                                          "-9223372036854775809",
                                          "3.0e-2",
                                          "123456789012345678",
                                          "0.1e1"};
    static const char* const others[] = {"null",       "true", "false", "{}",  "[]", "[1]",
                                         R"({"a":1})", " 5",   "5 ",    "tru", ""};
    const unsigned pick = static_cast<unsigned>(rng() % 10);
    if (pick == 0)
        return others[rng() % std::size(others)];
    if (pick == 1)
        return string_hole ? numbers[rng() % std::size(numbers)]
                           : strings[rng() % std::size(strings)];
    return string_hole ? strings[rng() % std::size(strings)] : numbers[rng() % std::size(numbers)];
}

std::string input_value(std::mt19937_64& rng) {
    static const char* const inputs[] = {
        R"({"is_spam":true,"confidence":0.9,"reason":"free money"})",
        R"({"is_spam":false,"confidence":1e-1,"reason":"caf\u00e9"})",
        R"({"reason":"r","confidence":0,"is_spam":true})",
        R"({"is_spam":"no","confidence":2})",
        R"({"is_spam":true,"confidence":0.5,"reason":"r","is_spam":false})",
        R"({"is_spam":true,"confidence":0.5,"reason":"r","extra":[1,{"a":null}]})",
        R"({ "is_spam" : true , "confidence" : 0.5 , "reason" : "spaced" })",
        R"([1,2])",
        R"("a string")",
        R"(7)",
        R"(null)",
        R"({"is_spam":true,"confidence":0.5,"reason":"r")",
        R"({"is_spam":true,"confidence":0.5,"reason":"r"}})",
        R"([[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]])",
        R"([[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]])",
    };
    return inputs[rng() % std::size(inputs)];
}

BOOST_AUTO_TEST_CASE(lines_read_through_a_learned_shape_read_as_the_tree_path_reads_them) {
    const std::uint64_t seed = seed_from_env();
    std::cout << "result_lines shapes: AIBATCH_SEED=" << seed << "\n";
    std::mt19937_64 rng(seed);
    aibatch::result_decoder<spam_result> shaped(aibatch::output_spec::for_type<spam_result>());
    aibatch::result_decoder<spam_result> general(aibatch::output_spec::for_type<spam_result>());
    general.learn_line_shapes(false);
    aibatch::decoded_line<spam_result> reused;
    const int rounds = 4000;
    for (int i = 0; i < rounds; ++i) {
        api_values v;
        // Most lines differ from the plain one in a few values, as a batch's lines do.
        for (unsigned n = static_cast<unsigned>(rng() % 4); n > 0; --n) {
            switch (rng() % 9) {
            case 0:
                v.custom_id = hole_value(true, rng);
                break;
            case 1:
                v.message_id = hole_value(true, rng);
                break;
            case 2:
                v.tool_id = hole_value(true, rng);
                break;
            case 3:
                v.input = input_value(rng);
                break;
            case 4:
                v.stop = hole_value(true, rng);
                break;
            case 5:
                v.tier = hole_value(true, rng);
                break;
            case 6:
                v.model = hole_value(true, rng);
                break;
            default:
                v.tokens[rng() % 6] = hole_value(false, rng);
                break;
            }
        }
        std::string line = api_line(v);
        if (rng() % 8 == 0)
            line = mutate(line, rng);
        const line_outcome s = decode_into(shaped, line, reused);
        const line_outcome t = tree_line<spam_result>(shaped.spec(), line);
        const line_outcome g = streamed_line(general, line);
        BOOST_CHECK_MESSAGE(s == t, line << "\n  tree:   " << t << "\n  shaped: " << s);
        BOOST_CHECK_MESSAGE(s == g, line << "\n  general: " << g << "\n  shaped:  " << s);
    }
    BOOST_TEST(general.line_shape_hits() == 0u);
    // The shape read most lines (else this test would not test it).
    BOOST_TEST(shaped.line_shape_hits() > static_cast<std::size_t>(rounds / 4),
               shaped.line_shape_hits() << " of " << rounds);
}

using object_members = std::vector<std::pair<std::string, std::string>>;

// The members of an object, changed: `what` 0 drops one, 1 swaps two, 2 repeats one, 3
// adds the key `extra` (JSON text) with the value 1 before one; anything else leaves them.
void reshape(object_members& m, unsigned what, std::mt19937_64& rng, const char* extra) {
    switch (what) {
    case 0:
        m.erase(m.begin() + static_cast<std::ptrdiff_t>(rng() % m.size()));
        break;
    case 1:
        std::swap(m[rng() % m.size()], m[rng() % m.size()]);
        break;
    case 2:
        m.push_back(m[rng() % m.size()]);
        break;
    case 3:
        m.insert(m.begin() + static_cast<std::ptrdiff_t>(rng() % m.size()), {extra, "1"});
        break;
    default:
        break;
    }
}

// The object's text: members joined by `sep`, key and value by `colon`, `tail` before
// the closing brace.
std::string object_text(const object_members& m, std::string_view sep = ",",
                        std::string_view colon = ":", std::string_view tail = "") {
    std::string o = "{";
    for (std::size_t i = 0; i < m.size(); ++i) {
        if (i > 0)
            o += sep;
        o += m[i].first;
        o += colon;
        o += m[i].second;
    }
    o += tail;
    return o + "}";
}

// A flat_record input: mostly its keys in order with values of every kind its members
// read, in and out of their ranges; sometimes another structure (a key missing, moved,
// repeated, added, escaped or spaced; a container for a value).
std::string flat_input(std::mt19937_64& rng) {
    static const std::vector<std::vector<std::string>> values = {
        {"true", "false", "false", R"("true")", "1", "null"},
        {"0", "7", "-5", "1000", "2.0", "1e2", "1001", "-6", "2.5", R"("3")", "99999999999", "-0"},
        {"0", "255", "17", "256", "-1", "1.0", "1e0", "3e-1"},
        {"0", "1", "0.5", "4.05E-1", "1e-1", "0.1e1", "1.5", "-0.1", R"("x")", "1e400", "0e400",
         "-0", "0.30000000000000004", "1.0000000000000002"},
        {"0.25", "3.4e38", "1e39", "-0", "1", "1.17549435e-38", "1e-50", "16777217"},
        {R"("a")", R"("free money")", R"("caf\u00e9")", R"("\"q\"")", R"("12345678901")", R"("")",
         R"("this is much too long")", "5", "\"bad \xff\"", R"("\ud83d\ude00")", R"("tab\t")",
         "null"},
        {R"("positive")", R"("negative")", R"("neutral")", R"("happy")", "1", R"("Positive")"},
    };
    static const char* const names[] = {"flag", "count", "level", "score", "ratio", "note", "mood"};
    object_members members;
    for (std::size_t i = 0; i < values.size(); ++i) {
        // The first few values of each pool are valid: most inputs decode.
        const auto& pool = values[i];
        const std::size_t pick =
            rng() % 12 == 0 ? rng() % pool.size() : rng() % std::min<std::size_t>(3, pool.size());
        members.emplace_back(std::string("\"") + names[i] + "\"", pool[pick]);
    }
    std::string sep = ",", colon = ":";
    const unsigned what = static_cast<unsigned>(rng() % 24);
    reshape(members, what, rng, R"("extra")");
    switch (what) {
    case 4:
        members[rng() % members.size()].first = R"("fl\u0061g")";
        break;
    case 5:
        members[0].first = R"("fl\u0061g")";
        break;
    case 6:
        sep = " , ";
        break;
    case 7:
        colon = " :";
        break;
    case 8:
        members[rng() % members.size()].second = R"({"a":1})";
        break;
    case 9:
        members[rng() % members.size()].second = "[1]";
        break;
    case 10:
        members.back().second += ",";
        break;
    default:
        break;
    }
    return object_text(members, sep, colon, rng() % 40 == 0 ? " " : "");
}

// A plain flat_record line, to teach a shape.
api_values flat_teacher(const aibatch::output_spec& spec) {
    api_values v;
    v.name = spec.name;
    v.input = R"({"flag":true,"count":1,"level":2,"score":0.5,"ratio":0.25,"note":"n",)"
              R"("mood":"neutral"})";
    return v;
}

BOOST_AUTO_TEST_CASE(flat_struct_inputs_read_in_one_loop_read_as_the_tree_path_reads_them) {
    const std::uint64_t seed = seed_from_env();
    std::cout << "result_lines flat inputs: AIBATCH_SEED=" << seed << "\n";
    std::mt19937_64 rng(seed);
    const auto spec = aibatch::output_spec::for_type<flat_record>();
    aibatch::result_decoder<flat_record> shaped(spec);
    aibatch::result_decoder<flat_record> general(spec);
    general.learn_line_shapes(false);
    aibatch::decoded_line<flat_record> reused;
    api_values v = flat_teacher(spec);
    // Taught by a plain line, then read through its shape, input by input.
    BOOST_REQUIRE(taught_a_shape(shaped, api_line(v), reused));
    BOOST_TEST(shaped.flat_input_hits() == 1u);
    const int rounds = 4000;
    std::size_t values = 0;
    for (int i = 0; i < rounds; ++i) {
        v.input = flat_input(rng);
        const std::string line = api_line(v);
        const line_outcome s = decode_into(shaped, line, reused);
        const line_outcome t = tree_line<flat_record>(shaped.spec(), line);
        const line_outcome g = streamed_line(general, line);
        BOOST_CHECK_MESSAGE(s == t, line << "\n  tree:   " << t << "\n  shaped: " << s);
        BOOST_CHECK_MESSAGE(s == g, line << "\n  general: " << g << "\n  shaped:  " << s);
        values += s.has_value ? 1 : 0;
    }
    BOOST_TEST(general.flat_input_hits() == 0u);
    // The loop read most inputs, and left every one with a problem to the driver.
    const std::size_t flat = shaped.flat_input_hits() - 1;
    std::cout << "flat inputs: " << flat << " read by the loop, " << values << " values, of "
              << rounds << " lines\n";
    BOOST_TEST(flat > static_cast<std::size_t>(rounds / 4), flat << " of " << rounds);
    BOOST_TEST(flat <= values, flat << " read by the loop, " << values << " values");
    BOOST_TEST(values < static_cast<std::size_t>(rounds), "every input decoded: no problem tried");
}

BOOST_AUTO_TEST_CASE(flat_struct_documents_decode_as_the_tree_path_decodes_them) {
    const std::uint64_t seed = seed_from_env();
    std::cout << "flat documents: AIBATCH_SEED=" << seed << "\n";
    std::mt19937_64 rng(seed);
    int decoded = 0;
    for (int i = 0; i < 4000; ++i) {
        std::string text = flat_input(rng);
        switch (rng() % 8) {
        case 0:
            text.insert(0, " ");
            break;
        case 1:
            text += "\n";
            break;
        case 2:
            text += "}";
            break;
        case 3:
            text.pop_back();
            break;
        default:
            break;
        }
        // (agree() checks; it answers whether the text decoded)
        decoded += agree<flat_record>(text) ? 1 : 0;
    }
    BOOST_TEST(decoded > 1000, decoded << " of 4000 decoded");
}

// A struct of scalars that cannot be assigned is no flat struct (the loop resets by
// assigning a T{}): it decodes as before, and still compiles.
struct unassignable {
    int a = 0;
    std::string b;
    unassignable() = default;
    unassignable(const unassignable&) = default;
    unassignable& operator=(const unassignable&) = delete;
};
BOOST_DESCRIBE_STRUCT(unassignable, (), (a, b))

BOOST_AUTO_TEST_CASE(only_assignable_structs_of_scalars_are_flat) {
    namespace d = aibatch::detail;
    static_assert(d::ops_table<flat_record>::has_flat);
    static_assert(d::ops_table<spam_result>::has_flat);
    static_assert(!d::ops_table<item>::has_flat); // an optional member
    static_assert(!d::ops_table<unassignable>::has_flat);
    BOOST_TEST(d::ops_of<flat_record>().flat()->size == 7u);
    auto r = aibatch::decode_json<unassignable>(R"({"a":3,"b":"x"})");
    BOOST_REQUIRE(r);
    BOOST_TEST(r->a == 3);
    BOOST_TEST(r->b == "x");
}

BOOST_AUTO_TEST_CASE(a_flat_input_with_a_problem_is_reported_at_its_path) {
    const auto spec = aibatch::output_spec::for_type<flat_record>();
    aibatch::result_decoder<flat_record> dec(spec);
    aibatch::decoded_line<flat_record> d;
    api_values v = flat_teacher(spec);
    BOOST_REQUIRE(taught_a_shape(dec, api_line(v), d));
    const std::size_t before = dec.flat_input_hits();
    // The value read before the problem (flag) must not survive into another line, and
    // the problem is the driver's, with its path.
    v.input = R"({"flag":false,"count":1,"level":2,"score":1.5,"ratio":0.25,"note":"n",)"
              R"("mood":"neutral"})";
    dec.decode(api_line(v), d);
    BOOST_TEST(!d.output.value.has_value());
    BOOST_TEST(d.output.message.find("$.score") != std::string::npos, d.output.message);
    BOOST_TEST(d.output.message.find("greater than the maximum 1") != std::string::npos,
               d.output.message);
    BOOST_TEST(dec.flat_input_hits() == before);
    v.input = R"({"flag":false,"count":3,"level":2,"score":1,"ratio":0.25,"note":"m",)"
              R"("mood":"positive"})";
    dec.decode(api_line(v), d);
    BOOST_REQUIRE(d.output.value.has_value());
    BOOST_TEST(dec.flat_input_hits() == before + 1);
    BOOST_TEST(!d.output.value->flag);
    BOOST_TEST(d.output.value->count == 3);
    BOOST_TEST(d.output.value->score == 1.0);
    BOOST_TEST(d.output.value->note == "m");
    BOOST_TEST((d.output.value->mood == sentiment::positive));
}

BOOST_AUTO_TEST_CASE(a_stream_that_changes_shape_is_learned_again) {
    aibatch::result_decoder<spam_result> dec(aibatch::output_spec::for_type<spam_result>());
    api_values a;
    for (int i = 0; i < 10; ++i) {
        a.custom_id = "\"a-" + std::to_string(i) + "\"";
        lines_agree(dec, api_line(a));
    }
    const std::size_t after_a = dec.line_shape_hits();
    BOOST_TEST(after_a == 9u); // the first line teaches the shape
    // Another model and a stop_sequence: the bytes between the values differ.
    std::string b_line = api_line(a);
    b_line.replace(b_line.find(R"("stop_sequence":null)"), 20, R"("stop_sequence":"END")");
    for (int i = 0; i < 20; ++i)
        lines_agree(dec, b_line);
    BOOST_TEST(dec.line_shape_hits() > after_a + 10);
    // An errored line now and then neither matches nor unlearns the shape.
    const std::size_t before = dec.line_shape_hits();
    for (int i = 0; i < 10; ++i) {
        lines_agree(
            dec,
            R"({"custom_id":"e","result":{"type":"errored","error":{"type":"error","error":{"type":"api_error","message":"m"},"request_id":"r"}}})");
        lines_agree(dec, b_line);
    }
    BOOST_TEST(dec.line_shape_hits() == before + 10);
}

// A line that leaves the shape after its input was decoded is decoded again from a fresh
// value: nothing of the first decode stays (an array decoded twice, a field set once).
BOOST_AUTO_TEST_CASE(a_line_that_leaves_the_shape_after_its_input_decodes_from_scratch) {
    aibatch::result_decoder<order> dec(aibatch::output_spec::for_type<order>());
    api_values v;
    v.name = "order";
    v.input =
        R"({"items":[{"name":"tea","quantity":3}],"mood":"neutral","counters":{"a":1},"point":[1,2],"tags":["x"],"priority":3,"extra":{"k":[1]}})";
    lines_agree(dec, api_line(v));
    lines_agree(dec, api_line(v));
    BOOST_TEST(dec.line_shape_hits() == 1u);
    v.input =
        R"({"items":[{"name":"tea","quantity":3},{"name":"milk","quantity":1}],"mood":"neutral","counters":{"b":2},"point":[3,4],"tags":null,"priority":4,"extra":7})";
    // after the input: a stop_sequence, a space, a repeated key (the last one counts)
    const std::pair<std::string_view, std::string_view> changes[] = {
        {R"("stop_sequence":null)", R"("stop_sequence":"STOP")"},
        {R"("stop_sequence":null)", R"("stop_sequence":null )"},
        {R"("output_tokens":17)", R"("output_tokens":9,"output_tokens":17)"},
    };
    for (const auto& [from, to] : changes) {
        std::string line = api_line(v);
        line.replace(line.find(from), from.size(), to);
        const line_outcome o = lines_agree(dec, line);
        BOOST_TEST(o.has_value);
        BOOST_TEST(json::serialize(o.value).find("milk") != std::string::npos);
    }
}

// ---- review attacks on the learned shape

// The value tokens (strings that are no keys, numbers, literals) of a JSON text.
std::vector<std::pair<std::size_t, std::size_t>> value_tokens(std::string_view s) {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    std::size_t i = 0;
    while (i < s.size()) {
        char c = s[i];
        if (c == '"') {
            std::size_t j = i + 1;
            while (j < s.size() && s[j] != '"') {
                if (s[j] == '\\')
                    ++j;
                ++j;
            }
            ++j;
            std::size_t k = j;
            while (k < s.size() && (s[k] == ' ' || s[k] == '\n' || s[k] == '\t' || s[k] == '\r'))
                ++k;
            if (k >= s.size() || s[k] != ':')
                out.emplace_back(i, j);
            i = j;
        } else if (c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n') {
            std::size_t j = i;
            while (j < s.size() && s[j] != ',' && s[j] != '}' && s[j] != ']' && s[j] != ' ' &&
                   s[j] != '\n' && s[j] != '\t' && s[j] != '\r')
                ++j;
            out.emplace_back(i, j);
            i = j;
        } else {
            ++i;
        }
    }
    return out;
}

const char* const review_values[] = {R"("")",
                                     R"("x")",
                                     R"("a\"b")",
                                     R"("\u00e9")",
                                     R"("\ud83d\ude00")",
                                     "\"caf\xc3\xa9\"",
                                     R"("tool_use")",
                                     R"("text")",
                                     R"("spam_result")",
                                     R"("order")",
                                     R"("succeeded")",
                                     R"("errored")",
                                     R"("refusal")",
                                     R"("max_tokens")",
                                     R"("end_turn")",
                                     "0",
                                     "7",
                                     "-1",
                                     "2.5",
                                     "1e2",
                                     "-0",
                                     "18446744073709551615",
                                     "18446744073709551616",
                                     "9223372036854775808",
                                     "-9223372036854775809",
                                     "1e400",
                                     "0.12345678901234567",
                                     "12345678901234567890123",
                                     "1.7976931348623157e308",
                                     "5e-324",
                                     "123456789012345678",
                                     "1234567890123456789",
                                     "null",
                                     "true",
                                     "false",
                                     "{}",
                                     "[]",
                                     R"({"a":1})",
                                     "[1]",
                                     "\"bad \xff\"",
                                     "01",
                                     "1.",
                                     "-",
                                     "tru",
                                     R"("\ud800")",
                                     "\"\x01\"",
                                     "5 ",
                                     " 5",
                                     ""};

// `line` with 1 to 3 of its value tokens (`toks`: their offsets) replaced by review_values,
// replaced from the back so that the offsets hold.
template <class Tokens>
std::string with_values_replaced(std::string line, const Tokens& toks, std::mt19937_64& rng) {
    std::vector<std::size_t> picks;
    for (unsigned n = 1 + static_cast<unsigned>(rng() % 3); n > 0; --n)
        picks.push_back(rng() % toks.size());
    std::sort(picks.begin(), picks.end());
    picks.erase(std::unique(picks.begin(), picks.end()), picks.end());
    for (auto it = picks.rbegin(); it != picks.rend(); ++it) {
        const auto [b, e] = toks[*it];
        line = line.substr(0, b) + review_values[rng() % std::size(review_values)] + line.substr(e);
    }
    return line;
}

template <class T>
void shape_probes(const aibatch::output_spec& spec, const std::string& teacher,
                  const std::vector<std::string>& inputs, std::size_t& hits,
                  std::vector<std::string>* all = nullptr) {
    const auto toks = value_tokens(teacher);
    std::vector<std::string> probes;
    for (const auto& [b, e] : toks)
        for (const char* v : review_values)
            probes.push_back(teacher.substr(0, b) + v + teacher.substr(e));
    // the input: every "input": value of the teacher
    for (std::size_t at = teacher.find(R"("input":)"); at != std::string::npos;
         at = teacher.find(R"("input":)", at + 1)) {
        std::size_t b = at + 8;
        // its end: a balanced value
        std::size_t e = b;
        int open = 0;
        bool str = false;
        for (; e < teacher.size(); ++e) {
            char c = teacher[e];
            if (str) {
                if (c == '\\')
                    ++e;
                else if (c == '"')
                    str = false;
                continue;
            }
            if (c == '"')
                str = true;
            else if (c == '{' || c == '[')
                ++open;
            else if (c == '}' || c == ']') {
                if (open == 0)
                    break;
                if (--open == 0) {
                    ++e;
                    break;
                }
            } else if (open == 0 && (c == ',')) {
                break;
            }
        }
        for (const auto& in : inputs)
            probes.push_back(teacher.substr(0, b) + in + teacher.substr(e));
    }
    // byte-level: each byte dropped, and a space inserted
    for (std::size_t i = 0; i < teacher.size(); ++i) {
        probes.push_back(teacher.substr(0, i) + teacher.substr(i + 1));
        probes.push_back(teacher.substr(0, i) + " " + teacher.substr(i));
    }
    aibatch::result_decoder<T> general(spec);
    general.learn_line_shapes(false);
    for (const auto& probe : probes) {
        aibatch::result_decoder<T> dec(spec);
        aibatch::decoded_line<T> reused;
        const std::size_t h0 = dec.line_shape_hits();
        if (!taught_a_shape(dec, teacher, reused)) {
            BOOST_ERROR("teacher taught no shape: " << teacher);
            return;
        }
        const line_outcome s = decode_into(dec, probe, reused);
        hits += dec.line_shape_hits() - h0 - 1;
        const line_outcome t = tree_line<T>(spec, probe);
        const line_outcome g = streamed_line(general, probe);
        BOOST_CHECK_MESSAGE(s == t, "teacher " << teacher << "\nprobe " << probe
                                               << "\n  tree:   " << t << "\n  shaped: " << s);
        BOOST_CHECK_MESSAGE(s == g, "teacher " << teacher << "\nprobe " << probe
                                               << "\n  general: " << g << "\n  shaped:  " << s);
        if (all)
            all->push_back(probe);
    }
}

BOOST_AUTO_TEST_CASE(review_every_hole_of_odd_teachers) {
    const auto spec = aibatch::output_spec::for_type<spam_result>();
    const std::string in = good_input;
    const std::vector<std::string> inputs = {
        good_input,
        R"({"is_spam":false,"confidence":0.12345678901234567,"reason":"x"})",
        R"({"is_spam":true,"confidence":1e400,"reason":"x"})",
        R"({"is_spam":true,"confidence":0.5,"reason":"r","is_spam":false})",
        R"({"is_spam":true,"confidence":0.5})",
        R"({"is_spam":true,"confidence":0.5,"reason":"r","x":[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]})",
        R"({"is_spam":true,"confidence":0.5,"reason":"r","x":[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]})",
        R"({"is_spam":true,"confidence":0.5,"reason":"r","x":[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]})",
        R"({"is_spam":true,"confidence":0.5,"reason":"r","x":[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]})",
        "null",
        "7",
        R"("s")",
        "[]",
        "{}",
        R"({"is_spam":true,"confidence":0.5,"reason":"r"}})",
        R"({"is_spam":true,"confidence":0.5,"reason":"r")",
        "",
        R"({"is_spam" :true , "confidence":0.5,"reason":"r" })",
    };
    const std::vector<std::string> teachers = {
        tool_line("t0", in),
        // spaces everywhere
        R"( { "custom_id" : "t1" , "result" : { "type" : "succeeded" , "message" : { "id" : "m" , "content" : [ { "type" : "tool_use" , "name" : "spam_result" , "input" : )" +
            in +
            R"( } ] , "stop_reason" : "tool_use" , "usage" : { "input_tokens" : 1 , "output_tokens" : 2 , "service_tier" : "batch" , "cache_creation" : { "ephemeral_1h_input_tokens" : 3 } } } } } )",
        // blocks before and after, other tool's input first, text block
        R"({"custom_id":"t2","result":{"type":"succeeded","message":{"id":"m","content":[{"type":"text","text":"hi 1"},{"type":"tool_use","name":"other","input":{"is_spam":true,"n":5,"s":"x"}},"str",5,null,[{"type":"tool_use","name":"spam_result","input":{}}],{"name":"spam_result","type":"tool_use","id":"t","input":)" +
            in +
            R"(},{"type":"tool_use","name":"spam_result","input":{"a":1}}],"stop_reason":"end_turn"}}})",
        // usage of odd kinds
        R"({"result":{"message":{"usage":{"input_tokens":1.5,"output_tokens":-3,"cache_creation_input_tokens":null,"cache_read_input_tokens":"7","service_tier":null,"cache_creation":null},"content":[{"type":"tool_use","name":"spam_result","input":)" +
            in + R"(}],"id":null,"stop_reason":null},"type":"succeeded"},"custom_id":"t3"})",
        R"({"custom_id":"t4","result":{"type":"succeeded","message":{"content":[{"type":"tool_use","name":"spam_result","input":)" +
            in + R"(}],"usage":null}}})",
        R"({"custom_id":"t5","result":{"type":"succeeded","message":{"content":[{"type":"tool_use","name":"spam_result","input":)" +
            in + R"(}],"usage":[1,"a"],"id":5,"stop_reason":{"a":"b"}}}})",
        R"({"custom_id":"t6","result":{"type":"succeeded","message":{"content":[{"type":"tool_use","name":"spam_result","input":)" +
            in +
            R"(}],"usage":{"cache_creation":[1],"service_tier":{"a":1},"input_tokens":[2],"output_tokens":{"x":1}}}}})",
        R"({"custom_id":"t7","result":{"type":"succeeded","message":{"content":[{"type":"tool_use","name":"spam_result","input":)" +
            in +
            R"(}],"usage":{"cache_creation":{"ephemeral_1h_input_tokens":"x","ephemeral_5m_input_tokens":4}}}}})",
        // an error object in a succeeded result, extra root keys, escaped keys elsewhere
        R"({"z":{"x\u0041":1,"custom_id":"no","a":[1,"b",{"c":null}]},"custom_id":"t8","result":{"error":{"type":"error","error":{"type":"e","message":"m"},"request_id":"r"},"type":"succeeded","message":{"content":[{"type":"tool_use","name":"spam_result","input":)" +
            in + R"(,"o":{"k\"ey":"v"}}],"id":"m8"}},"z":[]})",
        R"({"custom_id":"t9","result":{"type":"succeeded","message":{"content":[{"type":"tool_use","name":"spam_result","input":)" +
            in + R"(}],"stop_reason":"tool_use","extra":{"usage":{"input_tokens":5},"id":"no"}}}})",
        // a block type of another kind that is not a string
        R"({"custom_id":"t10","result":{"type":"succeeded","message":{"content":[{"name":"x","type":5,"input":{"q":1}},{"name":7,"type":"text","input":[1]},{"type":"tool_use","name":"spam_result","input":)" +
            in + R"(}]}}})",
        "{\"custom_id\":\"t11\"\t,\r\n\"result\":{\"type\":\"succeeded\",\"message\":{\"content\":["
        "{\"type\":\"tool_use\",\"name\":\"spam_result\",\"input\":" +
            in + "}]}}}\r",
    };
    std::size_t hits = 0;
    for (const auto& t : teachers)
        shape_probes<spam_result>(spec, t, inputs, hits);
    BOOST_TEST_MESSAGE("hits " << hits);
    std::cout << "review hits " << hits << "\n";
}

BOOST_AUTO_TEST_CASE(review_a_stream_of_probes_through_one_decoder) {
    const auto spec = aibatch::output_spec::for_type<order>();
    const std::string in =
        R"({"items":[{"name":"tea","quantity":3,"price":0.1}],"mood":"neutral","counters":{"a":1},"point":[1,2],"tags":["x"],"priority":3,"extra":{"k":[1,0.12345678901234567,"s"]}})";
    const std::vector<std::string> inputs = {
        in,
        R"({"items":[],"mood":"positive","counters":{},"point":[1.5,2],"tags":null,"priority":255,"extra":12345678901234567890})",
        R"({"items":[{"name":"a","quantity":1}],"mood":"bad","counters":{},"point":[1,2],"tags":null,"priority":3,"extra":1})",
        R"({"items":[{"name":"a","quantity":1}],"mood":"neutral","counters":{},"point":[1,2],"tags":null,"priority":3,"extra":0.12345678901234567})",
        R"({"items":[{"name":"a","quantity":1}],"mood":"neutral","counters":{},"point":[1,2],"tags":null,"priority":3,"extra":[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]})",
        R"({"items":[{"name":"a","quantity":1}],"mood":"neutral","counters":{},"point":[1,2],"tags":null,"priority":3,"extra":[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]})",
    };
    api_values v;
    v.name = "order";
    v.input = in;
    std::vector<std::string> all;
    std::size_t hits = 0;
    shape_probes<order>(spec, api_line(v), inputs, hits, &all);
    shape_probes<order>(spec, tool_line("o", in, "tool_use", "order"), inputs, hits, &all);
    std::cout << "review order hits " << hits << "\n";
    std::mt19937_64 rng(seed_from_env());
    aibatch::result_decoder<order> dec(spec);
    aibatch::result_decoder<order> general(spec);
    general.learn_line_shapes(false);
    aibatch::decoded_line<order> reused;
    const std::string teachers[] = {api_line(v), tool_line("o", in, "tool_use", "order")};
    for (int round = 0; round < 20000; ++round) {
        const std::string& line = rng() % 3 == 0 ? teachers[rng() % 2] : all[rng() % all.size()];
        const line_outcome s = decode_into(dec, line, reused);
        const line_outcome t = tree_line<order>(spec, line);
        const line_outcome g = streamed_line(general, line);
        BOOST_CHECK_MESSAGE(s == t, line << "\n  tree:   " << t << "\n  shaped: " << s);
        BOOST_CHECK_MESSAGE(s == g, line << "\n  general: " << g << "\n  shaped:  " << s);
    }
    std::cout << "review stream hits " << dec.line_shape_hits() << "\n";
}

template <class T>
void random_teachers(const aibatch::output_spec& spec, const std::vector<std::string>& bases,
                     int teachers_n, int probes_n) {
    std::mt19937_64 rng(seed_from_env() * 7 + 1);
    aibatch::result_decoder<T> general(spec);
    general.learn_line_shapes(false);
    aibatch::result_decoder<T> stream(spec);
    aibatch::decoded_line<T> stream_line;
    std::size_t taught = 0, hits = 0;
    for (int ti = 0; ti < teachers_n; ++ti) {
        std::string teacher = bases[rng() % bases.size()];
        for (unsigned n = static_cast<unsigned>(rng() % 4); n > 0; --n)
            teacher = mutate(teacher, rng);
        aibatch::result_decoder<T> dec(spec);
        aibatch::decoded_line<T> reused;
        if (!taught_a_shape(dec, teacher, reused))
            continue;
        ++taught;
        const auto toks = value_tokens(teacher);
        for (int pi = 0; pi < probes_n; ++pi) {
            std::string probe = teacher;
            const unsigned how = static_cast<unsigned>(rng() % 8);
            if (how < 6 && !toks.empty()) {
                probe = with_values_replaced(probe, toks, rng);
            } else {
                probe = mutate(probe, rng);
            }
            const std::size_t before = dec.line_shape_hits();
            const line_outcome s = decode_into(dec, probe, reused);
            hits += dec.line_shape_hits() - before;
            const line_outcome t = tree_line<T>(spec, probe);
            const line_outcome g = streamed_line(general, probe);
            BOOST_CHECK_MESSAGE(s == t, "teacher " << teacher << "\nprobe " << probe
                                                   << "\n  tree:   " << t << "\n  shaped: " << s);
            BOOST_CHECK_MESSAGE(s == g, "teacher " << teacher << "\nprobe " << probe
                                                   << "\n  general: " << g << "\n  shaped:  " << s);
            const line_outcome so = decode_into(stream, rng() % 2 ? probe : teacher, stream_line);
            (void)so;
        }
    }
    std::cout << "review random teachers " << taught << " hits " << hits << "\n";
}

int review_rounds() {
    const char* s = std::getenv("REVIEW_ROUNDS");
    return s ? std::atoi(s) : 200;
}

BOOST_AUTO_TEST_CASE(review_random_teachers) {
    const std::string in = good_input;
    api_values v;
    random_teachers<spam_result>(aibatch::output_spec::for_type<spam_result>(),
                                 {api_line(v), tool_line("a", in)}, review_rounds(), 40);
    const std::string oin =
        R"({"items":[{"name":"tea","quantity":3,"price":0.1}],"mood":"neutral","counters":{"a":1},"point":[1,2],"tags":["x"],"priority":3,"extra":{"k":[1,0.12345678901234567,"s"]}})";
    v.name = "order";
    v.input = oin;
    random_teachers<order>(aibatch::output_spec::for_type<order>(),
                           {api_line(v), tool_line("a", oin, "tool_use", "order")}, review_rounds(),
                           40);
}

BOOST_AUTO_TEST_CASE(review_input_depth_at_the_limit) {
    const auto spec = aibatch::output_spec::for_type<order>();
    auto with_extra = [](const std::string& extra) {
        return R"({"items":[],"mood":"neutral","counters":{},"point":[1,2],"tags":null,"priority":3,"extra":)" +
               extra + "}";
    };
    for (const std::string& teacher_in : {with_extra("1"), with_extra("[[[[[[[[[[]]]]]]]]]]")}) {
        api_values v;
        v.name = "order";
        v.input = teacher_in;
        aibatch::result_decoder<order> dec(spec);
        aibatch::decoded_line<order> reused;
        lines_agree(dec, api_line(v));
        for (int n = 20; n < 34; ++n) {
            for (int ws = 0; ws < 2; ++ws) {
                std::string deep = std::string(n, '[') + std::string(n, ']');
                if (ws)
                    deep = std::string(n, '[') + " 1 " + std::string(n, ']');
                v.input = with_extra(deep);
                const std::string line = api_line(v);
                const line_outcome s = decode_into(dec, line, reused);
                const line_outcome t = tree_line<order>(spec, line);
                BOOST_CHECK_MESSAGE(s == t,
                                    n << " " << line << "\n  tree:   " << t << "\n  shaped: " << s);
                v.input = teacher_in;
                decode_into(dec, api_line(v), reused);
            }
        }
        std::cout << "depth hits " << dec.line_shape_hits() << "\n";
    }
    // tree_node: a recursive type
    aibatch::result_decoder<tree_node> tdec(aibatch::output_spec::for_type<tree_node>());
    aibatch::decoded_line<tree_node> tl;
    api_values v;
    v.name = "tree_node";
    v.input = R"({"label":"r","children":[]})";
    const std::string t0 = api_line(v);
    lines_agree(tdec, t0);
    for (int n = 1; n < 16; ++n) {
        std::string in = R"({"label":"r","children":[])";
        for (int i = 0; i < n; ++i) {
            in.insert(0, R"({"label":"x","children":[)");
            in += "]}";
        }
        // close the innermost
        std::string fixed = in;
        fixed.insert(fixed.find("[])") + 2, "}");
        v.input = fixed;
        const std::string line = api_line(v);
        const line_outcome s = decode_into(tdec, line, tl);
        const line_outcome t = tree_line<tree_node>(tdec.spec(), line);
        BOOST_CHECK_MESSAGE(s == t, n << " " << line << "\n  tree:   " << t << "\n  shaped: " << s);
        decode_into(tdec, t0, tl);
    }
    std::cout << "tree hits " << tdec.line_shape_hits() << "\n";
}

BOOST_AUTO_TEST_CASE(review_text_modes_learn_no_shape) {
    for (auto mode : {aibatch::output_mode::json_text, aibatch::output_mode::json_schema}) {
        aibatch::result_decoder<spam_result> dec(aibatch::output_spec::for_type<spam_result>(mode));
        const std::string text_line_ =
            R"({"custom_id":"a","result":{"type":"succeeded","message":{"id":"m","content":[{"type":"text","text":"{\"is_spam\":true,\"confidence\":0.5,\"reason\":\"r\"}"},{"type":"tool_use","name":"spam_result","input":)" +
            good_input + R"(}],"stop_reason":"end_turn"}}})";
        for (int i = 0; i < 5; ++i) {
            lines_agree(dec, text_line_);
            lines_agree(dec, tool_line("x", good_input));
        }
        BOOST_TEST(dec.line_shape_hits() == 0u);
    }
}

BOOST_AUTO_TEST_CASE(review_trailing_bytes_and_crlf) {
    aibatch::result_decoder<spam_result> dec(aibatch::output_spec::for_type<spam_result>());
    aibatch::result_decoder<spam_result> general(aibatch::output_spec::for_type<spam_result>());
    general.learn_line_shapes(false);
    aibatch::decoded_line<spam_result> reused;
    const std::string base = tool_line("a", good_input);
    const std::string variants[] = {base + "\r",
                                    base,
                                    base + " ",
                                    base + "\r\n",
                                    base + "x",
                                    " " + base,
                                    base.substr(0, base.size() - 1),
                                    base + "}",
                                    base + "\r"};
    for (int round = 0; round < 3; ++round)
        for (const auto& l : variants) {
            const line_outcome s = decode_into(dec, l, reused);
            const line_outcome t = tree_line<spam_result>(dec.spec(), l);
            const line_outcome g = streamed_line(general, l);
            BOOST_CHECK_MESSAGE(s == t, l << "\n  tree:   " << t << "\n  shaped: " << s);
            BOOST_CHECK_MESSAGE(s == g, l << "\n  general:   " << g << "\n  shaped: " << s);
        }
}

// A JSON value written with random whitespace and random key order.
void write_random(const json::value& v, std::mt19937_64& rng, std::string& out) {
    static const char* const spaces[] = {"", "", "", " ", "\n", "\t ", "\r\n"};
    auto sp = [&] { out += spaces[rng() % std::size(spaces)]; };
    if (v.is_object()) {
        std::vector<const json::key_value_pair*> kvs;
        for (const auto& kv : v.get_object())
            kvs.push_back(&kv);
        std::shuffle(kvs.begin(), kvs.end(), rng);
        out += '{';
        sp();
        for (std::size_t i = 0; i < kvs.size(); ++i) {
            if (i) {
                out += ',';
                sp();
            }
            out += json::serialize(json::value(kvs[i]->key()));
            sp();
            out += ':';
            sp();
            write_random(kvs[i]->value(), rng, out);
            sp();
        }
        out += '}';
    } else if (v.is_array()) {
        out += '[';
        sp();
        const auto& a = v.get_array();
        for (std::size_t i = 0; i < a.size(); ++i) {
            if (i) {
                out += ',';
                sp();
            }
            write_random(a[i], rng, out);
            sp();
        }
        out += ']';
    } else {
        out += json::serialize(v);
    }
}

BOOST_AUTO_TEST_CASE(review_shuffled_spaced_teachers) {
    std::mt19937_64 rng(seed_from_env() + 99);
    const auto spec = aibatch::output_spec::for_type<spam_result>();
    aibatch::result_decoder<spam_result> general(spec);
    general.learn_line_shapes(false);
    api_values v;
    const json::value base = json::parse(api_line(v));
    std::size_t taught = 0, hits = 0;
    for (int ti = 0; ti < review_rounds(); ++ti) {
        json::value tree = base;
        auto& msg = tree.at("result").at("message").as_object();
        auto& content = msg.at("content").as_array();
        // extra blocks around ours
        const char* const blocks[] = {R"({"type":"text","text":"x 1"})",
                                      R"({"type":"tool_use","name":"other","input":{"a":[1,"b"]}})",
                                      R"({"name":"spam_result","type":"text","input":5})",
                                      R"("s")",
                                      "7",
                                      "null",
                                      R"([{"type":"tool_use","name":"spam_result","input":{}}])",
                                      R"({"type":"tool_use","name":"spam_result","input":{"x":1}})",
                                      R"({"type":"thinking","thinking":"t","signature":"s"})"};
        for (unsigned n = static_cast<unsigned>(rng() % 3); n > 0; --n)
            content.insert(content.begin(), json::parse(blocks[rng() % 7]));
        for (unsigned n = static_cast<unsigned>(rng() % 3); n > 0; --n)
            content.push_back(json::parse(blocks[rng() % std::size(blocks)]));
        if (rng() % 3 == 0)
            msg.erase("usage");
        if (rng() % 4 == 0)
            msg.erase("id");
        if (rng() % 4 == 0)
            tree.as_object()["zz"] = json::parse(R"({"custom_id":"q","result":[1,2.5,"x"]})");
        std::string teacher;
        write_random(tree, rng, teacher);
        aibatch::result_decoder<spam_result> dec(spec);
        aibatch::decoded_line<spam_result> reused;
        if (!taught_a_shape(dec, teacher, reused))
            continue;
        ++taught;
        const auto toks = value_tokens(teacher);
        for (int pi = 0; pi < 60; ++pi) {
            std::string probe = teacher;
            probe = with_values_replaced(probe, toks, rng);
            const std::size_t before = dec.line_shape_hits();
            const line_outcome s = decode_into(dec, probe, reused);
            hits += dec.line_shape_hits() - before;
            const line_outcome t = tree_line<spam_result>(spec, probe);
            const line_outcome g = streamed_line(general, probe);
            BOOST_CHECK_MESSAGE(s == t, "teacher " << teacher << "\nprobe " << probe
                                                   << "\n  tree:   " << t << "\n  shaped: " << s);
            BOOST_CHECK_MESSAGE(s == g, "teacher " << teacher << "\nprobe " << probe
                                                   << "\n  general: " << g << "\n  shaped:  " << s);
        }
    }
    std::cout << "review shuffled teachers " << taught << " hits " << hits << "\n";
}

// ---- review16: the flat-struct loop (read_flat) against the tree path.
namespace {

using namespace review16;

// agree(), and the two values written out the same (-0 and 0 are equal json::values).
template <class T>
void agree_exactly(std::string_view text, const aibatch::decode_options& opts) {
    agree<T>(text, opts);
    boost::system::error_code ec;
    json::value tree = json::parse(text, ec);
    if (ec)
        return;
    auto s = aibatch::decode_json<T>(text, opts);
    auto w = aibatch::decode<T>(tree, opts);
    if (s && w)
        BOOST_CHECK_EQUAL(json::serialize(aibatch_test::decoded_value(*s)),
                          json::serialize(aibatch_test::decoded_value(*w)));
}

std::vector<aibatch::decode_options> review16_options() {
    std::vector<aibatch::decode_options> all(4);
    all[1].allow_unknown_fields = true;
    all[2].max_issues = 0;
    all[3].max_issues = 1;
    return all;
}

// Every line through a decoder taught a shape by `teacher`, with a reused decoded_line,
// against the tree path and the general pass. Answers how many inputs the loop read.
template <class T>
std::size_t review16_lines(const std::string& teacher_input, const std::vector<std::string>& inputs,
                           const aibatch::decode_options& opts) {
    const auto spec = aibatch::output_spec::for_type<T>();
    aibatch::result_decoder<T> shaped(spec, opts);
    aibatch::result_decoder<T> general(spec, opts);
    general.learn_line_shapes(false);
    aibatch::decoded_line<T> reused;
    api_values v;
    v.name = spec.name;
    v.input = teacher_input;
    BOOST_REQUIRE(taught_a_shape(shaped, api_line(v), reused));
    const std::size_t before = shaped.flat_input_hits();
    for (const std::string& in : inputs) {
        v.input = in;
        const std::string line = api_line(v);
        const line_outcome s = decode_into(shaped, line, reused);
        const line_outcome t = tree_line<T>(spec, line, opts);
        aibatch::decoded_line<T> fresh;
        const line_outcome g = decode_into(general, line, fresh);
        BOOST_CHECK_MESSAGE(s == t, in << " (max_issues " << opts.max_issues << ", unknown "
                                       << opts.allow_unknown_fields << ")\n  tree:   " << t
                                       << "\n  shaped: " << s);
        BOOST_CHECK_MESSAGE(s == g, in << "\n  general: " << g << "\n  shaped:  " << s);
        if (s.has_value && t.has_value)
            BOOST_CHECK_EQUAL(json::serialize(s.value), json::serialize(t.value));
    }
    return shaped.flat_input_hits() - before;
}

// An odd_record input: its keys in order, values from pools at and past every limit.
std::string exotic_input(std::mt19937_64& rng, bool keep_structure) {
    static const std::vector<std::string> ints = {"0",
                                                  "65",
                                                  "-1",
                                                  "127",
                                                  "128",
                                                  "-128",
                                                  "-129",
                                                  "255",
                                                  "256",
                                                  "1e2",
                                                  "1.5",
                                                  "1.0",
                                                  "-0",
                                                  "18446744073709551615",
                                                  "18446744073709551616",
                                                  "9223372036854775807",
                                                  "-9223372036854775808",
                                                  "-9223372036854775809",
                                                  "1e19",
                                                  "1.8446744073709552e19",
                                                  "9007199254740993",
                                                  "null",
                                                  "true",
                                                  R"("1")",
                                                  "-0.0",
                                                  "1E400",
                                                  "0e400",
                                                  "123456789012345678",
                                                  "1234567890123456789",
                                                  "12345678901234567890",
                                                  "99999999999999999999999",
                                                  "1.0e-0"};
    static const std::vector<std::string> floats = {
        "0.5",
        "3.4028234663852886e38",
        "3.4028235677973366e38",
        "3.4028235e38",
        "1e39",
        "-0",
        "0.1",
        "0.10000000000000001",
        "0.09999999999999999",
        "1.7976931348623157e308",
        "1e309",
        "-1e400",
        "4.9e-324",
        "2.4703282292062327e-324",
        "123456789012345678",
        "0.30000000000000004441",
        "1.00000000000000011102230246251565404236316680908203125",
        "-0.0",
        "0e400",
        "0.100000001490116119384765625",
        "0.1000000014901161",
        "1",
        "7",
        "null"};
    static const std::vector<std::string> strings = {R"("ab")",
                                                     R"("abcd")",
                                                     R"("abcde")",
                                                     R"("a")",
                                                     R"("\u0000\u0000")",
                                                     R"("\ud83d\ude00x")",
                                                     R"("\ud800")",
                                                     R"("\udc00ab")",
                                                     "\"\xc3\xa9\xc3\xa9\"",
                                                     "\"\xed\xa0\x80\"",
                                                     "\"\xf4\x90\x80\x80\"",
                                                     "\"\xc0\x80\"",
                                                     "\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"",
                                                     R"("\/\b\f\n")",
                                                     R"("\u00e9\u00e9\u00e9\u00e9")",
                                                     R"("\u00e9\u00e9\u00e9\u00e9\u00e9")",
                                                     "\"a\tb\"",
                                                     R"("\x")",
                                                     "1",
                                                     "null"};
    static const std::vector<std::string> hues = {
        R"("red")", R"("blue")", R"("Red")", R"("")", "0", R"("re\u0064")", R"("green ")", "null"};
    static const std::vector<std::string> bools = {"true", "false", "0", "null", R"("true")"};
    static const std::vector<std::string> bounds16 = {"3",
                                                      "300",
                                                      "2",
                                                      "301",
                                                      "2.9999999999999999",
                                                      "300.0000000000001",
                                                      "300.00000000000001",
                                                      "65535",
                                                      "65536",
                                                      "3.0",
                                                      "2.999999999999999"};
    static const std::vector<std::string> boundsd = {"-1.5",
                                                     "2.5",
                                                     "-1.5000000000000002",
                                                     "2.5000000000000004",
                                                     "2.50000000000000001",
                                                     "0.12345678901234567",
                                                     "1.2345678901234567",
                                                     "2.4999999999999999",
                                                     "0.100000000000000005",
                                                     "1.00000000000000022",
                                                     "123456789012345678e-17",
                                                     "1.23456789012345678",
                                                     "-1.49999999999999999",
                                                     "-1.50000000000000001",
                                                     "2.5e0",
                                                     "25e-1",
                                                     "0.0000000000000000000000025e24"};
    static const char* const names[] = {"c", "sc", "i8", "u64", "i64", "ld",
                                        "f", "b",  "h",  "s",   "u16", "d"};
    const std::vector<const std::vector<std::string>*> pools = {
        &ints,   &ints,  &ints, &ints,    &ints,     &floats,
        &floats, &bools, &hues, &strings, &bounds16, &boundsd};
    // Mostly valid values: the first entry of each pool, or one at random.
    object_members members;
    for (std::size_t i = 0; i < pools.size(); ++i) {
        const auto& pool = *pools[i];
        const bool pick = rng() % 3 == 0;
        members.emplace_back(std::string("\"") + names[i] + "\"",
                             pick ? pool[rng() % pool.size()] : pool[0]);
    }
    members[0].second = rng() % 2 ? "65" : members[0].second;
    std::string tail;
    if (!keep_structure) {
        const unsigned what = static_cast<unsigned>(rng() % 10);
        if (what == 4)
            tail = " ";
        else
            reshape(members, what, rng, R"("zz")");
    }
    return object_text(members, ",", ":", tail);
}

std::string forty_input(int bad_at, const std::string& bad) {
    std::string o = "{";
    for (int i = 0; i < 40; ++i) {
        if (i > 0)
            o += ",";
        o += "\"m" + std::to_string(i) + "\":" + (i == bad_at ? bad : std::to_string(i));
    }
    return o + "}";
}

} // namespace

// Two bases, each with an `x`: the tree matches both keys to the first x and reports the
// second missing; the loop fills both.
BOOST_AUTO_TEST_CASE(review16_two_bases_with_a_member_of_one_name_decode_as_the_tree) {
    static_assert(aibatch::detail::member_count<both_parts> == 3);
    for (const auto& opts : review16_options())
        for (const char* text : {R"({"x":1,"x":2,"y":3})", R"({"x":1,"y":3})", R"({"y":3})"})
            agree_exactly<both_parts>(text, opts);
    // A line teaches its shape only when it decodes: with max_issues 0 every line does.
    aibatch::decode_options keep_going;
    keep_going.max_issues = 0;
    review16_lines<both_parts>(R"({"x":1,"y":3})", {R"({"x":1,"x":2,"y":3})", R"({"x":1,"y":3})"},
                               keep_going);
}

BOOST_AUTO_TEST_CASE(review16_a_member_listed_twice_decodes_as_the_tree) {
    for (const auto& opts : review16_options())
        for (const char* text : {R"({"a":1,"a":2})", R"({"a":1})"})
            agree_exactly<listed_twice>(text, opts);
}

BOOST_AUTO_TEST_CASE(review16_inherited_empty_and_forty_member_structs_decode_as_the_tree) {
    static_assert(aibatch::detail::ops_table<inherited_record>::has_flat);
    static_assert(aibatch::detail::ops_table<no_members>::has_flat);
    static_assert(aibatch::detail::ops_table<wide_record>::has_flat);
    const std::vector<std::string> derived = {R"({"id":"a","on":true,"v":1.5})",
                                              R"({"v":1.5,"id":"a","on":true})",
                                              R"({"id":"a","on":true,"v":1.5,"w":1})",
                                              R"({"id":"a","on":1,"v":1.5})",
                                              R"({"id":"a","on":true})",
                                              R"({"id":"a","on":true,"v":0.12345678901234567})"};
    const std::vector<std::string> empty = {"{}", R"({"a":1})", "{ }", "{}}", R"({"a":{}})"};
    std::vector<std::string> wide = {forty_input(-1, "")};
    for (int at : {0, 31, 32, 33, 39})
        for (const char* bad : {"null", "1.5", "2147483648", R"("x")", "1e400"})
            wide.push_back(forty_input(at, bad));
    for (const auto& opts : review16_options()) {
        for (const auto& t : derived)
            agree_exactly<inherited_record>(t, opts);
        for (const auto& t : empty)
            agree_exactly<no_members>(t, opts);
        for (const auto& t : wide)
            agree_exactly<wide_record>(t, opts);
        BOOST_TEST(review16_lines<inherited_record>(derived[0], derived, opts) >= 1u);
        BOOST_TEST(review16_lines<no_members>("{}", empty, opts) >= 1u);
        BOOST_TEST(review16_lines<wide_record>(wide[0], wide, opts) >= 1u);
    }
}

// Members of every odd kind, at and past their limits and field_doc bounds, 17-18 digit
// doubles right before the closing brace, with every kind of options; one decoder reused
// across lines that fail part-way through the loop.
BOOST_AUTO_TEST_CASE(review16_odd_members_at_their_limits_decode_as_the_tree) {
    const std::uint64_t seed = seed_from_env();
    std::cout << "review16 odd members: AIBATCH_SEED=" << seed << "\n";
    for (const auto& opts : review16_options()) {
        std::mt19937_64 rng(seed);
        std::vector<std::string> inputs;
        for (int i = 0; i < 1500; ++i) {
            std::string in = exotic_input(rng, i % 3 != 0);
            agree_exactly<odd_record>(in, opts);
            agree_exactly<odd_record>(in + "\n", opts);
            inputs.push_back(std::move(in));
        }
        const std::size_t flat = review16_lines<odd_record>(
            R"({"c":65,"sc":0,"i8":0,"u64":0,"i64":0,"ld":0.5,"f":0.5,"b":true,"h":"red","s":"ab","u16":3,"d":-1.5})",
            inputs, opts);
        std::cout << "review16 odd members: " << flat << " read by the loop\n";
        BOOST_TEST(flat > 100u);
    }
}

// Compiled before 8057802 (vector elements are value-initialised, T()), broke with it
// (review 16), compiles again: a T whose T{} is ill-formed is no flat struct.
BOOST_AUTO_TEST_CASE(review16_a_struct_without_a_braced_default_still_decodes_in_a_vector) {
    static_assert(!aibatch::detail::ops_table<holder>::has_flat);
    auto r = aibatch::decode<std::vector<holder>>(json::parse(R"([{"a":1}])"));
    BOOST_REQUIRE(r);
    BOOST_TEST(r->at(0).a == 1);
}

BOOST_AUTO_TEST_SUITE_END()
