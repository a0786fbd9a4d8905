// The one-loop reader of a flat struct's object (decode_hooks.hpp), and the fast_json
// handler it reads each value with (private to src/typed).
#pragma once

#include "fast_json.hpp"

#include <aibatch/typed/schema.hpp>

#include <cstddef>
#include <cstring>
#include <string_view>

namespace aibatch::detail {

/// A fast_json handler that keeps one scalar; a container (or a key) stops the read.
/// For read_value only: no maxima needed.
struct scalar_sink {
    static constexpr std::size_t max_object_size = 0;
    static constexpr std::size_t max_array_size = 0;
    static constexpr std::size_t max_key_size = 0;
    static constexpr std::size_t max_string_size = 0;
    using error_code = boost::system::error_code;
    using string_view = boost::json::string_view;

    scalar s;

    static bool no(error_code& ec) {
        ec = boost::system::errc::make_error_code(boost::system::errc::operation_canceled);
        return false;
    }
    bool on_document_begin(error_code&) { return true; }
    bool on_document_end(error_code&) { return true; }
    bool on_object_begin(error_code& ec) { return no(ec); }
    bool on_object_end(std::size_t, error_code& ec) { return no(ec); }
    bool on_array_begin(error_code& ec) { return no(ec); }
    bool on_array_end(std::size_t, error_code& ec) { return no(ec); }
    bool on_key_part(string_view, std::size_t, error_code& ec) { return no(ec); }
    bool on_key(string_view, std::size_t, error_code& ec) { return no(ec); }
    bool on_string_part(string_view, std::size_t, error_code& ec) { return no(ec); }
    bool on_string(string_view v, std::size_t, error_code&) {
        s = scalar::of(std::string_view(v));
        return true;
    }
    bool on_number_part(string_view, error_code&) { return true; }
    bool on_int64(std::int64_t v, string_view, error_code&) {
        s = scalar::of(v);
        return true;
    }
    bool on_uint64(std::uint64_t v, string_view, error_code&) {
        s = scalar::of(v);
        return true;
    }
    bool on_double(double v, string_view, error_code&) {
        s = scalar::of(v);
        return true;
    }
    bool on_bool(bool v, error_code&) {
        s = scalar::of(v);
        return true;
    }
    bool on_null(error_code&) {
        s = scalar::null();
        return true;
    }
    bool on_comment_part(string_view, error_code& ec) { return no(ec); }
    bool on_comment(string_view, error_code& ec) { return no(ec); }
};

/// The value at p (at `depth`, as fast_json's read_value counts it) into `t`, when t's
/// type is a flat struct (decode_hooks.hpp) and the value is an object with exactly the
/// struct's keys, in order, each with a scalar, and no whitespace (as the API writes
/// it): each value read by `reader` (a number's room counted to `e`, as a whole read
/// counts it), then given to the member's own on_scalar and check, as a driver gives it.
/// The place after the object. nullptr for anything else, and for a value with a
/// problem: the object is then reset and the problems dropped, and the caller decodes
/// the value through a driver, which records them with their paths.
inline const char* read_flat(fast_json<scalar_sink>& reader, const scalar_sink& sink, const char* p,
                             const char* e, int depth, target t, decode_state& st) {
    if (!t.ops->flat || depth >= fast_json<scalar_sink>::max_depth)
        return nullptr;
    const flat_struct& fs = *t.ops->flat();
    const std::size_t mark = st.issue_count();
    const auto undo = [&]() -> const char* {
        st.truncate_issues(mark);
        fs.reset(t.out);
        return nullptr;
    };
    if (p == e || *p != '{')
        return nullptr;
    ++p;
    for (std::size_t i = 0; i < fs.size; ++i) {
        const flat_member& m = fs.members[i];
        if (i > 0) {
            if (p == e || *p != ',')
                return undo();
            ++p;
        }
        const std::size_t k = m.name.size();
        if (static_cast<std::size_t>(e - p) < k + 4 || p[0] != '"' ||
            std::memcmp(p + 1, m.name.data(), k) != 0 || p[k + 1] != '"' || p[k + 2] != ':')
            return undo();
        p += k + 3;
        if (*p == '{' || *p == '[')
            return undo();
        const char* q = reader.read_value(p, e, depth + 1);
        if (!q)
            return undo();
        p = q;
        m.ops->on_scalar(sink.s, m.get(t.out), st);
        if (m.check && st.issue_count() == mark)
            m.check(t.out, st);
        if (st.issue_count() != mark)
            return undo();
    }
    if (p == e || *p != '}')
        return undo();
    return p + 1;
}

} // namespace aibatch::detail
