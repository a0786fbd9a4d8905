#include "schema_values.hpp"

#include "rng.hpp"
#include "schema_reading.hpp"

#include <algorithm>
#include <cmath>

namespace aibatch::emulator {

namespace json = boost::json;

namespace {

using namespace schema_reading;

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

} // namespace

json::value generate_conforming(const json::value& schema, std::uint64_t seed) {
    return generator(schema, seed).gen(schema, 0);
}

} // namespace aibatch::emulator
