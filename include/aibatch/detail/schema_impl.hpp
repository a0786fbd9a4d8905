// Implementation of aibatch/schema.hpp; users never need to open this file.
//
// One traits specialisation per supported category of type (json_traits<T>, chosen by
// traits_for<T>), the way Boost.MySQL's readable_field_traits does it. Each one knows:
//   - schema(b): its JSON Schema;
//   - on_scalar(s, out, st): what a JSON scalar (null, bool, number, string) means for it;
//   - open(is_array, out, st): what an array or object means for it: descend into a
//     container frame (then child / child_done / close drive the members), skip it with
//     an issue ("expected object, got array"), or capture the subtree as a json::value;
//   - on_value(v, out, st), for types that decode from a whole json::value (capture);
//   - check(fd, m, st), optionally: the field_doc constraints (minimum, min_length...).
// Two drivers walk JSON through these hooks: the DOM walk (decode<T>, src/typed/schema.cpp)
// and the streaming one (decode_json<T>, src/typed/json_decode.cpp, fed by
// boost::json::basic_parser). The rules and the messages live only here, in the parts below.
//
// The parts, in the order they build on each other (detail/schema/):
//   decode_state.hpp      where a decode is, what it found, one JSON scalar, message text
//   type_facts.hpp        a type's category, members, field_docs and name
//   decode_hooks.hpp      the type-erased hooks the drivers call; traits_for<T>
//   scalar_traits.hpp     bool, integers, floating point, std::string, described enums
//   container_traits.hpp  std::optional, std::vector, std::array, maps with string keys
//   value_traits.hpp      boost::json::value and a user's schema_traits<T>
//   struct_traits.hpp     described structs
//   ops_table.hpp         traits as type_ops function pointers; the DOM driver walk()
//   schema_builder.hpp    the JSON Schema of a type
#pragma once

// In the order above, each part after those it builds on.
// clang-format off
#include <aibatch/detail/schema/decode_state.hpp>
#include <aibatch/detail/schema/type_facts.hpp>
#include <aibatch/detail/schema/decode_hooks.hpp>
#include <aibatch/detail/schema/scalar_traits.hpp>
#include <aibatch/detail/schema/container_traits.hpp>
#include <aibatch/detail/schema/value_traits.hpp>
#include <aibatch/detail/schema/struct_traits.hpp>
#include <aibatch/detail/schema/ops_table.hpp>
#include <aibatch/detail/schema/schema_builder.hpp>
// clang-format on
