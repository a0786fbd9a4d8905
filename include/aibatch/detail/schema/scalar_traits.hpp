// json_traits of the scalar types: bool, integers, floating point, std::string and
// described enums (string enums); each one's schema, decoding and field_doc checks.
// Part of detail/schema_impl.hpp (see there): reached through <aibatch/typed/schema.hpp>,
// which declares what it builds on; never included on its own.
#pragma once

#include <aibatch/detail/schema/decode_hooks.hpp>

#include <boost/describe/enumerators.hpp>
#include <boost/json/array.hpp>
#include <boost/mp11/algorithm.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

namespace aibatch::detail {

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
            const std::int64_t i = s.i;
            bool ok = false;
            // One test per signedness (the other, cast, could be always false: uint64_t).
            if constexpr (std::is_signed_v<T>)
                ok = i >= static_cast<std::int64_t>(lim::min()) &&
                     i <= static_cast<std::int64_t>(lim::max());
            else
                ok = i >= 0 &&
                     static_cast<std::uint64_t>(i) <= static_cast<std::uint64_t>(lim::max());
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

} // namespace aibatch::detail
