#include <aibatch/api/messages.hpp>
#include <aibatch/error.hpp>

#include <boost/json/serialize.hpp>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace aibatch {

namespace json = boost::json;

turn user(std::string text) {
    return turn{role::user, std::move(text), {}};
}
turn assistant(std::string text) {
    return turn{role::assistant, std::move(text), {}};
}

json::object message_params::to_json() const {
    json::object o;
    o["model"] = model;
    o["max_tokens"] = max_tokens;
    json::array msgs;
    msgs.reserve(messages.size());
    for (const auto& t : messages) {
        json::object m;
        m["role"] = t.role == role::user ? "user" : "assistant";
        if (t.blocks.empty())
            m["content"] = t.text;
        else
            m["content"] = t.blocks;
        msgs.push_back(std::move(m));
    }
    o["messages"] = std::move(msgs);
    if (system && system_cache == prompt_cache::off) {
        o["system"] = *system;
    } else if (system) {
        json::object cc{{"type", "ephemeral"}};
        if (system_cache == prompt_cache::one_hour)
            cc["ttl"] = "1h";
        o["system"] = json::array{
            json::object{{"type", "text"}, {"text", *system}, {"cache_control", std::move(cc)}}};
    }
    if (!tools.empty()) {
        json::array ts;
        for (const auto& t : tools) {
            json::object to{{"name", t.name}, {"input_schema", t.input_schema}};
            if (!t.description.empty())
                to["description"] = t.description;
            ts.push_back(std::move(to));
        }
        o["tools"] = std::move(ts);
    }
    if (tool_choice) {
        json::object tc{{"type", tool_choice->type}};
        if (!tool_choice->name.empty())
            tc["name"] = tool_choice->name;
        if (tool_choice->disable_parallel_tool_use)
            tc["disable_parallel_tool_use"] = *tool_choice->disable_parallel_tool_use;
        o["tool_choice"] = std::move(tc);
    }
    if (temperature)
        o["temperature"] = *temperature;
    if (top_p)
        o["top_p"] = *top_p;
    if (top_k)
        o["top_k"] = *top_k;
    if (!stop_sequences.empty()) {
        json::array ss;
        for (const auto& s : stop_sequences)
            ss.emplace_back(s);
        o["stop_sequences"] = std::move(ss);
    }
    if (metadata_user_id)
        o["metadata"] = json::object{{"user_id", *metadata_user_id}};
    if (output_schema)
        o["output_config"] = json::object{
            {"format", json::object{{"type", "json_schema"}, {"schema", *output_schema}}}};
    for (const auto& kv : extra)
        o[kv.key()] = kv.value();
    return o;
}

namespace {

// The first byte at or after p that a JSON string must escape: '"', '\\' or below 0x20.
const char* next_to_escape(const char* p, const char* e) noexcept {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i slash = _mm_set1_epi8('\\');
    const __m128i control = _mm_set1_epi8(0x1F);
    auto hits = [&](const char* at) {
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at));
        // unsigned v <= 0x1F: min(v, 0x1F) == v
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, slash)),
                                   _mm_cmpeq_epi8(_mm_min_epu8(v, control), v));
        return static_cast<unsigned>(_mm_movemask_epi8(hit));
    };
    if (e - p >= 16) {
        const char* const last = e - 16;
        for (;;) {
            if (unsigned m = hits(p))
                return p + __builtin_ctz(m);
            p += 16;
            if (p >= last)
                break;
        }
        // The last 16 bytes of the string, overlapping what was scanned: the bytes
        // before p are known clean (masked off).
        if (p == e)
            return e;
        const unsigned seen = static_cast<unsigned>(p - last);
        if (unsigned m = hits(last) >> seen << seen)
            return last + __builtin_ctz(m);
        return e;
    }
#endif
    for (; p != e; ++p) {
        auto c = static_cast<unsigned char>(*p);
        if (c < 0x20 || c == '"' || c == '\\')
            break;
    }
    return p;
}

} // namespace

void append_json_string(std::string_view s, std::string& out) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    const char* p = s.data();
    const char* const e = p + s.size();
    for (;;) {
        const char* q = next_to_escape(p, e);
        out.append(p, static_cast<std::size_t>(q - p));
        if (q == e)
            break;
        auto c = static_cast<unsigned char>(*q);
        p = q + 1;
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\b':
            out += "\\b";
            break;
        case '\f':
            out += "\\f";
            break;
        default:
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    out += '"';
}

namespace {

constexpr std::string_view user_turn = R"({"role":"user","content":)";
constexpr std::string_view assistant_turn = R"({"role":"assistant","content":)";

} // namespace

std::size_t json_string_size(std::string_view s) noexcept {
    // As append_json_string: two quotes, the bytes, and per escaped byte its escape's
    // extra length (a named escape is two bytes, \u00XX six).
    std::size_t n = 2 + s.size();
    const char* p = s.data();
    const char* const e = p + s.size();
    for (;;) {
        p = next_to_escape(p, e);
        if (p == e)
            return n;
        switch (*p++) {
        case '"':
        case '\\':
        case '\n':
        case '\r':
        case '\t':
        case '\b':
        case '\f':
            n += 1;
            break;
        default:
            n += 5;
        }
    }
}

void append_messages_json(const conversation& c, std::string& out) {
    out += '[';
    bool first = true;
    for (const auto& t : c) {
        if (!first)
            out += ',';
        first = false;
        out += t.role == role::user ? user_turn : assistant_turn;
        if (t.blocks.empty())
            append_json_string(t.text, out);
        else
            out += json::serialize(t.blocks);
        out += '}';
    }
    out += ']';
}

std::size_t messages_json_size(const conversation& c) {
    // As append_messages_json, turn by turn.
    std::size_t n = 2; // [ ]
    bool first = true;
    for (const auto& t : c) {
        if (!first)
            n += 1; // ,
        first = false;
        n += (t.role == role::user ? user_turn : assistant_turn).size();
        n += t.blocks.empty() ? json_string_size(t.text) : json::serialize(t.blocks).size();
        n += 1; // }
    }
    return n;
}

params_template::params_template(const message_params& proto) {
    message_params p = proto;
    p.messages.clear();
    std::string whole = json::serialize(p.to_json());
    // "model" and "max_tokens" come first and hold no bare quote, so the first structural
    // "messages":[] is ours.
    constexpr std::string_view key = R"("messages":[])";
    auto pos = whole.find(key);
    if (pos == std::string::npos)
        throw error(errc::invalid_argument, "params_template: no messages array in the params");
    prefix_ = whole.substr(0, pos + key.size() - 2);
    suffix_ = whole.substr(pos + key.size());
}

void params_template::append(const conversation& messages, std::string& out) const {
    out += prefix_;
    append_messages_json(messages, out);
    out += suffix_;
}

std::size_t params_template::size(const conversation& messages) const {
    return prefix_.size() + messages_json_size(messages) + suffix_.size();
}

usage& usage::operator+=(const usage& o) {
    input_tokens += o.input_tokens;
    output_tokens += o.output_tokens;
    cache_creation_input_tokens += o.cache_creation_input_tokens;
    cache_creation_1h_input_tokens += o.cache_creation_1h_input_tokens;
    cache_read_input_tokens += o.cache_read_input_tokens;
    if (service_tier.empty())
        service_tier = o.service_tier;
    return *this;
}

namespace {

std::uint64_t count(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (!v)
        return 0;
    if (v->is_uint64())
        return v->get_uint64();
    if (v->is_int64() && v->get_int64() >= 0)
        return static_cast<std::uint64_t>(v->get_int64());
    return 0;
}

std::string str(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

} // namespace

usage usage_from_json(const json::value& v) {
    usage u;
    if (!v.is_object())
        return u;
    const auto& o = v.get_object();
    u.input_tokens = count(o, "input_tokens");
    u.output_tokens = count(o, "output_tokens");
    u.cache_creation_input_tokens = count(o, "cache_creation_input_tokens");
    u.cache_read_input_tokens = count(o, "cache_read_input_tokens");
    if (const auto* cc = o.if_contains("cache_creation"); cc && cc->is_object())
        u.cache_creation_1h_input_tokens = count(cc->get_object(), "ephemeral_1h_input_tokens");
    u.service_tier = str(o, "service_tier");
    return u;
}

message message::from_json(const json::value& v) {
    if (!v.is_object())
        throw error(errc::bad_response, "a message is not a JSON object");
    const auto& o = v.get_object();
    message m;
    m.id = str(o, "id");
    m.model = str(o, "model");
    m.stop_reason = str(o, "stop_reason");
    if (const auto* ss = o.if_contains("stop_sequence"); ss && ss->is_string())
        m.stop_sequence = std::string(ss->get_string());
    const auto* content = o.if_contains("content");
    if (!content || !content->is_array())
        throw error(errc::bad_response, "message " + m.id + " has no content array");
    for (const auto& b : content->get_array()) {
        if (!b.is_object())
            continue;
        const auto& bo = b.get_object();
        content_block cb;
        cb.type = str(bo, "type");
        cb.text = str(bo, "text");
        cb.id = str(bo, "id");
        cb.name = str(bo, "name");
        if (const auto* in = bo.if_contains("input"))
            cb.input = *in;
        m.content.push_back(std::move(cb));
    }
    if (const auto* u = o.if_contains("usage"))
        m.usage = usage_from_json(*u);
    return m;
}

} // namespace aibatch
