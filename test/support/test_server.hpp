// A small HTTP/1.1 server on 127.0.0.1 for transport tests, on its own thread.
// Paths it serves (any method):
//   /hello            200 "hello", keep-alive
//   /echo             200, body = "<METHOD> <target>\n" + request body
//   /headers          200, body = the request's header fields, one "name: value" a line
//   /close-after      200 "bye" with keep-alive, then the server closes the connection
//   /delay?ms=N       waits N ms, then 200 "late"
//   /big?bytes=N      200, chunked body of N bytes ('a' + i % 26), 16 KiB chunks
//   /stall            200 chunked, one chunk "partial", then silence until closed
//   /status?code=N    status N with a small JSON error body
// In `silent` mode it accepts TCP connections and never reads or writes.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

namespace aibatch::test {

struct test_server_options {
    bool tls = false;
    std::filesystem::path cert_file;
    std::filesystem::path key_file;
    bool silent = false;
};

class test_server {
public:
    explicit test_server(test_server_options opts = {});
    ~test_server();
    test_server(const test_server&) = delete;
    test_server& operator=(const test_server&) = delete;

    unsigned short port() const;
    /// "http://127.0.0.1:PORT" or "https://localhost:PORT".
    std::string url() const;
    /// "https://127.0.0.1:PORT" etc.: the same server by IP address.
    std::string url_by_ip() const;
    /// TCP connections accepted so far.
    std::size_t accepted() const;
    /// Requests read whole (head and body) so far.
    std::size_t requests() const;
    /// Blocks until the server has closed `n` connections (or `timeout` passed): true
    /// when it has.
    bool wait_closed(std::size_t n, std::chrono::milliseconds timeout) const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace aibatch::test
