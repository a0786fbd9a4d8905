#include "api_rules.hpp"

#include <aibatch/detail/c_locale.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>

namespace aibatch::detail {

namespace asio = boost::asio;
namespace json = boost::json;

errc errc_for_status(unsigned status) noexcept {
    switch (status) {
    case 400:
        return errc::invalid_request;
    case 401:
        return errc::authentication;
    case 402:
        return errc::billing;
    case 403:
        return errc::permission;
    case 404:
        return errc::not_found;
    case 413:
        return errc::request_too_large;
    case 429:
        return errc::rate_limited;
    case 500:
        return errc::api_internal;
    case 504:
        return errc::gateway_timeout;
    case 529:
        return errc::overloaded;
    default:
        return errc::http_status;
    }
}

namespace {

std::string printable_prefix(std::string_view body, std::size_t n) {
    std::string out;
    for (char c : body.substr(0, n))
        out += (static_cast<unsigned char>(c) < 0x20 && c != '\n') ? '?' : c;
    if (body.size() > n)
        out += "...";
    return out;
}

std::string hint_for(errc e) {
    switch (e) {
    case errc::authentication:
        return " (check ANTHROPIC_API_KEY: the key is missing, wrong or revoked)";
    case errc::permission:
        return " (the key may not use this resource)";
    case errc::billing:
        return " (check the account's billing and credit balance)";
    case errc::request_too_large:
        return " (a batch holds at most 256 MB; split it: batch_options::max_bytes_per_batch)";
    default:
        return {};
    }
}

} // namespace

error api_error_from_response(unsigned status, const http_headers& headers, std::string_view body,
                              std::string_view what) {
    errc e = errc_for_status(status);
    diagnostics d;
    d.http_status = status;
    if (auto rid = headers.find("request-id"))
        d.request_id = std::string(*rid);
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    const json::object* err = nullptr;
    if (!ec && v.is_object())
        if (const auto* eo = v.get_object().if_contains("error"); eo && eo->is_object())
            err = &eo->get_object();
    if (err) {
        if (const auto* t = err->if_contains("type"); t && t->is_string())
            d.api_error_type = std::string(t->get_string());
        std::string msg;
        if (const auto* m = err->if_contains("message"); m && m->is_string())
            msg = std::string(m->get_string());
        if (d.request_id.empty())
            if (const auto* r = v.get_object().if_contains("request_id"); r && r->is_string())
                d.request_id = std::string(r->get_string());
        d.message = std::string(what) + ": " + (msg.empty() ? "(no message)" : msg);
        d.api_message = std::move(msg);
    } else {
        d.message = std::string(what) + ": HTTP " + std::to_string(status) +
                    " with a body that is not an API error: " +
                    (body.empty() ? std::string("(empty)") : printable_prefix(body, 200));
    }
    d.message += hint_for(e);
    return error(make_error_code(e), std::move(d));
}

bool retryable_status(unsigned status) noexcept {
    return status == 408 || status == 409 || status == 429 || status >= 500;
}

std::optional<bool> should_retry_header(const http_headers& headers) {
    auto v = headers.find("x-should-retry");
    if (!v)
        return std::nullopt;
    if (*v == "true")
        return true;
    if (*v == "false")
        return false;
    return std::nullopt;
}

std::optional<std::chrono::milliseconds> retry_after(const http_headers& headers,
                                                     std::chrono::system_clock::time_point now) {
    using std::chrono::milliseconds;
    std::optional<double> ms;
    // Read as in the "C" locale: a header's "1.5" has a point and its dates English names,
    // whatever the program's locale.
    if (auto v = headers.find("retry-after-ms")) {
        auto d = c_strtod(std::string(*v));
        if (d && std::isfinite(*d))
            ms = *d;
    }
    if (!ms)
        if (auto v = headers.find("retry-after")) {
            std::string s(*v);
            if (auto d = c_strtod(s); d && std::isfinite(*d)) {
                ms = *d * 1000.0;
            } else {
                std::tm tm{};
                const char* rest = nullptr;
                {
                    const c_locale_scope c; // English day and month names
                    rest = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
                }
                if (rest && *rest == '\0') {
                    // In seconds and doubles: a server may send any year (9999), which
                    // a system_clock time_point (nanoseconds) cannot hold.
                    std::time_t at = timegm(&tm);
                    auto now_ms = std::chrono::duration_cast<milliseconds>(now.time_since_epoch());
                    if (at != static_cast<std::time_t>(-1))
                        ms = static_cast<double>(at) * 1000.0 - static_cast<double>(now_ms.count());
                }
            }
        }
    if (!ms || *ms < 0 || *ms > 60'000)
        return std::nullopt;
    return milliseconds(static_cast<std::int64_t>(std::ceil(*ms)));
}

std::chrono::milliseconds backoff(const retry_policy& p, int retry_index,
                                  double jitter01) noexcept {
    double base = static_cast<double>(p.initial_backoff.count()) *
                  std::pow(2.0, static_cast<double>(std::max(0, std::min(retry_index, 30))));
    base = std::min(base, static_cast<double>(p.max_backoff.count()));
    double j = std::clamp(jitter01, 0.0, 1.0);
    return std::chrono::milliseconds(static_cast<std::int64_t>(base * (1.0 - 0.25 * j)));
}

failed_attempt answer_failure(unsigned status, const http_headers& headers, std::string_view body,
                              std::string_view what) {
    return {api_error_from_response(status, headers, body, what), headers, status, false};
}

bool retry_allowed(const failed_attempt& f) noexcept {
    if (f.final)
        return false;
    if (!f.headers)
        return is_retryable(f.err.code());
    return should_retry_header(*f.headers).value_or(retryable_status(f.status));
}

bool maybe_delivered(const boost::system::error_code& ec) noexcept {
    if (auto c = errc_of(ec))
        // bad_response: a malformed HTTP answer, read after the request was sent whole.
        return *c == errc::request_timeout || *c == errc::connection_closed ||
               *c == errc::bad_response;
    // A refused or unreachable connection never carried the request.
    if (ec == asio::error::connection_refused || ec == asio::error::host_unreachable ||
        ec == asio::error::network_unreachable || ec == asio::error::host_not_found ||
        ec == asio::error::host_not_found_try_again || ec == asio::error::operation_aborted)
        return false;
    // Neither did a connection dropped while it was being set up (the TLS handshake): once
    // a request is under way, the transport reports these as errc::connection_closed, so
    // as raw codes they come from connecting only.
    return ec != asio::error::eof && ec != asio::error::connection_reset &&
           ec != asio::error::connection_aborted && ec != asio::error::broken_pipe &&
           ec != asio::ssl::error::stream_truncated;
}

bool answer_maybe_created(unsigned status) noexcept {
    return status >= 500 && status != 529;
}

std::chrono::milliseconds retry_wait(const retry_policy& p, int retry_index,
                                     const http_headers* headers, double jitter01) {
    if (headers)
        if (auto asked = retry_after(*headers))
            return *asked;
    return backoff(p, retry_index, jitter01);
}

} // namespace aibatch::detail
