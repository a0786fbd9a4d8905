// A loopback HTTP/1.1 server that answers with canned responses in order and records
// every request it receives verbatim: for tests of the client's handling of answers the
// emulator does not give (non-JSON error bodies, retry-after-ms, x-should-retry) and for
// wire tests of what the client sends.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace aibatch::test {

struct recorded_request {
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers; ///< names lower-cased
    std::string body;
    std::string header(const std::string& name) const; ///< "" when absent
};

class canned_server {
public:
    /// `responses`: complete raw HTTP responses ("HTTP/1.1 200 OK\r\n...\r\n\r\nbody");
    /// Content-Length is added when missing. The last one repeats once the list runs out.
    explicit canned_server(std::vector<std::string> responses);
    ~canned_server();
    canned_server(const canned_server&) = delete;
    canned_server& operator=(const canned_server&) = delete;

    std::string url() const;
    std::vector<recorded_request> requests() const;

    /// A response with a status, extra header lines ("name: value\r\n"...) and a body.
    static std::string response(unsigned status, const std::string& body,
                                const std::string& extra_headers = {},
                                const std::string& content_type = "application/json");

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace aibatch::test
