// Pure rules of the API layer: error mapping, retry decisions, backoff, timestamps.
#include "api/api_rules.hpp"
#include "api/client_impl.hpp"
#include <aibatch/api/batches.hpp>

#include <boost/asio/error.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <random>
#include <set>

using namespace std::chrono_literals;
namespace json = boost::json;

BOOST_AUTO_TEST_SUITE(api_rules)

BOOST_AUTO_TEST_CASE(backoff_doubles_caps_and_jitters_down_by_at_most_a_quarter) {
    aibatch::retry_policy p; // 500 ms .. 8 s
    BOOST_TEST(aibatch::detail::backoff(p, 0, 0.0).count() == 500);
    BOOST_TEST(aibatch::detail::backoff(p, 1, 0.0).count() == 1000);
    BOOST_TEST(aibatch::detail::backoff(p, 4, 0.0).count() == 8000);
    BOOST_TEST(aibatch::detail::backoff(p, 9, 0.0).count() == 8000);
    BOOST_TEST(aibatch::detail::backoff(p, 0, 0.999).count() == 375);
}

BOOST_AUTO_TEST_CASE(retry_after_forms) {
    aibatch::http_headers h;
    BOOST_TEST(!aibatch::detail::retry_after(h).has_value());
    h.add("retry-after", "2");
    BOOST_TEST(aibatch::detail::retry_after(h)->count() == 2000);
    aibatch::http_headers ms;
    ms.add("Retry-After-Ms", "150.5");
    ms.add("retry-after", "9");
    BOOST_TEST(aibatch::detail::retry_after(ms)->count() == 151); // -ms wins
    aibatch::http_headers date;
    date.add("retry-after", "Wed, 21 Oct 2015 07:28:05 GMT");
    auto now = std::chrono::system_clock::from_time_t(1445412480); // 07:28:00
    BOOST_TEST(aibatch::detail::retry_after(date, now)->count() == 5000);
    aibatch::http_headers silly;
    silly.add("retry-after", "3600");
    BOOST_TEST(!aibatch::detail::retry_after(silly).has_value()); // over 60 s: backoff rule
    aibatch::http_headers junk;
    junk.add("retry-after", "soon");
    BOOST_TEST(!aibatch::detail::retry_after(junk).has_value());
}

BOOST_AUTO_TEST_CASE(retry_after_dates_far_from_now_are_ignored_without_overflow) {
    for (const char* d : {"Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT"}) {
        aibatch::http_headers h;
        h.add("retry-after", d);
        BOOST_TEST(!aibatch::detail::retry_after(h).has_value(), d);
    }
    aibatch::http_headers huge;
    huge.add("retry-after-ms", "1e300");
    BOOST_TEST(!aibatch::detail::retry_after(huge).has_value());
}

BOOST_AUTO_TEST_CASE(rfc3339_outside_the_clock_range_or_calendar_is_refused) {
    for (const char* t :
         {"2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "2024-01-01T00:00:00+24:00"})
        BOOST_TEST(!aibatch::parse_rfc3339(t).has_value(), t);
    // The clock's range depends on the standard library: libstdc++'s system_clock counts
    // nanoseconds (about 1678-2262), libc++'s microseconds (far wider). Outside it: refused.
    if constexpr (std::chrono::system_clock::period::den >= 1'000'000'000) {
        for (const char* t : {"0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                              "1677-01-01T00:00:00Z", "2263-01-01T00:00:00Z"})
            BOOST_TEST(!aibatch::parse_rfc3339(t).has_value(), t);
    }
    auto leap = aibatch::parse_rfc3339("2024-02-29T00:00:00Z");
    BOOST_REQUIRE(leap.has_value());
    BOOST_TEST(aibatch::format_rfc3339(*leap) == "2024-02-29T00:00:00.000000Z");
    auto old = aibatch::parse_rfc3339("1700-03-01T12:00:00.5-01:30");
    BOOST_REQUIRE(old.has_value());
    BOOST_TEST(aibatch::format_rfc3339(*old) == "1700-03-01T13:30:00.500000Z");
}

BOOST_AUTO_TEST_CASE(retryable_statuses_and_should_retry) {
    for (unsigned s : {408u, 409u, 429u, 500u, 502u, 503u, 504u, 529u})
        BOOST_TEST(aibatch::detail::retryable_status(s), s);
    for (unsigned s : {400u, 401u, 402u, 403u, 404u, 413u, 422u})
        BOOST_TEST(!aibatch::detail::retryable_status(s), s);
    aibatch::http_headers h;
    BOOST_TEST(!aibatch::detail::should_retry_header(h).has_value());
    h.add("x-should-retry", "false");
    BOOST_TEST(*aibatch::detail::should_retry_header(h) == false);
}

BOOST_AUTO_TEST_CASE(error_bodies) {
    aibatch::http_headers h;
    auto e = aibatch::detail::api_error_from_response(
        429, h,
        R"({"type":"error","error":{"type":"rate_limit_error","message":"Slow down"},"request_id":"req_9"})",
        "create_batch");
    BOOST_TEST(e.code() == aibatch::errc::rate_limited);
    BOOST_TEST(e.diag().message == "create_batch: Slow down");
    BOOST_TEST(e.diag().request_id == "req_9");
    BOOST_TEST(e.diag().api_error_type == "rate_limit_error");
    BOOST_TEST(e.diag().api_message == "Slow down"); // the API's words, apart from ours
    auto odd = aibatch::detail::api_error_from_response(418, h, "", "list_batches");
    BOOST_TEST(odd.code() == aibatch::errc::http_status);
    BOOST_TEST(odd.diag().message ==
               "list_batches: HTTP 418 with a body that is not an API error: (empty)");
    BOOST_TEST(odd.diag().api_message.empty());
    std::string long_body(500, 'x');
    auto cut = aibatch::detail::api_error_from_response(503, h, long_body, "x");
    BOOST_TEST(cut.diag().message.size() < 300u);
}

BOOST_AUTO_TEST_CASE(rfc3339_round_trip_and_offsets) {
    auto t = aibatch::parse_rfc3339("2024-08-20T18:37:24.100435Z");
    BOOST_REQUIRE(t.has_value());
    BOOST_TEST(aibatch::format_rfc3339(*t) == "2024-08-20T18:37:24.100435Z");
    auto off = aibatch::parse_rfc3339("2024-08-20T20:37:24+02:00");
    BOOST_TEST(aibatch::format_rfc3339(*off) == "2024-08-20T18:37:24.000000Z");
    BOOST_TEST(!aibatch::parse_rfc3339("2024-08-20 nonsense").has_value());
    BOOST_TEST(!aibatch::parse_rfc3339("2024-08-20T18:37:24").has_value()); // no zone
}

BOOST_AUTO_TEST_CASE(batch_object_is_read_field_by_field) {
    auto b =
        aibatch::batch_info::from_json(json::parse(R"({"id":"msgbatch_1","type":"message_batch",
        "processing_status":"ended","request_counts":{"processing":0,"succeeded":3,"errored":1,
        "canceled":0,"expired":2},"ended_at":"2024-08-20T19:00:00Z","created_at":"2024-08-20T18:00:00Z",
        "expires_at":"2024-08-21T18:00:00Z","archived_at":null,"cancel_initiated_at":null,
        "results_url":"https://api.anthropic.com/v1/messages/batches/msgbatch_1/results"})"));
    BOOST_TEST(b.ended());
    BOOST_TEST(b.request_counts.total() == 6u);
    BOOST_TEST((*b.ended_at - b.created_at == 1h));
    try {
        aibatch::batch_info::from_json(json::parse(R"({"id":"x","type":"message_batch"})"));
        BOOST_FAIL("no error");
    } catch (const aibatch::error& e) {
        BOOST_TEST(std::string(e.what()).find("\"processing_status\"") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(result_lines_of_each_kind) {
    auto ok = aibatch::result_line::from_json(json::parse(
        R"({"custom_id":"a","result":{"type":"succeeded","message":{"id":"msg_1","content":[]}}})"));
    BOOST_TEST((ok.type == aibatch::result_type::succeeded));
    BOOST_TEST(ok.message.at("id").as_string() == "msg_1");
    auto err = aibatch::result_line::from_json(json::parse(
        R"({"custom_id":"b","result":{"type":"errored","error":{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"},"request_id":"req_1"}}})"));
    BOOST_TEST(err.error.type == "invalid_request_error");
    BOOST_TEST(err.error.message == "max_tokens: Field required");
    BOOST_TEST(err.error.request_id == "req_1");
    auto exp = aibatch::result_line::from_json(
        json::parse(R"({"custom_id":"c","result":{"type":"expired"}})"));
    BOOST_TEST((exp.type == aibatch::result_type::expired));
    BOOST_TEST(!aibatch::check_custom_id("ok_id-1").has_value());
    BOOST_TEST(aibatch::check_custom_id("").has_value());
    BOOST_TEST(aibatch::check_custom_id(std::string(65, 'a')).has_value());
    BOOST_TEST(aibatch::check_custom_id("a.b").has_value());
}

// The one retry rule of the client (call, open results, create), without sockets.
BOOST_AUTO_TEST_CASE(retry_allowed_by_failure_kind) {
    using aibatch::detail::failed_attempt;
    const aibatch::error timeout(aibatch::errc::request_timeout, "t");
    const aibatch::error tls(aibatch::errc::tls_handshake, "cert");
    BOOST_TEST(aibatch::detail::retry_allowed(failed_attempt{timeout, std::nullopt, 0, false}));
    BOOST_TEST(!aibatch::detail::retry_allowed(failed_attempt{tls, std::nullopt, 0, false}));
    BOOST_TEST(!aibatch::detail::retry_allowed(failed_attempt{timeout, std::nullopt, 0, true}));
    aibatch::http_headers none;
    auto answer = [&](unsigned status, const aibatch::http_headers& h) {
        return aibatch::detail::answer_failure(status, h, R"({"type":"error","error":{}})", "op");
    };
    BOOST_TEST(aibatch::detail::retry_allowed(answer(529, none)));
    BOOST_TEST(aibatch::detail::retry_allowed(answer(429, none)));
    BOOST_TEST(!aibatch::detail::retry_allowed(answer(400, none)));
    aibatch::http_headers no;
    no.add("x-should-retry", "false");
    BOOST_TEST(!aibatch::detail::retry_allowed(answer(503, no)));
    aibatch::http_headers yes;
    yes.add("x-should-retry", "true");
    BOOST_TEST(aibatch::detail::retry_allowed(answer(400, yes)));
    // The failure keeps the answer's status and headers for retry_wait.
    auto f = answer(429, yes);
    BOOST_TEST(f.status == 429u);
    BOOST_TEST(f.headers.has_value());
    BOOST_TEST(f.err.code() == aibatch::errc::rate_limited);
}

BOOST_AUTO_TEST_CASE(what_may_have_reached_the_server) {
    namespace asio = boost::asio;
    using aibatch::detail::maybe_delivered;
    BOOST_TEST(maybe_delivered(aibatch::errc::request_timeout));
    BOOST_TEST(maybe_delivered(aibatch::errc::connection_closed));
    BOOST_TEST(!maybe_delivered(aibatch::errc::connect_timeout));
    BOOST_TEST(!maybe_delivered(aibatch::errc::connection_failed));
    BOOST_TEST(!maybe_delivered(asio::error::connection_refused));
    BOOST_TEST(!maybe_delivered(asio::error::host_not_found));
    BOOST_TEST(!maybe_delivered(asio::error::operation_aborted));
    BOOST_TEST(!maybe_delivered(asio::error::connection_reset)); // raw: while connecting
    BOOST_TEST(aibatch::detail::answer_maybe_created(500));
    BOOST_TEST(aibatch::detail::answer_maybe_created(504));
    BOOST_TEST(!aibatch::detail::answer_maybe_created(529)); // overloaded: refused first
    BOOST_TEST(!aibatch::detail::answer_maybe_created(429));
}

BOOST_AUTO_TEST_CASE(retry_wait_honours_the_server_then_backs_off) {
    aibatch::retry_policy p; // 500 ms .. 8 s
    BOOST_TEST(aibatch::detail::retry_wait(p, 2, nullptr, 0.0).count() == 2000);
    aibatch::http_headers h;
    h.add("retry-after-ms", "30");
    BOOST_TEST(aibatch::detail::retry_wait(p, 2, &h, 0.0).count() == 30);
    aibatch::http_headers far;
    far.add("retry-after", "3600"); // over 60 s: the backoff rule
    BOOST_TEST(aibatch::detail::retry_wait(p, 0, &far, 0.0).count() == 500);
}

// result_identity tells a second answer for a custom_id from the first one delivered
// again after a resume: equal for the same answer, different for any other (every
// length, a difference in any byte, the result type, trailing zero bytes).
BOOST_AUTO_TEST_CASE(result_identity_tells_answers_apart) {
    using aibatch::result_identity;
    using aibatch::result_type;
    std::set<std::uint64_t> seen;
    std::size_t made = 0;
    const std::string base = "msg_01d74F1BmL9e6HeaIFSx6b4e_req_0123456789";
    for (std::size_t n = 0; n <= base.size(); ++n) {
        std::string id = base.substr(0, n);
        BOOST_TEST(result_identity(result_type::succeeded, id) ==
                   result_identity(result_type::succeeded, std::string(id)));
        for (auto t : {result_type::succeeded, result_type::errored, result_type::canceled}) {
            seen.insert(result_identity(t, id));
            ++made;
        }
        for (std::size_t k = 0; k < n; ++k) { // one byte changed anywhere
            std::string other = id;
            other[k] = static_cast<char>(other[k] ^ 1);
            seen.insert(result_identity(result_type::succeeded, other));
            ++made;
        }
        seen.insert(result_identity(result_type::succeeded, id + std::string(1, '\0')));
        ++made;
    }
    // and 100,000 ids shaped like the API's message ids
    std::mt19937_64 rng(7);
    const std::string digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (int i = 0; i < 100'000; ++i) {
        std::string id = "msg_01";
        for (int c = 0; c < 22; ++c)
            id += digits[rng() % digits.size()];
        seen.insert(result_identity(result_type::succeeded, id));
        ++made;
    }
    BOOST_TEST(seen.size() == made);
}

// append_json_string against its rule, byte by byte: '"', '\\' and bytes below 0x20 are
// escaped (the short forms where JSON has them, else \u00xx), everything else (UTF-8 too)
// passes through. Random strings of every length up to 80 put the escapes at every place
// of a 16-byte block; valid UTF-8 ones also read back through Boost.JSON as they were.
BOOST_AUTO_TEST_CASE(json_strings_are_escaped_exactly_as_json_needs) {
    auto expected = [](std::string_view s) {
        std::string out = "\"";
        for (unsigned char c : s) {
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
                if (c < 0x20) {
                    char u[8];
                    std::snprintf(u, sizeof u, "\\u%04x", c);
                    out += u;
                } else {
                    out += static_cast<char>(c);
                }
            }
        }
        return out + "\"";
    };
    const std::uint64_t seed = std::random_device{}();
    BOOST_TEST_MESSAGE("json string escapes: seed " << seed);
    std::mt19937_64 rng(seed);
    static const std::string pieces[] = {"a",
                                         "Z",
                                         " ",
                                         "~",
                                         "\x7f",
                                         "\"",
                                         "\\",
                                         "\n",
                                         "\x01",
                                         "\x1f",
                                         "\t",
                                         "\xc3\xa9",
                                         "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80",
                                         std::string(1, '\0'),
                                         "/"};
    for (int i = 0; i < 3000; ++i) {
        std::string s;
        const bool utf8 = i % 2 == 0;
        const std::size_t n = rng() % 81;
        while (s.size() < n)
            s +=
                utf8 ? pieces[rng() % std::size(pieces)] : std::string(1, static_cast<char>(rng()));
        std::string out = "x";
        aibatch::append_json_string(s, out);
        BOOST_REQUIRE_EQUAL(out, "x" + expected(s));
        // its sizing twin counts what it writes
        BOOST_REQUIRE_EQUAL(aibatch::json_string_size(s), out.size() - 1);
        if (utf8)
            BOOST_REQUIRE_EQUAL(boost::json::parse(out.substr(1)).as_string(), s);
    }
}

// message_params::system_cache: the system prompt as a string, or as one text block with
// the breakpoint the API reads (no ttl for 5 minutes, its default; "1h" for an hour).
BOOST_AUTO_TEST_CASE(a_cached_system_prompt_is_a_block_with_cache_control) {
    aibatch::message_params p;
    p.model = "claude-haiku-4-5";
    p.system = "you classify";
    BOOST_TEST(p.to_json().at("system") == boost::json::value("you classify"));
    p.system_cache = aibatch::prompt_cache::five_minutes;
    BOOST_TEST(p.to_json().at("system") == boost::json::parse(
                                               R"([{"type":"text","text":"you classify",
                                                    "cache_control":{"type":"ephemeral"}}])"));
    p.system_cache = aibatch::prompt_cache::one_hour;
    BOOST_TEST(p.to_json().at("system") ==
               boost::json::parse(R"([{"type":"text","text":"you classify",
                                       "cache_control":{"type":"ephemeral","ttl":"1h"}}])"));
    p.system.reset();
    BOOST_TEST(!p.to_json().contains("system"));
}

// A batch body without a journal is planned from sizes and written only as it is sent:
// the sizing twins must count exactly what the writers write, for text turns with every
// kind of escape and for turns of content blocks.
BOOST_AUTO_TEST_CASE(request_sizes_are_the_sizes_of_what_is_written) {
    const std::uint64_t seed = std::random_device{}();
    BOOST_TEST_MESSAGE("request sizes: seed " << seed);
    std::mt19937_64 rng(seed);
    static const std::string pieces[] = {"a",  "\"", "\\", "\n", "\x01",     "\x1f", "\t",
                                         "\b", "\f", "\r", "/",  "\xc3\xa9", "\x7f", " "};
    auto text = [&] {
        std::string s;
        const std::size_t n = rng() % 40;
        for (std::size_t k = 0; k < n; ++k)
            s += pieces[rng() % std::size(pieces)];
        return s;
    };
    aibatch::message_params proto;
    proto.model = "claude-haiku-4-5";
    proto.max_tokens = 64;
    proto.system = "be brief \"and\" exact";
    const aibatch::params_template tpl(proto);
    for (int i = 0; i < 500; ++i) {
        aibatch::conversation c;
        const std::size_t turns = rng() % 4;
        for (std::size_t t = 0; t < turns; ++t) {
            aibatch::turn tn = t % 2 == 0 ? aibatch::user(text()) : aibatch::assistant(text());
            if (rng() % 3 == 0)
                tn.blocks.push_back(boost::json::object{{"type", "text"}, {"text", text()}});
            c.push_back(std::move(tn));
        }
        std::string out = "prefix";
        aibatch::append_messages_json(c, out);
        BOOST_REQUIRE_EQUAL(aibatch::messages_json_size(c), out.size() - 6);
        out = "prefix";
        tpl.append(c, out);
        BOOST_REQUIRE_EQUAL(tpl.size(c), out.size() - 6);
        aibatch::message_params whole = proto;
        whole.messages = c;
        BOOST_REQUIRE_EQUAL(out.substr(6), boost::json::serialize(whole.to_json()));
    }
}

BOOST_AUTO_TEST_SUITE_END()
