// The single pass over a result line: fast_json reads the text, the envelope by a small
// state machine (the handler), the tool input by the typed streaming decoder. Anything
// unusual answers needs_tree, and the caller reads the line through
// result_line::from_json and read_output<T> instead.
#include "fast_json.hpp"
#include "flat_reader.hpp"
#include "stream_decoder.hpp"

#include <aibatch/typed/result_decoder.hpp>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
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

// ---- the shape of a plain success
//
// The lines of a batch's results differ in their values, seldom in the bytes between
// them: the keys, their order, the punctuation, the block's type and name, the nulls. A
// line_shape is those bytes, learned from a line the general pass read as a plain
// success, with a hole at each value that may differ: the strings and numbers, and the
// tool input (any value). A later line matches when its bytes between the holes are the
// same and each hole holds a value of the kind learned (a string, a number; the input:
// any value), read by fast_json as the general pass reads it.
//
// Why a match reads the line as the general pass would: the learned line is valid JSON
// that the handler took without a repeated key of ours; the matching line has the same
// tokens at the same places except values of the same kind in the holes, so it is valid
// JSON with the same keys, and every decision the handler takes on bytes outside the
// holes (the result type, which block is ours, whether usage and cache_creation are
// objects) comes out the same. The holes carry what differs: the custom_id, the message
// id, the stop_reason, the usage numbers and service tier (or nothing, for values of no
// interest), and the input, decoded by the same typed decoder at the same depth.

enum class hole : unsigned char {
    end,         // the line ends after the literal
    skip_string, // a string of no interest (read, so validated)
    skip_number, // a number of no interest
    custom_id,
    message_id,
    stop_reason,
    service_tier,
    input_tokens,
    output_tokens,
    cache_creation_input_tokens,
    cache_read_input_tokens,
    cache_1h_input_tokens,
    input, // the tool input: any value, decoded into the target
};

struct line_shape {
    struct piece {
        std::uint32_t literal_at = 0, literal_size = 0; // the bytes before the hole
        hole what = hole::end;
    };
    std::string literals;
    std::vector<piece> pieces;
    int input_depth = 0;
    bool has_usage = false;

    bool empty() const noexcept { return pieces.empty(); }
    void clear() noexcept {
        literals.clear();
        pieces.clear();
        input_depth = 0;
        has_usage = false;
    }
};

// Learns a line_shape from a line the general pass read as a plain success in tool mode
// (so: valid JSON, a root object with a string custom_id, a succeeded result with a
// message object, the tool input decoded). The walk mirrors scan_state's places; it need
// not validate. false: a line it does not learn from (a key of ours or a block's type or
// name spelled with an escape, which the handler reads unescaped).
class shape_learner {
public:
    shape_learner(std::string_view line, std::string_view tool, line_shape& out)
        : b_(line.data()), e_(line.data() + line.size()), literal_(b_), tool_(tool), out_(out) {}

    bool learn() {
        out_.clear();
        const char* p = ws(b_);
        if (p == e_ || *p != '{' || !(p = object(p, place::root, 0)) || ws(p) != e_ ||
            !input_seen_) {
            out_.clear();
            return false;
        }
        add(e_, e_, hole::end);
        return true;
    }

private:
    enum class where : unsigned char { root, result, message, block, usage, cache_split, other };
    using place = where;

    static bool space(char c) noexcept { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
    const char* ws(const char* p) const noexcept {
        while (p != e_ && space(*p))
            ++p;
        return p;
    }
    // p at '"': past the closing quote; `escaped`: the string holds a backslash.
    const char* string_end(const char* p, bool& escaped) const noexcept {
        escaped = false;
        for (++p; p != e_; ++p) {
            if (*p == '\\') {
                escaped = true;
                if (++p == e_)
                    return nullptr;
            } else if (*p == '"') {
                return p + 1;
            }
        }
        return nullptr;
    }
    // Any value, left in the literal.
    const char* skip(const char* p) const noexcept {
        bool escaped = false;
        if (*p == '"')
            return string_end(p, escaped);
        if (*p == '{' || *p == '[') {
            int open = 0;
            while (p != e_) {
                const char c = *p;
                if (c == '"') {
                    if (!(p = string_end(p, escaped)))
                        return nullptr;
                    continue;
                }
                if (c == '{' || c == '[')
                    ++open;
                else if ((c == '}' || c == ']') && --open == 0)
                    return p + 1;
                ++p;
            }
            return nullptr;
        }
        while (p != e_ && *p != ',' && *p != '}' && *p != ']' && !space(*p))
            ++p;
        return p;
    }
    void add(const char* at, const char* after, hole what) {
        line_shape::piece pc;
        pc.literal_at = static_cast<std::uint32_t>(out_.literals.size());
        pc.literal_size = static_cast<std::uint32_t>(at - literal_);
        pc.what = what;
        out_.literals.append(literal_, at);
        out_.pieces.push_back(pc);
        literal_ = after;
    }
    // A string (or number) value into a hole; any other value stays in the literal.
    const char* string_hole(const char* p, hole what) {
        if (*p != '"')
            return skip(p);
        bool escaped = false;
        const char* q = string_end(p, escaped);
        if (q)
            add(p, q, what);
        return q;
    }
    const char* number_hole(const char* p, hole what) {
        if (*p != '-' && (*p < '0' || *p > '9'))
            return skip(p);
        const char* q = skip(p);
        add(p, q, what);
        return q;
    }
    // A value of no interest: its strings and numbers are holes, the rest literal.
    const char* any(const char* p, int depth) {
        switch (*p) {
        case '"':
            return string_hole(p, hole::skip_string);
        case '{':
            return object(p, place::other, depth);
        case '[':
            return array(p, place::other, depth);
        case 't':
        case 'f':
        case 'n':
            return skip(p);
        default:
            return number_hole(p, hole::skip_number);
        }
    }
    // p at '{' of an object at `depth`.
    const char* object(const char* p, place at, int depth) {
        std::string_view type, name; // a block's, as written
        bool type_string = false, name_string = false;
        p = ws(p + 1);
        if (p != e_ && *p == '}')
            return p + 1;
        while (p != e_) {
            bool escaped = false;
            const char* k = p;
            const char* q = string_end(p, escaped);
            if (!q || (escaped && at != place::other))
                return nullptr;
            const std::string_view key(k + 1, static_cast<std::size_t>(q - k - 2));
            p = ws(q);
            if (p == e_ || *p != ':')
                return nullptr;
            p = ws(p + 1);
            if (p == e_)
                return nullptr;
            if (at == place::block && (key == "type" || key == "name")) {
                const bool is_string = *p == '"';
                q = skip(p);
                if (!q)
                    return nullptr;
                if (is_string && std::find(p, q, '\\') != q)
                    return nullptr;
                const std::string_view text =
                    is_string ? std::string_view(p + 1, static_cast<std::size_t>(q - p - 2))
                              : std::string_view();
                (key == "type" ? type : name) = text;
                (key == "type" ? type_string : name_string) = is_string;
                p = q;
            } else if (at == place::block && key == "input" && !tool_seen_ && type_string &&
                       type == "tool_use" && name_string && name == tool_) {
                // The input the general pass decoded: the first block that said it is
                // the tool_use block of ours before its input.
                q = skip(p);
                if (!q)
                    return nullptr;
                add(p, q, hole::input);
                out_.input_depth = depth + 1;
                input_seen_ = true;
                p = q;
            } else {
                p = member(at, key, p, depth + 1);
            }
            if (!p || (p = ws(p)) == e_)
                return nullptr;
            if (*p == '}') {
                if (at == place::block && type_string && type == "tool_use" && name_string &&
                    name == tool_)
                    tool_seen_ = true;
                return p + 1;
            }
            if (*p != ',')
                return nullptr;
            p = ws(p + 1);
        }
        return nullptr;
    }
    // p at '[' of an array at `depth`; `at` the place of its elements' objects.
    const char* array(const char* p, place at, int depth) {
        p = ws(p + 1);
        if (p != e_ && *p == ']')
            return p + 1;
        while (p != e_) {
            p = at == place::block && *p == '{' ? object(p, place::block, depth + 1)
                                                : any(p, depth + 1);
            if (!p || (p = ws(p)) == e_)
                return nullptr;
            if (*p == ']')
                return p + 1;
            if (*p != ',')
                return nullptr;
            p = ws(p + 1);
        }
        return nullptr;
    }
    // The value of `key` in an object of place `at`; p at its first byte, at `depth`.
    const char* member(place at, std::string_view key, const char* p, int depth) {
        switch (at) {
        case place::root:
            if (key == "custom_id")
                return string_hole(p, hole::custom_id);
            if (key == "result")
                return *p == '{' ? object(p, place::result, depth) : skip(p);
            break;
        case place::result:
            if (key == "type")
                return skip(p);
            if (key == "message")
                return *p == '{' ? object(p, place::message, depth) : skip(p);
            break;
        case place::message:
            if (key == "id")
                return string_hole(p, hole::message_id);
            if (key == "stop_reason")
                return string_hole(p, hole::stop_reason);
            if (key == "content")
                return *p == '[' ? array(p, place::block, depth) : skip(p);
            if (key == "usage") {
                out_.has_usage = true;
                return *p == '{' ? object(p, place::usage, depth) : skip(p);
            }
            break;
        case place::usage:
            if (key == "input_tokens")
                return number_hole(p, hole::input_tokens);
            if (key == "output_tokens")
                return number_hole(p, hole::output_tokens);
            if (key == "cache_creation_input_tokens")
                return number_hole(p, hole::cache_creation_input_tokens);
            if (key == "cache_read_input_tokens")
                return number_hole(p, hole::cache_read_input_tokens);
            if (key == "service_tier")
                return string_hole(p, hole::service_tier);
            if (key == "cache_creation")
                return *p == '{' ? object(p, place::cache_split, depth) : skip(p);
            break;
        case place::cache_split:
            if (key == "ephemeral_1h_input_tokens")
                return number_hole(p, hole::cache_1h_input_tokens);
            break;
        case place::block:
        case place::other:
            break;
        }
        return any(p, depth);
    }

    const char* b_;
    const char* e_;
    const char* literal_; // where the current literal starts
    std::string_view tool_;
    line_shape& out_;
    bool tool_seen_ = false, input_seen_ = false;
};

// The handler that reads one hole's value: a scalar, kept; a container stops the read.
using hole_value = scalar_sink;

enum class shape_match : unsigned char { hit, miss, retry };

} // namespace

struct line_scanner::impl {
    scan_state handler;
    fast_json<scan_state> reader{handler};
    hole_value hole_handler;
    fast_json<hole_value> hole_reader{hole_handler};
    line_shape shape;
    bool learning = true;
    bool by_shape = false;  // the last scan matched the shape
    unsigned misses = 0;    // lines since the last match that did not match
    unsigned wait = 0;      // lines to let go before trying to learn again
    unsigned next_wait = 1; // ... after the next line that does not teach
    std::size_t hits = 0;
    std::size_t flat_hits = 0;

    impl(output_mode mode, std::string tool_name) : handler(mode, std::move(tool_name)) {}

    // The line against the shape. hit: read (line_scanner::scan's ok, out and env as the
    // general pass leaves them); miss: nothing written that the general pass does not
    // write again; retry: the input was decoded before the line left the shape.
    shape_match match(std::string_view line, target input, decode_state& st, line_head& out) {
        scan_state& m = handler;
        line_envelope& env = m.env;
        const char* p = line.data();
        const char* const e = line.data() + line.size();
        bool decoded = false;
        const shape_match miss = shape_match::miss;
        env.tokens.input_tokens = env.tokens.output_tokens = 0;
        env.tokens.cache_creation_input_tokens = env.tokens.cache_read_input_tokens = 0;
        env.tokens.cache_creation_1h_input_tokens = 0;
        env.tokens.service_tier.clear();
        out.message_id.clear();
        out.stop_reason.clear();
        for (const line_shape::piece& pc : shape.pieces) {
            const std::size_t n = pc.literal_size;
            if (static_cast<std::size_t>(e - p) < n ||
                std::memcmp(p, shape.literals.data() + pc.literal_at, n) != 0)
                return decoded ? shape_match::retry : miss;
            p += n;
            if (pc.what == hole::end) {
                if (p != e)
                    return decoded ? shape_match::retry : miss;
                break;
            }
            if (pc.what == hole::input) {
                decoded = true;
                if (const char* q =
                        read_flat(hole_reader, hole_handler, p, e, shape.input_depth, input, st)) {
                    ++flat_hits;
                    p = q;
                    continue;
                }
                m.dec.start(input, st);
                m.in_input = true;
                m.block_input_decoded = false;
                m.levels.clear();
                const char* q = reader.read_value(p, e, shape.input_depth);
                decoded = true;
                if (!q || !m.block_input_decoded)
                    return shape_match::retry;
                p = q;
                continue;
            }
            const bool string_hole = pc.what == hole::skip_string || pc.what == hole::custom_id ||
                                     pc.what == hole::message_id || pc.what == hole::stop_reason ||
                                     pc.what == hole::service_tier;
            // A count as the API writes it (1 to 18 digits, no sign, no leading zero, no
            // fraction) is what fast_json's number() reads as that int64: read here.
            const char* q = string_hole ? nullptr : plain_count(p, e, hole_handler.s);
            if (!q && !(q = hole_reader.read_value(p, e, 1)))
                return decoded ? shape_match::retry : miss;
            p = q;
            const scalar& s = hole_handler.s;
            const bool is_string = s.k == scalar::kind::string;
            const bool is_number = s.k == scalar::kind::int64 || s.k == scalar::kind::uint64 ||
                                   s.k == scalar::kind::double_;
            const bool kind_ok = string_hole ? is_string : is_number;
            if (!kind_ok)
                return decoded ? shape_match::retry : miss;
            switch (pc.what) {
            case hole::custom_id:
                out.custom_id.assign(s.s.data(), s.s.size());
                break;
            case hole::message_id:
                out.message_id.assign(s.s.data(), s.s.size());
                break;
            case hole::stop_reason:
                out.stop_reason.assign(s.s.data(), s.s.size());
                break;
            case hole::service_tier:
                env.tokens.service_tier.assign(s.s.data(), s.s.size());
                break;
            case hole::input_tokens:
                env.tokens.input_tokens = token_count(s);
                break;
            case hole::output_tokens:
                env.tokens.output_tokens = token_count(s);
                break;
            case hole::cache_creation_input_tokens:
                env.tokens.cache_creation_input_tokens = token_count(s);
                break;
            case hole::cache_read_input_tokens:
                env.tokens.cache_read_input_tokens = token_count(s);
                break;
            case hole::cache_1h_input_tokens:
                env.tokens.cache_creation_1h_input_tokens = token_count(s);
                break;
            default:
                break;
            }
        }
        env.type = result_type::succeeded;
        env.has_usage = shape.has_usage;
        env.tool_found = true;
        env.input_decoded = decoded;
        env.text_found = false;
        out.error.type.clear();
        out.error.message.clear();
        out.error.request_id.clear();
        return shape_match::hit;
    }

    // Digits at p, 1 to 18 of them, not led by a zero (or a lone "0"), and then no byte
    // that continues a number: into `out` as an int64, the place after them; else nullptr
    // (the hole is read by fast_json).
    static const char* plain_count(const char* p, const char* e, scalar& out) noexcept {
        const char* q = p;
        std::int64_t v = 0;
        if (q != e && *q == '0') {
            ++q;
        } else {
            while (q != e && *q >= '0' && *q <= '9' && q - p < 18)
                v = v * 10 + (*q++ - '0');
        }
        if (q == p)
            return nullptr;
        if (q != e) {
            const char c = *q;
            if ((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')
                return nullptr;
        }
        out = scalar::of(v);
        return q;
    }

    void learn(std::string_view line) {
        if (wait > 0) {
            --wait;
            return;
        }
        if (shape_learner(line, handler.tool_name, shape).learn()) {
            misses = 0;
            next_wait = 1;
        } else {
            wait = next_wait;
            next_wait = std::min(next_wait * 2, 1024u);
        }
    }
};

line_scanner::line_scanner(output_mode mode, std::string tool_name)
    : impl_(std::make_unique<impl>(mode, std::move(tool_name))) {}
line_scanner::line_scanner(line_scanner&&) noexcept = default;
line_scanner& line_scanner::operator=(line_scanner&&) noexcept = default;
line_scanner::~line_scanner() = default;

scan_status line_scanner::scan(std::string_view line, target input, decode_state& st,
                               line_head& out, bool with_shape) {
    impl& s = *impl_;
    s.by_shape = false;
    // read()'s guard, which the shape keeps too
    if (with_shape && !s.shape.empty() &&
        line.size() < std::min({scan_state::max_object_size, scan_state::max_array_size,
                                scan_state::max_key_size, scan_state::max_string_size})) {
        switch (s.match(line, input, st, out)) {
        case shape_match::hit:
            s.by_shape = true;
            s.misses = 0;
            ++s.hits;
            return scan_status::ok;
        case shape_match::retry:
            ++s.misses;
            return scan_status::retry;
        case shape_match::miss:
            ++s.misses;
            break;
        }
    }
    scan_state& m = s.handler;
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

void line_scanner::plain_success(std::string_view line) {
    impl& s = *impl_;
    // Learned from a line of the general pass, when there is no shape or it has not
    // matched the last few lines (the results changed their shape).
    if (!s.learning || s.by_shape || s.handler.mode != output_mode::tool ||
        (!s.shape.empty() && s.misses < 4))
        return;
    // A piece's offsets are 32 bits: a line past them teaches nothing.
    if (line.size() > std::numeric_limits<std::uint32_t>::max())
        return;
    s.learn(line);
}

void line_scanner::learn_shapes(bool on) noexcept {
    impl_->learning = on;
    if (!on)
        impl_->shape.clear();
}

std::size_t line_scanner::shape_hits() const noexcept {
    return impl_->hits;
}

std::size_t line_scanner::flat_hits() const noexcept {
    return impl_->flat_hits;
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
