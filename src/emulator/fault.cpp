#include <aibatch/detail/ascii.hpp>
#include <aibatch/detail/c_locale.hpp>
#include <aibatch/emulator/emulator.hpp>

#include <charconv>
#include <cstdlib>
#include <stdexcept>

namespace aibatch::emulator {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    std::size_t pos = 0;
    for (;;) {
        std::size_t end = s.find(sep, pos);
        out.push_back(s.substr(pos, end == std::string_view::npos ? end : end - pos));
        if (end == std::string_view::npos)
            return out;
        pos = end + 1;
    }
}

[[noreturn]] void bad(std::string_view spec, std::string_view why) {
    throw std::invalid_argument(
        "--fault " + std::string(spec) + ": " + std::string(why) +
        " (forms: status:CODE:N[:ENDPOINT], drop:N[:ENDPOINT], "
        "drop-after:N[:ENDPOINT], cut-request:BYTES:N[:ENDPOINT], cut-results:BYTES, "
        "delay:MS:N[:ENDPOINT], trickle:BYTES:N, expire:N, "
        "transient-404:MS:N[:ENDPOINT], dup-line:N, inject-line:N:TEXT)");
}

std::uint64_t number(std::string_view spec, std::string_view s, const char* what) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size())
        bad(spec, std::string(what) + " \"" + std::string(s) + "\" is not a whole number");
    return v;
}

std::string endpoint_name(std::string_view spec, std::string_view s) {
    static const char* known[] = {"create", "retrieve", "list",     "cancel",
                                  "delete", "results",  "messages", "count_tokens"};
    for (const char* k : known)
        if (s == k)
            return std::string(s);
    bad(spec, "unknown endpoint \"" + std::string(s) + "\"");
}

} // namespace

fault parse_fault(std::string_view spec) {
    auto parts = split(spec, ':');
    fault f;
    std::string_view kind = parts[0];
    auto want = [&](std::size_t lo, std::size_t hi) {
        if (parts.size() < lo || parts.size() > hi)
            bad(spec, "wrong number of fields");
    };
    if (kind == "status") {
        want(3, 4);
        f.what = fault::kind::status;
        f.status = static_cast<unsigned>(number(spec, parts[1], "CODE"));
        if (f.status < 400 || f.status > 599)
            bad(spec, "CODE must be an HTTP error status (400-599)");
        if (parts[2].find('.') != std::string_view::npos) {
            // strtod in the "C" locale, not from_chars: libc++ 19 has no floating-point
            // from_chars.
            std::string n(parts[2]);
            std::optional<double> v;
            if (!n.empty() && !aibatch::detail::ascii::is_space(n[0]))
                v = aibatch::detail::c_strtod(n);
            f.fraction = v.value_or(-1);
            if (!v || !(f.fraction > 0 && f.fraction <= 1))
                bad(spec, "a fraction must be a number in (0, 1], like 0.25");
        } else {
            f.count = number(spec, parts[2], "N");
        }
        if (parts.size() == 4)
            f.endpoint = endpoint_name(spec, parts[3]);
    } else if (kind == "drop" || kind == "drop-after") {
        want(2, 3);
        f.what = kind == "drop" ? fault::kind::drop : fault::kind::drop_after;
        f.count = number(spec, parts[1], "N");
        if (parts.size() == 3)
            f.endpoint = endpoint_name(spec, parts[2]);
    } else if (kind == "cut-request") {
        want(3, 4);
        f.what = fault::kind::cut_request;
        f.bytes = number(spec, parts[1], "BYTES");
        f.count = number(spec, parts[2], "N");
        if (parts.size() == 4)
            f.endpoint = endpoint_name(spec, parts[3]);
    } else if (kind == "cut-results") {
        want(2, 2);
        f.what = fault::kind::cut_results;
        f.bytes = number(spec, parts[1], "BYTES");
    } else if (kind == "delay") {
        want(3, 4);
        f.what = fault::kind::delay;
        f.delay = std::chrono::milliseconds(number(spec, parts[1], "MS"));
        f.count = number(spec, parts[2], "N");
        if (parts.size() == 4)
            f.endpoint = endpoint_name(spec, parts[3]);
    } else if (kind == "trickle") {
        want(3, 3);
        f.what = fault::kind::trickle;
        f.bytes = number(spec, parts[1], "BYTES");
        f.count = number(spec, parts[2], "N");
        if (f.bytes == 0)
            bad(spec, "BYTES must be at least 1");
    } else if (kind == "expire") {
        want(2, 2);
        f.what = fault::kind::expire;
        f.count = number(spec, parts[1], "N");
    } else if (kind == "transient-404") {
        want(3, 4);
        f.what = fault::kind::transient_404;
        f.delay = std::chrono::milliseconds(number(spec, parts[1], "MS"));
        f.count = number(spec, parts[2], "N");
        if (parts.size() == 4) {
            f.endpoint = endpoint_name(spec, parts[3]);
            if (f.endpoint != "retrieve" && f.endpoint != "results" && f.endpoint != "cancel" &&
                f.endpoint != "delete")
                bad(spec, "the ENDPOINT of transient-404 is one of a batch's: retrieve, results, "
                          "cancel or delete");
        }
    } else if (kind == "dup-line") {
        want(2, 2);
        f.what = fault::kind::dup_line;
        f.count = number(spec, parts[1], "N");
    } else if (kind == "inject-line") {
        if (parts.size() < 3)
            bad(spec, "wrong number of fields");
        f.what = fault::kind::inject_line;
        f.count = number(spec, parts[1], "N");
        // TEXT is everything after the second colon (it may hold colons itself).
        std::size_t at = spec.find(':', spec.find(':') + 1);
        f.line = std::string(spec.substr(at + 1));
        if (f.line.find('\n') != std::string::npos)
            bad(spec, "TEXT must be one line");
    } else {
        bad(spec, "unknown fault kind \"" + std::string(kind) + "\"");
    }
    return f;
}

} // namespace aibatch::emulator
