// json_validator: a value checked against a schema known only at run time, with the
// rules and messages of decode<T>() (the schema itself: json_validator_schema.cpp).
#include "json_validator_impl.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <regex>
#include <string_view>
#include <vector>

namespace aibatch {

namespace json = boost::json;

namespace {

using detail::as_number;
using detail::code_points;

// Paths are written by the decoder's own rule (detail::render_path).
using segment = detail::path_segment;
using detail::render_path;

std::size_t as_count(const json::value& v) {
    if (v.is_int64())
        return static_cast<std::size_t>(v.get_int64());
    if (v.is_uint64())
        return static_cast<std::size_t>(v.get_uint64());
    double d = v.get_double();
    return d >= 1e18 ? std::numeric_limits<std::size_t>::max() : static_cast<std::size_t>(d);
}

// JSON Schema's equality (enum, const): numbers by value (1.0 is 1), the rest as JSON.
bool same_json(const json::value& a, const json::value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_double() && b.is_double())
            return a.get_double() == b.get_double();
        if (!a.is_double() && !b.is_double())
            return a == b; // int64 and uint64: exact
        // A double and an integer: equal when the double is that very integer (exactly:
        // 9007199254740993 is not 9007199254740992.0, which converting it would say).
        const double d = a.is_double() ? a.get_double() : b.get_double();
        const json::value& i = a.is_double() ? b : a;
        if (d != std::floor(d))
            return false;
        if (i.is_int64())
            return d >= -9223372036854775808.0 && d < 9223372036854775808.0 &&
                   static_cast<std::int64_t>(d) == i.get_int64();
        return d >= 0 && d < 18446744073709551616.0 &&
               static_cast<std::uint64_t>(d) == i.get_uint64();
    }
    if (a.is_array() && b.is_array()) {
        const auto &x = a.get_array(), &y = b.get_array();
        return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(), same_json);
    }
    if (a.is_object() && b.is_object()) {
        const auto &x = a.get_object(), &y = b.get_object();
        if (x.size() != y.size())
            return false;
        for (const auto& kv : x) {
            const json::value* other = y.if_contains(kv.key());
            if (!other || !same_json(kv.value(), *other))
                return false;
        }
        return true;
    }
    return a == b;
}

} // namespace

struct json_validator::impl::run {
    const impl& self;
    const decode_options& opts;
    std::vector<segment> segments;
    std::vector<decode_issue> issues;
    std::size_t found = 0; // every problem, also those past max_issues
    unsigned depth = 0;

    void fail(std::string message) {
        ++found;
        if (issues.size() < opts.max_issues)
            issues.push_back({render_path(segments), std::move(message)});
    }
    void expected(const std::string& what, const json::value& v) {
        fail("expected " + what + ", got " + detail::json_kind(v));
    }
    void not_finite(double d) {
        fail(std::string("expected a finite number, got ") +
             (std::isnan(d) ? "NaN"
              : d > 0       ? "infinity"
                            : "-infinity") +
             " (the JSON number is out of range)");
    }

    void value(const json::object& s, const json::value& v) {
        if (depth > 256)
            return fail("the value nests deeper than 256 levels");
        ++depth;
        check(s, v);
        --depth;
    }

    void check(const json::object& s, const json::value& v) {
        // $ref and anyOf hold beside the other keywords of s, which apply too (a "type"
        // or "properties" next to an anyOf was ignored: an answer breaking them passed).
        if (const auto* ref = s.if_contains("$ref"))
            value(*self.resolve(ref->get_string()), v);
        if (const auto* any = s.if_contains("anyOf"))
            any_of(any->get_array(), v);

        std::size_t before = found;
        // The types allowed: null, when listed, accepts null and nothing else matters.
        std::vector<std::string_view> types;
        if (const auto* t = s.if_contains("type")) {
            if (t->is_string())
                types.emplace_back(t->get_string());
            else
                for (const auto& x : t->get_array())
                    types.emplace_back(x.get_string());
        }
        auto allows = [&](std::string_view t) {
            return std::find(types.begin(), types.end(), t) != types.end();
        };
        if (!types.empty() && v.is_null() && allows("null"))
            return;
        std::erase(types, std::string_view("null"));

        if (const auto* e = s.if_contains("enum"))
            return enumeration(e->get_array(), types, v);
        if (const auto* c = s.if_contains("const")) {
            if (!same_json(v, *c))
                fail(detail::json_brief(v) + " is not " + detail::json_brief(*c));
            return;
        }

        if (types.size() == 1) {
            if (!typed(types[0], s, v))
                return;
        } else if (!types.empty()) {
            std::string_view match;
            for (auto t : types)
                if (match.empty() && kind_matches(t, v))
                    match = t;
            if (match.empty()) {
                std::string names;
                for (std::size_t i = 0; i < types.size(); ++i)
                    names += (i == 0                  ? ""
                              : i + 1 == types.size() ? " or "
                                                      : ", ") +
                             std::string(types[i]);
                return expected(names, v);
            }
            if (!typed(match, s, v))
                return;
        } else if (v.is_object()) {
            object(s, v.get_object());
        } else if (v.is_array()) {
            array(s, v.get_array());
        }
        if (found == before)
            bounds(s, v);
    }

    static bool kind_matches(std::string_view t, const json::value& v) {
        if (t == "object")
            return v.is_object();
        if (t == "array")
            return v.is_array();
        if (t == "string")
            return v.is_string();
        if (t == "boolean")
            return v.is_bool();
        if (t == "null")
            return v.is_null();
        if (t == "integer")
            return v.is_int64() || v.is_uint64() ||
                   (v.is_double() && std::floor(v.get_double()) == v.get_double());
        return v.is_number(); // number
    }

    // Checks v against one type; false when it is not of that type (reported).
    bool typed(std::string_view t, const json::object& s, const json::value& v) {
        if (t == "boolean") {
            if (!v.is_bool())
                return expected("boolean", v), false;
        } else if (t == "string") {
            if (!v.is_string())
                return expected("string", v), false;
        } else if (t == "null") {
            if (!v.is_null())
                return expected("null", v), false;
        } else if (t == "number") {
            if (v.is_double() && !std::isfinite(v.get_double()))
                return not_finite(v.get_double()), false;
            if (!v.is_number())
                return expected("number", v), false;
        } else if (t == "integer") {
            return integer(v);
        } else if (t == "array") {
            if (!v.is_array())
                return expected("array", v), false;
            std::size_t before = found;
            array(s, v.get_array());
            return found == before;
        } else if (t == "object") {
            if (!v.is_object())
                return expected("object", v), false;
            std::size_t before = found;
            object(s, v.get_object());
            return found == before;
        }
        return true;
    }

    // As decode<std::int64_t>() reads an integer.
    bool integer(const json::value& v) {
        using lim = std::numeric_limits<std::int64_t>;
        auto out_of_range = [&] {
            fail(detail::json_brief(v) + " is out of range (" + std::to_string(lim::min()) +
                 " to " + std::to_string(lim::max()) + ")");
            return false;
        };
        if (v.is_int64())
            return true;
        if (v.is_uint64())
            return v.get_uint64() <= static_cast<std::uint64_t>(lim::max()) || out_of_range();
        if (v.is_double()) {
            double d = v.get_double();
            if (!std::isfinite(d))
                return not_finite(d), false;
            if (std::floor(d) != d)
                return fail("expected integer, got " + detail::json_brief(v)), false;
            const double hi = std::ldexp(1.0, lim::digits);
            if (d < -hi || d >= hi)
                return out_of_range();
            return true;
        }
        expected("integer", v);
        return false;
    }

    void enumeration(const json::array& choices, const std::vector<std::string_view>& types,
                     const json::value& v) {
        bool strings = std::all_of(choices.begin(), choices.end(),
                                   [](const json::value& c) { return c.is_string(); });
        if (strings && !v.is_string() &&
            (types.empty() || (types.size() == 1 && types[0] == "string")))
            return expected("string", v);
        if (std::any_of(choices.begin(), choices.end(),
                        [&](const json::value& c) { return same_json(c, v); }))
            return;
        std::string list;
        for (const auto& c : choices) {
            if (!list.empty())
                list += ", ";
            list += c.is_string() ? std::string(c.get_string()) : detail::json_brief(c);
        }
        fail(detail::json_brief(v) + " is not one of " + list);
    }

    void any_of(const json::array& choices, const json::value& v) {
        // The nullable form of an optional member: anyOf [X, {"type": "null"}].
        std::vector<const json::object*> others;
        bool null_ok = false;
        for (const auto& c : choices) {
            const auto& o = c.get_object();
            const auto* t = o.if_contains("type");
            if (o.size() == 1 && t && t->is_string() && t->get_string() == "null")
                null_ok = true;
            else
                others.push_back(&o);
        }
        if (v.is_null() && null_ok)
            return;
        if (others.size() == 1)
            return value(*others[0], v);
        for (const auto* o : others) {
            run trial{self, opts, segments, {}, 0, depth};
            trial.value(*o, v);
            if (trial.found == 0)
                return;
        }
        fail("matches none of the " + std::to_string(choices.size()) + " choices of anyOf");
    }

    void object(const json::object& s, const json::object& o) {
        const json::object* props = nullptr;
        if (const auto* p = s.if_contains("properties"))
            props = &p->get_object();
        std::vector<std::string_view> required;
        if (const auto* r = s.if_contains("required"))
            for (const auto& x : r->get_array())
                required.emplace_back(x.get_string());
        auto is_required = [&](std::string_view k) {
            return std::find(required.begin(), required.end(), k) != required.end();
        };
        if (props) {
            for (const auto& p : *props) {
                const json::value* fv = o.if_contains(p.key());
                if (!fv) {
                    if (is_required(p.key()))
                        fail("missing required field \"" + std::string(p.key()) + "\"");
                    continue;
                }
                // A member that is not required is a std::optional: null is its empty.
                if (fv->is_null() && !is_required(p.key()))
                    continue;
                segments.push_back({p.key(), 0, false});
                value(p.value().get_object(), *fv);
                segments.pop_back();
            }
        }
        for (auto k : required)
            if ((!props || !props->contains(k)) && !o.contains(k))
                fail("missing required field \"" + std::string(k) + "\"");
        const json::value* extra = s.if_contains("additionalProperties");
        if (!extra || (extra->is_bool() && extra->get_bool()))
            return;
        for (const auto& kv : o) {
            if (props && props->contains(kv.key()))
                continue;
            if (extra->is_object()) {
                segments.push_back({kv.key(), 0, false});
                value(extra->get_object(), kv.value());
                segments.pop_back();
            } else if (!opts.allow_unknown_fields) {
                fail("unknown field \"" + std::string(kv.key()) + "\"");
            }
        }
    }

    void array(const json::object& s, const json::array& a) {
        const auto* items = s.if_contains("items");
        if (!items || !items->is_object())
            return;
        for (std::size_t i = 0; i < a.size(); ++i) {
            segments.push_back({{}, i, true});
            value(items->get_object(), a[i]);
            segments.pop_back();
        }
    }

    // minimum/maximum, minLength/maxLength/pattern, minItems/maxItems: after the type.
    void bounds(const json::object& s, const json::value& v) {
        if (v.is_number()) {
            double d = *as_number(v);
            if (const auto* m = s.if_contains("minimum"); m && d < *as_number(*m))
                fail(detail::format_number(d) + " is less than the minimum " +
                     detail::format_number(*as_number(*m)));
            if (const auto* m = s.if_contains("maximum"); m && d > *as_number(*m))
                fail(detail::format_number(d) + " is greater than the maximum " +
                     detail::format_number(*as_number(*m)));
        } else if (v.is_string()) {
            std::string_view text = v.get_string();
            std::size_t n = detail::utf8_length(text);
            if (const auto* m = s.if_contains("minLength"); m && n < as_count(*m))
                fail("text of " + std::to_string(n) + " characters is shorter than the minimum " +
                     std::to_string(as_count(*m)));
            if (const auto* m = s.if_contains("maxLength"); m && n > as_count(*m))
                fail("text of " + std::to_string(n) + " characters is longer than the maximum " +
                     std::to_string(as_count(*m)));
            if (auto it = self.patterns.find(&s); it != self.patterns.end()) {
                bool match = false;
                try {
                    const std::wstring wide = code_points(text);
                    match = std::regex_search(wide.begin(), wide.end(), it->second);
                } catch (const std::regex_error&) {
                    match = false; // too complex for std::regex: reported as no match
                }
                if (!match)
                    fail(detail::json_brief(v) + " does not match the pattern " +
                         std::string(s.at("pattern").get_string()));
            }
        } else if (v.is_array()) {
            std::size_t n = v.get_array().size();
            if (const auto* m = s.if_contains("minItems"); m && n < as_count(*m))
                fail(std::to_string(n) + " items, fewer than the minimum " +
                     std::to_string(as_count(*m)));
            if (const auto* m = s.if_contains("maxItems"); m && n > as_count(*m))
                fail(std::to_string(n) + " items, more than the maximum " +
                     std::to_string(as_count(*m)));
        }
    }
};

json_validator::json_validator(json::object schema) : impl_(std::make_unique<impl>()) {
    impl_->doc = std::move(schema);
    std::vector<segment> where;
    impl_->check_schema(impl_->doc, where);
}

json_validator::json_validator(const json_validator& o) : json_validator(o.impl_->root_object()) {}
json_validator::json_validator(json_validator&&) noexcept = default;
json_validator& json_validator::operator=(const json_validator& o) {
    if (this != &o)
        *this = json_validator(o);
    return *this;
}
json_validator& json_validator::operator=(json_validator&&) noexcept = default;
json_validator::~json_validator() = default;

const json::object& json_validator::schema() const noexcept {
    return impl_->root_object();
}

decode_result<json::value> json_validator::decode(const json::value& v,
                                                  const decode_options& opts) const {
    impl::run r{*impl_, opts, {}, {}, 0, 0};
    r.value(impl_->root_object(), v);
    if (r.found > 0)
        return decode_result<json::value>(decode_error{std::move(r.issues)});
    return decode_result<json::value>(v);
}

} // namespace aibatch
