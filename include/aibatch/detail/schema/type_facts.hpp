// What aibatch knows of a C++ type at compile time: its category (optional, vector,
// array, map with string keys, described struct or enum, a user's schema_traits), the
// members of a described struct and their field_docs, and a name for its schema.
// Part of detail/schema_impl.hpp (see there): reached through <aibatch/typed/schema.hpp>,
// which declares what it builds on; never included on its own.
#pragma once

#include <aibatch/detail/ascii.hpp>
#include <aibatch/detail/schema/decode_state.hpp>

#include <boost/core/demangle.hpp>
#include <boost/describe/enumerators.hpp>
#include <boost/describe/members.hpp>
#include <boost/describe/modifiers.hpp>
#include <boost/mp11/algorithm.hpp>

#include <array>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <typeindex>
#include <unordered_map>
#include <vector>

namespace aibatch::detail {

template <class>
inline constexpr bool dependent_false = false;

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};

template <class T>
struct is_std_array : std::false_type {};
template <class T, std::size_t N>
struct is_std_array<std::array<T, N>> : std::true_type {};

template <class T>
struct is_string_map : std::false_type {};
template <class V, class C, class A>
struct is_string_map<std::map<std::string, V, C, A>> : std::true_type {};
template <class V, class H, class E, class A>
struct is_string_map<std::unordered_map<std::string, V, H, E, A>> : std::true_type {};

template <class T>
concept has_schema_traits = requires(const boost::json::value& v, T& out, decode_context& ctx) {
    { schema_traits<T>::schema() } -> std::convertible_to<boost::json::value>;
    schema_traits<T>::decode(v, out, ctx);
};

template <class T>
concept described_struct = boost::describe::has_describe_members<T>::value && std::is_class_v<T>;

template <class T>
concept described_enum = boost::describe::has_describe_enumerators<T>::value;

template <class T>
concept documented_type = requires {
    std::string_view(schema_docs<T>::description);
};

template <class T>
concept documented_fields = requires {
    std::size(schema_docs<T>::fields);
};

template <class T>
using members_of = boost::describe::describe_members<T, boost::describe::mod_public |
                                                            boost::describe::mod_inherited>;

template <class T>
constexpr std::size_t member_count = boost::mp11::mp_size<members_of<T>>::value;

/// Whether every field_doc of schema_docs<T> names a member of T (a typo would drop its
/// description and constraints without a word).
template <class T>
constexpr bool field_docs_name_members() {
    if constexpr (documented_fields<T>) {
        for (const auto& f : schema_docs<T>::fields) {
            bool found = false;
            boost::mp11::mp_for_each<members_of<T>>(
                [&](auto D) { found = found || f.name == std::string_view(D.name); });
            if (!found)
                return false;
        }
    }
    return true;
}

template <class M>
struct without_optional {
    using type = M;
};
template <class M>
struct without_optional<std::optional<M>> {
    using type = M;
};

/// Whether every constraint of schema_docs<T>::fields is one its member's type checks:
/// minimum/maximum on numbers, min_length/max_length on std::string and std::vector (or
/// std::optional of them). Any other would be written into the schema and never checked.
template <class T>
constexpr bool field_docs_fit_members() {
    if constexpr (documented_fields<T>) {
        for (const auto& f : schema_docs<T>::fields) {
            bool fits = true;
            boost::mp11::mp_for_each<members_of<T>>([&](auto D) {
                using M = typename without_optional<
                    std::remove_cvref_t<decltype(std::declval<T&>().*D.pointer)>>::type;
                if (f.name != std::string_view(D.name))
                    return;
                constexpr bool number = std::is_arithmetic_v<M> && !std::is_same_v<M, bool>;
                constexpr bool sized = std::is_same_v<M, std::string> || is_vector<M>::value;
                if ((f.minimum || f.maximum) && !number)
                    fits = false;
                if ((f.min_length || f.max_length) && !sized)
                    fits = false;
            });
            if (!fits)
                return false;
        }
    }
    return true;
}

/// For each member of T (in describe order), its field_doc or nullptr. Built once.
template <class T>
const std::array<const field_doc*, member_count<T>>& field_docs_of() {
    static_assert(field_docs_name_members<T>(),
                  "aibatch: a field_doc of schema_docs<T>::fields names no member of T (a typo, "
                  "or a renamed member?); its description and constraints would be dropped");
    static_assert(field_docs_fit_members<T>(),
                  "aibatch: a field_doc of schema_docs<T>::fields sets a constraint its member's "
                  "type never checks: minimum/maximum apply to numbers, min_length/max_length "
                  "to std::string and std::vector (or std::optional of them); it would be "
                  "written into the schema and never checked");
    static const auto table = [] {
        std::array<const field_doc*, member_count<T>> t{};
        if constexpr (documented_fields<T>) {
            std::size_t i = 0;
            boost::mp11::mp_for_each<members_of<T>>([&](auto D) {
                for (const auto& f : schema_docs<T>::fields)
                    if (f.name == D.name)
                        t[i] = &f;
                ++i;
            });
        }
        return t;
    }();
    return table;
}

/// A name for T usable as a tool name and a $defs key: [A-Za-z0-9_], no namespaces.
template <class T>
const std::string& type_name() {
    static const std::string name = [] {
        std::string full = boost::core::demangle(typeid(T).name());
        auto lt = full.find('<');
        auto scope = full.rfind("::", lt);
        std::string s = scope == std::string::npos ? full : full.substr(scope + 2);
        for (char& c : s)
            if (!ascii::is_alnum(c) && c != '_')
                c = '_';
        if (s.size() > 64)
            s.resize(64);
        return s;
    }();
    return name;
}

template <class E>
std::string enum_choices() {
    std::string s;
    boost::mp11::mp_for_each<boost::describe::describe_enumerators<E>>([&](auto D) {
        if (!s.empty())
            s += ", ";
        s += D.name;
    });
    return s;
}

} // namespace aibatch::detail
