#include "schema_values.hpp"

#include "rng.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <vector>

namespace aibatch::emulator {

namespace json = boost::json;

namespace {

// Below this depth the generator fills optional parts; from it on it takes the shortest
// way out (null alternatives, no optional properties, minItems items).
constexpr int max_depth = 6;

// Sizes of the output, saturating instead of overflowing.
constexpr std::uint64_t size_cap = std::uint64_t{1} << 62;
std::uint64_t add(std::uint64_t a, std::uint64_t b) {
    return a > size_cap - std::min(b, size_cap) ? size_cap : a + b;
}
std::uint64_t mul(std::uint64_t a, std::uint64_t b) {
    return b != 0 && a > size_cap / b ? size_cap : a * b;
}

// At least the size of s as a JSON string (quotes and escapes: \u00XX is the longest).
std::uint64_t text_size(std::string_view s) {
    std::uint64_t n = 2;
    for (char c : s)
        n += static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\' ? 6 : 1;
    return n;
}

// At least the size of v as JSON text; stops counting past `limit`.
std::uint64_t json_size(const json::value& v, std::uint64_t limit) {
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

std::optional<double> num(const json::object& s, const char* key) {
    if (auto* v = s.if_contains(key); v && v->is_number())
        return v->to_number<double>();
    return std::nullopt;
}

// A count keyword (minLength, maxItems, ...) as a size: absent or not finite = `dflt`,
// clamped to [0, cap].
std::size_t count(const json::object& s, const char* key, std::size_t dflt, double cap) {
    auto v = num(s, key);
    if (!v || !std::isfinite(*v))
        return dflt;
    if (*v <= 0)
        return 0;
    return static_cast<std::size_t>(std::min(*v, cap));
}

// A numeric bound (minimum, ...): absent or not finite = nullopt, clamped to +-2^53.
std::optional<double> bound(const json::object& s, const char* key) {
    auto v = num(s, key);
    if (!v || !std::isfinite(*v))
        return std::nullopt;
    return std::clamp(*v, -max_abs_bound, max_abs_bound);
}

constexpr double max_length_cap = double(std::size_t{1} << 20);
constexpr double max_items_cap = 1e9;

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

const json::value& any_schema() {
    static const json::value any = json::object();
    return any;
}

// $ref targets: "#", "#/$defs/NAME" and "#/definitions/NAME"; nullptr when unresolved.
const json::value* resolve_ref(const json::value& root, std::string_view ref) {
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

bool is_null_schema(const json::value& alt) {
    return alt.is_object() && alt.get_object().contains("type") &&
           alt.get_object().at("type") == "null";
}

// Which keyword of a schema object decides the value (in the generator's order).
enum class rule { ref, constant, enumeration, alternatives, all_of, typed };

struct decision {
    rule what = rule::typed;
    const json::value* arg = nullptr; ///< the $ref string, const, enum or alternatives
};

decision decide(const json::object& s) {
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

class generator {
public:
    generator(const json::value& root, std::uint64_t seed) : root_(root), rng_(seed) {}

    json::value gen(const json::value& schema, int depth) {
        // Past the limits (which check_schema() keeps a request from reaching): null.
        if (depth > max_schema_depth || used_ > max_generated_bytes)
            return nullptr;
        used_ += 8;
        if (!schema.is_object())
            return json::value(nullptr); // `true` schema: anything; null is simplest
        const auto& s = schema.get_object();
        decision d = decide(s);
        switch (d.what) {
        case rule::ref: {
            const json::value* target = resolve_ref(root_, d.arg->get_string());
            return gen(target ? *target : any_schema(), depth + 1);
        }
        case rule::constant:
            used_ += json_size(*d.arg, max_generated_bytes);
            return *d.arg;
        case rule::enumeration: {
            const auto& a = d.arg->get_array();
            const auto& pick = a[rng_.below(a.size())];
            used_ += json_size(pick, max_generated_bytes);
            return pick;
        }
        case rule::alternatives: {
            const auto& a = d.arg->get_array();
            // Deep down, prefer a null alternative to stop recursion.
            if (depth >= max_depth)
                for (const auto& alt : a)
                    if (is_null_schema(alt))
                        return nullptr;
            return gen(a[rng_.below(a.size())], depth + 1);
        }
        case rule::all_of:
            return gen(d.arg->get_array()[0], depth + 1);
        case rule::typed:
            break;
        }
        std::string type = pick_type(s, depth);
        if (type == "null")
            return nullptr;
        if (type == "boolean")
            return rng_.coin();
        if (type == "integer" || type == "number")
            used_ += 24; // the longest number the two generate
        if (type == "integer")
            return gen_integer(s);
        if (type == "number")
            return gen_number(s);
        if (type == "string")
            return gen_string(s);
        if (type == "array")
            return gen_array(s, depth);
        return gen_object(s, depth);
    }

private:
    std::string pick_type(const json::object& s, int depth) {
        const json::value* t = s.if_contains("type");
        if (!t) {
            if (s.contains("properties"))
                return "object";
            if (s.contains("items"))
                return "array";
            return "string";
        }
        if (t->is_string())
            return std::string(t->get_string());
        if (t->is_array() && !t->get_array().empty()) {
            const auto& a = t->get_array();
            if (depth >= max_depth)
                for (const auto& x : a)
                    if (x == "null")
                        return "null";
            const auto& chosen = a[rng_.below(a.size())];
            return chosen.is_string() ? std::string(chosen.get_string()) : "null";
        }
        return "string";
    }

    json::value gen_integer(const json::object& s) {
        double lo = bound(s, "minimum").value_or(0), hi = bound(s, "maximum").value_or(100);
        if (auto x = bound(s, "exclusiveMinimum"))
            lo = std::floor(*x) + 1;
        if (auto x = bound(s, "exclusiveMaximum"))
            hi = std::ceil(*x) - 1;
        // Within +-2^53 + 1: exact in int64, and h - l + 1 fits in uint64.
        auto l = static_cast<std::int64_t>(std::ceil(lo));
        auto h = static_cast<std::int64_t>(std::floor(hi));
        if (h < l)
            h = l;
        return l + static_cast<std::int64_t>(rng_.below(static_cast<std::uint64_t>(h - l) + 1));
    }

    json::value gen_number(const json::object& s) {
        double lo = bound(s, "minimum").value_or(0), hi = bound(s, "maximum").value_or(1);
        if (auto x = bound(s, "exclusiveMinimum"))
            lo = *x + (hi - *x) * 0.001;
        if (auto x = bound(s, "exclusiveMaximum"))
            hi = *x - (*x - lo) * 0.001;
        if (hi < lo)
            hi = lo;
        double f = static_cast<double>(rng_.below(1000)) / 1000.0;
        return std::round((lo + (hi - lo) * f) * 1000.0) / 1000.0;
    }

    json::value gen_string(const json::object& s) {
        schema_view sv{s};
        std::size_t min_len = sv.min_length();
        std::size_t max_len = sv.max_length();
        std::string out;
        if (auto* f = s.if_contains("format"); f && *f == "date-time")
            out = "2026-01-15T12:00:00Z";
        while (out.size() < min_len || (out.size() < 12 && out.size() < max_len)) {
            if (!out.empty())
                out += ' ';
            out += sample_words[rng_.below(sample_words.size())];
        }
        if (out.size() > max_len)
            out.resize(max_len);
        while (out.size() < min_len)
            out += 'x';
        used_ += out.size();
        return json::string(out);
    }

    json::value gen_array(const json::object& s, int depth) {
        schema_view sv{s};
        std::size_t lo = sv.min_items(), hi = sv.max_items(depth);
        std::size_t n = lo + rng_.below(hi - lo + 1);
        json::array a;
        const json::value* prefix = s.if_contains("prefixItems");
        const json::value* items = s.if_contains("items");
        for (std::size_t i = 0; i < n && used_ <= max_generated_bytes; ++i) {
            if (prefix && prefix->is_array() && i < prefix->get_array().size())
                a.push_back(gen(prefix->get_array()[i], depth + 1));
            else
                a.push_back(gen(items ? *items : any_schema(), depth + 1));
        }
        return a;
    }

    json::value gen_object(const json::object& s, int depth) {
        schema_view sv{s};
        json::object o;
        const json::object* props = nullptr;
        if (auto* p = s.if_contains("properties"); p && p->is_object())
            props = &p->get_object();
        if (props)
            for (const auto& [name, sub] : *props)
                if (sv.is_required(name) || (depth < max_depth && rng_.coin())) {
                    used_ += text_size(name) + 2;
                    o[name] = gen(sub, depth + 1);
                }
        if (auto* ap = s.if_contains("additionalProperties"); ap && ap->is_object() && !props) {
            std::size_t n = depth >= max_depth ? 0 : rng_.below(3);
            for (std::size_t i = 0; i < n; ++i) {
                used_ += 16;
                o[std::string(sample_words[rng_.below(sample_words.size())]) + std::to_string(i)] =
                    gen(*ap, depth + 1);
            }
        }
        return o;
    }

    const json::value& root_;
    rng rng_;
    std::uint64_t used_ = 0; ///< about the bytes generated so far
};

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
            return (path.empty() ? std::string() : path + ".") + key + ": " + why;
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
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.17g", d);
        return buf;
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

json::value generate_conforming(const json::value& schema, std::uint64_t seed) {
    return generator(schema, seed).gen(schema, 0);
}

} // namespace aibatch::emulator
