// json_validator's schema, checked once when it is given: only the subset aibatch checks
// (the keywords json_schema<T>() produces), each keyword with a value of the right kind,
// every $ref resolving; its patterns compiled.
#include "json_validator_impl.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <regex>
#include <string_view>
#include <vector>

namespace aibatch {

namespace json = boost::json;

namespace {

using detail::as_number;
using detail::code_points;

constexpr std::array<std::string_view, 7> type_names = {"object", "array",   "string", "integer",
                                                        "number", "boolean", "null"};

constexpr std::array<std::string_view, 18> checked_keywords = {
    "type",    "properties", "required",  "additionalProperties",
    "items",   "minItems",   "maxItems",  "minimum",
    "maximum", "minLength",  "maxLength", "pattern",
    "enum",    "const",      "anyOf",     "$ref",
    "$defs",   "definitions"};

constexpr std::array<std::string_view, 8> annotation_keywords = {
    "description", "title", "default", "examples", "format", "$schema", "$id", "$comment"};

template <std::size_t N>
bool in(const std::array<std::string_view, N>& a, std::string_view k) {
    return std::find(a.begin(), a.end(), k) != a.end();
}

// Paths are written by the decoder's own rule (detail::render_path).
using segment = detail::path_segment;
using detail::render_path;

[[noreturn]] void bad_schema(const std::vector<segment>& where, const std::string& what) {
    throw error(errc::invalid_argument,
                "schema " + render_path(where) + ": " + what +
                    "; aibatch checks the JSON Schema subset that json_schema<T>() produces "
                    "(type, properties, required, additionalProperties, items, minItems, "
                    "maxItems, minimum, maximum, minLength, maxLength, pattern, enum, const, "
                    "anyOf, $ref, $defs): rewrite the schema with those");
}

bool is_count(const json::value& v) {
    return (v.is_int64() && v.get_int64() >= 0) || v.is_uint64() ||
           (v.is_double() && v.get_double() >= 0 && std::floor(v.get_double()) == v.get_double());
}

} // namespace

void json_validator::impl::check_schema(const json::value& node, std::vector<segment>& where) {
    if (!node.is_object()) {
        if (node.is_bool())
            bad_schema(where, "a boolean schema is not supported");
        bad_schema(where, "a schema must be an object");
    }
    const auto& s = node.get_object();
    for (const auto& kv : s) {
        std::string_view k = kv.key();
        const json::value& v = kv.value();
        if (in(annotation_keywords, k))
            continue;
        if (!in(checked_keywords, k))
            bad_schema(where, "the keyword \"" + std::string(k) + "\" is not supported");
        where.push_back({k, 0, false});
        if (k == "type") {
            auto known = [](const json::value& t) {
                return t.is_string() && in(type_names, std::string_view(t.get_string()));
            };
            bool ok = known(v);
            if (v.is_array()) {
                ok = !v.get_array().empty();
                for (const auto& t : v.get_array())
                    ok = ok && known(t);
            }
            if (!ok)
                bad_schema(where, "expected one of object, array, string, integer, number, "
                                  "boolean, null, or a list of them");
        } else if (k == "properties" || k == "$defs" || k == "definitions") {
            if (!v.is_object())
                bad_schema(where, "expected an object of schemas");
            for (const auto& p : v.get_object()) {
                where.push_back({p.key(), 0, false});
                check_schema(p.value(), where);
                where.pop_back();
            }
        } else if (k == "required") {
            bool ok = v.is_array();
            if (ok)
                for (const auto& r : v.get_array())
                    ok = ok && r.is_string();
            if (!ok)
                bad_schema(where, "expected a list of property names");
        } else if (k == "additionalProperties") {
            if (!v.is_bool())
                check_schema(v, where);
        } else if (k == "items") {
            if (v.is_array())
                bad_schema(where, "a list of item schemas (tuple validation) is not "
                                  "supported; give one schema for every item");
            check_schema(v, where);
        } else if (k == "minItems" || k == "maxItems" || k == "minLength" || k == "maxLength") {
            if (!is_count(v))
                bad_schema(where, "expected a non-negative integer");
        } else if (k == "minimum" || k == "maximum") {
            auto d = as_number(v);
            if (!d || !std::isfinite(*d))
                bad_schema(where, "expected a finite number");
        } else if (k == "pattern") {
            if (!v.is_string())
                bad_schema(where, "expected a regular expression as a string");
            try {
                patterns.emplace(&s,
                                 std::wregex(code_points(v.get_string()), std::regex::ECMAScript));
            } catch (const std::regex_error& e) {
                bad_schema(where, std::string("the regular expression does not compile (") +
                                      e.what() + ")");
            }
        } else if (k == "enum") {
            if (!v.is_array() || v.get_array().empty())
                bad_schema(where, "expected a non-empty list of values");
        } else if (k == "anyOf") {
            if (!v.is_array() || v.get_array().empty())
                bad_schema(where, "expected a non-empty list of schemas");
            for (std::size_t i = 0; i < v.get_array().size(); ++i) {
                where.push_back({{}, i, true});
                check_schema(v.get_array()[i], where);
                where.pop_back();
            }
        } else if (k == "$ref") {
            if (!v.is_string() || !resolve(v.get_string()))
                bad_schema(where, "the reference does not resolve; only \"#\", "
                                  "\"#/$defs/NAME\" and \"#/definitions/NAME\" are supported");
        }
        where.pop_back();
    }
}

} // namespace aibatch
