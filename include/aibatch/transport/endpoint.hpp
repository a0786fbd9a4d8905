// Where a client connects: scheme, host, port and path prefix of a base URL.
#pragma once

#include <string>
#include <string_view>

namespace aibatch {

/// A parsed base URL such as "https://api.anthropic.com" or "http://127.0.0.1:8080".
struct endpoint {
    bool tls = true;       ///< https (true) or http (false)
    std::string host;      ///< host name or IP address, without brackets for IPv6
    std::string port;      ///< explicit port, or 443 / 80 by scheme
    std::string base_path; ///< path prefix without trailing '/', often empty

    /// Parses a base URL. Throws aibatch::error (errc::invalid_url) when it does not
    /// parse, has a scheme other than http/https, has no host, a host name holding other
    /// than letters, digits, '-', '.' and '_' after percent-decoding (NUL, CR/LF, ...), a
    /// port that is empty or not 1-65535, text after the host that is not a path, or
    /// carries a query, fragment or user info.
    static endpoint parse(std::string_view url);

    /// True for the name "localhost" and literal loopback addresses (127.0.0.0/8, ::1).
    /// Names under .localhost do not count: the resolver does not pin them to loopback.
    bool is_loopback() const;

    /// Throws aibatch::error (errc::insecure_http) for plain http:// to a host that is
    /// not loopback, unless allow_insecure_http is set.
    void check_security(bool allow_insecure_http) const;

    /// "https://host:port" (brackets around IPv6 hosts).
    std::string origin() const;
};

} // namespace aibatch
