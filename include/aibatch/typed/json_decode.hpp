// Decodes JSON text straight into a described type, without building a JSON tree.
//
//   aibatch::decode_result<SpamResult> r = aibatch::decode_json<SpamResult>(text);
//
// The same types, rules and messages as decode<T>(boost::json::parse(text)): both walk
// JSON through the one set of type traits (detail/schema_impl.hpp), one from a tree,
// this one from boost::json::basic_parser events. What it builds as a tree is only what
// a type reads as a whole (boost::json::value members, schema_traits types), and an
// object that repeats a key, where Boost.JSON's rule (the last one wins) needs the tree:
// that text is decoded through decode<T>.
#pragma once

#include <aibatch/typed/schema.hpp>

#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace aibatch {

namespace detail {

enum class text_status {
    decoded,   ///< decoded into the target (the decode_state holds any issues)
    not_json,  ///< the text is not one JSON value; `why` says what is wrong
    tree_built ///< an object repeated a key: `tree` holds the parsed text, decode it
};

/// Streams `json` into t (src/typed/json_decode.cpp), with boost::json::parse's
/// default options (depth 32, no comments). Allocation failures propagate.
text_status decode_text(std::string_view json, target t, decode_state& st, boost::json::value& tree,
                        std::string& why);

} // namespace detail

/// decode<T>(boost::json::parse(json)) without the tree: the same value, or the same
/// decode_error. Text that is not JSON is one issue at "$" ("not valid JSON: ...").
/// Never throws for bad input; allocation failures propagate.
template <class T>
decode_result<T> decode_json(std::string_view json, const decode_options& opts = {}) {
    detail::decode_state st(opts);
    T out{};
    boost::json::value tree;
    std::string why;
    switch (detail::decode_text(json, {&out, &detail::ops_of<T>()}, st, tree, why)) {
    case detail::text_status::decoded:
        break;
    case detail::text_status::not_json:
        return decode_result<T>(decode_error{{decode_issue{"$", std::move(why)}}});
    case detail::text_status::tree_built:
        return decode<T>(tree, opts);
    }
    if (st.failed())
        return decode_result<T>(st.take_error());
    return decode_result<T>(std::move(out));
}

} // namespace aibatch
