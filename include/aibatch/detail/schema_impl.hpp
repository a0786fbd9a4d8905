// Implementation of aibatch/schema.hpp; users never need to open this file.
#pragma once

#include <boost/core/demangle.hpp>
#include <boost/describe/enumerators.hpp>
#include <boost/describe/members.hpp>
#include <boost/describe/modifiers.hpp>
#include <boost/json/array.hpp>
#include <boost/json/string.hpp>
#include <boost/mp11/algorithm.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <type_traits>
#include <typeindex>
#include <unordered_map>

namespace aibatch {

namespace detail {
class decoder;
}

/// What a schema_traits<T>::decode sees: where it is, and a way to report a problem.
class decode_context {
public:
    explicit decode_context(detail::decoder& d) : d_(d) {}
    /// Records a problem at the current path.
    void fail(std::string message);
    /// The current path ("$.when").
    std::string path() const;

private:
    detail::decoder& d_;
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

// ------------------------------------------------------------------ schema
class schema_builder {
public:
    explicit schema_builder(const schema_options& o) : opts_(o) {}

    template <class T>
    boost::json::value build() {
        using boost::json::object;
        if constexpr (has_schema_traits<T>) {
            return boost::json::value(schema_traits<T>::schema());
        } else if constexpr (std::is_same_v<T, bool>) {
            return object{{"type", "boolean"}};
        } else if constexpr (std::is_integral_v<T>) {
            object o{{"type", "integer"}};
            if (std::is_unsigned_v<T> && opts_.constraints)
                o["minimum"] = 0;
            return o;
        } else if constexpr (std::is_floating_point_v<T>) {
            return object{{"type", "number"}};
        } else if constexpr (std::is_same_v<T, std::string>) {
            return object{{"type", "string"}};
        } else if constexpr (described_enum<T>) {
            boost::json::array names;
            boost::mp11::mp_for_each<boost::describe::describe_enumerators<T>>(
                [&](auto D) { names.emplace_back(D.name); });
            return object{{"type", "string"}, {"enum", std::move(names)}};
        } else if constexpr (is_optional<T>::value) {
            return build<typename T::value_type>();
        } else if constexpr (is_vector<T>::value) {
            return object{{"type", "array"}, {"items", build<typename T::value_type>()}};
        } else if constexpr (is_std_array<T>::value) {
            object o{{"type", "array"}, {"items", build<typename T::value_type>()}};
            if (opts_.constraints) {
                o["minItems"] = std::tuple_size_v<T>;
                o["maxItems"] = std::tuple_size_v<T>;
            }
            return o;
        } else if constexpr (is_string_map<T>::value) {
            return object{{"type", "object"},
                          {"additionalProperties", build<typename T::mapped_type>()}};
        } else if constexpr (std::is_same_v<T, boost::json::value>) {
            return object{};
        } else if constexpr (described_struct<T>) {
            return build_struct<T>();
        } else {
            static_assert(dependent_false<T>,
                          "aibatch: this type has no JSON Schema; describe it with "
                          "BOOST_DESCRIBE_STRUCT / BOOST_DESCRIBE_ENUM or specialise "
                          "aibatch::schema_traits");
        }
    }

    void finish(boost::json::object& root) {
        if (!defs_.empty())
            root["$defs"] = std::move(defs_);
    }

private:
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

// ------------------------------------------------------------------ decoder
class decoder {
public:
    explicit decoder(const decode_options& o) : opts_(o) {}

    template <class T>
    void run(const boost::json::value& v, T& out) {
        value(v, out);
    }

    bool failed() const { return !issues_.empty(); }
    decode_error take_error() { return decode_error{std::move(issues_)}; }

    void fail(std::string message) {
        if (issues_.size() < opts_.max_issues)
            issues_.push_back({path(), std::move(message)});
    }

    std::string path() const;

    template <class T>
    void value(const boost::json::value& v, T& out) {
        if constexpr (has_schema_traits<T>) {
            decode_context ctx(*this);
            schema_traits<T>::decode(v, out, ctx);
        } else if constexpr (std::is_same_v<T, bool>) {
            if (v.is_bool())
                out = v.get_bool();
            else
                expected("boolean", v);
        } else if constexpr (std::is_integral_v<T>) {
            integer(v, out);
        } else if constexpr (std::is_floating_point_v<T>) {
            if (v.is_double())
                floating(v.get_double(), out);
            else if (v.is_int64())
                out = static_cast<T>(v.get_int64());
            else if (v.is_uint64())
                out = static_cast<T>(v.get_uint64());
            else
                expected("number", v);
        } else if constexpr (std::is_same_v<T, std::string>) {
            if (v.is_string())
                out.assign(v.get_string().data(), v.get_string().size());
            else
                expected("string", v);
        } else if constexpr (described_enum<T>) {
            enumeration(v, out);
        } else if constexpr (is_optional<T>::value) {
            if (v.is_null()) {
                out.reset();
            } else {
                out.emplace();
                value(v, *out);
            }
        } else if constexpr (is_vector<T>::value) {
            if (!v.is_array())
                return expected("array", v);
            const auto& a = v.get_array();
            out.clear();
            out.resize(a.size());
            for (std::size_t i = 0; i < a.size(); ++i) {
                segments_.push_back({{}, i, true});
                value(a[i], out[i]);
                segments_.pop_back();
            }
        } else if constexpr (is_std_array<T>::value) {
            if (!v.is_array())
                return expected("array", v);
            const auto& a = v.get_array();
            if (a.size() != out.size())
                return fail("expected " + std::to_string(out.size()) + " items, got " +
                            std::to_string(a.size()));
            for (std::size_t i = 0; i < a.size(); ++i) {
                segments_.push_back({{}, i, true});
                value(a[i], out[i]);
                segments_.pop_back();
            }
        } else if constexpr (is_string_map<T>::value) {
            if (!v.is_object())
                return expected("object", v);
            out.clear();
            for (const auto& kv : v.get_object()) {
                segments_.push_back({kv.key(), 0, false});
                value(kv.value(), out[std::string(kv.key())]);
                segments_.pop_back();
            }
        } else if constexpr (std::is_same_v<T, boost::json::value>) {
            out = v;
        } else if constexpr (described_struct<T>) {
            structure(v, out);
        } else {
            static_assert(dependent_false<T>,
                          "aibatch: this type cannot be decoded; describe it with "
                          "BOOST_DESCRIBE_STRUCT / BOOST_DESCRIBE_ENUM or specialise "
                          "aibatch::schema_traits");
        }
    }

private:
    struct segment {
        std::string_view key;
        std::size_t index;
        bool is_index;
    };

    void expected(const char* what, const boost::json::value& v) {
        fail(std::string("expected ") + what + ", got " + json_kind(v));
    }

    template <class T>
    void integer(const boost::json::value& v, T& out) {
        using lim = std::numeric_limits<T>;
        if (v.is_int64()) {
            std::int64_t i = v.get_int64();
            bool ok = std::is_signed_v<T> ? (i >= static_cast<std::int64_t>(lim::min()) &&
                                             i <= static_cast<std::int64_t>(lim::max()))
                                          : (i >= 0 && static_cast<std::uint64_t>(i) <=
                                                           static_cast<std::uint64_t>(lim::max()));
            if (ok)
                out = static_cast<T>(i);
            else
                out_of_range<T>(json_brief(v));
        } else if (v.is_uint64()) {
            std::uint64_t u = v.get_uint64();
            if (u <= static_cast<std::uint64_t>(lim::max()))
                out = static_cast<T>(u);
            else
                out_of_range<T>(json_brief(v));
        } else if (v.is_double()) {
            double d = v.get_double();
            if (!std::isfinite(d))
                return not_finite(d);
            if (std::floor(d) != d)
                return fail("expected integer, got " + json_brief(v));
            // T holds [lo, 2^digits): both bounds are exact doubles, unlike lim::max()
            // (2^63 - 1 rounds up to 2^63, which does not fit).
            const double hi = std::ldexp(1.0, lim::digits);
            const double lo = std::is_signed_v<T> ? -hi : 0.0;
            if (d < lo || d >= hi)
                return out_of_range<T>(json_brief(v));
            out = static_cast<T>(d);
        } else {
            expected("integer", v);
        }
    }

    // A JSON number for a floating point field: finite (Boost.JSON 1.81 reads 0e400 as NaN
    // and 1e400 as infinity) and within T's range (1e300 does not fit a float).
    template <class T>
    void floating(double d, T& out) {
        if (!std::isfinite(d))
            return not_finite(d);
        if (std::fabs(d) > static_cast<double>(std::numeric_limits<T>::max()))
            return fail(json_brief(boost::json::value(d)) + " is out of range (a " +
                        (sizeof(T) == sizeof(float) ? "float" : "floating point") +
                        " field holds at most " +
                        format_number(static_cast<double>(std::numeric_limits<T>::max())) + ")");
        out = static_cast<T>(d);
    }

    void not_finite(double d) {
        fail(std::string("expected a finite number, got ") +
             (std::isnan(d) ? "NaN"
              : d > 0       ? "infinity"
                            : "-infinity") +
             " (the JSON number is out of range)");
    }

    template <class T>
    void out_of_range(const std::string& shown) {
        fail(shown + " is out of range (" + std::to_string(std::numeric_limits<T>::min()) + " to " +
             std::to_string(std::numeric_limits<T>::max()) + ")");
    }

    template <class E>
    void enumeration(const boost::json::value& v, E& out) {
        if (!v.is_string())
            return expected("string", v);
        std::string_view s = v.get_string();
        bool found = false;
        boost::mp11::mp_for_each<boost::describe::describe_enumerators<E>>([&](auto D) {
            if (!found && s == D.name) {
                out = D.value;
                found = true;
            }
        });
        if (!found)
            fail(json_brief(v) + " is not one of " + enum_choices<E>());
    }

    template <class T>
    void structure(const boost::json::value& v, T& out) {
        if (!v.is_object())
            return expected("object", v);
        const auto& o = v.get_object();
        std::size_t matched = 0;
        std::size_t i = 0;
        const auto& docs = field_docs_of<T>();
        boost::mp11::mp_for_each<members_of<T>>([&](auto D) {
            using M = std::remove_cvref_t<decltype(out.*D.pointer)>;
            const boost::json::value* fv = o.if_contains(D.name);
            if (fv)
                ++matched;
            if (!fv) {
                if constexpr (is_optional<M>::value)
                    (out.*D.pointer).reset();
                else
                    fail(std::string("missing required field \"") + D.name + "\"");
            } else {
                segments_.push_back({D.name, 0, false});
                std::size_t before = issues_.size();
                value(*fv, out.*D.pointer);
                if (docs[i] && issues_.size() == before)
                    check(*docs[i], out.*D.pointer);
                segments_.pop_back();
            }
            ++i;
        });
        if (matched != o.size() && !opts_.allow_unknown_fields) {
            for (const auto& kv : o) {
                bool known = false;
                boost::mp11::mp_for_each<members_of<T>>(
                    [&](auto D) { known = known || kv.key() == D.name; });
                if (!known)
                    fail("unknown field \"" + std::string(kv.key()) + "\"");
            }
        }
    }

    template <class M>
    void check(const field_doc& fd, const M& m) {
        if constexpr (is_optional<M>::value) {
            if (m)
                check(fd, *m);
        } else if constexpr (std::is_arithmetic_v<M> && !std::is_same_v<M, bool>) {
            double d = static_cast<double>(m);
            if (fd.minimum && d < *fd.minimum)
                fail(format_number(d) + " is less than the minimum " + format_number(*fd.minimum));
            if (fd.maximum && d > *fd.maximum)
                fail(format_number(d) + " is greater than the maximum " +
                     format_number(*fd.maximum));
        } else if constexpr (std::is_same_v<M, std::string>) {
            std::size_t n = utf8_length(m);
            if (fd.min_length && n < *fd.min_length)
                fail("text of " + std::to_string(n) + " characters is shorter than the minimum " +
                     std::to_string(*fd.min_length));
            if (fd.max_length && n > *fd.max_length)
                fail("text of " + std::to_string(n) + " characters is longer than the maximum " +
                     std::to_string(*fd.max_length));
        } else if constexpr (is_vector<M>::value) {
            if (fd.min_length && m.size() < *fd.min_length)
                fail(std::to_string(m.size()) + " items, fewer than the minimum " +
                     std::to_string(*fd.min_length));
            if (fd.max_length && m.size() > *fd.max_length)
                fail(std::to_string(m.size()) + " items, more than the maximum " +
                     std::to_string(*fd.max_length));
        }
    }

    decode_options opts_;
    std::vector<segment> segments_;
    std::vector<decode_issue> issues_;
};

} // namespace detail

inline void decode_context::fail(std::string message) {
    d_.fail(std::move(message));
}
inline std::string decode_context::path() const {
    return d_.path();
}

} // namespace aibatch
