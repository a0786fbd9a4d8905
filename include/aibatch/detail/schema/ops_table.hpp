// The glue: a type's json_traits as the function pointers of type_ops (ops_table<T>),
// and the DOM driver that walks a tree through them.
// Part of detail/schema_impl.hpp (see there): reached through <aibatch/typed/schema.hpp>,
// which declares what it builds on; never included on its own.
#pragma once

#include <aibatch/detail/schema/decode_hooks.hpp>

namespace aibatch::detail {

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
    static const flat_struct* flat() noexcept {
        if constexpr (requires { traits::flat(); })
            return traits::flat();
        else
            return nullptr;
    }
    static constexpr bool has_flat = requires { traits::flat(); };
    static constexpr type_ops value{&on_scalar, &open, captures ? &on_value : nullptr,
                                    has_flat ? &flat : nullptr};
};

/// The DOM driver: decodes v into *t.out through t's hooks (src/typed/schema.cpp).
void walk(const boost::json::value& v, target t, decode_state& st);

} // namespace aibatch::detail
