#include <aibatch/typed/schema.hpp>

#include <aibatch/detail/ascii.hpp>
#include <aibatch/detail/c_locale.hpp>

#include <boost/json/serialize.hpp>

#include <algorithm>

namespace aibatch {

std::string decode_error::to_string() const {
    std::string s;
    for (const auto& i : issues) {
        if (!s.empty())
            s += "; ";
        s += i.path;
        s += ": ";
        s += i.message;
    }
    return s;
}

namespace detail {

const char* json_kind(const boost::json::value& v) noexcept {
    switch (v.kind()) {
    case boost::json::kind::null:
        return "null";
    case boost::json::kind::bool_:
        return "boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
        return "integer";
    case boost::json::kind::double_:
        return "number";
    case boost::json::kind::string:
        return "string";
    case boost::json::kind::array:
        return "array";
    case boost::json::kind::object:
        return "object";
    }
    return "unknown";
}

std::string format_number(double d) {
    return c_format(d, 15); // with a point whatever the locale
}

std::string json_brief(const boost::json::value& v) {
    if (v.is_double())
        return format_number(v.get_double());
    std::string s = boost::json::serialize(v);
    if (s.size() > 80)
        s = s.substr(0, 77) + "...";
    return s;
}

std::size_t utf8_length(std::string_view s) noexcept {
    std::size_t n = 0;
    for (unsigned char c : s)
        n += (c & 0xC0) != 0x80;
    return n;
}

scalar scalar::of(const boost::json::value& v) noexcept {
    switch (v.kind()) {
    case boost::json::kind::bool_:
        return of(v.get_bool());
    case boost::json::kind::int64:
        return of(v.get_int64());
    case boost::json::kind::uint64:
        return of(v.get_uint64());
    case boost::json::kind::double_:
        return of(v.get_double());
    case boost::json::kind::string:
        return of(std::string_view(v.get_string()));
    default:
        return null();
    }
}

const char* scalar_kind(const scalar& s) noexcept {
    switch (s.k) {
    case scalar::kind::null:
        return "null";
    case scalar::kind::boolean:
        return "boolean";
    case scalar::kind::int64:
    case scalar::kind::uint64:
        return "integer";
    case scalar::kind::double_:
        return "number";
    case scalar::kind::string:
        return "string";
    }
    return "unknown";
}

boost::json::value scalar_value(const scalar& s) {
    switch (s.k) {
    case scalar::kind::null:
        return nullptr;
    case scalar::kind::boolean:
        return s.b;
    case scalar::kind::int64:
        return s.i;
    case scalar::kind::uint64:
        return s.u;
    case scalar::kind::double_:
        return s.d;
    case scalar::kind::string:
        return boost::json::string(s.s);
    }
    return nullptr;
}

std::string scalar_brief(const scalar& s) {
    switch (s.k) {
    case scalar::kind::double_:
        return format_number(s.d);
    case scalar::kind::int64:
        return std::to_string(s.i);
    case scalar::kind::uint64:
        return std::to_string(s.u);
    case scalar::kind::null:
        return "null";
    case scalar::kind::boolean:
        return s.b ? "true" : "false";
    case scalar::kind::string:
        break;
    }
    std::string out = boost::json::serialize(boost::json::string_view(s.s.data(), s.s.size()));
    if (out.size() > 80)
        out = out.substr(0, 77) + "...";
    return out;
}

decode_error decode_state::take_error() {
    auto less = [](const ranked_issue& a, const ranked_issue& b) {
        return std::lexicographical_compare(a.order.begin(), a.order.end(), b.order.begin(),
                                            b.order.end());
    };
    // A stable order: by rank, then as found. (std::sort over positions, not
    // std::stable_sort: libstdc++'s uses get_temporary_buffer, deprecated in C++20, which
    // clang -Werror builds refuse.)
    std::vector<std::size_t> at(issues_.size());
    for (std::size_t i = 0; i < at.size(); ++i)
        at[i] = i;
    if (!std::is_sorted(issues_.begin(), issues_.end(), less))
        std::sort(at.begin(), at.end(), [&](std::size_t x, std::size_t y) {
            if (less(issues_[x], issues_[y]))
                return true;
            if (less(issues_[y], issues_[x]))
                return false;
            return x < y;
        });
    decode_error e;
    std::size_t n = std::min(issues_.size(), opts_.max_issues);
    e.issues.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        e.issues.push_back(std::move(issues_[at[i]].issue));
    issues_.clear();
    return e;
}

bool decode_state::first_unknown(std::size_t id, std::string_view key) {
    std::string k = std::to_string(id);
    k += ':';
    k += key;
    return unknown_.insert(std::move(k)).second;
}

std::string decode_state::path() const {
    return render_path(segments_);
}

std::string render_path(const std::vector<path_segment>& segments) {
    std::string p = "$";
    for (const auto& s : segments) {
        if (s.is_index) {
            p += '[';
            p += std::to_string(s.index);
            p += ']';
            continue;
        }
        bool plain = !s.key.empty() && !ascii::is_digit(s.key[0]);
        for (char c : s.key)
            plain = plain && (ascii::is_alnum(c) || c == '_');
        if (plain) {
            p += '.';
            p += s.key;
        } else {
            p += "[";
            p += boost::json::serialize(boost::json::string_view(s.key.data(), s.key.size()));
            p += "]";
        }
    }
    return p;
}

namespace {

// The DOM driver: the same hooks the streaming driver calls, fed from a tree.
class dom_walk {
public:
    explicit dom_walk(decode_state& st) : st_(st) {}

    void value(const boost::json::value& v, target t) {
        if (!t.ops)
            return;
        if (t.ops->on_value)
            return t.ops->on_value(v, t.out, st_);
        if (!v.is_array() && !v.is_object())
            return t.ops->on_scalar(scalar::of(v), t.out, st_);
        open_result r = t.ops->open(v.is_array(), t.out, st_);
        switch (r.what) {
        case open_result::action::skip:
            return;
        case open_result::action::capture:
            return r.captured.ops->on_value(v, r.captured.out, st_);
        case open_result::action::descend:
            break;
        }
        frame f = r.f;
        f.seen = seen_.size();
        seen_.resize(seen_.size() + f.ops->flags, 0);
        if (v.is_array()) {
            for (const auto& e : v.get_array()) {
                target c = f.ops->child(f, {}, st_, seen_);
                value(e, c);
                f.ops->child_done(f, st_);
            }
        } else {
            for (const auto& kv : v.get_object()) {
                target c = f.ops->child(f, kv.key(), st_, seen_);
                value(kv.value(), c);
                f.ops->child_done(f, st_);
            }
        }
        f.ops->close(f, st_, seen_);
        seen_.resize(f.seen);
    }

private:
    decode_state& st_;
    seen_flags seen_;
};

} // namespace

void walk(const boost::json::value& v, target t, decode_state& st) {
    dom_walk(st).value(v, t);
}

} // namespace detail
} // namespace aibatch
