// The type-erased hooks the two drivers call (target, frame, open_result, type_ops,
// container_ops), and which traits a type gets (traits_for<T>: a user's schema_traits<T>
// first, else json_traits<T>, whose primary template is the unsupported case).
// Part of detail/schema_impl.hpp (see there): reached through <aibatch/typed/schema.hpp>,
// which declares what it builds on; never included on its own.
#pragma once

#include <aibatch/detail/schema/decode_state.hpp>
#include <aibatch/detail/schema/type_facts.hpp>

#include <cstddef>
#include <string_view>
#include <type_traits>
#include <vector>

namespace aibatch::detail {

struct type_ops;
struct container_ops;

/// Where the next value goes: an object of a type, or nowhere (skipped).
struct target {
    void* out = nullptr;
    const type_ops* ops = nullptr;
};

/// One array or object being decoded into a C++ container or struct.
struct frame {
    void* out = nullptr;
    const container_ops* ops = nullptr;
    std::size_t count = 0;      ///< elements / keys seen so far
    std::size_t mark = 0;       ///< decode_state::issue_count() at the start
    std::size_t child = 0;      ///< struct: index of the current member, or npos
    std::size_t child_mark = 0; ///< issue_count() before the current child
    bool child_active = false;  ///< the current child pushed a path segment
    std::size_t seen = 0;       ///< struct: offset of its "seen" flags in the driver's stack
    std::size_t id = 0;         ///< struct: decode_state::next_object()
};

/// What to do with an array or object that starts where a T is expected.
struct open_result {
    enum class action : unsigned char { descend, skip, capture };
    action what = action::skip;
    frame f;         ///< descend: the frame to push
    target captured; ///< capture: build the subtree as a json::value, then on_value
};

struct flat_struct;

struct type_ops {
    void (*on_scalar)(const scalar&, void* out, decode_state&);
    open_result (*open)(bool is_array, void* out, decode_state&);
    /// Non-null for types that decode from a whole json::value.
    void (*on_value)(const boost::json::value&, void* out, decode_state&);
    /// Non-null for a flat struct (below): its members, for a reader that takes an object
    /// of exactly those keys in that order in one loop, and leaves anything else to the
    /// drivers.
    const flat_struct* (*flat)() = nullptr;
};

/// One member of a flat struct: what a driver does for a member whose value is a scalar.
struct flat_member {
    std::string_view name;
    void* (*get)(void* object);
    const type_ops* ops;
    /// The field_doc checks of the member (null: none), as child_done makes them.
    void (*check)(const void* object, decode_state&);
};

/// A described struct whose members are all scalars of the built-in kinds (bool,
/// numbers, std::string, described enums). A flat reader may take an object of exactly
/// these keys, in this order, each with a scalar value, by calling each member's
/// on_scalar and check: on a driver's path that is all that happens, but for the path
/// segments and object ids that matter only to a problem. So the reader may keep the
/// value only when no problem was recorded; otherwise it resets the object and leaves
/// the object to a driver, which records the problems with their paths.
struct flat_struct {
    const flat_member* members;
    std::size_t size;
    void (*reset)(void* object);
};

/// The "seen" flags of the members of the structs being decoded (a byte each: a
/// std::vector<bool> cost more to grow and test than the decode around it).
using seen_flags = std::vector<unsigned char>;

struct container_ops {
    /// The next element (key empty, arrays) or member (objects): where its value goes.
    target (*child)(frame&, std::string_view key, decode_state&, seen_flags& seen);
    /// After the value of the current child.
    void (*child_done)(frame&, decode_state&);
    /// After the last child.
    void (*close)(frame&, decode_state&, seen_flags& seen);
    /// How many "seen" flags the frame needs (struct members).
    std::size_t flags = 0;
};

// ------------------------------------------------------------------ the traits
/// One specialisation per supported category. The primary template is the
/// unsupported case.
template <class T>
struct json_traits {
    static constexpr bool is_supported = false;
};

/// A user's schema_traits<T> wins over every built-in category.
template <class T>
struct user_traits;

template <class T>
using traits_for = std::conditional_t<has_schema_traits<T>, user_traits<T>, json_traits<T>>;

template <class T>
concept supported_type = traits_for<T>::is_supported;

template <class T>
concept has_check = requires(const field_doc& fd, const T& m, decode_state& st) {
    traits_for<T>::check(fd, m, st);
};

template <class T>
struct ops_table;

/// The hooks of T, for the drivers.
template <class T>
const type_ops& ops_of() noexcept {
    return ops_table<T>::value;
}

/// A value that is not a container where a container was expected: an issue.
inline void expected_container(const char* what, const scalar& s, decode_state& st) {
    st.expected(what, scalar_kind(s));
}
/// An array or object where a scalar was expected: an issue, and the subtree is skipped.
inline open_result expected_scalar(const char* what, bool is_array, decode_state& st) {
    st.expected(what, is_array ? "array" : "object");
    return {};
}

} // namespace aibatch::detail
