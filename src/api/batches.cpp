#include <aibatch/api/batches.hpp>
#include <aibatch/detail/ascii.hpp>
#include <aibatch/error.hpp>

#include <boost/json/serialize.hpp>

#include <cstdio>
#include <ctime>

namespace aibatch {

namespace json = boost::json;

namespace {

[[noreturn]] void malformed(std::string_view what, std::string_view field) {
    throw error(errc::bad_response, std::string(what) + ": field \"" + std::string(field) +
                                        "\" is missing or has the wrong type");
}

const json::object& as_object(const json::value& v, std::string_view what) {
    if (!v.is_object())
        throw error(errc::bad_response, std::string(what) + " is not a JSON object");
    return v.get_object();
}

std::string req_string(const json::object& o, std::string_view key, std::string_view what) {
    const auto* v = o.if_contains(key);
    if (!v || !v->is_string())
        malformed(what, key);
    return std::string(v->get_string());
}

std::optional<std::string> opt_string(const json::object& o, std::string_view key,
                                      std::string_view what) {
    const auto* v = o.if_contains(key);
    if (!v || v->is_null())
        return std::nullopt;
    if (!v->is_string())
        malformed(what, key);
    return std::string(v->get_string());
}

std::uint64_t req_count(const json::object& o, std::string_view key, std::string_view what) {
    const auto* v = o.if_contains(key);
    if (v && v->is_uint64())
        return v->get_uint64();
    if (v && v->is_int64() && v->get_int64() >= 0)
        return static_cast<std::uint64_t>(v->get_int64());
    malformed(what, key);
}

std::optional<timestamp> opt_time(const json::object& o, std::string_view key,
                                  std::string_view what) {
    auto s = opt_string(o, key, what);
    if (!s)
        return std::nullopt;
    auto t = parse_rfc3339(*s);
    if (!t)
        throw error(errc::bad_response, std::string(what) + ": field \"" + std::string(key) +
                                            "\" is not an RFC 3339 time: " + *s);
    return t;
}

timestamp req_time(const json::object& o, std::string_view key, std::string_view what) {
    auto t = opt_time(o, key, what);
    if (!t)
        malformed(what, key);
    return *t;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n) {
    if (pos + n > s.size())
        return false;
    for (std::size_t i = pos; i < pos + n; ++i)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

int num(std::string_view s, std::size_t pos, std::size_t n) {
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i)
        v = v * 10 + (s[i] - '0');
    return v;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

unsigned days_in_month(int y, int m) {
    static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

} // namespace

std::optional<timestamp> parse_rfc3339(std::string_view s) {
    // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
    if (!digits(s, 0, 4) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2) || s[7] != '-' ||
        !digits(s, 8, 2) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2) ||
        s[13] != ':' || !digits(s, 14, 2) || s[16] != ':' || !digits(s, 17, 2))
        return std::nullopt;
    int year = num(s, 0, 4), month = num(s, 5, 2), day = num(s, 8, 2);
    int hour = num(s, 11, 2), minute = num(s, 14, 2), second = num(s, 17, 2);
    if (month < 1 || month > 12 || day < 1 ||
        static_cast<unsigned>(day) > days_in_month(year, month) || hour > 23 || minute > 59 ||
        second > 60)
        return std::nullopt;
    std::size_t i = 19;
    std::int64_t micros = 0;
    if (i < s.size() && s[i] == '.') {
        ++i;
        int n = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            if (n < 6) {
                micros = micros * 10 + (s[i] - '0');
                ++n;
            }
            ++i;
        }
        if (n == 0)
            return std::nullopt;
        for (; n < 6; ++n)
            micros *= 10;
    }
    int offset_min = 0;
    if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
        ++i;
    } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
        if (!digits(s, i + 1, 2) || i + 3 >= s.size() || s[i + 3] != ':' || !digits(s, i + 4, 2))
            return std::nullopt;
        if (num(s, i + 1, 2) > 23 || num(s, i + 4, 2) > 59)
            return std::nullopt;
        offset_min = num(s, i + 1, 2) * 60 + num(s, i + 4, 2);
        if (s[i] == '-')
            offset_min = -offset_min;
        i += 6;
    } else {
        return std::nullopt;
    }
    if (i != s.size())
        return std::nullopt;
    // Years 0000-9999 fit in seconds; a system_clock time_point (nanoseconds in
    // libstdc++) holds only about 1678-2262: a server-chosen time outside is refused, not
    // overflowed.
    std::int64_t secs =
        days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
        std::int64_t{hour} * 3600 + std::int64_t{minute} * 60 + second -
        std::int64_t{offset_min} * 60;
    constexpr auto limit =
        std::chrono::duration_cast<std::chrono::seconds>(timestamp::duration::max()).count() - 1;
    if (secs > limit || secs < -limit)
        return std::nullopt;
    return timestamp(std::chrono::duration_cast<timestamp::duration>(
        std::chrono::seconds(secs) + std::chrono::microseconds(micros)));
}

std::string format_rfc3339(timestamp t) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
    std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
    long frac = static_cast<long>(us % 1'000'000);
    if (frac < 0) {
        frac += 1'000'000;
        --secs;
    }
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return buf;
}

std::string_view to_string(processing_status s) noexcept {
    switch (s) {
    case processing_status::in_progress:
        return "in_progress";
    case processing_status::canceling:
        return "canceling";
    case processing_status::ended:
        return "ended";
    }
    return "unknown";
}

std::string_view to_string(result_type t) noexcept {
    switch (t) {
    case result_type::succeeded:
        return "succeeded";
    case result_type::errored:
        return "errored";
    case result_type::canceled:
        return "canceled";
    case result_type::expired:
        return "expired";
    }
    return "unknown";
}

request_counts& request_counts::operator+=(const request_counts& o) noexcept {
    processing += o.processing;
    succeeded += o.succeeded;
    errored += o.errored;
    canceled += o.canceled;
    expired += o.expired;
    return *this;
}

batch_info batch_info::from_json(const json::value& v) {
    constexpr std::string_view what = "a MessageBatch";
    const auto& o = as_object(v, what);
    batch_info b;
    b.id = req_string(o, "id", what);
    b.type = req_string(o, "type", what);
    std::string st = req_string(o, "processing_status", what);
    if (st == "in_progress")
        b.status = processing_status::in_progress;
    else if (st == "canceling")
        b.status = processing_status::canceling;
    else if (st == "ended")
        b.status = processing_status::ended;
    else
        throw error(errc::bad_response,
                    "a MessageBatch has an unknown processing_status \"" + st + "\"");
    const auto* rc = o.if_contains("request_counts");
    if (!rc || !rc->is_object())
        malformed(what, "request_counts");
    const auto& c = rc->get_object();
    constexpr std::string_view cw = "a MessageBatch's request_counts";
    b.request_counts.processing = req_count(c, "processing", cw);
    b.request_counts.succeeded = req_count(c, "succeeded", cw);
    b.request_counts.errored = req_count(c, "errored", cw);
    b.request_counts.canceled = req_count(c, "canceled", cw);
    b.request_counts.expired = req_count(c, "expired", cw);
    b.created_at = req_time(o, "created_at", what);
    b.expires_at = req_time(o, "expires_at", what);
    b.ended_at = opt_time(o, "ended_at", what);
    b.archived_at = opt_time(o, "archived_at", what);
    b.cancel_initiated_at = opt_time(o, "cancel_initiated_at", what);
    b.results_url = opt_string(o, "results_url", what);
    return b;
}

batch_page batch_page::from_json(const json::value& v) {
    constexpr std::string_view what = "a list of batches";
    const auto& o = as_object(v, what);
    batch_page p;
    const auto* data = o.if_contains("data");
    if (!data || !data->is_array())
        malformed(what, "data");
    p.data.reserve(data->get_array().size());
    for (const auto& b : data->get_array())
        p.data.push_back(batch_info::from_json(b));
    const auto* hm = o.if_contains("has_more");
    if (!hm || !hm->is_bool())
        malformed(what, "has_more");
    p.has_more = hm->get_bool();
    p.first_id = opt_string(o, "first_id", what);
    p.last_id = opt_string(o, "last_id", what);
    return p;
}

std::optional<std::string> check_custom_id(std::string_view id) {
    if (id.empty() || id.size() > 64)
        return "custom_id must be 1 to 64 characters long (got " + std::to_string(id.size()) + ")";
    for (char c : id)
        if (!(detail::ascii::is_alnum(c) || c == '_' || c == '-'))
            return "custom_id \"" + std::string(id) +
                   "\" may only hold letters, digits, '_' and '-' (^[a-zA-Z0-9_-]{1,64}$)";
    return std::nullopt;
}

void serialize_create_body(std::span<const batch_request> requests, std::string& out) {
    out += R"({"requests":[)";
    bool first = true;
    for (const auto& r : requests) {
        if (!first)
            out += ',';
        first = false;
        out += R"({"custom_id":)";
        out += json::serialize(json::value(r.custom_id));
        out += R"(,"params":)";
        out += json::serialize(r.params.to_json());
        out += '}';
    }
    out += "]}";
}

result_line result_line::from_json(json::value&& v) {
    constexpr std::string_view what = "a result line";
    if (!v.is_object())
        throw aibatch::error(errc::bad_response, "a result line is not a JSON object");
    auto& o = v.get_object();
    result_line r;
    r.custom_id = req_string(o, "custom_id", what);
    auto* res = o.if_contains("result");
    if (!res || !res->is_object())
        malformed(what, "result");
    auto& ro = res->get_object();
    std::string type = req_string(ro, "type", what);
    if (type == "succeeded") {
        r.type = result_type::succeeded;
        auto* m = ro.if_contains("message");
        if (!m || !m->is_object())
            malformed("a succeeded result", "message");
        r.message = std::move(m->get_object());
    } else if (type == "errored") {
        r.type = result_type::errored;
        // The whole ErrorResponse: {"type":"error","error":{"type","message"},"request_id"}
        const auto* e = ro.if_contains("error");
        if (!e || !e->is_object())
            malformed("an errored result", "error");
        const auto& eo = e->get_object();
        const json::object* inner = &eo;
        if (const auto* ie = eo.if_contains("error"); ie && ie->is_object())
            inner = &ie->get_object();
        r.error.type = opt_string(*inner, "type", what).value_or("");
        r.error.message = opt_string(*inner, "message", what).value_or("");
        r.error.request_id = opt_string(eo, "request_id", what).value_or("");
    } else if (type == "canceled") {
        r.type = result_type::canceled;
    } else if (type == "expired") {
        r.type = result_type::expired;
    } else {
        throw aibatch::error(errc::bad_response, "a result line has an unknown result type \"" +
                                                     type + "\" (custom_id " + r.custom_id + ")");
    }
    return r;
}

} // namespace aibatch
