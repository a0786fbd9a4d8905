// decode<T> over several described types. The first byte picks the type, the rest is
// JSON. Promises: decode never throws on bad input and never has undefined behaviour;
// what it accepts holds every declared constraint, integers equal the JSON number
// exactly, and floating point values are finite.
#include "fuzz_targets.hpp"

#include <aibatch/typed/schema.hpp>

#include <boost/describe.hpp>
#include <boost/json/parse.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

namespace aibatch::fuzz::decode_types {

BOOST_DEFINE_ENUM_CLASS(mood, happy, sad, neutral)

struct numbers {
    std::int64_t i64;
    std::uint64_t u64;
    std::int32_t i32;
    std::uint8_t u8;
    std::int16_t i16;
    float f;
    double d;
};
BOOST_DESCRIBE_STRUCT(numbers, (), (i64, u64, i32, u8, i16, f, d))

struct scored {
    double score;
    std::optional<float> weight;
    int stars;
    std::string summary;
    std::vector<std::string> tags;
};
BOOST_DESCRIBE_STRUCT(scored, (), (score, weight, stars, summary, tags))

struct node {
    std::string label;
    std::vector<node> children;
    std::optional<mood> feeling;
};
BOOST_DESCRIBE_STRUCT(node, (), (label, children, feeling))

struct mixed {
    std::map<std::string, std::int64_t> counters;
    std::unordered_map<std::string, double> weights;
    std::array<float, 2> point;
    std::optional<std::vector<std::uint16_t>> ids;
    boost::json::value extra;
    bool flag;
};
BOOST_DESCRIBE_STRUCT(mixed, (), (counters, weights, point, ids, extra, flag))

} // namespace aibatch::fuzz::decode_types

template <>
struct aibatch::schema_docs<aibatch::fuzz::decode_types::scored> {
    static constexpr aibatch::field_doc fields[] = {
        {.name = "score", .minimum = 0, .maximum = 1},
        {.name = "weight", .minimum = -10, .maximum = 10},
        {.name = "stars", .minimum = 1, .maximum = 5},
        {.name = "summary", .min_length = 1, .max_length = 20},
        {.name = "tags", .min_length = 0, .max_length = 3},
    };
};

namespace aibatch::fuzz {
namespace {

using namespace decode_types;
namespace json = boost::json;

// The JSON number at key, as long double (exact for every int64 / uint64 / double).
std::optional<long double> number_at(const json::value& v, std::string_view key) {
    const auto* f = v.is_object() ? v.get_object().if_contains(key) : nullptr;
    if (!f)
        return std::nullopt;
    if (f->is_int64())
        return static_cast<long double>(f->get_int64());
    if (f->is_uint64())
        return static_cast<long double>(f->get_uint64());
    if (f->is_double())
        return static_cast<long double>(f->get_double());
    return std::nullopt;
}

template <class I>
void same_integer(const json::value& v, std::string_view key, I got) {
    auto n = number_at(v, key);
    require(n && *n == static_cast<long double>(got),
            "decode accepted $." + std::string(key) + " but the integer differs from the JSON");
}

void check(const json::value& v, const numbers& n) {
    same_integer(v, "i64", n.i64);
    same_integer(v, "u64", n.u64);
    same_integer(v, "i32", n.i32);
    same_integer(v, "u8", n.u8);
    same_integer(v, "i16", n.i16);
    require(std::isfinite(n.f) && std::isfinite(n.d), "decode accepted a non-finite number");
}

void check(const json::value&, const scored& s) {
    require(std::isfinite(s.score) && s.score >= 0 && s.score <= 1,
            "decode accepted a score outside [0, 1]");
    require(!s.weight || (std::isfinite(*s.weight) && *s.weight >= -10 && *s.weight <= 10),
            "decode accepted a weight outside [-10, 10]");
    require(s.stars >= 1 && s.stars <= 5, "decode accepted stars outside [1, 5]");
    require(!s.summary.empty() && s.tags.size() <= 3, "decode accepted a length outside limits");
}

void check_node(const node& n, int depth) {
    require(depth < 64, "decoded tree deeper than its JSON");
    for (const auto& c : n.children)
        check_node(c, depth + 1);
}
void check(const json::value&, const node& n) {
    check_node(n, 0);
}

void check(const json::value&, const mixed& m) {
    for (const auto& [k, w] : m.weights)
        require(std::isfinite(w), "decode accepted a non-finite number");
    require(std::isfinite(m.point[0]) && std::isfinite(m.point[1]),
            "decode accepted a non-finite number");
}

template <class T>
void run(const json::value& v) {
    for (bool lenient : {false, true}) {
        decode_options o;
        o.allow_unknown_fields = lenient;
        auto r = aibatch::decode<T>(v, o);
        if (r) {
            check(v, *r);
        } else {
            require(!r.error().issues.empty(), "decode failed without an issue");
            require(r.error().issues.size() <= o.max_issues, "decode reported too many issues");
            for (const auto& i : r.error().issues)
                require(i.path.starts_with("$"), "a decode issue without a path");
        }
    }
}

} // namespace

void decode(std::string_view data) {
    if (data.empty())
        return;
    unsigned char which = static_cast<unsigned char>(data[0]);
    data.remove_prefix(1);
    boost::system::error_code ec;
    json::value v = json::parse(data, ec);
    if (ec)
        return;
    switch (which % 4) {
    case 0:
        return run<numbers>(v);
    case 1:
        return run<scored>(v);
    case 2:
        return run<node>(v);
    default:
        return run<mixed>(v);
    }
}

} // namespace aibatch::fuzz
