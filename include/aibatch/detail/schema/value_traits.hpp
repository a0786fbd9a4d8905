// The types decoded from a whole JSON value (captured, then handed over): a
// boost::json::value field (anything, kept as it is) and a user's schema_traits<T>.
// Part of detail/schema_impl.hpp (see there): reached through <aibatch/typed/schema.hpp>,
// which declares what it builds on; never included on its own.
#pragma once

#include <aibatch/detail/schema/decode_hooks.hpp>

namespace aibatch::detail {

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

} // namespace aibatch::detail
