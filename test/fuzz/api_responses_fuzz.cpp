// What a server sends: result lines, batch objects, list pages, messages, error bodies,
// timestamps and retry-after headers. The first byte picks the parser, the rest is its
// input. Promises: only aibatch::error (errc::bad_response for documents), no undefined
// behaviour for any server-chosen value, timestamps round-trip through format_rfc3339, a
// retry-after wait is within 0-60 s.
#include "fuzz_targets.hpp"

#include "api/api_rules.hpp"
#include <aibatch/api/batches.hpp>
#include <aibatch/api/messages.hpp>

#include <boost/json/parse.hpp>

namespace aibatch::fuzz {
namespace {
namespace json = boost::json;

template <class F>
void expect_bad_response(F&& f) {
    try {
        f();
    } catch (const error& e) {
        require(e.code() == errc::bad_response, "a response parser failed with another code");
    }
}

void timestamp_text(std::string_view s) {
    auto t = parse_rfc3339(s);
    if (!t)
        return;
    std::string text = format_rfc3339(*t);
    // RFC 3339 has four-digit years: a time past 9999 (reachable with a wide clock, as
    // libc++'s, and an offset) has no RFC 3339 form to round-trip through.
    if (text.size() > 4 && text[4] != '-')
        return;
    auto again = parse_rfc3339(text);
    require(again && *again == *t, "format_rfc3339 does not parse back: " + text);
}

void retry_after_header(std::string_view data, bool ms) {
    // The HTTP parser never lets CR, LF or NUL into a header value; http_headers refuses
    // them too.
    if (data.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
        return;
    http_headers h;
    h.add(ms ? "retry-after-ms" : "retry-after", std::string(data));
    auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
    if (auto w = detail::retry_after(h, now))
        require(w->count() >= 0 && w->count() <= 60'000, "retry_after outside 0-60 s");
}

} // namespace

void api_responses(std::string_view data) {
    if (data.empty())
        return;
    unsigned char which = static_cast<unsigned char>(data[0]);
    data.remove_prefix(1);
    switch (which % 8) {
    case 5:
        return timestamp_text(data);
    case 6:
        return retry_after_header(data, false);
    case 7:
        return retry_after_header(data, true);
    case 4: {
        http_headers h;
        h.add("request-id", "req_1");
        auto e = detail::api_error_from_response(400 + which % 200, h, data, "fuzz");
        require(!e.diag().message.empty(), "an API error without a message");
        return;
    }
    default:
        break;
    }
    boost::system::error_code ec;
    json::value v = json::parse(data, ec);
    if (ec)
        return;
    switch (which % 8) {
    case 0:
        return expect_bad_response([&] { (void)result_line::from_json(std::move(v)); });
    case 1:
        return expect_bad_response([&] { (void)batch_info::from_json(v); });
    case 2:
        return expect_bad_response([&] { (void)batch_page::from_json(v); });
    default:
        return expect_bad_response([&] {
            (void)message::from_json(v);
            (void)usage_from_json(v);
        });
    }
}

} // namespace aibatch::fuzz
