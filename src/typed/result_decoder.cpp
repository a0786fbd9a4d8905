// The single pass over a result line: fast_json reads the text, the envelope by a small
// state machine (the handler), the tool input by the typed streaming decoder. Anything
// unusual answers needs_tree, and the caller reads the line through
// result_line::from_json and read_output<T> instead.
#include "fast_json.hpp"
#include "stream_decoder.hpp"

#include <aibatch/typed/result_decoder.hpp>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

namespace aibatch::detail {

namespace {

using boost::json::string_view;
using boost::system::error_code;

// Objects the pass looks into; everything else is skipped.
enum class place : unsigned char {
    root,        // {"custom_id","result"}
    result,      // {"type","message","error"}
    message,     // {"content","stop_reason","usage","id"}
    content,     // [block...]
    block,       // {"type","name","input","text"}
    usage,       // {"input_tokens",...,"service_tier","cache_creation"}
    cache_split, // usage.cache_creation: {"ephemeral_1h_input_tokens"}
    error_outer, // {"type":"error","error":{...},"request_id"}
    error_inner, // {"type","message"}
};

// k is the literal: its length first, then a compare of a length the compiler knows,
// which it inlines (string_view's == calls memcmp).
template <std::size_t N>
[[gnu::always_inline]] inline bool is(std::string_view k, const char (&lit)[N]) noexcept {
    constexpr std::size_t n = N - 1;
    if (k.size() != n)
        return false;
    // 8, 4, 2 and 1 bytes at a time (GCC calls memcmp for a compare of this size)
    const char* a = k.data();
    std::size_t i = 0;
    auto same = [&]<class W>(W) {
        W x, y;
        std::memcpy(&x, a + i, sizeof(W));
        std::memcpy(&y, lit + i, sizeof(W));
        i += sizeof(W);
        return x == y;
    };
    for (; i + 8 <= n;)
        if (!same(std::uint64_t{}))
            return false;
    if constexpr (n % 8 >= 4)
        if (!same(std::uint32_t{}))
            return false;
    if constexpr (n % 4 >= 2)
        if (!same(std::uint16_t{}))
            return false;
    if constexpr (n % 2 == 1)
        if (!same(std::uint8_t{}))
            return false;
    return true;
}

// The index of a key among those a place reads, or -1: the length picks the one
// candidate, one compare of a known length tells (keys of no interest mostly fail on
// the length alone).
[[gnu::always_inline]] inline int key_index(place p, std::string_view k) noexcept {
    switch (p) {
    case place::root:
        return is(k, "custom_id") ? 0 : is(k, "result") ? 1 : -1;
    case place::result:
        switch (k.size()) {
        case 4:
            return is(k, "type") ? 0 : -1;
        case 7:
            return is(k, "message") ? 1 : -1;
        case 5:
            return is(k, "error") ? 2 : -1;
        default:
            return -1;
        }
    case place::message:
        switch (k.size()) {
        case 7:
            return is(k, "content") ? 0 : -1;
        case 11:
            return is(k, "stop_reason") ? 1 : -1;
        case 5:
            return is(k, "usage") ? 2 : -1;
        case 2:
            return is(k, "id") ? 3 : -1;
        default:
            return -1;
        }
    case place::block:
        switch (k.size()) {
        case 4:
            return is(k, "type") ? 0 : is(k, "name") ? 1 : is(k, "text") ? 3 : -1;
        case 5:
            return is(k, "input") ? 2 : -1;
        default:
            return -1;
        }
    case place::usage:
        switch (k.size()) {
        case 12:
            return is(k, "input_tokens") ? 0 : is(k, "service_tier") ? 4 : -1;
        case 13:
            return is(k, "output_tokens") ? 1 : -1;
        case 14:
            return is(k, "cache_creation") ? 5 : -1;
        case 27:
            return is(k, "cache_creation_input_tokens") ? 2 : -1;
        case 23:
            return is(k, "cache_read_input_tokens") ? 3 : -1;
        default:
            return -1;
        }
    case place::error_outer:
        return is(k, "error")        ? 0
               : is(k, "type")       ? 1
               : is(k, "message")    ? 2
               : is(k, "request_id") ? 3
                                     : -1;
    case place::error_inner:
        return is(k, "type") ? 0 : is(k, "message") ? 1 : -1;
    case place::cache_split:
        return is(k, "ephemeral_1h_input_tokens") ? 0 : -1;
    case place::content:
        break;
    }
    return -1;
}

// What a field of the error held: from_json's opt_string rejects anything but a string
// or null.
enum class str_state : unsigned char { absent, null, string, other };

struct opt_str {
    str_state state = str_state::absent;
    std::string value;
    void set(const scalar& s) {
        if (s.k == scalar::kind::string) {
            state = str_state::string;
            value.assign(s.s.data(), s.s.size());
        } else {
            state = s.k == scalar::kind::null ? str_state::null : str_state::other;
        }
    }
};

std::uint64_t token_count(const scalar& s) {
    if (s.k == scalar::kind::uint64)
        return s.u;
    if (s.k == scalar::kind::int64 && s.i >= 0)
        return static_cast<std::uint64_t>(s.i);
    return 0;
}

// The handler of fast_json (a boost::json::basic_parser handler): the whole state of one
// pass.
struct scan_state {
    static constexpr std::size_t max_object_size = boost::json::object::max_size();
    static constexpr std::size_t max_array_size = boost::json::array::max_size();
    static constexpr std::size_t max_key_size = boost::json::string::max_size();
    static constexpr std::size_t max_string_size = boost::json::string::max_size();

    output_mode mode;
    std::string tool_name;

    // per line: the envelope's strings go straight into the caller's line
    line_envelope env;
    line_head* head = nullptr;
    target input;
    decode_state* st = nullptr;
    bool tree = false; // needs_tree
    bool root_object = false;
    bool has_custom_id = false, has_result = false, has_type = false;
    bool message_object = false, error_object = false;
    // result.type, read as it comes: other is a string that names no result type
    enum class type_name : unsigned char { succeeded, errored, canceled, expired, other };
    type_name type = type_name::other;
    opt_str outer_type, outer_message, request_id, inner_type, inner_message;
    bool inner_object = false;

    // the current content block
    enum class block_kind : unsigned char { unknown, tool_use, text, other };
    block_kind block_type = block_kind::unknown; // unknown: absent or not a string
    bool block_name_string = false, block_name_ours = false, block_text_string = false;
    std::string block_text;
    bool block_has_input = false, block_input_decoded = false;

    struct level {
        place where;
        int field = -1;         // the key whose value comes next (-1: not ours)
        std::uint32_t seen = 0; // keys of ours seen (a repeat needs the tree)
    };
    // The places being read: at most root, result, message, content, block.
    struct level_stack {
        std::array<level, 8> items;
        std::size_t size = 0;
        bool empty() const noexcept { return size == 0; }
        level& back() noexcept { return items[size - 1]; }
        const level& back() const noexcept { return items[size - 1]; }
        void push_back(level l) noexcept { items[size++] = l; }
        void pop_back() noexcept { --size; }
        void clear() noexcept { size = 0; }
    };
    level_stack levels;
    std::size_t skip = 0;
    bool in_input = false;
    stream_decoder dec;
    std::string key, text;

    scan_state(output_mode m, std::string name) : mode(m), tool_name(std::move(name)) {}

    void start(target t, decode_state& s, line_head& out) {
        head = &out;
        // Field by field: the strings keep their storage from line to line.
        head->custom_id.clear();
        env.type = result_type::succeeded;
        head->message_id.clear();
        head->stop_reason.clear();
        env.has_usage = false;
        env.tokens.input_tokens = env.tokens.output_tokens = 0;
        env.tokens.cache_creation_input_tokens = env.tokens.cache_read_input_tokens = 0;
        env.tokens.cache_creation_1h_input_tokens = 0;
        env.tokens.service_tier.clear();
        head->error.type.clear();
        head->error.message.clear();
        head->error.request_id.clear();
        env.tool_found = env.input_decoded = env.text_found = false;
        env.text.clear();
        input = t;
        st = &s;
        tree = root_object = has_custom_id = has_result = has_type = false;
        message_object = error_object = inner_object = false;
        type = type_name::other;
        for (opt_str* o : {&outer_type, &outer_message, &request_id, &inner_type, &inner_message})
            o->state = str_state::absent;
        levels.clear();
        skip = 0;
        in_input = false;
        key.clear();
        text.clear();
    }

    // ---- parser events
    static bool go(bool ok, error_code& ec) {
        if (!ok)
            ec = boost::system::errc::make_error_code(boost::system::errc::operation_canceled);
        return ok;
    }
    bool on_document_begin(error_code&) { return true; }
    bool on_document_end(error_code&) { return true; }
    bool on_number_part(string_view, error_code&) { return true; }
    bool on_comment_part(string_view, error_code&) { return true; }
    bool on_comment(string_view, error_code&) { return true; }

    bool on_array_begin(error_code& ec) {
        if (in_input)
            return forward(dec.on_array_begin(), ec);
        return go(begin(true), ec);
    }
    bool on_object_begin(error_code& ec) {
        if (in_input)
            return forward(dec.on_object_begin(), ec);
        return go(begin(false), ec);
    }
    bool on_array_end(std::size_t n, error_code& ec) {
        if (in_input)
            return forward(dec.on_array_end(n), ec);
        return go(end(), ec);
    }
    bool on_object_end(std::size_t n, error_code& ec) {
        if (in_input)
            return forward(dec.on_object_end(n), ec);
        return go(end(), ec);
    }
    bool on_key_part(string_view s, std::size_t, error_code& ec) {
        if (in_input)
            return forward(dec.on_key_part(s), ec);
        if (skip == 0)
            key.append(s);
        return true;
    }
    [[gnu::always_inline]] bool on_key(string_view s, std::size_t, error_code& ec) {
        if (in_input)
            return forward(dec.on_key(s), ec);
        if (skip > 0)
            return true;
        if (!key.empty())
            return whole_key(s, ec);
        return go(on_field(s), ec);
    }
    // The last part of a key that came in parts.
    [[gnu::noinline]] bool whole_key(string_view s, error_code& ec) {
        key.append(s);
        bool ok = on_field(key);
        key.clear();
        return go(ok, ec);
    }
    bool on_string_part(string_view s, std::size_t, error_code& ec) {
        if (in_input)
            return forward(dec.on_string_part(s), ec);
        if (skip == 0)
            text.append(s);
        return true;
    }
    [[gnu::always_inline]] bool on_string(string_view s, std::size_t, error_code& ec) {
        if (in_input)
            return forward(dec.on_string(s), ec);
        if (skip > 0)
            return true;
        if (!wants_value()) {
            text.clear();
            return true;
        }
        if (text.empty())
            return go(value(scalar::of(std::string_view(s))), ec);
        text.append(s);
        bool ok = value(scalar::of(std::string_view(text)));
        text.clear();
        return go(ok, ec);
    }
    bool on_int64(std::int64_t i, string_view, error_code& ec) { return number(scalar::of(i), ec); }
    bool on_uint64(std::uint64_t u, string_view, error_code& ec) {
        return number(scalar::of(u), ec);
    }
    bool on_double(double d, string_view, error_code& ec) { return number(scalar::of(d), ec); }
    bool on_bool(bool b, error_code& ec) { return number(scalar::of(b), ec); }
    bool on_null(error_code& ec) { return number(scalar::null(), ec); }

    [[gnu::always_inline]] bool number(const scalar& s, error_code& ec) {
        if (in_input)
            return forward(dec.on_scalar(s), ec);
        if (skip > 0 || !wants_value())
            return true;
        return go(value(s), ec);
    }

    // A scalar here is read (or ends the pass); false: a value of no field of ours,
    // which value() would leave as it is.
    bool wants_value() const noexcept { return levels.empty() || levels.back().field >= 0; }

    // An event handed to the typed decoder; the input ends when its value is complete.
    bool forward(bool ok, error_code& ec) {
        if (!ok) {
            tree = true; // a repeated key inside the input
            return go(false, ec);
        }
        if (dec.done()) {
            in_input = false;
            block_input_decoded = true;
            field_done();
        }
        return true;
    }

    // ---- the envelope
    [[gnu::always_inline]] bool on_field(std::string_view k) {
        level& l = levels.back();
        if (l.where == place::content)
            return need_tree(); // a key in an array: not reached with a valid parser
        l.field = key_index(l.where, k);
        if (l.field < 0)
            return true;
        std::uint32_t bit = 1u << l.field;
        if (l.seen & bit)
            return need_tree(); // Boost.JSON keeps the last of repeated keys
        l.seen |= bit;
        return true;
    }

    bool need_tree() {
        tree = true;
        return false;
    }

    // After the value of the current field (or array element).
    void field_done() {
        if (!levels.empty())
            levels.back().field = -1;
    }

    void push(place p) { levels.push_back({p}); }

    // A container starts: descend into the places we read, skip the rest.
    bool begin(bool is_array) {
        if (skip > 0) {
            ++skip;
            return true;
        }
        if (levels.empty()) {
            if (is_array)
                return need_tree(); // "a result line is not a JSON object"
            root_object = true;
            push(place::root);
            return true;
        }
        const level l = levels.back();
        const int f = l.field;
        if (f < 0 && l.where != place::content) {
            skip = 1; // no field of ours
            return true;
        }
        switch (l.where) {
        case place::root:
            if (f == 0)
                return need_tree(); // custom_id is not a string
            if (f == 1) {
                if (is_array)
                    return need_tree();
                has_result = true;
                push(place::result);
                return true;
            }
            break;
        case place::result:
            if (f == 0)
                return need_tree(); // type is not a string
            if (f == 1 && !is_array) {
                message_object = true;
                push(place::message);
                return true;
            }
            if (f == 2 && !is_array) {
                error_object = true;
                push(place::error_outer);
                return true;
            }
            break;
        case place::message:
            if (f == 0 && is_array) {
                push(place::content);
                return true;
            }
            if (f == 2) {
                env.has_usage = true;
                if (!is_array) {
                    push(place::usage);
                    return true;
                }
            }
            if (f == 3)
                head->message_id.clear(); // not a string: as result_identity reads it
            break;
        case place::content:
            if (!is_array) {
                block_type = block_kind::unknown;
                block_name_string = block_name_ours = block_text_string = false;
                block_has_input = block_input_decoded = false;
                push(place::block);
                return true;
            }
            break;
        case place::block:
            if (f == 2)
                return begin_input(true, is_array);
            if (f == 0)
                block_type = block_kind::unknown;
            if (f == 1)
                block_name_string = block_name_ours = false;
            if (f == 3)
                block_text_string = false;
            break;
        case place::error_outer:
            if (f == 0 && !is_array) {
                inner_object = true;
                push(place::error_inner);
                return true;
            }
            if (f == 1)
                outer_type.state = str_state::other;
            if (f == 2)
                outer_message.state = str_state::other;
            if (f == 3)
                request_id.state = str_state::other;
            break;
        case place::error_inner:
            if (f == 0)
                inner_type.state = str_state::other;
            if (f == 1)
                inner_message.state = str_state::other;
            break;
        case place::usage:
            if (f == 5 && !is_array) {
                push(place::cache_split);
                return true;
            }
            if (f == 5)
                env.tokens.cache_creation_1h_input_tokens = 0; // as usage_from_json reads it
            else if (f == 4)
                env.tokens.service_tier.clear();
            else if (f >= 0)
                token(f, 0);
            break;
        case place::cache_split:
            if (f == 0)
                env.tokens.cache_creation_1h_input_tokens = 0;
            break;
        }
        skip = 1;
        return true;
    }

    bool end() {
        if (skip > 0) {
            if (--skip == 0)
                field_done();
            return true;
        }
        place p = levels.back().where;
        levels.pop_back();
        if (p == place::block)
            block_done();
        field_done();
        return true;
    }

    // The value of a block's "input": decoded when the block is already known to be the
    // tool_use block we want, skipped when it is known not to be.
    bool begin_input(bool container, bool is_array, const scalar* s = nullptr) {
        block_has_input = true;
        if (mode != output_mode::tool || env.tool_found) {
            if (container)
                skip = 1;
            else
                field_done();
            return true;
        }
        bool known = block_type != block_kind::unknown && block_name_string;
        bool wanted = known && block_type == block_kind::tool_use && block_name_ours;
        bool other = (block_type != block_kind::unknown && block_type != block_kind::tool_use) ||
                     (block_name_string && !block_name_ours);
        if (other) {
            if (container)
                skip = 1;
            else
                field_done();
            return true;
        }
        if (!wanted)
            return need_tree(); // input before the block says what it is
        dec.start(input, *st);
        in_input = true;
        bool ok = container ? (is_array ? dec.on_array_begin() : dec.on_object_begin())
                            : dec.on_scalar(*s);
        error_code ec;
        return forward(ok, ec);
    }

    void block_done() {
        bool match = block_type == block_kind::tool_use && block_name_ours;
        if (mode == output_mode::tool && match && !env.tool_found) {
            env.tool_found = true;
            env.input_decoded = block_has_input && block_input_decoded;
        }
        if (mode != output_mode::tool && !env.text_found && block_type == block_kind::text &&
            block_text_string) {
            env.text_found = true;
            env.text = block_text;
        }
    }

    void token(int f, std::uint64_t v) {
        switch (f) {
        case 0:
            env.tokens.input_tokens = v;
            break;
        case 1:
            env.tokens.output_tokens = v;
            break;
        case 2:
            env.tokens.cache_creation_input_tokens = v;
            break;
        case 3:
            env.tokens.cache_read_input_tokens = v;
            break;
        default:
            break;
        }
    }

    // A scalar value.
    [[gnu::noinline]] bool value(const scalar& s) {
        if (levels.empty())
            return need_tree(); // "a result line is not a JSON object"
        const level l = levels.back();
        const int f = l.field;
        const bool is_string = s.k == scalar::kind::string;
        switch (l.where) {
        case place::root:
            if (f == 0) {
                if (!is_string)
                    return need_tree();
                has_custom_id = true;
                head->custom_id.assign(s.s.data(), s.s.size());
            } else if (f == 1) {
                return need_tree(); // result is not an object
            }
            break;
        case place::result:
            if (f == 0) {
                if (!is_string)
                    return need_tree();
                has_type = true;
                type = is(s.s, "succeeded")  ? type_name::succeeded
                       : is(s.s, "errored")  ? type_name::errored
                       : is(s.s, "canceled") ? type_name::canceled
                       : is(s.s, "expired")  ? type_name::expired
                                             : type_name::other;
            }
            break;
        case place::message:
            if (f == 1 && is_string)
                head->stop_reason.assign(s.s.data(), s.s.size());
            else if (f == 1)
                head->stop_reason.clear();
            else if (f == 2)
                env.has_usage = true;
            else if (f == 3 && is_string)
                head->message_id.assign(s.s.data(), s.s.size());
            else if (f == 3)
                head->message_id.clear();
            break;
        case place::content:
            break;
        case place::block:
            if (f == 2)
                return begin_input(false, false, &s);
            if (f == 0) {
                block_type = !is_string            ? block_kind::unknown
                             : is(s.s, "tool_use") ? block_kind::tool_use
                             : is(s.s, "text")     ? block_kind::text
                                                   : block_kind::other;
            } else if (f == 1) {
                block_name_string = is_string;
                block_name_ours = is_string && s.s.size() == tool_name.size() &&
                                  std::memcmp(s.s.data(), tool_name.data(), tool_name.size()) == 0;
            } else if (f == 3) {
                block_text_string = is_string;
                if (is_string)
                    block_text.assign(s.s.data(), s.s.size());
            }
            break;
        case place::usage:
            if (f == 5) {
                env.tokens.cache_creation_1h_input_tokens = 0; // not an object
            } else if (f == 4) {
                if (is_string)
                    env.tokens.service_tier.assign(s.s.data(), s.s.size());
                else
                    env.tokens.service_tier.clear();
            } else if (f >= 0) {
                token(f, token_count(s));
            }
            break;
        case place::cache_split:
            if (f == 0)
                env.tokens.cache_creation_1h_input_tokens = token_count(s);
            break;
        case place::error_outer:
            if (f == 1)
                outer_type.set(s);
            else if (f == 2)
                outer_message.set(s);
            else if (f == 3)
                request_id.set(s);
            break;
        case place::error_inner:
            if (f == 0)
                inner_type.set(s);
            else if (f == 1)
                inner_message.set(s);
            break;
        }
        field_done();
        return true;
    }

    // At the end of the line: is it a result line as result_line::from_json reads it?
    bool finish() {
        if (!root_object || !has_custom_id || !has_result || !has_type)
            return false;
        if (type == type_name::succeeded) {
            env.type = result_type::succeeded;
            return message_object;
        }
        head->message_id.clear();
        head->stop_reason.clear();
        if (type == type_name::errored) {
            env.type = result_type::errored;
            if (!error_object)
                return false;
            const opt_str& t = inner_object ? inner_type : outer_type;
            const opt_str& m = inner_object ? inner_message : outer_message;
            for (const opt_str* o : {&t, &m, static_cast<const opt_str*>(&request_id)})
                if (o->state == str_state::other)
                    return false;
            head->error.type = t.state == str_state::string ? t.value : std::string();
            head->error.message = m.state == str_state::string ? m.value : std::string();
            head->error.request_id =
                request_id.state == str_state::string ? request_id.value : std::string();
            return true;
        }
        if (type == type_name::canceled) {
            env.type = result_type::canceled;
            return true;
        }
        if (type == type_name::expired) {
            env.type = result_type::expired;
            return true;
        }
        return false;
    }
};

} // namespace

struct line_scanner::impl {
    scan_state handler;
    fast_json<scan_state> reader{handler};
    impl(output_mode mode, std::string tool_name) : handler(mode, std::move(tool_name)) {}
};

line_scanner::line_scanner(output_mode mode, std::string tool_name)
    : impl_(std::make_unique<impl>(mode, std::move(tool_name))) {}
line_scanner::line_scanner(line_scanner&&) noexcept = default;
line_scanner& line_scanner::operator=(line_scanner&&) noexcept = default;
line_scanner::~line_scanner() = default;

scan_status line_scanner::scan(std::string_view line, target input, decode_state& st,
                               line_head& out) {
    scan_state& m = impl_->handler;
    m.start(input, st, out);
    // fast_json reads the line, or leaves it to Boost.JSON through the tree: a line that is
    // not JSON (the tree path names Boost's error), or one the handler stopped at.
    if (impl_->reader.read(line) != fast_json_status::read)
        return scan_status::needs_tree;
    return m.finish() ? scan_status::ok : scan_status::needs_tree;
}

const line_envelope& line_scanner::envelope() const noexcept {
    return impl_->handler.env;
}

void envelope_from_tree(boost::json::value line, line_envelope& env, boost::json::object& message) {
    result_line r = result_line::from_json(std::move(line));
    env = line_envelope{};
    env.custom_id = std::move(r.custom_id);
    env.type = r.type;
    env.error = std::move(r.error);
    if (r.type == result_type::succeeded) {
        if (const auto* id = r.message.if_contains("id"); id && id->is_string())
            env.message_id = std::string(id->get_string());
        if (const auto* s = r.message.if_contains("stop_reason"); s && s->is_string())
            env.stop_reason = std::string(s->get_string());
        if (const auto* u = r.message.if_contains("usage")) {
            env.has_usage = true;
            env.tokens = usage_from_json(*u);
        }
        message = std::move(r.message);
    }
}

void copy_envelope(const line_envelope& env, line_head& out) {
    const bool ok = env.type == result_type::succeeded;
    out.custom_id = env.custom_id;
    out.type = env.type;
    if (ok)
        out.message_id = env.message_id;
    else
        out.message_id.clear();
    if (ok)
        out.stop_reason = env.stop_reason;
    else
        out.stop_reason.clear();
    if (ok && env.has_usage)
        out.token_usage = env.tokens;
    else
        out.token_usage.reset();
    out.error = env.error;
}

} // namespace aibatch::detail
