// Private to src/typed: json_validator's state (the schema and its compiled patterns),
// built by json_validator_schema.cpp (the schema checked once, when it is given) and read
// by json_validator.cpp (values checked against it).
#pragma once

#include <aibatch/typed/json_validator.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace aibatch {

namespace detail {

// UTF-8 (valid: it comes from a JSON string) to one wchar_t per code point (UTF-32 where
// wchar_t is 32 bits, as on Linux); a stray byte stays one unit.
inline std::wstring code_points(std::string_view u) {
    std::wstring out;
    out.reserve(u.size());
    for (std::size_t i = 0; i < u.size();) {
        const auto c = static_cast<unsigned char>(u[i]);
        const std::size_t n = c < 0x80           ? 1
                              : (c >> 5) == 0x6  ? 2
                              : (c >> 4) == 0xE  ? 3
                              : (c >> 3) == 0x1E ? 4
                                                 : 1;
        if (n == 1 || i + n > u.size()) {
            out.push_back(static_cast<wchar_t>(c));
            ++i;
            continue;
        }
        std::uint32_t cp = c & (0xFFu >> (n + 1));
        for (std::size_t k = 1; k < n; ++k)
            cp = (cp << 6) | (static_cast<unsigned char>(u[i + k]) & 0x3Fu);
        out.push_back(static_cast<wchar_t>(cp));
        i += n;
    }
    return out;
}

inline std::optional<double> as_number(const boost::json::value& v) {
    if (v.is_int64())
        return static_cast<double>(v.get_int64());
    if (v.is_uint64())
        return static_cast<double>(v.get_uint64());
    if (v.is_double())
        return v.get_double();
    return std::nullopt;
}

} // namespace detail

struct json_validator::impl {
    boost::json::value doc; // the schema (an object); the pattern table points into it
    const boost::json::object& root_object() const { return doc.get_object(); }
    // Patterns run over code points (std::wregex on UTF-32 text), not UTF-8 bytes: "^.$"
    // matches "é" as JSON Schema says.
    std::map<const boost::json::object*, std::wregex> patterns;

    const boost::json::object* resolve(std::string_view ref) const {
        const boost::json::object& root = root_object();
        if (ref == "#")
            return &root;
        for (std::string_view prefix : {"#/$defs/", "#/definitions/"}) {
            if (ref.substr(0, prefix.size()) != prefix)
                continue;
            std::string_view name = ref.substr(prefix.size());
            const auto* defs = root.if_contains(prefix.substr(2, prefix.size() - 3));
            if (!defs || !defs->is_object())
                return nullptr;
            const auto* target = defs->get_object().if_contains(name);
            return target && target->is_object() ? &target->get_object() : nullptr;
        }
        return nullptr;
    }

    /// Checks that the schema is in the supported subset (json_validator_schema.cpp);
    /// compiles its patterns.
    void check_schema(const boost::json::value& node, std::vector<detail::path_segment>& where);

    /// One check of a value (json_validator.cpp).
    struct run;
};

} // namespace aibatch
