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
// boost::json::basic_parser). The rules and the messages live only here.
#pragma once

#include <boost/core/demangle.hpp>
#include <boost/describe/enumerators.hpp>
#include <boost/describe/members.hpp>
#include <boost/describe/modifiers.hpp>
#include <boost/json/array.hpp>
#include <boost/json/string.hpp>
#include <boost/mp11/algorithm.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <type_traits>
#include <typeindex>
#include <unordered_map>
#include <unordered_set>

namespace aibatch {

namespace detail {
class decode_state;
}

/// What a schema_traits<T>::decode sees: where it is, and a way to report a problem.
class decode_context {
public:
    explicit decode_context(detail::decode_state& d) : d_(d) {}
    /// Records a problem at the current path.
    void fail(std::string message);
    /// The current path ("$.when").
    std::string path() const;

private:
    detail::decode_state& d_;
};

namespace detail {

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

/// For each member of T (in describe order), its field_doc or nullptr. Built once.
template <class T>
const std::array<const field_doc*, member_count<T>>& field_docs_of() {
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
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_')
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

/// "null", "boolean", "integer", "number", "string", "array" or "object".
const char* json_kind(const boost::json::value& v) noexcept;
/// A short rendering of a scalar for messages ("\"happy\"", "2.5", "true").
std::string json_brief(const boost::json::value& v);
/// Number of Unicode code points of UTF-8 text.
std::size_t utf8_length(std::string_view s) noexcept;
/// A number without trailing zeros ("1", "0.25").
std::string format_number(double d);

// ------------------------------------------------------------------ JSON scalars
/// One JSON scalar as either driver sees it (a DOM value, or a parser event).
struct scalar {
    enum class kind : unsigned char { null, boolean, int64, uint64, double_, string };
    kind k = kind::null;
    bool b = false;
    std::int64_t i = 0;
    std::uint64_t u = 0;
    double d = 0;
    std::string_view s;

    static scalar null() noexcept { return {}; }
    static scalar of(bool v) noexcept {
        scalar x;
        x.k = kind::boolean;
        x.b = v;
        return x;
    }
    static scalar of(std::int64_t v) noexcept {
        scalar x;
        x.k = kind::int64;
        x.i = v;
        return x;
    }
    static scalar of(std::uint64_t v) noexcept {
        scalar x;
        x.k = kind::uint64;
        x.u = v;
        return x;
    }
    static scalar of(double v) noexcept {
        scalar x;
        x.k = kind::double_;
        x.d = v;
        return x;
    }
    static scalar of(std::string_view v) noexcept {
        scalar x;
        x.k = kind::string;
        x.s = v;
        return x;
    }
    /// The scalar of a DOM value (v must not be an array or object).
    static scalar of(const boost::json::value& v) noexcept;
};

/// json_kind() of a scalar.
const char* scalar_kind(const scalar& s) noexcept;
/// json_brief() of a scalar.
std::string scalar_brief(const scalar& s);
/// The scalar as a DOM value.
boost::json::value scalar_value(const scalar& s);

// ------------------------------------------------------------------ decode state
/// Where a decode is and what it found. Issues are kept with their place in the order
/// decode<T> has always reported them (member order of each struct, then its unknown
/// fields; elements in order), so a driver that sees the members in document order
/// reports the same list.
/// One step of a JSON path: a member key or an array index.
struct path_segment {
    std::string_view key;
    std::size_t index = 0;
    bool is_index = false;
};
/// A JSON path as every message of aibatch writes it: "$.a.b[2]", a key that is not an
/// identifier quoted ("$[\"a b\"]"). One rule for decode<T>, decode_json<T> and
/// json_validator, so their messages stay the same.
std::string render_path(const std::vector<path_segment>& segments);

class decode_state {
public:
    explicit decode_state(const decode_options& o) : opts_(o) {}

    const decode_options& options() const noexcept { return opts_; }

    /// Records a problem at the current path.
    void fail(std::string message) { issues_.push_back({order_, {path(), std::move(message)}}); }
    /// "expected <what>, got <kind>"
    void expected(const char* what, const char* got) {
        fail(std::string("expected ") + what + ", got " + got);
    }

    /// Enters a member (order: its rank in the report) or an element.
    void push_key(std::string_view key, std::uint32_t order) {
        segments_.push_back({key, 0, false});
        order_.push_back(order);
    }
    void push_index(std::size_t i) {
        segments_.push_back({{}, i, true});
        order_.push_back(static_cast<std::uint32_t>(i));
    }
    void pop() {
        segments_.pop_back();
        order_.pop_back();
    }
    /// A rank without a path segment (problems reported at a struct about one member).
    void push_order(std::uint32_t order) { order_.push_back(order); }
    void pop_order() { order_.pop_back(); }

    std::size_t issue_count() const noexcept { return issues_.size(); }
    /// A number for each object decoded into a struct, for first_unknown().
    std::size_t next_object() noexcept { return ++objects_; }
    /// Records an unknown key of object `id`; false when it was recorded before (the same
    /// key twice in one object, which only a streaming driver sees).
    bool first_unknown(std::size_t id, std::string_view key);
    /// Ready for a new value (keeps the buffers).
    void reset() {
        segments_.clear();
        order_.clear();
        issues_.clear();
        unknown_.clear();
        objects_ = 0;
        repeated_key_ = false;
    }
    /// Forgets the problems found since issue_count() was `mark`.
    void truncate_issues(std::size_t mark) { issues_.resize(mark); }

    /// A repeated key in an object: Boost.JSON's tree keeps the last one, a streaming
    /// driver cannot; it stops and decodes through the tree instead.
    void repeated_key() noexcept { repeated_key_ = true; }
    bool saw_repeated_key() const noexcept { return repeated_key_; }

    bool failed() const noexcept { return opts_.max_issues > 0 && !issues_.empty(); }
    /// The problems in report order, at most options().max_issues of them.
    decode_error take_error();

    std::string path() const;

private:
    using segment = path_segment;
    struct ranked_issue {
        std::vector<std::uint32_t> order;
        decode_issue issue;
    };

    decode_options opts_;
    std::vector<segment> segments_;
    std::vector<std::uint32_t> order_;
    std::vector<ranked_issue> issues_;
    std::unordered_set<std::string> unknown_; ///< "<object>:<key>" of unknown fields reported
    std::size_t objects_ = 0;
    bool repeated_key_ = false;
};

// ------------------------------------------------------------------ type-erased hooks
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

struct type_ops {
    void (*on_scalar)(const scalar&, void* out, decode_state&);
    open_result (*open)(bool is_array, void* out, decode_state&);
    /// Non-null for types that decode from a whole json::value.
    void (*on_value)(const boost::json::value&, void* out, decode_state&);
};

struct container_ops {
    /// The next element (key empty, arrays) or member (objects): where its value goes.
    target (*child)(frame&, std::string_view key, decode_state&, std::vector<bool>& seen);
    /// After the value of the current child.
    void (*child_done)(frame&, decode_state&);
    /// After the last child.
    void (*close)(frame&, decode_state&, std::vector<bool>& seen);
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

// --- bool
template <>
struct json_traits<bool> {
    static constexpr bool is_supported = true;
    template <class B>
    static boost::json::value schema(B&) {
        return boost::json::object{{"type", "boolean"}};
    }
    static void on_scalar(const scalar& s, bool& out, decode_state& st) {
        if (s.k == scalar::kind::boolean)
            out = s.b;
        else
            st.expected("boolean", scalar_kind(s));
    }
    static open_result open(bool is_array, bool&, decode_state& st) {
        return expected_scalar("boolean", is_array, st);
    }
};

/// The minimum / maximum of a field_doc, for numbers.
inline void check_number(const field_doc& fd, double d, decode_state& st) {
    if (fd.minimum && d < *fd.minimum)
        st.fail(format_number(d) + " is less than the minimum " + format_number(*fd.minimum));
    if (fd.maximum && d > *fd.maximum)
        st.fail(format_number(d) + " is greater than the maximum " + format_number(*fd.maximum));
}

inline void not_finite(double d, decode_state& st) {
    st.fail(std::string("expected a finite number, got ") +
            (std::isnan(d) ? "NaN"
             : d > 0       ? "infinity"
                           : "-infinity") +
            " (the JSON number is out of range)");
}

// --- integers
template <class T>
requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) struct json_traits<T> {
    static constexpr bool is_supported = true;
    using lim = std::numeric_limits<T>;

    template <class B>
    static boost::json::value schema(B& b) {
        boost::json::object o{{"type", "integer"}};
        if (std::is_unsigned_v<T> && b.options().constraints)
            o["minimum"] = 0;
        return o;
    }
    static void out_of_range(const std::string& shown, decode_state& st) {
        st.fail(shown + " is out of range (" + std::to_string(lim::min()) + " to " +
                std::to_string(lim::max()) + ")");
    }
    static void on_scalar(const scalar& s, T& out, decode_state& st) {
        switch (s.k) {
        case scalar::kind::int64: {
            std::int64_t i = s.i;
            bool ok = std::is_signed_v<T> ? (i >= static_cast<std::int64_t>(lim::min()) &&
                                             i <= static_cast<std::int64_t>(lim::max()))
                                          : (i >= 0 && static_cast<std::uint64_t>(i) <=
                                                           static_cast<std::uint64_t>(lim::max()));
            if (ok)
                out = static_cast<T>(i);
            else
                out_of_range(scalar_brief(s), st);
            return;
        }
        case scalar::kind::uint64:
            if (s.u <= static_cast<std::uint64_t>(lim::max()))
                out = static_cast<T>(s.u);
            else
                out_of_range(scalar_brief(s), st);
            return;
        case scalar::kind::double_: {
            double d = s.d;
            if (!std::isfinite(d))
                return not_finite(d, st);
            if (std::floor(d) != d)
                return st.fail("expected integer, got " + scalar_brief(s));
            // T holds [lo, 2^digits): both bounds are exact doubles, unlike lim::max()
            // (2^63 - 1 rounds up to 2^63, which does not fit).
            const double hi = std::ldexp(1.0, lim::digits);
            const double lo = std::is_signed_v<T> ? -hi : 0.0;
            if (d < lo || d >= hi)
                return out_of_range(scalar_brief(s), st);
            out = static_cast<T>(d);
            return;
        }
        default:
            st.expected("integer", scalar_kind(s));
        }
    }
    static open_result open(bool is_array, T&, decode_state& st) {
        return expected_scalar("integer", is_array, st);
    }
    static void check(const field_doc& fd, const T& m, decode_state& st) {
        check_number(fd, static_cast<double>(m), st);
    }
};

// --- floating point
template <class T>
requires std::is_floating_point_v<T>
struct json_traits<T> {
    static constexpr bool is_supported = true;
    template <class B>
    static boost::json::value schema(B&) {
        return boost::json::object{{"type", "number"}};
    }
    // A JSON number for a floating point field: finite (Boost.JSON 1.81 reads 0e400 as
    // NaN and 1e400 as infinity) and within T's range (1e300 does not fit a float).
    static void on_scalar(const scalar& s, T& out, decode_state& st) {
        switch (s.k) {
        case scalar::kind::double_: {
            double d = s.d;
            if (!std::isfinite(d))
                return not_finite(d, st);
            if (std::fabs(d) > static_cast<double>(std::numeric_limits<T>::max()))
                return st.fail(format_number(d) + " is out of range (a " +
                               (sizeof(T) == sizeof(float) ? "float" : "floating point") +
                               " field holds at most " +
                               format_number(static_cast<double>(std::numeric_limits<T>::max())) +
                               ")");
            out = static_cast<T>(d);
            return;
        }
        case scalar::kind::int64:
            out = static_cast<T>(s.i);
            return;
        case scalar::kind::uint64:
            out = static_cast<T>(s.u);
            return;
        default:
            st.expected("number", scalar_kind(s));
        }
    }
    static open_result open(bool is_array, T&, decode_state& st) {
        return expected_scalar("number", is_array, st);
    }
    static void check(const field_doc& fd, const T& m, decode_state& st) {
        check_number(fd, static_cast<double>(m), st);
    }
};

// --- std::string
template <>
struct json_traits<std::string> {
    static constexpr bool is_supported = true;
    template <class B>
    static boost::json::value schema(B&) {
        return boost::json::object{{"type", "string"}};
    }
    static void on_scalar(const scalar& s, std::string& out, decode_state& st) {
        if (s.k == scalar::kind::string)
            out.assign(s.s.data(), s.s.size());
        else
            st.expected("string", scalar_kind(s));
    }
    static open_result open(bool is_array, std::string&, decode_state& st) {
        return expected_scalar("string", is_array, st);
    }
    static void check(const field_doc& fd, const std::string& m, decode_state& st) {
        std::size_t n = utf8_length(m);
        if (fd.min_length && n < *fd.min_length)
            st.fail("text of " + std::to_string(n) + " characters is shorter than the minimum " +
                    std::to_string(*fd.min_length));
        if (fd.max_length && n > *fd.max_length)
            st.fail("text of " + std::to_string(n) + " characters is longer than the maximum " +
                    std::to_string(*fd.max_length));
    }
};

// --- described enums: string enums
template <described_enum E>
struct json_traits<E> {
    static constexpr bool is_supported = true;
    template <class B>
    static boost::json::value schema(B&) {
        boost::json::array names;
        boost::mp11::mp_for_each<boost::describe::describe_enumerators<E>>(
            [&](auto D) { names.emplace_back(D.name); });
        return boost::json::object{{"type", "string"}, {"enum", std::move(names)}};
    }
    static void on_scalar(const scalar& s, E& out, decode_state& st) {
        if (s.k != scalar::kind::string)
            return st.expected("string", scalar_kind(s));
        bool found = false;
        boost::mp11::mp_for_each<boost::describe::describe_enumerators<E>>([&](auto D) {
            if (!found && s.s == D.name) {
                out = D.value;
                found = true;
            }
        });
        if (!found)
            st.fail(scalar_brief(s) + " is not one of " + enum_choices<E>());
    }
    static open_result open(bool is_array, E&, decode_state& st) {
        return expected_scalar("string", is_array, st);
    }
};

// --- std::optional: null is empty, anything else is the value
template <class T>
struct json_traits<std::optional<T>> {
    static constexpr bool is_supported = supported_type<T>;
    template <class B>
    static boost::json::value schema(B& b) {
        return b.template build<T>();
    }
    static void on_scalar(const scalar& s, std::optional<T>& out, decode_state& st) {
        if (s.k == scalar::kind::null) {
            out.reset();
        } else {
            out.emplace();
            ops_of<T>().on_scalar(s, &*out, st);
        }
    }
    static open_result open(bool is_array, std::optional<T>& out, decode_state& st) {
        out.emplace();
        return ops_of<T>().open(is_array, &*out, st);
    }
    static constexpr bool captures = ops_table<T>::captures;
    static void on_value(const boost::json::value& v, std::optional<T>& out, decode_state& st) {
        if (v.is_null()) {
            out.reset();
        } else {
            out.emplace();
            ops_of<T>().on_value(v, &*out, st);
        }
    }
    static void check(const field_doc& fd, const std::optional<T>& m, decode_state& st) {
        if constexpr (has_check<T>)
            if (m)
                traits_for<T>::check(fd, *m, st);
    }
};

// --- sequences: std::vector (any length), std::array (exactly N)
template <class Seq>
struct sequence_traits {
    using element = typename Seq::value_type;
    static constexpr bool fixed = is_std_array<Seq>::value;

    static void on_scalar(const scalar& s, Seq&, decode_state& st) {
        expected_container("array", s, st);
    }
    static open_result open(bool is_array, Seq& out, decode_state& st) {
        if (!is_array) {
            st.expected("array", "object");
            return {};
        }
        if constexpr (!fixed)
            out.clear();
        open_result r;
        r.what = open_result::action::descend;
        r.f.out = &out;
        r.f.ops = &ops;
        r.f.mark = st.issue_count();
        return r;
    }
    static target child(frame& f, std::string_view, decode_state& st, std::vector<bool>&) {
        auto& out = *static_cast<Seq*>(f.out);
        std::size_t i = f.count++;
        f.child_active = false;
        element* e = nullptr;
        if constexpr (fixed) {
            if (i >= out.size())
                return {}; // the count is reported at close
            e = &out[i];
        } else {
            e = &out.emplace_back();
        }
        f.child_active = true;
        st.push_index(i);
        return {e, &ops_of<element>()};
    }
    static void child_done(frame& f, decode_state& st) {
        if (f.child_active)
            st.pop();
        f.child_active = false;
    }
    static void close(frame& f, decode_state& st, std::vector<bool>&) {
        if constexpr (fixed) {
            auto& out = *static_cast<Seq*>(f.out);
            if (f.count != out.size()) {
                // The count is the problem; what the items held is not reported.
                st.truncate_issues(f.mark);
                st.fail("expected " + std::to_string(out.size()) + " items, got " +
                        std::to_string(f.count));
            }
        }
    }
    static constexpr container_ops ops{&child, &child_done, &close};
};

template <class T, class A>
struct json_traits<std::vector<T, A>> : sequence_traits<std::vector<T, A>> {
    static constexpr bool is_supported = supported_type<T>;
    template <class B>
    static boost::json::value schema(B& b) {
        return boost::json::object{{"type", "array"}, {"items", b.template build<T>()}};
    }
    static void check(const field_doc& fd, const std::vector<T, A>& m, decode_state& st) {
        if (fd.min_length && m.size() < *fd.min_length)
            st.fail(std::to_string(m.size()) + " items, fewer than the minimum " +
                    std::to_string(*fd.min_length));
        if (fd.max_length && m.size() > *fd.max_length)
            st.fail(std::to_string(m.size()) + " items, more than the maximum " +
                    std::to_string(*fd.max_length));
    }
};

template <class T, std::size_t N>
struct json_traits<std::array<T, N>> : sequence_traits<std::array<T, N>> {
    static constexpr bool is_supported = supported_type<T>;
    template <class B>
    static boost::json::value schema(B& b) {
        boost::json::object o{{"type", "array"}, {"items", b.template build<T>()}};
        if (b.options().constraints) {
            o["minItems"] = N;
            o["maxItems"] = N;
        }
        return o;
    }
};

// --- maps with string keys: JSON objects with any keys
template <class Map>
requires is_string_map<Map>::value struct json_traits<Map> {
    using mapped = typename Map::mapped_type;
    static constexpr bool is_supported = supported_type<mapped>;
    template <class B>
    static boost::json::value schema(B& b) {
        return boost::json::object{{"type", "object"},
                                   {"additionalProperties", b.template build<mapped>()}};
    }
    static void on_scalar(const scalar& s, Map&, decode_state& st) {
        expected_container("object", s, st);
    }
    static open_result open(bool is_array, Map& out, decode_state& st) {
        if (is_array) {
            st.expected("object", "array");
            return {};
        }
        out.clear();
        open_result r;
        r.what = open_result::action::descend;
        r.f.out = &out;
        r.f.ops = &ops;
        r.f.mark = st.issue_count();
        return r;
    }
    static target child(frame& f, std::string_view key, decode_state& st, std::vector<bool>&) {
        auto& out = *static_cast<Map*>(f.out);
        std::size_t i = f.count++;
        auto [it, inserted] = out.try_emplace(std::string(key));
        if (!inserted)
            st.repeated_key();
        // Map nodes do not move: the key stays valid for the path while the value decodes.
        st.push_key(it->first, static_cast<std::uint32_t>(i));
        f.child_active = true;
        return {&it->second, &ops_of<mapped>()};
    }
    static void child_done(frame& f, decode_state& st) {
        if (f.child_active)
            st.pop();
        f.child_active = false;
    }
    static void close(frame&, decode_state&, std::vector<bool>&) {}
    static constexpr container_ops ops{&child, &child_done, &close};
};

// --- boost::json::value: anything, kept as it is
template <>
struct json_traits<boost::json::value> {
    static constexpr bool is_supported = true;
    static constexpr bool captures = true;
    template <class B>
    static boost::json::value schema(B&) {
        return boost::json::object{};
    }
    static void on_value(const boost::json::value& v, boost::json::value& out, decode_state&) {
        out = v;
    }
};

// --- a user's schema_traits<T>
template <class T>
struct user_traits {
    static constexpr bool is_supported = true;
    static constexpr bool captures = true;
    template <class B>
    static boost::json::value schema(B&) {
        return boost::json::value(schema_traits<T>::schema());
    }
    static void on_value(const boost::json::value& v, T& out, decode_state& st) {
        decode_context ctx(st);
        schema_traits<T>::decode(v, out, ctx);
    }
};

// --- described structs: JSON objects with the members as properties
template <described_struct T>
struct json_traits<T> {
    static constexpr bool is_supported = true;
    static constexpr std::size_t n = member_count<T>;
    static constexpr std::uint32_t check_rank = std::numeric_limits<std::uint32_t>::max();

    struct member {
        std::string_view name;
        void* (*get)(T&);
        const type_ops* ops;
        void (*reset)(T&);                                        ///< optional members
        void (*check)(const field_doc&, const T&, decode_state&); ///< documented members
    };

    template <class B>
    static boost::json::value schema(B& b) {
        return b.template build_struct<T>();
    }

    static const std::array<member, n>& members() {
        static const std::array<member, n> table = [] {
            std::array<member, n> t{};
            std::size_t i = 0;
            boost::mp11::mp_for_each<members_of<T>>([&](auto D) {
                using M = std::remove_cvref_t<decltype(std::declval<T&>().*D.pointer)>;
                static_assert(supported_type<M>,
                              "aibatch: a member of this struct cannot be decoded; describe its "
                              "type with BOOST_DESCRIBE_STRUCT / BOOST_DESCRIBE_ENUM or "
                              "specialise aibatch::schema_traits");
                member& m = t[i++];
                m.name = D.name;
                m.get = [](T& o) -> void* { return &(o.*decltype(D)::pointer); };
                m.ops = &ops_of<M>();
                if constexpr (is_optional<M>::value)
                    m.reset = [](T& o) { (o.*decltype(D)::pointer).reset(); };
                if constexpr (has_check<M>)
                    m.check = [](const field_doc& fd, const T& o, decode_state& st) {
                        traits_for<M>::check(fd, o.*decltype(D)::pointer, st);
                    };
            });
            return t;
        }();
        return table;
    }

    static void on_scalar(const scalar& s, T&, decode_state& st) {
        expected_container("object", s, st);
    }
    static open_result open(bool is_array, T& out, decode_state& st) {
        if (is_array) {
            st.expected("object", "array");
            return {};
        }
        open_result r;
        r.what = open_result::action::descend;
        r.f.out = &out;
        r.f.ops = &ops;
        r.f.mark = st.issue_count();
        r.f.id = st.next_object();
        return r;
    }
    static target child(frame& f, std::string_view key, decode_state& st, std::vector<bool>& seen) {
        const auto& ms = members();
        std::size_t pos = f.count++;
        f.child_active = false;
        for (std::size_t i = 0; i < n; ++i) {
            const std::string_view name = ms[i].name;
            if (name.size() != key.size() || (!key.empty() && name[0] != key[0]) || name != key)
                continue;
            if (seen[f.seen + i]) {
                st.repeated_key();
                return {};
            }
            seen[f.seen + i] = true;
            f.child = i;
            f.child_active = true;
            f.child_mark = st.issue_count();
            st.push_key(ms[i].name, static_cast<std::uint32_t>(i));
            return {ms[i].get(*static_cast<T*>(f.out)), ms[i].ops};
        }
        if (!st.options().allow_unknown_fields) {
            // Reported after every member, in document order. The same key twice: only
            // a streaming driver sees it, and defers to the tree (one issue there).
            if (!st.first_unknown(f.id, key)) {
                st.repeated_key();
                return {};
            }
            st.push_order(static_cast<std::uint32_t>(n + pos));
            st.fail("unknown field \"" + std::string(key) + "\"");
            st.pop_order();
        }
        return {};
    }
    static void child_done(frame& f, decode_state& st) {
        if (!f.child_active)
            return;
        f.child_active = false;
        const auto& m = members()[f.child];
        const field_doc* fd = field_docs_of<T>()[f.child];
        if (fd && m.check && st.issue_count() == f.child_mark) {
            st.push_order(check_rank);
            m.check(*fd, *static_cast<const T*>(f.out), st);
            st.pop_order();
        }
        st.pop();
    }
    static void close(frame& f, decode_state& st, std::vector<bool>& seen) {
        const auto& ms = members();
        auto& out = *static_cast<T*>(f.out);
        for (std::size_t i = 0; i < n; ++i) {
            if (seen[f.seen + i])
                continue;
            if (ms[i].reset) {
                ms[i].reset(out);
            } else {
                st.push_order(static_cast<std::uint32_t>(i));
                st.fail("missing required field \"" + std::string(ms[i].name) + "\"");
                st.pop_order();
            }
        }
    }
    static constexpr container_ops ops{&child, &child_done, &close, n};
};

// ------------------------------------------------------------------ glue
template <class T>
concept capturing_traits = requires {
    requires traits_for<T>::captures;
};

/// The hooks of T as function pointers, made from traits_for<T>.
template <class T>
struct ops_table {
    using traits = traits_for<T>;
    static_assert(traits::is_supported, "aibatch: this type cannot be decoded; describe it with "
                                        "BOOST_DESCRIBE_STRUCT / BOOST_DESCRIBE_ENUM or specialise "
                                        "aibatch::schema_traits");
    static constexpr bool captures = capturing_traits<T>;

    static void on_scalar(const scalar& s, void* out, decode_state& st) {
        if constexpr (requires { &traits::on_scalar; })
            traits::on_scalar(s, *static_cast<T*>(out), st);
        else
            traits::on_value(scalar_value(s), *static_cast<T*>(out), st);
    }
    static open_result open(bool is_array, void* out, decode_state& st) {
        if constexpr (requires { &traits::open; }) {
            return traits::open(is_array, *static_cast<T*>(out), st);
        } else {
            open_result r;
            r.what = open_result::action::capture;
            r.captured = {out, &value};
            return r;
        }
    }
    static void on_value(const boost::json::value& v, void* out, decode_state& st) {
        if constexpr (captures)
            traits::on_value(v, *static_cast<T*>(out), st);
    }
    static constexpr type_ops value{&on_scalar, &open, captures ? &on_value : nullptr};
};

/// The DOM driver: decodes v into *t.out through t's hooks (src/typed/schema.cpp).
void walk(const boost::json::value& v, target t, decode_state& st);

// ------------------------------------------------------------------ schema
class schema_builder {
public:
    explicit schema_builder(const schema_options& o) : opts_(o) {}

    const schema_options& options() const noexcept { return opts_; }

    template <class T>
    boost::json::value build() {
        static_assert(supported_type<T>,
                      "aibatch: this type has no JSON Schema; describe it with "
                      "BOOST_DESCRIBE_STRUCT / BOOST_DESCRIBE_ENUM or specialise "
                      "aibatch::schema_traits");
        return traits_for<T>::schema(*this);
    }

    void finish(boost::json::object& root) {
        if (!defs_.empty())
            root["$defs"] = std::move(defs_);
    }

    /// The schema of a described struct: its properties, or a $ref when it recurses.
    template <class T>
    boost::json::value build_struct() {
        std::type_index ti(typeid(T));
        const std::string& name = type_name<T>();
        if (std::find(stack_.begin(), stack_.end(), ti) != stack_.end()) {
            recursive_.insert(ti);
            return boost::json::object{{"$ref", "#/$defs/" + name}};
        }
        stack_.push_back(ti);
        boost::json::object s;
        s["type"] = "object";
        if constexpr (documented_type<T>)
            s["description"] = std::string_view(schema_docs<T>::description);
        boost::json::object props;
        boost::json::array required;
        const auto& docs = field_docs_of<T>();
        std::size_t i = 0;
        boost::mp11::mp_for_each<members_of<T>>([&](auto D) {
            using M = std::remove_cvref_t<decltype(std::declval<T&>().*D.pointer)>;
            boost::json::value p = build<M>();
            if constexpr (is_optional<M>::value) {
                if (opts_.nullable_optionals)
                    p = make_nullable(std::move(p));
            } else {
                required.emplace_back(D.name);
            }
            if (const field_doc* fd = docs[i]; fd && p.is_object())
                apply_doc(p.get_object(), *fd);
            props[D.name] = std::move(p);
            ++i;
        });
        s["properties"] = std::move(props);
        s["required"] = std::move(required);
        s["additionalProperties"] = false;
        stack_.pop_back();
        if (recursive_.count(ti)) {
            defs_[name] = s;
            if (!stack_.empty())
                return boost::json::object{{"$ref", "#/$defs/" + name}};
        }
        return s;
    }

private:
    static boost::json::value make_nullable(boost::json::value p) {
        if (p.is_object()) {
            auto& o = p.get_object();
            if (auto* t = o.if_contains("type"); t && t->is_string() && !o.contains("enum")) {
                *t = boost::json::array{*t, "null"};
                return p;
            }
        }
        return boost::json::object{
            {"anyOf", boost::json::array{std::move(p), boost::json::object{{"type", "null"}}}}};
    }

    void apply_doc(boost::json::object& p, const field_doc& fd) const {
        if (!fd.description.empty())
            p["description"] = fd.description;
        if (!opts_.constraints)
            return;
        // Decide before inserting: an insertion may rehash `p` and move its values.
        bool is_array = false;
        if (const auto* t = p.if_contains("type")) {
            if (t->is_string())
                is_array = t->get_string() == "array";
            else if (t->is_array())
                for (const auto& x : t->get_array())
                    is_array = is_array || (x.is_string() && x.get_string() == "array");
        }
        if (fd.minimum)
            p["minimum"] = *fd.minimum;
        if (fd.maximum)
            p["maximum"] = *fd.maximum;
        if (is_array) {
            if (fd.min_length)
                p["minItems"] = *fd.min_length;
            if (fd.max_length)
                p["maxItems"] = *fd.max_length;
        } else {
            if (fd.min_length)
                p["minLength"] = *fd.min_length;
            if (fd.max_length)
                p["maxLength"] = *fd.max_length;
        }
    }

    schema_options opts_;
    std::vector<std::type_index> stack_;
    std::set<std::type_index> recursive_;
    boost::json::object defs_;
};

} // namespace detail

inline void decode_context::fail(std::string message) {
    d_.fail(std::move(message));
}
inline std::string decode_context::path() const {
    return d_.path();
}

} // namespace aibatch
