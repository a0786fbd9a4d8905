// json_traits of the containers: std::optional (null is empty), std::vector and
// std::array (JSON arrays), maps with string keys (JSON objects with any keys).
// Part of detail/schema_impl.hpp (see there): reached through <aibatch/typed/schema.hpp>,
// which declares what it builds on; never included on its own.
#pragma once

#include <aibatch/detail/schema/decode_hooks.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aibatch::detail {

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
    static target child(frame& f, std::string_view, decode_state& st, seen_flags&) {
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
    static void close(frame& f, decode_state& st, seen_flags&) {
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

// A field_doc's min_length / max_length on an array of n items.
inline void check_item_count(const field_doc& fd, std::size_t n, decode_state& st) {
    if (fd.min_length && n < *fd.min_length)
        st.fail(std::to_string(n) + " items, fewer than the minimum " +
                std::to_string(*fd.min_length));
    if (fd.max_length && n > *fd.max_length)
        st.fail(std::to_string(n) + " items, more than the maximum " +
                std::to_string(*fd.max_length));
}

template <class T, class A>
struct json_traits<std::vector<T, A>> : sequence_traits<std::vector<T, A>> {
    static constexpr bool is_supported = supported_type<T>;
    template <class B>
    static boost::json::value schema(B& b) {
        return boost::json::object{{"type", "array"}, {"items", b.template build<T>()}};
    }
    static void check(const field_doc& fd, const std::vector<T, A>& m, decode_state& st) {
        check_item_count(fd, m.size(), st);
    }
};

// --- std::vector<bool>: its packed elements have no address, so the array is captured
// and read whole (the same messages as element by element)
template <class A>
struct json_traits<std::vector<bool, A>> {
    static constexpr bool is_supported = true;
    static constexpr bool captures = true;
    template <class B>
    static boost::json::value schema(B& b) {
        return boost::json::object{{"type", "array"}, {"items", b.template build<bool>()}};
    }
    static void on_value(const boost::json::value& v, std::vector<bool, A>& out, decode_state& st) {
        if (!v.is_array())
            return st.expected("array", json_kind(v));
        const auto& a = v.get_array();
        out.assign(a.size(), false);
        for (std::size_t i = 0; i < a.size(); ++i) {
            if (a[i].is_bool()) {
                out[i] = a[i].get_bool();
                continue;
            }
            st.push_index(i);
            st.expected("boolean", json_kind(a[i]));
            st.pop();
        }
    }
    static void check(const field_doc& fd, const std::vector<bool, A>& m, decode_state& st) {
        check_item_count(fd, m.size(), st);
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
    static target child(frame& f, std::string_view key, decode_state& st, seen_flags&) {
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
    static void close(frame&, decode_state&, seen_flags&) {}
    static constexpr container_ops ops{&child, &child_done, &close};
};

} // namespace aibatch::detail
