#include <aibatch/endpoint.hpp>
#include <aibatch/error.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>

namespace aibatch {

endpoint endpoint::parse(std::string_view url) {
    auto fail = [url](std::string_view why) -> endpoint {
        throw error(errc::invalid_url, "base URL \"" + std::string(url) + "\" " + std::string(why) +
                                           "; expected e.g. https://api.anthropic.com");
    };
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
        return fail("has scheme \"" + std::string(u.scheme()) + "\"; only https and http work");
    if (u.has_userinfo())
        return fail("carries user info; put the API key in ANTHROPIC_API_KEY instead");
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
        ep.host = u.host();
        break;
    default:
        return fail("has no usable host");
    }
    if (ep.host.empty())
        return fail("has no host");
    ep.port = u.has_port() ? std::string(u.port()) : (ep.tls ? "443" : "80");
    ep.base_path = std::string(u.encoded_path());
    while (!ep.base_path.empty() && ep.base_path.back() == '/')
        ep.base_path.pop_back();
    return ep;
}

bool endpoint::is_loopback() const {
    if (host == "localhost" || host.ends_with(".localhost"))
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
