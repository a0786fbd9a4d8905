// The described types of the schema tests (schema_test.cpp), shared with the streaming
// decoder's tests (json_decode_test.cpp), which check that both decoders agree on each.
#pragma once

#include <aibatch/typed/schema.hpp>

#include <boost/describe.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace schema_test {

namespace json = boost::json;

BOOST_DEFINE_ENUM_CLASS(sentiment, positive, negative, neutral)

struct spam_result {
    bool is_spam;
    double confidence;
    std::string reason;
};
BOOST_DESCRIBE_STRUCT(spam_result, (), (is_spam, confidence, reason))

struct item {
    std::string name;
    std::int32_t quantity;
    std::optional<double> price;
};
BOOST_DESCRIBE_STRUCT(item, (), (name, quantity, price))

struct order {
    std::vector<item> items;
    sentiment mood;
    std::map<std::string, std::int64_t> counters;
    std::array<float, 2> point;
    std::optional<std::vector<std::string>> tags;
    std::uint8_t priority;
    json::value extra;
};
BOOST_DESCRIBE_STRUCT(order, (), (items, mood, counters, point, tags, priority, extra))

struct tree_node {
    std::string label;
    std::vector<tree_node> children;
};
BOOST_DESCRIBE_STRUCT(tree_node, (), (label, children))

struct forest {
    std::vector<tree_node> trees;
};
BOOST_DESCRIBE_STRUCT(forest, (), (trees))

struct base_part {
    std::string id;
};
BOOST_DESCRIBE_STRUCT(base_part, (), (id))
struct derived_part : base_part {
    int size;
};
BOOST_DESCRIBE_STRUCT(derived_part, (base_part), (size))

struct rated {
    double score;
    std::string summary;
    std::vector<std::string> keywords;
    std::optional<int> stars;
};
BOOST_DESCRIBE_STRUCT(rated, (), (score, summary, keywords, stars))

// A type Describe cannot describe: an ISO date "YYYY-MM-DD".
struct date {
    int y = 0, m = 0, d = 0;
};
struct dated {
    date when;
    std::optional<date> until;
};
BOOST_DESCRIBE_STRUCT(dated, (), (when, until))

struct wide_numbers {
    std::int64_t i64;
    std::uint64_t u64;
    float f;
};
BOOST_DESCRIBE_STRUCT(wide_numbers, (), (i64, u64, f))

// A flat struct (every member a built-in scalar, some with field_doc checks): its objects
// are read in one loop when the keys come in order (result lines, decode_json).
struct flat_record {
    bool flag;
    std::int32_t count;
    std::uint8_t level;
    double score;
    float ratio;
    std::string note;
    sentiment mood;
};
BOOST_DESCRIBE_STRUCT(flat_record, (), (flag, count, level, score, ratio, note, mood))

} // namespace schema_test

template <>
struct aibatch::schema_docs<schema_test::flat_record> {
    static constexpr aibatch::field_doc fields[] = {
        {.name = "count", .minimum = -5, .maximum = 1000},
        {.name = "score", .minimum = 0, .maximum = 1},
        {.name = "note", .min_length = 1, .max_length = 12},
    };
};

template <>
struct aibatch::schema_docs<schema_test::rated> {
    static constexpr std::string_view description = "A rating of one review";
    static constexpr aibatch::field_doc fields[] = {
        {.name = "score", .description = "0 = awful, 1 = perfect", .minimum = 0, .maximum = 1},
        {.name = "summary", .min_length = 3, .max_length = 10},
        {.name = "keywords", .description = "Salient words", .min_length = 1, .max_length = 3},
        {.name = "stars", .minimum = 1, .maximum = 5},
    };
};

template <>
struct aibatch::schema_traits<schema_test::date> {
    static boost::json::value schema() {
        return boost::json::object{{"type", "string"}, {"format", "date"}};
    }
    static void decode(const boost::json::value& v, schema_test::date& out,
                       aibatch::decode_context& ctx) {
        if (!v.is_string())
            return ctx.fail("expected a date string like 2024-01-31");
        std::string s(v.get_string());
        if (std::sscanf(s.c_str(), "%4d-%2d-%2d", &out.y, &out.m, &out.d) != 3 || s.size() != 10)
            ctx.fail("\"" + s + "\" is not a date like 2024-01-31");
    }
};
