// Base URLs and configuration. First byte even: the rest is a base URL for
// endpoint::parse. Odd: the rest is a .env file read by client_config::from_env.
// Promises: only aibatch::error; a parsed endpoint has a clean host (no control
// characters or separators, percent-decoding included), a numeric port 1-65535, a base
// path that is empty or starts with '/', and plain http passes the security check only to
// "localhost" or a literal loopback address; a configuration that passes
// require_api_key() carries no CR, LF or NUL into a header.
#include "fuzz_targets.hpp"

#include <aibatch/config.hpp>
#include <aibatch/error.hpp>
#include <aibatch/transport/endpoint.hpp>

#include <boost/asio/ip/address.hpp>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <unistd.h>

namespace aibatch::fuzz {
namespace {

bool host_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
           c == ':';
}

void check_endpoint(const aibatch::endpoint& ep, std::string_view url) {
    std::string u(url);
    require(!ep.host.empty(), "endpoint with an empty host: " + u);
    for (char c : ep.host)
        require(host_char(c), "endpoint host holds a character a host cannot have: " + u);
    require(!ep.port.empty() && ep.port.size() <= 5, "endpoint port is not 1-65535: " + u);
    for (char c : ep.port)
        require(c >= '0' && c <= '9', "endpoint port is not numeric: " + u);
    int port = std::atoi(ep.port.c_str());
    require(port >= 1 && port <= 65535, "endpoint port is not 1-65535: " + u);
    require(ep.base_path.empty() || ep.base_path[0] == '/',
            "endpoint base path does not start with '/': " + u);
    for (unsigned char c : ep.base_path)
        require(c > 0x20 && c < 0x7F, "endpoint base path holds a raw byte: " + u);

    bool passes = true;
    try {
        ep.check_security(false);
    } catch (const error& e) {
        require(e.code() == errc::insecure_http, "check_security failed with another code");
        passes = false;
    }
    if (passes && !ep.tls) {
        boost::system::error_code ec;
        auto addr = boost::asio::ip::make_address(ep.host, ec);
        std::string lower = ep.host;
        for (char& c : lower)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        require(lower == "localhost" || (!ec && addr.is_loopback()),
                "plain http allowed to a host that is not loopback: " + u);
    }
    // origin() parses back to the same place.
    auto again = aibatch::endpoint::parse(ep.origin());
    require(again.host == ep.host && again.port == ep.port && again.tls == ep.tls,
            "origin() does not parse back to the same endpoint: " + u);
}

void check_header_value(const std::string& v, const char* what) {
    for (char c : v)
        require(c != '\r' && c != '\n' && c != '\0',
                std::string(what) + " with CR, LF or NUL passed require_api_key()");
}

const std::string& scratch_file() {
    static const std::string path = [] {
        for (const char* v :
             {"ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "AIBATCH_ANTHROPIC_VERSION",
              "AIBATCH_CONNECT_TIMEOUT", "AIBATCH_REQUEST_TIMEOUT", "AIBATCH_IDLE_TIMEOUT",
              "AIBATCH_MAX_BODY_BYTES", "AIBATCH_CA_FILE", "AIBATCH_ALLOW_INSECURE_HTTP",
              "AIBATCH_MAX_RETRIES", "AIBATCH_RETRY_INITIAL_BACKOFF", "AIBATCH_RETRY_MAX_BACKOFF"})
            ::unsetenv(v);
        char name[] = "/tmp/aibatch-fuzz-env-XXXXXX";
        int fd = ::mkstemp(name);
        if (fd >= 0)
            ::close(fd);
        return std::string(name);
    }();
    return path;
}

void config(std::string_view text) {
    {
        std::ofstream out(scratch_file(), std::ios::binary | std::ios::trunc);
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
    }
    client_config cfg;
    try {
        cfg = client_config::from_env(scratch_file());
    } catch (const error&) {
        return;
    }
    require(cfg.transport.timeouts.connect.count() > 0 && cfg.retry.max_retries >= 0 &&
                cfg.retry.max_backoff >= cfg.retry.initial_backoff,
            "from_env returned an unusable value");
    try {
        cfg.require_api_key();
        check_header_value(cfg.api_key, "an API key");
        check_header_value(cfg.anthropic_version, "an anthropic-version");
    } catch (const error& e) {
        require(e.code() == errc::missing_api_key || e.code() == errc::invalid_config,
                "require_api_key failed with another code");
        for (char c : e.diag().message)
            require(c != '\r' && c != '\n' && c != '\0', "an error message holds CR, LF or NUL");
    }
    try {
        check_endpoint(aibatch::endpoint::parse(cfg.base_url), cfg.base_url);
    } catch (const error& e) {
        require(e.code() == errc::invalid_url, "endpoint::parse failed with another code");
    }
}

} // namespace

void endpoint(std::string_view data) {
    if (data.empty())
        return;
    bool as_config = (static_cast<unsigned char>(data[0]) & 1) != 0;
    data.remove_prefix(1);
    if (as_config)
        return config(data);
    aibatch::endpoint ep;
    try {
        ep = aibatch::endpoint::parse(data);
    } catch (const error& e) {
        require(e.code() == errc::invalid_url, "endpoint::parse failed with another code");
        return;
    }
    check_endpoint(ep, data);
}

} // namespace aibatch::fuzz
