// json_traits of described structs: JSON objects with the members as properties
// (missing, unknown and repeated keys; the field_doc checks of each member).
// Part of detail/schema_impl.hpp (see there): reached through <aibatch/typed/schema.hpp>,
// which declares what it builds on; never included on its own.
#pragma once

#include <aibatch/detail/schema/decode_hooks.hpp>
#include <aibatch/detail/schema/type_facts.hpp>

#include <boost/mp11/algorithm.hpp>

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace aibatch::detail {

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
    static target child(frame& f, std::string_view key, decode_state& st, seen_flags& seen) {
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
            seen[f.seen + i] = 1;
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
    static void close(frame& f, decode_state& st, seen_flags& seen) {
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

    // --- flat structs (decode_hooks.hpp): every member a built-in scalar
    template <class M>
    static constexpr bool flat_scalar =
        !has_schema_traits<M> && (std::is_arithmetic_v<M> || std::is_same_v<M, std::string> ||
                                  (described_enum<M> && std::is_enum_v<M>));
    // Also: reset() assigns a T{} (a T that cannot be braced or assigned is read by the
    // drivers alone), and the loop matches members by position, where the drivers match a
    // key to the first member of that name: two members of one name (two bases with an
    // x, a name listed twice) make no flat struct either.
    static constexpr bool is_flat = [] {
        bool all = requires(T & t) {
            t = T{};
        };
        std::array<std::string_view, n> names{};
        std::size_t i = 0;
        boost::mp11::mp_for_each<members_of<T>>([&](auto D) {
            using M = std::remove_cvref_t<decltype(std::declval<T&>().*D.pointer)>;
            all = all && flat_scalar<M>;
            names[i++] = D.name;
        });
        for (std::size_t a = 0; a < n; ++a)
            for (std::size_t b = a + 1; b < n; ++b)
                all = all && names[a] != names[b];
        return all;
    }();

    static const flat_struct* flat() noexcept requires is_flat {
        static const std::array<flat_member, n> table = [] {
            std::array<flat_member, n> t{};
            std::size_t i = 0;
            boost::mp11::mp_for_each<members_of<T>>([&](auto D) {
                using M = std::remove_cvref_t<decltype(std::declval<T&>().*D.pointer)>;
                flat_member& m = t[i];
                m.name = D.name;
                m.get = [](void* o) -> void* {
                    return &(static_cast<T*>(o)->*decltype(D)::pointer);
                };
                m.ops = &ops_of<M>();
                // child_done's check: the member's field_doc, when it has one.
                if constexpr (has_check<M>)
                    if (field_docs_of<T>()[i])
                        m.check = [](const void* o, decode_state& st) {
                            static const field_doc* const fd = doc_of(decltype(D)::name);
                            traits_for<M>::check(
                                *fd, static_cast<const T*>(o)->*decltype(D)::pointer, st);
                        };
                ++i;
            });
            return t;
        }();
        static const flat_struct s{table.data(), n, [](void* o) { *static_cast<T*>(o) = T{}; }};
        return &s;
    }

private:
    // The field_doc of the member named `name` (one exists: flat() asked).
    static const field_doc* doc_of(const char* name) {
        const auto& ms = members();
        for (std::size_t i = 0; i < n; ++i)
            if (ms[i].name == name)
                return field_docs_of<T>()[i];
        return nullptr;
    }
};

} // namespace aibatch::detail
