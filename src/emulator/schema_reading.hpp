// How the emulator reads a JSON Schema object, shared by the generator of conforming values
// (schema_values.cpp) and the check of a schema against the emulator's limits
// (schema_check.cpp), so both agree: the keyword that decides a value, sizes and bounds as
// clamped, $ref resolution, and output sizes that saturate instead of overflowing.
#pragma once

#include "schema_values.hpp"

#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace aibatch::emulator::schema_reading {

namespace json = boost::json;

// Below this depth the generator fills optional parts; from it on it takes the shortest
// way out (null alternatives, no optional properties, minItems items).
inline constexpr int max_depth = 6;

// Sizes of the output, saturating instead of overflowing.
inline constexpr std::uint64_t size_cap = std::uint64_t{1} << 62;
inline std::uint64_t add(std::uint64_t a, std::uint64_t b) {
    return a > size_cap - std::min(b, size_cap) ? size_cap : a + b;
}
inline std::uint64_t mul(std::uint64_t a, std::uint64_t b) {
    return b != 0 && a > size_cap / b ? size_cap : a * b;
}

// At least the size of s as a JSON string (quotes and escapes: \u00XX is the longest).
inline std::uint64_t text_size(std::string_view s) {
    std::uint64_t n = 2;
    for (char c : s)
        n += static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\' ? 6 : 1;
    return n;
}

// At least the size of v as JSON text; stops counting past `limit`.
inline std::uint64_t json_size(const json::value& v, std::uint64_t limit) {
    switch (v.kind()) {
    case json::kind::string:
        return text_size(v.get_string());
    case json::kind::array: {
        std::uint64_t n = 2;
        for (const auto& x : v.get_array()) {
            n = add(n, json_size(x, limit) + 1);
            if (n > limit)
                break;
        }
        return n;
    }
    case json::kind::object: {
        std::uint64_t n = 2;
        for (const auto& kv : v.get_object()) {
            n = add(n, text_size(kv.key()) + 2 + json_size(kv.value(), limit));
            if (n > limit)
                break;
        }
        return n;
    }
    default:
        return 24;
    }
}

inline std::optional<double> num(const json::object& s, const char* key) {
    if (auto* v = s.if_contains(key); v && v->is_number())
        return v->to_number<double>();
    return std::nullopt;
}

// A count keyword (minLength, maxItems, ...) as a size: absent or not finite = `dflt`,
// clamped to [0, cap].
inline std::size_t count(const json::object& s, const char* key, std::size_t dflt, double cap) {
    auto v = num(s, key);
    if (!v || !std::isfinite(*v))
        return dflt;
    if (*v <= 0)
        return 0;
    return static_cast<std::size_t>(std::min(*v, cap));
}

// A numeric bound (minimum, ...): absent or not finite = nullopt, clamped to +-2^53.
inline std::optional<double> bound(const json::object& s, const char* key) {
    auto v = num(s, key);
    if (!v || !std::isfinite(*v))
        return std::nullopt;
    return std::clamp(*v, -max_abs_bound, max_abs_bound);
}

inline constexpr double max_length_cap = double(std::size_t{1} << 20);
inline constexpr double max_items_cap = 1e9;

// How a schema object is read, shared by the generator and the size estimate so both
// agree.
struct schema_view {
    const json::object& s;

    std::size_t min_length() const { return count(s, "minLength", 1, max_min_length); }
    std::size_t max_length() const {
        return std::max(min_length(), count(s, "maxLength", 40, max_length_cap));
    }
    std::size_t min_items() const { return count(s, "minItems", 0, max_min_items); }
    // At most three items over minItems (any count in range conforms).
    std::size_t max_items(int depth) const {
        std::size_t lo = min_items();
        if (depth >= max_depth)
            return lo;
        std::size_t hi = count(s, "maxItems", lo + 3, max_items_cap);
        return std::clamp(hi, lo, lo + 3);
    }
    bool is_required(std::string_view name) const {
        if (auto* r = s.if_contains("required"); r && r->is_array())
            for (const auto& x : r->get_array())
                if (x.is_string() && x.get_string() == name)
                    return true;
        return false;
    }
};

inline const json::value& any_schema() {
    static const json::value any = json::object();
    return any;
}

// $ref targets: "#", "#/$defs/NAME" and "#/definitions/NAME"; nullptr when unresolved.
inline const json::value* resolve_ref(const json::value& root, std::string_view ref) {
    if (ref == "#")
        return &root;
    for (std::string_view prefix : {"#/$defs/", "#/definitions/"}) {
        if (ref.starts_with(prefix)) {
            std::string_view name = ref.substr(prefix.size());
            std::string_view section = prefix.substr(2, prefix.size() - 3);
            if (const auto* defs =
                    root.is_object() ? root.get_object().if_contains(section) : nullptr;
                defs && defs->is_object())
                if (const auto* d = defs->get_object().if_contains(name))
                    return d;
        }
    }
    return nullptr;
}

inline bool is_null_schema(const json::value& alt) {
    return alt.is_object() && alt.get_object().contains("type") &&
           alt.get_object().at("type") == "null";
}

// Which keyword of a schema object decides the value (in the generator's order).
enum class rule { ref, constant, enumeration, alternatives, all_of, typed };

struct decision {
    rule what = rule::typed;
    const json::value* arg = nullptr; ///< the $ref string, const, enum or alternatives
};

inline decision decide(const json::object& s) {
    if (auto* ref = s.if_contains("$ref"); ref && ref->is_string())
        return {rule::ref, ref};
    if (auto* c = s.if_contains("const"))
        return {rule::constant, c};
    if (auto* e = s.if_contains("enum"); e && e->is_array() && !e->get_array().empty())
        return {rule::enumeration, e};
    for (const char* key : {"anyOf", "oneOf"})
        if (auto* alts = s.if_contains(key); alts && alts->is_array() && !alts->get_array().empty())
            return {rule::alternatives, alts};
    if (auto* all = s.if_contains("allOf"); all && all->is_array() && !all->get_array().empty())
        return {rule::all_of, all};
    return {};
}

} // namespace aibatch::emulator::schema_reading
