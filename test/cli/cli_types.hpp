// Described types whose json_schema<T>() the command-line tests feed to json_validator and
// to `aibatch run`, so the runtime results can be compared with decode<T>() / batch<T>().
#pragma once

#include <aibatch/aibatch.hpp>

#include <boost/describe.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cli_test {

BOOST_DEFINE_ENUM_CLASS(Mood, happy, sad, angry)

struct Inner {
    std::string name;
    std::optional<std::int64_t> count;
    bool operator==(const Inner&) const = default;
};
BOOST_DESCRIBE_STRUCT(Inner, (), (name, count))

struct Scored {
    std::string label;
    double score = 0;
    std::int64_t rank = 0;
    bool ok = false;
    Mood mood = Mood::happy;
    std::vector<std::string> tags;
    std::optional<Inner> inner;
    std::vector<Inner> items;
    bool operator==(const Scored&) const = default;
};
BOOST_DESCRIBE_STRUCT(Scored, (), (label, score, rank, ok, mood, tags, inner, items))

struct Tree {
    std::string value;
    std::vector<Tree> children;
    bool operator==(const Tree&) const = default;
};
BOOST_DESCRIBE_STRUCT(Tree, (), (value, children))

struct Counts {
    std::map<std::string, std::int64_t> counts;
    std::optional<std::string> note;
    bool operator==(const Counts&) const = default;
};
BOOST_DESCRIBE_STRUCT(Counts, (), (counts, note))

} // namespace cli_test

template <>
struct aibatch::schema_docs<cli_test::Scored> {
    static constexpr std::string_view description = "A scored label";
    static constexpr aibatch::field_doc fields[] = {
        {.name = "label", .min_length = 1, .max_length = 10},
        {.name = "score", .minimum = 0, .maximum = 1},
        {.name = "rank", .minimum = 1},
        {.name = "tags", .max_length = 3},
    };
};
