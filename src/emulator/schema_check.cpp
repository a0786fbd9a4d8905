// check_schema(): the emulator's limits on the schemas it answers, and whether an answer
// the generator could produce stays within them.
#include "schema_values.hpp"

#include <aibatch/detail/c_locale.hpp>

#include "schema_reading.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

namespace aibatch::emulator {

namespace json = boost::json;

namespace {

using namespace schema_reading;

// The most bytes generator::gen can produce for a schema (whatever the seed), and whether
// some choice runs past max_schema_depth. Mirrors the generator rule for rule; memoized
// per (schema, depth), so recursive schemas cost schemas x depth.
class size_estimate {
public:
    explicit size_estimate(const json::value& root) : root_(root) {}

    struct result {
        std::uint64_t bytes = 0;
        bool too_deep = false;
    };

    result of(const json::value& schema, int depth) {
        if (depth > max_schema_depth)
            return {4, true};
        auto key = std::make_pair(&schema, depth);
        if (auto it = memo_.find(key); it != memo_.end())
            return it->second;
        result r = compute(schema, depth);
        r.bytes = add(r.bytes, 8);
        memo_[key] = r;
        return r;
    }

private:
    static void max_into(result& r, const result& x) {
        r.bytes = std::max(r.bytes, x.bytes);
        r.too_deep = r.too_deep || x.too_deep;
    }
    static void add_into(result& r, const result& x, std::uint64_t times = 1) {
        r.bytes = add(r.bytes, mul(x.bytes, times));
        r.too_deep = r.too_deep || (times > 0 && x.too_deep);
    }

    result compute(const json::value& schema, int depth) {
        if (!schema.is_object())
            return {4, false};
        const auto& s = schema.get_object();
        decision d = decide(s);
        constexpr std::uint64_t limit = max_generated_bytes + 1;
        switch (d.what) {
        case rule::ref: {
            const json::value* target = resolve_ref(root_, d.arg->get_string());
            return of(target ? *target : any_schema(), depth + 1);
        }
        case rule::constant:
            return {json_size(*d.arg, limit), false};
        case rule::enumeration: {
            result r;
            for (const auto& x : d.arg->get_array())
                r.bytes = std::max(r.bytes, json_size(x, limit));
            return r;
        }
        case rule::alternatives: {
            const auto& a = d.arg->get_array();
            if (depth >= max_depth && std::any_of(a.begin(), a.end(), is_null_schema))
                return {4, false};
            result r;
            for (const auto& alt : a)
                max_into(r, of(alt, depth + 1));
            return r;
        }
        case rule::all_of:
            return of(d.arg->get_array()[0], depth + 1);
        case rule::typed:
            break;
        }
        // The types the generator may pick.
        std::vector<std::string_view> types;
        const json::value* t = s.if_contains("type");
        if (!t)
            types.push_back(s.contains("properties") ? "object"
                            : s.contains("items")    ? "array"
                                                     : "string");
        else if (t->is_string())
            types.push_back(t->get_string());
        else if (t->is_array() && !t->get_array().empty()) {
            bool has_null = false;
            for (const auto& x : t->get_array())
                has_null = has_null || x == "null";
            if (depth >= max_depth && has_null)
                return {4, false};
            for (const auto& x : t->get_array())
                types.push_back(x.is_string() ? std::string_view(x.get_string()) : "null");
        } else
            types.push_back("string");
        result r;
        for (auto type : types)
            max_into(r, of_type(s, type, depth));
        return r;
    }

    result of_type(const json::object& s, std::string_view type, int depth) {
        schema_view sv{s};
        if (type == "null" || type == "boolean")
            return {5, false};
        if (type == "integer" || type == "number")
            return {32, false};
        if (type == "string")
            return {add(sv.min_length(), 40), false};
        if (type == "array") {
            std::uint64_t n = sv.max_items(depth);
            result r{2, false};
            const json::value* prefix = s.if_contains("prefixItems");
            const json::value* items = s.if_contains("items");
            std::uint64_t done = 0;
            if (prefix && prefix->is_array())
                for (const auto& p : prefix->get_array()) {
                    if (done == n)
                        break;
                    add_into(r, of(p, depth + 1));
                    ++done;
                }
            if (n > done) {
                result each = of(items ? *items : any_schema(), depth + 1);
                each.bytes = add(each.bytes, 1);
                add_into(r, each, n - done);
            }
            return r;
        }
        result r{2, false};
        const json::object* props = nullptr;
        if (auto* p = s.if_contains("properties"); p && p->is_object())
            props = &p->get_object();
        if (props)
            for (const auto& [name, sub] : *props)
                if (depth < max_depth || sv.is_required(name)) {
                    result one = of(sub, depth + 1);
                    one.bytes = add(one.bytes, text_size(name) + 2);
                    add_into(r, one);
                }
        if (auto* ap = s.if_contains("additionalProperties");
            ap && ap->is_object() && !props && depth < max_depth) {
            result one = of(*ap, depth + 1);
            one.bytes = add(one.bytes, 16);
            add_into(r, one, 2);
        }
        return r;
    }

    const json::value& root_;
    std::map<std::pair<const json::value*, int>, result> memo_;
};

// Walks every subschema (properties, items, prefixItems, anyOf, oneOf, allOf,
// additionalProperties, $defs, definitions) and checks the emulator's per-keyword limits.
class keyword_check {
public:
    explicit keyword_check(const json::value& root) : root_(root) {}

    std::optional<std::string> walk(const json::value& schema, const std::string& path,
                                    int nesting) {
        if (!schema.is_object())
            return std::nullopt;
        if (nesting > 2 * max_schema_depth)
            return path + ": the schema nests deeper than the emulator's limit";
        const auto& s = schema.get_object();
        auto fail = [&](const char* key, std::string why) -> std::optional<std::string> {
            return (path.empty() ? std::string() : path + ".") + key + ": " + std::move(why);
        };
        for (const char* key : {"minLength", "maxLength", "minItems", "maxItems"}) {
            auto v = num(s, key);
            if (!v)
                continue;
            if (!std::isfinite(*v) || *v < 0)
                return fail(key, "must be a non-negative finite number");
            double cap = key[3] == 'L' ? max_min_length : max_min_items;
            if (key[1] == 'i' && *v > cap)
                return fail(key, format(*v) + " is above the emulator's limit of " + format(cap));
        }
        for (const char* key : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}) {
            auto v = num(s, key);
            if (v && !(std::isfinite(*v) && std::fabs(*v) <= max_abs_bound))
                return fail(key, "the emulator supports finite bounds within +-2^53 "
                                 "(9007199254740992)");
        }
        if (auto* ref = s.if_contains("$ref");
            ref && ref->is_string() && !resolve_ref(root_, ref->get_string())) {
            // Appended, not "\"" + std::string(...): in this translation unit g++ 12 at -O3
            // reports a false -Wrestrict in std::operator+ (GCC bug 105651).
            std::string why = "\"";
            why += ref->get_string();
            why += "\" does not resolve (the emulator resolves #, #/$defs/NAME and "
                   "#/definitions/NAME)";
            return fail("$ref", std::move(why));
        }
        for (const char* key : {"items", "additionalProperties"})
            if (auto* sub = s.if_contains(key))
                if (auto e = walk(*sub, join(path, key), nesting + 1))
                    return e;
        for (const char* key : {"prefixItems", "anyOf", "oneOf", "allOf"})
            if (auto* a = s.if_contains(key); a && a->is_array())
                for (std::size_t i = 0; i < a->get_array().size(); ++i)
                    if (auto e = walk(a->get_array()[i], join(path, key) + "." + std::to_string(i),
                                      nesting + 1))
                        return e;
        for (const char* key : {"properties", "$defs", "definitions"})
            if (auto* o = s.if_contains(key); o && o->is_object())
                for (const auto& [name, sub] : o->get_object())
                    if (auto e = walk(sub, join(path, key) + "." + std::string(name), nesting + 1))
                        return e;
        return std::nullopt;
    }

private:
    static std::string join(const std::string& path, const char* key) {
        return path.empty() ? std::string(key) : path + "." + key;
    }
    static std::string format(double d) {
        return aibatch::detail::c_format(d, 17); // with a point whatever the locale
    }

    const json::value& root_;
};

} // namespace

std::optional<std::string> check_schema(const json::value& schema) {
    if (auto e = keyword_check(schema).walk(schema, "", 0))
        return e;
    auto r = size_estimate(schema).of(schema, 0);
    if (r.too_deep)
        return "the schema nests deeper than " + std::to_string(max_schema_depth) +
               " levels when an answer is generated: a $ref cycle (or recursion through "
               "required properties) has no finite answer";
    if (r.bytes > max_generated_bytes)
        return "an answer conforming to the schema could be larger than the emulator's limit of " +
               std::to_string(max_generated_bytes) +
               " bytes; lower minItems, minLength or the nesting";
    return std::nullopt;
}

} // namespace aibatch::emulator
