// The JSON Schema subset of the API's structured outputs (output_config.format), as
// Anthropic's structured-outputs documentation lists it ("JSON Schema limitations") and
// the official SDKs' schema transforms apply it.
#include <aibatch/typed/structured_output.hpp>

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <set>
#include <vector>

namespace aibatch {

namespace json = boost::json;

namespace {

constexpr std::array<std::string_view, 14> common_keywords = {
    "type",  "description", "title", "default", "examples",    "enum",    "const",
    "anyOf", "allOf",       "$ref",  "$defs",   "definitions", "$schema", "$comment"};
constexpr std::array<std::string_view, 3> object_keywords = {"properties", "required",
                                                             "additionalProperties"};
constexpr std::array<std::string_view, 2> array_keywords = {"items", "minItems"};
constexpr std::array<std::string_view, 2> string_keywords = {"format", "pattern"};

template <std::size_t N>
bool in(const std::array<std::string_view, N>& a, std::string_view k) {
    return std::find(a.begin(), a.end(), k) != a.end();
}

class subset_check {
public:
    explicit subset_check(const json::value& root) : root_(root), expanding_{"#"} {}

    std::optional<std::string> walk(const json::value& schema, const std::string& path) {
        if (!schema.is_object())
            return at(path, "a schema must be an object");
        const auto& s = schema.get_object();

        if (const auto* ref = s.if_contains("$ref")) {
            if (!ref->is_string())
                return at(path, "'$ref' must be a string");
            std::string r(ref->get_string());
            const json::value* target = resolve(r);
            if (!target)
                return at(path, "$ref \"" + r +
                                    "\" does not resolve; only local references (#, "
                                    "#/$defs/NAME, #/definitions/NAME) are supported");
            if (std::find(expanding_.begin(), expanding_.end(), r) != expanding_.end())
                return at(path, "recursive schemas are not supported ($ref \"" + r +
                                    "\" refers to a schema that contains it)");
            if (!checked_refs_.count(r)) {
                expanding_.push_back(r);
                auto e = walk(*target, r);
                expanding_.pop_back();
                if (e)
                    return e;
                checked_refs_.insert(r);
            }
        }

        // Which types the schema allows: the type-specific keywords are those of them.
        std::vector<std::string> types;
        if (const auto* t = s.if_contains("type")) {
            if (t->is_string())
                types.emplace_back(t->get_string());
            else if (t->is_array())
                for (const auto& x : t->get_array())
                    if (x.is_string())
                        types.emplace_back(x.get_string());
            if (types.empty())
                return at(path, "'type' must be a type name or a list of them");
        } else if (!s.contains("enum") && !s.contains("const") && !s.contains("anyOf") &&
                   !s.contains("allOf") && !s.contains("$ref")) {
            return at(path, "a schema must have a 'type' (or 'enum', 'const', 'anyOf', "
                            "'allOf', '$ref'); a schema that allows any value is not supported");
        }
        auto has = [&](std::string_view t) {
            return std::find(types.begin(), types.end(), t) != types.end();
        };

        std::vector<std::string> unsupported;
        for (const auto& [k, v] : s) {
            if (in(common_keywords, k))
                continue;
            if ((has("object") && in(object_keywords, k)) ||
                (has("array") && in(array_keywords, k)) ||
                (has("string") && in(string_keywords, k)))
                continue;
            if (k == "oneOf")
                return at(path, "'oneOf' is not supported; use 'anyOf'");
            unsupported.emplace_back(k);
        }
        if (!unsupported.empty()) {
            std::sort(unsupported.begin(), unsupported.end());
            std::string list;
            for (const auto& k : unsupported)
                list += (list.empty() ? "" : ", ") + k;
            if (types.size() == 1)
                return at(path, "For '" + types[0] + "' type, propert" +
                                    (unsupported.size() == 1 ? "y " : "ies ") + list +
                                    (unsupported.size() == 1 ? " is" : " are") + " not supported");
            return at(path, "propert" + std::string(unsupported.size() == 1 ? "y " : "ies ") +
                                list + (unsupported.size() == 1 ? " is" : " are") +
                                " not supported");
        }

        if (has("object")) {
            const auto* ap = s.if_contains("additionalProperties");
            if (!ap || (ap->is_bool() && ap->get_bool()))
                return at(path, ap ? "For 'object' type, 'additionalProperties: true' is not "
                                     "supported. Please set 'additionalProperties' to false"
                                   : "For 'object' type, 'additionalProperties' must be "
                                     "explicitly set to false");
            if (!ap->is_bool())
                return at(path, "For 'object' type, 'additionalProperties' must be explicitly "
                                "set to false (a schema for additional properties, a map, is "
                                "not supported)");
        }
        if (has("array"))
            if (const auto* mi = s.if_contains("minItems")) {
                double n = mi->is_number() ? mi->to_number<double>() : -1;
                if (n != 0 && n != 1)
                    return at(path, "For 'array' type, 'minItems' values other than 0 or 1 are "
                                    "not supported");
            }
        if (has("string")) {
            if (const auto* f = s.if_contains("format")) {
                static constexpr std::array<std::string_view, 10> formats = {
                    "date-time", "time", "date", "duration", "email",
                    "hostname",  "uri",  "ipv4", "ipv6",     "uuid"};
                if (!f->is_string() || !in(formats, f->get_string()))
                    return at(path, "For 'string' type, format " + json::serialize(*f) +
                                        " is not supported (supported: date-time, time, date, "
                                        "duration, email, hostname, uri, ipv4, ipv6, uuid)");
            }
            if (const auto* p = s.if_contains("pattern")) {
                if (!p->is_string())
                    return at(path, "'pattern' must be a string");
                std::string_view re = p->get_string();
                bool lookaround = re.find("(?=") != re.npos || re.find("(?!") != re.npos ||
                                  re.find("(?<=") != re.npos || re.find("(?<!") != re.npos;
                bool backref = false;
                for (std::size_t i = 0; i + 1 < re.size(); ++i)
                    if (re[i] == '\\') {
                        backref = backref || (re[i + 1] >= '1' && re[i + 1] <= '9');
                        ++i;
                    }
                if (lookaround || backref)
                    return at(path, "For 'string' type, pattern uses lookaround or "
                                    "backreferences, which are not supported");
            }
        }
        if (const auto* e = s.if_contains("enum")) {
            if (!e->is_array())
                return at(path, "'enum' must be a list");
            for (const auto& x : e->get_array())
                if (x.is_object() || x.is_array())
                    return at(path, "complex types in 'enum' are not supported (strings, "
                                    "numbers, booleans and null only)");
        }

        if (const auto* props = s.if_contains("properties")) {
            if (!props->is_object())
                return at(path, "'properties' must be an object");
            for (const auto& [name, sub] : props->get_object())
                if (auto e = walk(sub, join(path, "properties") + "." + std::string(name)))
                    return e;
        }
        if (const auto* items = s.if_contains("items"))
            if (auto e = walk(*items, join(path, "items")))
                return e;
        for (const char* key : {"anyOf", "allOf"})
            if (const auto* a = s.if_contains(key)) {
                if (!a->is_array() || a->get_array().empty())
                    return at(path, "'" + std::string(key) + "' must be a non-empty list");
                for (std::size_t i = 0; i < a->get_array().size(); ++i) {
                    const auto& alt = a->get_array()[i];
                    std::string where = join(path, key) + "." + std::to_string(i);
                    if (key[1] == 'l' && alt.is_object() && alt.get_object().contains("$ref"))
                        return at(where, "'allOf' with '$ref' is not supported");
                    if (auto e = walk(alt, where))
                        return e;
                }
            }
        for (const char* key : {"$defs", "definitions"})
            if (const auto* d = s.if_contains(key); d && d->is_object())
                for (const auto& [name, sub] : d->get_object()) {
                    std::string ref = std::string("#/") + key + "/" + std::string(name);
                    if (checked_refs_.count(ref))
                        continue;
                    expanding_.push_back(ref);
                    auto e = walk(sub, ref);
                    expanding_.pop_back();
                    if (e)
                        return e;
                    checked_refs_.insert(ref);
                }
        return std::nullopt;
    }

private:
    static std::string join(const std::string& path, std::string_view key) {
        return path.empty() ? std::string(key) : path + "." + std::string(key);
    }
    static std::optional<std::string> at(const std::string& path, std::string message) {
        return path.empty() ? message : path + ": " + message;
    }
    const json::value* resolve(std::string_view ref) const {
        if (ref == "#")
            return &root_;
        for (std::string_view section : {"$defs", "definitions"}) {
            std::string prefix = "#/" + std::string(section) + "/";
            if (ref.starts_with(prefix) && root_.is_object())
                if (const auto* defs = root_.get_object().if_contains(section);
                    defs && defs->is_object())
                    return defs->get_object().if_contains(ref.substr(prefix.size()));
        }
        return nullptr;
    }

    const json::value& root_;
    std::vector<std::string> expanding_;
    std::set<std::string> checked_refs_;
};

} // namespace

std::optional<std::string> native_schema_problem(const json::value& schema) {
    subset_check c(schema);
    return c.walk(schema, "");
}

} // namespace aibatch
