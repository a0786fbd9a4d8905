// fast_json (src/typed/fast_json.hpp) against boost::json::basic_parser, event by event.
// Promise: on any bytes, fast_json reads the text exactly when basic_parser (default
// parse_options) accepts it, and then with the same events and values (a string or a key
// that basic_parser gives in parts is compared whole; a double to the bit). When the
// handler refuses its k-th event (the first byte picks k), fast_json never reads the text.
#include "fuzz_targets.hpp"

#include <typed/fast_json.hpp>

#include <boost/json/basic_parser_impl.hpp>

#include <bit>
#include <cstdint>
#include <string>

namespace aibatch::fuzz {
namespace {

// Writes every event into `log`; returns false at the event numbered stop_at.
struct recorder {
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);
    using ec_t = boost::system::error_code;
    using sv = boost::json::string_view;

    std::string log, part;
    std::size_t events = 0, stop_at = std::size_t(-1);

    bool put(const std::string& e, ec_t& ec) {
        log += e;
        log += '\n';
        if (++events == stop_at) {
            ec = boost::json::error::syntax;
            return false;
        }
        return true;
    }
    bool whole(char what, sv s, std::size_t n, ec_t& ec) {
        part.append(s.data(), s.size());
        std::string e = std::string(1, what) + std::to_string(n) + ":" + part;
        part.clear();
        return put(e, ec);
    }
    bool on_document_begin(ec_t& ec) { return put("doc", ec); }
    bool on_document_end(ec_t& ec) { return put("end", ec); }
    bool on_object_begin(ec_t& ec) { return put("{", ec); }
    bool on_object_end(std::size_t n, ec_t& ec) { return put("}" + std::to_string(n), ec); }
    bool on_array_begin(ec_t& ec) { return put("[", ec); }
    bool on_array_end(std::size_t n, ec_t& ec) { return put("]" + std::to_string(n), ec); }
    bool on_key_part(sv s, std::size_t, ec_t&) {
        part.append(s.data(), s.size());
        return true;
    }
    bool on_key(sv s, std::size_t n, ec_t& ec) { return whole('k', s, n, ec); }
    bool on_string_part(sv s, std::size_t, ec_t&) {
        part.append(s.data(), s.size());
        return true;
    }
    bool on_string(sv s, std::size_t n, ec_t& ec) { return whole('s', s, n, ec); }
    bool on_number_part(sv, ec_t&) { return true; }
    bool on_int64(std::int64_t v, sv, ec_t& ec) { return put("i" + std::to_string(v), ec); }
    bool on_uint64(std::uint64_t v, sv, ec_t& ec) { return put("u" + std::to_string(v), ec); }
    bool on_double(double v, sv, ec_t& ec) {
        return put("d" + std::to_string(std::bit_cast<std::uint64_t>(v)), ec);
    }
    bool on_bool(bool v, ec_t& ec) { return put(v ? "true" : "false", ec); }
    bool on_null(ec_t& ec) { return put("null", ec); }
    bool on_comment_part(sv, ec_t&) { return true; }
    bool on_comment(sv, ec_t& ec) { return put("comment", ec); }
};

} // namespace

void json_tokens(std::string_view data) {
    std::size_t stop_at = std::size_t(-1);
    if (!data.empty() && (static_cast<unsigned char>(data[0]) & 0x80)) {
        stop_at = static_cast<unsigned char>(data[0]) & 0x3F; // 0: never
        if (stop_at == 0)
            stop_at = std::size_t(-1);
    }
    if (!data.empty())
        data.remove_prefix(1);

    boost::json::basic_parser<recorder> boost_parser{boost::json::parse_options{}};
    recorder& b = boost_parser.handler();
    b.stop_at = stop_at;
    boost::system::error_code ec;
    std::size_t used = boost_parser.write_some(false, data.data(), data.size(), ec);
    const bool boost_read = !ec && used == data.size();
    const bool boost_stopped = b.events == stop_at;

    recorder f;
    f.stop_at = stop_at;
    detail::fast_json<recorder> fast(f);
    detail::fast_json_status s = fast.read(data);

    using detail::fast_json_status;
    if (s == fast_json_status::read) {
        require(boost_read && !boost_stopped,
                "fast_json reads what basic_parser refuses (" + ec.message() + "):\n" + f.log);
        require(f.log == b.log, "the events differ:\n" + f.log + "---\n" + b.log);
    } else if (s == fast_json_status::stopped) {
        require(f.events == stop_at, "fast_json stopped with no handler refusal");
    } else if (!boost_stopped) {
        require(!boost_read, "basic_parser reads it, fast_json does not; events so far:\n" + f.log);
    }
}

} // namespace aibatch::fuzz
