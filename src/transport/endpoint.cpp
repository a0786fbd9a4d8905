#include <aibatch/detail/ascii.hpp>
#include <aibatch/error.hpp>
#include <aibatch/transport/endpoint.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>

#include <charconv>

namespace aibatch {

namespace {

// The URL as a message may show it: control and non-ASCII bytes become '?'.
std::string printable(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 200))
        out += (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F) ? '?'
                                                                                               : c;
    if (s.size() > 200)
        out += "...";
    return out;
}

// A host name after percent-decoding: letters, digits, '-', '.', '_' (what DNS and
// /etc/hosts names use). Rules out NUL, CR/LF, blanks, '%', '/', ':' and the like, which
// would cut the name short in the resolver or end up in the Host header.
bool valid_host_name(std::string_view h) {
    for (char c : h)
        if (!(detail::ascii::is_alnum(c) || c == '-' || c == '.' || c == '_'))
            return false;
    return !h.empty();
}

} // namespace

endpoint endpoint::parse(std::string_view url) {
    auto fail_as = [](std::string_view shown, std::string_view why) -> endpoint {
        throw error(errc::invalid_url, "base URL \"" + printable(shown) + "\" " + std::string(why) +
                                           "; expected e.g. https://api.anthropic.com");
    };
    auto fail = [&](std::string_view why) { return fail_as(url, why); };
    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed)
        return fail("does not parse as an absolute URL");
    const auto& u = *parsed;
    endpoint ep;
    if (u.scheme() == "https")
        ep.tls = true;
    else if (u.scheme() == "http")
        ep.tls = false;
    else
        return fail("has scheme \"" + printable(u.scheme()) + "\"; only https and http work");
    if (u.has_userinfo()) // the URL itself is not shown: the user info may be a password
        return fail_as(std::string(u.scheme()) + "://...",
                       "carries user info; put the API key in ANTHROPIC_API_KEY instead");
    if (u.has_query() || u.has_fragment())
        return fail("has a query or fragment");
    switch (u.host_type()) {
    case boost::urls::host_type::ipv6:
        ep.host = u.host_ipv6_address().to_string();
        break;
    case boost::urls::host_type::ipv4:
        ep.host = u.host_ipv4_address().to_string();
        break;
    case boost::urls::host_type::name:
        ep.host = u.host(); // percent-decoded: checked below, after decoding
        if (!ep.host.empty() && !valid_host_name(ep.host))
            return fail("has a host name with characters a host name cannot have (after "
                        "percent-decoding: only letters, digits, '-', '.' and '_')");
        break;
    default:
        return fail("has no usable host");
    }
    if (ep.host.empty())
        return fail("has no host");
    if (u.has_port()) {
        std::string_view p = u.port();
        unsigned n = 0;
        auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), n);
        if (p.empty() || ec != std::errc() || end != p.data() + p.size() || n < 1 || n > 65535)
            return fail("has a port that is not a number from 1 to 65535");
        ep.port = std::to_string(n);
    } else {
        ep.port = ep.tls ? "443" : "80";
    }
    ep.base_path = std::string(u.encoded_path());
    if (!ep.base_path.empty() && ep.base_path.front() != '/')
        return fail("has text after the host that is not a path");
    while (!ep.base_path.empty() && ep.base_path.back() == '/')
        ep.base_path.pop_back();
    return ep;
}

bool endpoint::is_loopback() const {
    // Only what never leaves the machine whatever the resolver does: the name
    // "localhost" and literal loopback addresses. Names under .localhost are not pinned to
    // loopback by glibc's resolver (they go to DNS), so they do not count.
    if (detail::ascii::iequals(host, "localhost"))
        return true;
    boost::system::error_code ec;
    auto addr = boost::asio::ip::make_address(host, ec);
    return !ec && addr.is_loopback();
}

void endpoint::check_security(bool allow_insecure_http) const {
    if (tls || allow_insecure_http || is_loopback())
        return;
    throw error(errc::insecure_http,
                "refusing plain http:// to " + host +
                    ": the API key would travel in clear text; use https://, or set "
                    "allow_insecure_http (AIBATCH_ALLOW_INSECURE_HTTP=1) if you mean it");
}

std::string endpoint::origin() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return std::string(tls ? "https://" : "http://") + h + ":" + port;
}

} // namespace aibatch
