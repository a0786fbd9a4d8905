#include "prompt_cache.hpp"

#include "rng.hpp"

#include <aibatch/api/models.hpp>

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <string>

namespace aibatch::emulator {

namespace json = boost::json;

namespace {

// As the simulated model counts (simulated_model.cpp count_input_tokens): about 4
// characters a token.
std::uint64_t tokens_for(std::uint64_t chars) {
    return (chars + 3) / 4;
}

// The characters a content block adds to a message's count: its text and a newline.
std::uint64_t block_chars(const json::value& block) {
    if (block.is_object())
        if (const auto* t = block.get_object().if_contains("text"); t && t->is_string())
            return t->get_string().size() + 1;
    return 0;
}

const json::value* marker_of(const json::value& v) {
    if (!v.is_object())
        return nullptr;
    const auto* cc = v.get_object().if_contains("cache_control");
    return cc && !cc->is_null() ? cc : nullptr;
}

// A block's JSON without its cache_control: the marker is not part of the cached content.
std::string content_of(const json::value& v) {
    if (!marker_of(v))
        return json::serialize(v);
    json::object copy = v.get_object();
    copy.erase("cache_control");
    return json::serialize(copy);
}

// One breakpoint as the walk meets it.
struct marker {
    std::string path; ///< "system.0.cache_control"
    const json::value* value = nullptr;
    std::uint64_t chars = 0; ///< of the prefix up to and including its block
    std::uint64_t key = 0;   ///< with `hash`: of the model and the prefix
};

// Every cache_control of params, in the API's order (tools, system, messages, then the
// top-level one on the last block), with the characters of each prefix counted as
// count_input_tokens() counts them; with `hash`, the key of each prefix too.
template <class F>
void walk(const json::object& p, bool hash, F&& on_marker) {
    std::uint64_t h = 0;
    auto mix = [&](std::string_view bytes) {
        if (hash)
            h = hash_bytes(bytes, h);
    };
    if (hash) {
        std::string model = "model:";
        if (const auto* m = p.if_contains("model"); m && m->is_string()) {
            const model_info* info = find_model(m->get_string());
            model += info ? std::string(info->api_id()) : std::string(m->get_string());
        }
        mix(model);
    }
    std::uint64_t before = 0; // characters of the sections already passed
    auto section = [&](const char* name, const json::value* v) {
        if (!v)
            return;
        mix(name);
        if (v->is_string()) {
            mix(v->get_string());
            before += v->get_string().size();
            return;
        }
        if (!v->is_array()) {
            mix(json::serialize(*v));
            before += json::serialize(*v).size();
            return;
        }
        // serialize(array) is "[" + the elements joined by "," + "]".
        const auto& a = v->get_array();
        std::uint64_t chars = before + 1;
        for (std::size_t i = 0; i < a.size(); ++i) {
            const json::value* cc = marker_of(a[i]);
            chars += (cc ? json::serialize(a[i]).size() : 0) + 1;
            if (cc || hash) {
                std::string s = content_of(a[i]);
                if (!cc)
                    chars += s.size();
                mix(s);
            } else {
                chars += json::serialize(a[i]).size();
            }
            if (cc)
                on_marker(marker{std::string(name) + "." + std::to_string(i) + ".cache_control", cc,
                                 chars, h});
        }
        before += a.empty() ? 2 : chars - before;
    };
    section("tools", p.if_contains("tools"));
    section("system", p.if_contains("system"));
    if (const auto* msgs = p.if_contains("messages"); msgs && msgs->is_array()) {
        const auto& ma = msgs->get_array();
        for (std::size_t m = 0; m < ma.size(); ++m) {
            if (!ma[m].is_object() || !ma[m].get_object().contains("content"))
                continue;
            const auto& mo = ma[m].get_object();
            if (const auto* role = mo.if_contains("role"); role && role->is_string())
                mix(role->get_string());
            before += 8;
            const auto& content = mo.at("content");
            if (content.is_string()) {
                mix(content.get_string());
                before += content.get_string().size();
                continue;
            }
            if (!content.is_array())
                continue;
            const auto& blocks = content.get_array();
            for (std::size_t b = 0; b < blocks.size(); ++b) {
                before += block_chars(blocks[b]);
                const json::value* cc = marker_of(blocks[b]);
                if (hash)
                    mix(content_of(blocks[b]));
                if (cc)
                    on_marker(marker{"messages." + std::to_string(m) + ".content." +
                                         std::to_string(b) + ".cache_control",
                                     cc, before, h});
            }
        }
    }
    if (const auto* top = p.if_contains("cache_control"); top && !top->is_null())
        on_marker(marker{"cache_control", top, before, h});
}

bool one_hour(const json::value& cc) {
    const auto* ttl = cc.get_object().if_contains("ttl");
    return ttl && *ttl == "1h";
}

std::optional<item_error> marker_problem(const marker& m) {
    auto bad = [](std::string msg) { return item_error{"invalid_request_error", std::move(msg)}; };
    if (!m.value->is_object())
        return bad(m.path + ": Input should be a valid dictionary");
    const auto& o = m.value->get_object();
    const auto* type = o.if_contains("type");
    if (!type)
        return bad(m.path + ": Input tag not found; expected 'ephemeral'");
    if (*type != "ephemeral")
        return bad(m.path + ": Input tag " + json::serialize(*type) +
                   " found using 'type' does not match any of the expected tags: 'ephemeral'");
    for (const auto& kv : o) {
        if (kv.key() == "ttl") {
            if (kv.value() != "5m" && kv.value() != "1h")
                return bad(m.path + ".ttl: Input should be '5m' or '1h'");
        } else if (kv.key() != "type") {
            return bad(m.path + "." + std::string(kv.key()) + ": Extra inputs are not permitted");
        }
    }
    return std::nullopt;
}

} // namespace

bool has_cache_control(const json::object& p) {
    if (p.contains("cache_control"))
        return true;
    auto any_in = [](const json::value* v) {
        return v && v->is_array() &&
               std::any_of(v->get_array().begin(), v->get_array().end(),
                           [](const json::value& e) { return marker_of(e) != nullptr; });
    };
    if (any_in(p.if_contains("tools")) || any_in(p.if_contains("system")))
        return true;
    if (const auto* msgs = p.if_contains("messages"); msgs && msgs->is_array())
        for (const auto& m : msgs->get_array())
            if (m.is_object() && any_in(m.get_object().if_contains("content")))
                return true;
    return false;
}

std::vector<breakpoint> read_breakpoints(const json::object& params) {
    std::vector<breakpoint> out;
    if (!has_cache_control(params))
        return out;
    walk(params, true, [&](const marker& m) {
        out.push_back(breakpoint{tokens_for(m.chars), m.key, one_hour(*m.value)});
    });
    return out;
}

std::optional<item_error> cache_control_problem(const json::object& params) {
    if (!has_cache_control(params))
        return std::nullopt;
    std::vector<marker> markers;
    walk(params, false, [&](const marker& m) { markers.push_back(m); });
    for (const auto& m : markers)
        if (auto e = marker_problem(m))
            return e;
    // The wording of both messages is the API's, as quoted in users' reports
    // (tghamm/Anthropic.SDK#50; cnighswonger/claude-code-cache-fix#44).
    if (markers.size() > 4)
        return item_error{"invalid_request_error",
                          "A maximum of 4 blocks with cache_control may be provided. Found " +
                              std::to_string(markers.size()) + "."};
    bool five_minutes = false;
    for (const auto& m : markers) {
        if (one_hour(*m.value) && five_minutes)
            return item_error{"invalid_request_error",
                              m.path +
                                  ".ttl: a ttl='1h' cache_control block must not come after a "
                                  "ttl='5m' cache_control block. Note that blocks are processed "
                                  "in the following order: `tools`, `system`, `messages`."};
        five_minutes = five_minutes || !one_hour(*m.value);
    }
    return std::nullopt;
}

std::uint64_t min_cacheable_tokens(std::string_view model) {
    // The prompt-caching docs' "minimum cacheable prompt length", as quoted in
    // anthropics/anthropic-sdk-python#1194; Opus 4.7 from a later summary of the docs
    // (dev.to, "Claude's prompt cache fails silently below 1,024 tokens"). Any other
    // model: 1,024.
    const model_info* m = find_model(model);
    const std::string_view alias = m ? m->alias : model;
    if (alias == "claude-haiku-4-5" || alias == "claude-opus-4-5" || alias == "claude-opus-4-6")
        return 4096;
    if (alias == "claude-opus-4-7" || alias == "claude-3-haiku-20240307")
        return 2048;
    return 1024;
}

cache_usage prompt_cache::use(const json::object& params, clock::time_point now) {
    const std::vector<breakpoint> bps = read_breakpoints(params);
    if (bps.empty())
        return {};
    std::uint64_t min = 1024;
    if (const auto* m = params.if_contains("model"); m && m->is_string())
        min = min_cacheable_tokens(m->get_string());
    auto alive = [&](const breakpoint& bp) {
        auto it = entries_.find(bp.key);
        return it != entries_.end() && it->second.created <= now && now < it->second.expires;
    };
    std::uint64_t a = 0, b = 0, c = 0;
    for (const auto& bp : bps)
        if (bp.tokens >= min && alive(bp))
            a = std::max(a, bp.tokens);
    b = a;
    c = a;
    for (const auto& bp : bps) {
        if (bp.tokens < min || bp.tokens <= a)
            continue;
        if (bp.one_hour)
            b = std::max(b, bp.tokens);
        c = std::max(c, bp.tokens);
    }
    // Written: every breakpoint past what was read; refreshed: what was read.
    for (const auto& bp : bps) {
        if (bp.tokens < min || (bp.tokens <= a && !alive(bp)))
            continue;
        const auto expires =
            now + (bp.one_hour
                       ? std::chrono::duration_cast<clock::duration>(std::chrono::hours(1))
                       : std::chrono::duration_cast<clock::duration>(std::chrono::minutes(5)));
        auto [it, fresh] = entries_.try_emplace(bp.key, entry{now, expires});
        if (!fresh) {
            if (now >= it->second.expires) // expired: a new entry
                it->second = entry{now, expires};
            it->second.created = std::min(it->second.created, now);
            it->second.expires = std::max(it->second.expires, expires);
        }
    }
    if (entries_.size() > 65536)
        std::erase_if(entries_, [&](const auto& kv) { return kv.second.expires <= now; });
    return cache_usage{a, c - b, b - a};
}

} // namespace aibatch::emulator
