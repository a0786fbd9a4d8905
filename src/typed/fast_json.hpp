// A strict JSON reader for one whole text in memory, faster than basic_parser on result
// lines, that calls a basic_parser handler (private to src/typed).
//
// boost::json::basic_parser is resumable: it keeps its place on a stack so that a text can
// come in pieces, and checks that state at every token. A result line is whole in memory,
// so this reader descends by plain recursion and scans strings 16 bytes at a time.
//
// Its contract is one-sided, so that it can never change what a line means: when it
// answers `read`, basic_parser over the same text (default parse_options) would have
// accepted it and called the handler with the same events and values (a string or key is
// given whole, never in parts). Anything else answers `not_read`, and the caller gives the
// text to Boost.JSON, which decides (and names the error). test/fuzz/json_tokens_fuzz.cpp
// holds it to that against basic_parser on arbitrary bytes.
//
// What it reads itself: the grammar of RFC 8259 with Boost's default limits (nesting up
// to max_depth = 32; texts shorter than the handler's max sizes), UTF-8 validated as
// Boost validates it, every escape including \u surrogate pairs, integers of up to 18
// digits, and decimals of up to 15 digits within 10^+-22 (exact operands and one
// rounding: Boost's own computation). Other numbers are converted by Boost's number
// parser over that number, with the room it has in the text (Boost's path, and so a
// 17-digit double, depends on it). A double is the same double to the last bit.
#pragma once

#include <boost/json/basic_parser_impl.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace aibatch::detail {

/// One JSON number, converted by boost::json::basic_parser (exactly as in a whole text).
class json_number_reader {
public:
    enum class kind : unsigned char { none, int64, uint64, dbl };
    struct number {
        kind k = kind::none;
        std::int64_t i = 0;
        std::uint64_t u = 0;
        double d = 0;
    };

    /// The number that `text` is, whole, or kind::none. `room` is how many bytes the
    /// whole text holds from the number's first byte to its end: basic_parser reads a
    /// number by one of two paths, chosen by whether 33 bytes remain after its sign, and
    /// the two give different doubles for 17 or 18 significant digits (the fast path keeps
    /// every digit, the other stops at 2^53). Spaces after the number give it that room.
    number read(std::string_view text, std::size_t room) {
        sink& s = parser_.handler();
        s.n = number{};
        s.values = 0;
        parser_.reset();
        buf_.assign(text.data(), text.size());
        buf_.resize(std::max(text.size(), std::min<std::size_t>(room, 64)), ' ');
        boost::system::error_code ec;
        std::size_t used = parser_.write_some(false, buf_.data(), buf_.size(), ec);
        if (ec || used != buf_.size() || s.values != 1)
            return number{};
        return s.n;
    }

private:
    struct sink {
        static constexpr std::size_t max_object_size = 0;
        static constexpr std::size_t max_array_size = 0;
        static constexpr std::size_t max_key_size = 0;
        static constexpr std::size_t max_string_size = 0;
        number n;
        int values = 0;
        using ec_t = boost::system::error_code;
        using sv = boost::json::string_view;
        static bool no(ec_t& ec) {
            ec = boost::json::error::syntax;
            return false;
        }
        bool on_document_begin(ec_t&) { return true; }
        bool on_document_end(ec_t&) { return true; }
        bool on_object_begin(ec_t& ec) { return no(ec); }
        bool on_object_end(std::size_t, ec_t& ec) { return no(ec); }
        bool on_array_begin(ec_t& ec) { return no(ec); }
        bool on_array_end(std::size_t, ec_t& ec) { return no(ec); }
        bool on_key_part(sv, std::size_t, ec_t& ec) { return no(ec); }
        bool on_key(sv, std::size_t, ec_t& ec) { return no(ec); }
        bool on_string_part(sv, std::size_t, ec_t& ec) { return no(ec); }
        bool on_string(sv, std::size_t, ec_t& ec) { return no(ec); }
        bool on_number_part(sv, ec_t&) { return true; }
        bool on_int64(std::int64_t v, sv, ec_t&) {
            n.k = kind::int64;
            n.i = v;
            ++values;
            return true;
        }
        bool on_uint64(std::uint64_t v, sv, ec_t&) {
            n.k = kind::uint64;
            n.u = v;
            ++values;
            return true;
        }
        bool on_double(double v, sv, ec_t&) {
            n.k = kind::dbl;
            n.d = v;
            ++values;
            return true;
        }
        bool on_bool(bool, ec_t& ec) { return no(ec); }
        bool on_null(ec_t& ec) { return no(ec); }
        bool on_comment_part(sv, ec_t& ec) { return no(ec); }
        bool on_comment(sv, ec_t& ec) { return no(ec); }
    };
    boost::json::basic_parser<sink> parser_{boost::json::parse_options{}};
    std::string buf_;
};

enum class fast_json_status : unsigned char {
    read,     ///< the whole text, every event accepted
    stopped,  ///< a handler event returned false
    not_read, ///< not JSON, or not JSON this reader reads: ask basic_parser
};

/// Reads whole texts into `Handler` (a boost::json::basic_parser handler). Reusable.
template <class Handler>
class fast_json {
public:
    explicit fast_json(Handler& h) : h_(h) {}

    fast_json_status read(std::string_view text) {
        // basic_parser refuses a key, string, object or array past the handler's maximum;
        // none of them can be as long as a text shorter than every maximum.
        if (text.size() >= std::min({Handler::max_object_size, Handler::max_array_size,
                                     Handler::max_key_size, Handler::max_string_size}))
            return fast_json_status::not_read;
        const char* p = text.data();
        const char* const e = text.data() + text.size();
        stopped_ = false;
        p = ws(p, e);
        if (p == e || !go(h_.on_document_begin(ec_)) || !(p = value(p, e, 0)))
            return result();
        p = ws(p, e);
        if (p != e || !go(h_.on_document_end(ec_)))
            return result();
        return fast_json_status::read;
    }

    /// One value at `p` of a text that ends at `e`, at the nesting depth read() would be at
    /// there (0 for a whole text; members of the root object are at 1): the place past it,
    /// or nullptr (not read, or stopped()). No document events. The caller keeps read()'s
    /// guard: the whole text is shorter than every maximum of the handler. A number's
    /// room is counted to `e`, as read() counts it.
    const char* read_value(const char* p, const char* e, int depth) {
        stopped_ = false;
        if (p == e)
            return nullptr;
        return value(p, e, depth);
    }
    /// The last read or read_value stopped at a handler event (not at the text).
    bool stopped() const noexcept { return stopped_; }

    static constexpr int max_depth = 32; // boost::json::parse_options{}.max_depth

private:
    // Every step takes the place it reads from and answers the place after what it read,
    // or nullptr: not read (or stopped_). The place stays in a register across handler
    // calls.
    using ptr = const char*;

    fast_json_status result() const {
        return stopped_ ? fast_json_status::stopped : fast_json_status::not_read;
    }
    bool go(bool handler_ok) {
        if (!handler_ok) [[unlikely]]
            stopped_ = true;
        return handler_ok;
    }
    [[gnu::always_inline]] static ptr ws(ptr p, ptr e) {
        // Result lines have no whitespace between tokens: one compare says so.
        if (p != e && static_cast<unsigned char>(*p) <= ' ') [[unlikely]]
            while (p != e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
                ++p;
        return p;
    }

    // A value: strings are read in place, containers recurse (object() and array() are
    // the only frames: one per container, not one per value), the rest is scalar().
    [[gnu::always_inline]] ptr value(ptr p, ptr e, int depth) {
        switch (*p) { // p != e: every caller checked
        case '"': {
            std::string_view s;
            p = string(p, e, s);
            if (!p || !go(h_.on_string(s, s.size(), ec_)))
                return nullptr;
            return p;
        }
        case '{':
            return object(p, e, depth);
        case '[':
            return array(p, e, depth);
        default:
            return scalar(p, e);
        }
    }

    [[gnu::noinline]] ptr scalar(ptr p, ptr e) {
        switch (*p) {
        case 't':
            return literal(p, e, "true", 4) && go(h_.on_bool(true, ec_)) ? p + 4 : nullptr;
        case 'f':
            return literal(p, e, "false", 5) && go(h_.on_bool(false, ec_)) ? p + 5 : nullptr;
        case 'n':
            return literal(p, e, "null", 4) && go(h_.on_null(ec_)) ? p + 4 : nullptr;
        default:
            return number(p, e);
        }
    }

    static bool literal(ptr p, ptr e, const char* lit, std::size_t n) {
        return static_cast<std::size_t>(e - p) >= n && std::memcmp(p, lit, n) == 0;
    }

    // After a member or an element: past the ',' and any whitespace (more), or at the
    // closing byte (not more); nullptr when the next byte is neither.
    [[gnu::always_inline]] static ptr separator(ptr p, ptr e, char close, bool& more) {
        if (p == e || (*p != ',' && *p != close)) {
            p = ws(p, e);
            if (p == e)
                return nullptr;
        }
        if (*p == ',') {
            more = true;
            return ws(p + 1, e);
        }
        return *p == close ? p : nullptr;
    }

    [[gnu::noinline]] ptr object(ptr p, ptr e, int depth) {
        if (depth == max_depth || !go(h_.on_object_begin(ec_)))
            return nullptr;
        p = ws(p + 1, e);
        std::size_t n = 0;
        if (p != e && *p == '}')
            return go(h_.on_object_end(0, ec_)) ? p + 1 : nullptr;
        for (;;) {
            if (p == e || *p != '"')
                return nullptr;
            std::string_view k;
            p = string(p, e, k);
            if (!p || !go(h_.on_key(k, k.size(), ec_)))
                return nullptr;
            if (p == e || *p != ':') {
                p = ws(p, e);
                if (p == e || *p != ':')
                    return nullptr;
            }
            p = ws(p + 1, e);
            if (p == e || !(p = value(p, e, depth + 1)))
                return nullptr;
            ++n;
            bool more = false;
            if (!(p = separator(p, e, '}', more)))
                return nullptr;
            if (more)
                continue;
            return go(h_.on_object_end(n, ec_)) ? p + 1 : nullptr;
        }
    }

    [[gnu::noinline]] ptr array(ptr p, ptr e, int depth) {
        if (depth == max_depth || !go(h_.on_array_begin(ec_)))
            return nullptr;
        p = ws(p + 1, e);
        std::size_t n = 0;
        if (p != e && *p == ']')
            return go(h_.on_array_end(0, ec_)) ? p + 1 : nullptr;
        for (;;) {
            if (p == e || !(p = value(p, e, depth + 1)))
                return nullptr;
            ++n;
            bool more = false;
            if (!(p = separator(p, e, ']', more)))
                return nullptr;
            if (more)
                continue;
            return go(h_.on_array_end(n, ec_)) ? p + 1 : nullptr;
        }
    }

    static bool digit(char c) noexcept { return c >= '0' && c <= '9'; }
    static bool number_char(char c) noexcept {
        return digit(c) || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
    }

    ptr number(ptr p, ptr e) {
        const ptr b = p;
        const bool neg = *p == '-';
        if (neg)
            ++p;
        if (p == e || !digit(*p))
            return nullptr;
        std::uint64_t mant = 0;
        const ptr d = p;
        if (*p == '0') {
            ++p;
        } else {
            while (p != e && digit(*p) && p - d < 18)
                mant = mant * 10 + static_cast<unsigned>(*p++ - '0');
        }
        if (p == e || !number_char(*p)) {
            std::string_view raw(b, static_cast<std::size_t>(p - b));
            // Under 10^18: an int64 either way ("-0" is int64 0, as Boost has it).
            auto v = static_cast<std::int64_t>(mant);
            return go(h_.on_int64(neg ? -v : v, raw, ec_)) ? p : nullptr;
        }
        if (digit(*p) || p - d > 15)
            return converted(b, p, e); // "01" ends there too: Boost refuses it
        return decimal(b, p, e, neg, mant, static_cast<int>(p - d));
    }

    // A number with a fraction or an exponent, p past its integer part. When its digits
    // fit 15 and its power of ten is within 22, both are exact doubles, and one division
    // or multiplication gives the correctly rounded value: what Boost computes (its
    // dec_to_float does that very operation). Anything else goes to Boost's conversion.
    ptr decimal(ptr b, ptr p, ptr e, bool neg, std::uint64_t mant, int digits) {
        int exp10 = 0;
        if (*p == '.') {
            const ptr f = ++p;
            while (p != e && digit(*p)) {
                if (++digits > 15)
                    return converted(b, p, e);
                mant = mant * 10 + static_cast<unsigned>(*p++ - '0');
            }
            if (p == f)
                return nullptr; // "1." is no number
            exp10 = -static_cast<int>(p - f);
        }
        if (p != e && (*p == 'e' || *p == 'E')) {
            ++p;
            bool eneg = false;
            if (p != e && (*p == '+' || *p == '-'))
                eneg = *p++ == '-';
            const ptr x = p;
            int ev = 0;
            while (p != e && digit(*p)) {
                if (p - x == 3)
                    return converted(b, p, e);
                ev = ev * 10 + (*p++ - '0');
            }
            if (p == x)
                return nullptr; // "1e" is no number
            exp10 += eneg ? -ev : ev;
        }
        if (p != e && number_char(*p))
            return converted(b, p, e);
        if (exp10 < -22 || exp10 > 22)
            return converted(b, p, e);
        static constexpr double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                           1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                           1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
        double v = static_cast<double>(mant);
        if (neg)
            v = -v;
        v = exp10 < 0 ? v / pow10[-exp10] : v * pow10[exp10];
        std::string_view raw(b, static_cast<std::size_t>(p - b));
        return go(h_.on_double(v, raw, ec_)) ? p : nullptr;
    }

    // A number this reader leaves to Boost's conversion: its characters, then Boost's
    // reading of them, given the room they have in the text.
    ptr converted(ptr b, ptr p, ptr e) {
        while (p != e && number_char(*p))
            ++p;
        std::string_view raw(b, static_cast<std::size_t>(p - b));
        json_number_reader::number n = numbers_.read(raw, static_cast<std::size_t>(e - b));
        bool ok = false;
        switch (n.k) {
        case json_number_reader::kind::int64:
            ok = go(h_.on_int64(n.i, raw, ec_));
            break;
        case json_number_reader::kind::uint64:
            ok = go(h_.on_uint64(n.u, raw, ec_));
            break;
        case json_number_reader::kind::dbl:
            ok = go(h_.on_double(n.d, raw, ec_));
            break;
        case json_number_reader::kind::none:
            break;
        }
        return ok ? p : nullptr;
    }

    // p at the opening quote; answers the place past the closing one, `out` the contents.
    [[gnu::always_inline]] ptr string(ptr p, ptr e, std::string_view& out) {
        const ptr s = ++p;
        p = plain(p, e);
        if (p != e && *p == '"') [[likely]] {
            out = std::string_view(s, static_cast<std::size_t>(p - s));
            return p + 1;
        }
        return rest_of_string(s, p, e, out);
    }

    // The string from s, with p at a byte that needs a look (or at the end).
    [[gnu::noinline]] ptr rest_of_string(ptr s, ptr p, ptr e, std::string_view& out) {
        for (;;) {
            if (p == e)
                return nullptr;
            auto c = static_cast<unsigned char>(*p);
            if (c == '"') {
                out = std::string_view(s, static_cast<std::size_t>(p - s));
                return p + 1;
            }
            if (c == '\\')
                return escaped(s, p, e, out);
            if (c < 0x20 || !(p = utf8(p, e)))
                return nullptr;
            p = plain(p, e);
        }
    }

    // Past the bytes that need no look: printable ASCII other than '"' and '\\'.
    [[gnu::always_inline]] static ptr plain(ptr p, ptr e) noexcept {
#if defined(__SSE2__)
        const __m128i quote = _mm_set1_epi8('"');
        const __m128i slash = _mm_set1_epi8('\\');
        const __m128i space = _mm_set1_epi8(0x20);
        while (e - p >= 16) {
            __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
            // signed: bytes of 0x80 and above are negative, below ' ' with the controls
            __m128i hit =
                _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, slash)),
                             _mm_cmplt_epi8(v, space));
            if (int m = _mm_movemask_epi8(hit))
                return p + __builtin_ctz(static_cast<unsigned>(m));
            p += 16;
        }
#endif
        while (p != e) {
            auto c = static_cast<unsigned char>(*p);
            if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
                break;
            ++p;
        }
        return p;
    }

    // One UTF-8 sequence at p (its lead byte is 0x80 or above), as Boost validates it:
    // no overlong forms, no surrogates, nothing above U+10FFFF.
    static ptr utf8(ptr p, ptr e) noexcept {
        auto at = [&](std::ptrdiff_t i) { return static_cast<unsigned char>(p[i]); };
        auto tail = [&](std::ptrdiff_t i) { return (at(i) & 0xC0) == 0x80; };
        const std::ptrdiff_t left = e - p;
        const unsigned char c = at(0);
        if (c >= 0xC2 && c <= 0xDF) {
            if (left < 2 || !tail(1))
                return nullptr;
            return p + 2;
        }
        if (c >= 0xE0 && c <= 0xEF) {
            if (left < 3 || !tail(1) || !tail(2))
                return nullptr;
            if ((c == 0xE0 && at(1) < 0xA0) || (c == 0xED && at(1) > 0x9F))
                return nullptr;
            return p + 3;
        }
        if (c >= 0xF0 && c <= 0xF4) {
            if (left < 4 || !tail(1) || !tail(2) || !tail(3))
                return nullptr;
            if ((c == 0xF0 && at(1) < 0x90) || (c == 0xF4 && at(1) > 0x8F))
                return nullptr;
            return p + 4;
        }
        return nullptr;
    }

    static int hex(char c) noexcept {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        return -1;
    }
    // Four hex digits after "\u" (p at the 'u'): their value, p moved past them; -1 if not.
    static long unit(ptr& p, ptr e) noexcept {
        if (e - p < 5)
            return -1;
        long v = 0;
        for (int i = 1; i <= 4; ++i) {
            int h = hex(p[i]);
            if (h < 0)
                return -1;
            v = v * 16 + h;
        }
        p += 5;
        return v;
    }
    void put_utf8(unsigned long cp) {
        if (cp < 0x80) {
            buf_.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            buf_.push_back(static_cast<char>(0xC0 | (cp >> 6)));
            buf_.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            buf_.push_back(static_cast<char>(0xE0 | (cp >> 12)));
            buf_.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            buf_.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
            buf_.push_back(static_cast<char>(0xF0 | (cp >> 18)));
            buf_.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
            buf_.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            buf_.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
    }

    // A string with escapes, from s (after the opening quote); p at the first '\\'. Its
    // contents are copied, unescaped, into buf_.
    ptr escaped(ptr s, ptr p, ptr e, std::string_view& out) {
        buf_.assign(s, static_cast<std::size_t>(p - s));
        for (;;) {
            // p at '\\'
            if (e - p < 2)
                return nullptr;
            ++p;
            switch (*p) {
            case '"':
            case '\\':
            case '/':
                buf_.push_back(*p++);
                break;
            case 'b':
                buf_.push_back('\b');
                ++p;
                break;
            case 'f':
                buf_.push_back('\f');
                ++p;
                break;
            case 'n':
                buf_.push_back('\n');
                ++p;
                break;
            case 'r':
                buf_.push_back('\r');
                ++p;
                break;
            case 't':
                buf_.push_back('\t');
                ++p;
                break;
            case 'u': {
                long u = unit(p, e);
                if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF))
                    return nullptr; // a trailing surrogate first
                if (u >= 0xD800 && u <= 0xDBFF) {
                    if (e - p < 2 || p[0] != '\\' || p[1] != 'u')
                        return nullptr; // a leading surrogate alone
                    ++p;
                    long t = unit(p, e);
                    if (t < 0xDC00 || t > 0xDFFF)
                        return nullptr;
                    put_utf8(0x10000 + ((static_cast<unsigned long>(u) - 0xD800) << 10) +
                             (static_cast<unsigned long>(t) - 0xDC00));
                } else {
                    put_utf8(static_cast<unsigned long>(u));
                }
                break;
            }
            default:
                return nullptr;
            }
            // the plain run up to the next byte that needs a look
            for (;;) {
                const ptr r = plain(p, e);
                buf_.append(p, static_cast<std::size_t>(r - p));
                p = r;
                if (p == e)
                    return nullptr;
                auto c = static_cast<unsigned char>(*p);
                if (c == '"') {
                    out = buf_;
                    return p + 1;
                }
                if (c == '\\')
                    break;
                const ptr b = p;
                if (c < 0x20 || !(p = utf8(p, e)))
                    return nullptr;
                buf_.append(b, static_cast<std::size_t>(p - b));
            }
        }
    }

    Handler& h_;
    bool stopped_ = false;
    boost::system::error_code ec_;
    std::string buf_;
    json_number_reader numbers_;
};

} // namespace aibatch::detail
