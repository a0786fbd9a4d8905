// Where a decode is and what it found: decode_state (path, issues in report order),
// decode_context (what a user's schema_traits<T>::decode sees of it), one JSON scalar
// as either driver sees it, and the text of messages.
// Part of detail/schema_impl.hpp (see there): reached through <aibatch/typed/schema.hpp>,
// which declares what it builds on; never included on its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

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
        if (!unknown_.empty())
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

} // namespace detail

inline void decode_context::fail(std::string message) {
    d_.fail(std::move(message));
}
inline std::string decode_context::path() const {
    return d_.path();
}

} // namespace aibatch
