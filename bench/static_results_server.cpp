// A trivial loopback server for the benchmarks: serves one JSONL file as the results of
// any batch, a minimal ended MessageBatch pointing at it, and swallows create bodies, so
// that the emulator's own speed is not what the benchmark measures.
//   aibatch_static_results FILE      (prints its URL on the first line)
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: aibatch_static_results FILE\n";
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    asio::io_context ioc;
    tcp::acceptor acc(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    std::string base = "http://127.0.0.1:" + std::to_string(acc.local_endpoint().port());
    std::cout << base << std::endl;
    for (;;) {
        tcp::socket s(ioc);
        acc.accept(s);
        std::thread([&file, &base, s = std::move(s)]() mutable {
            asio::streambuf buf;
            boost::system::error_code ec;
            for (;;) {
                std::size_t n = asio::read_until(s, buf, "\r\n\r\n", ec);
                if (ec)
                    return;
                std::string head(asio::buffers_begin(buf.data()),
                                 asio::buffers_begin(buf.data()) + static_cast<long>(n));
                buf.consume(n);
                // A body (a create) is read and dropped: the server is a sink here.
                std::size_t length = 0;
                for (auto pos = head.find("\r\n");
                     pos != std::string::npos && pos + 2 < head.size();
                     pos = head.find("\r\n", pos + 2)) {
                    std::string line = head.substr(pos + 2, head.find("\r\n", pos + 2) - pos - 2);
                    for (auto& ch : line)
                        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                    if (line.rfind("content-length:", 0) == 0)
                        length = std::stoull(line.substr(15));
                }
                // Drop what is buffered, then read the rest into a fixed scratch buffer.
                std::size_t buffered = std::min(length, buf.size());
                buf.consume(buffered);
                std::vector<char> scratch(std::size_t{1} << 20);
                for (std::size_t left = length - buffered; left > 0;) {
                    std::size_t n = s.read_some(
                        asio::buffer(scratch.data(), std::min(left, scratch.size())), ec);
                    if (ec)
                        return;
                    left -= n;
                }
                std::string target = head.substr(head.find(' ') + 1);
                target = target.substr(0, target.find(' '));
                std::string path = target.substr(0, target.find('?'));
                std::string body, type = "application/json";
                const std::string prefix = "/v1/messages/batches/";
                if (path.size() > 8 && path.compare(path.size() - 8, 8, "/results") == 0) {
                    type = "application/x-jsonl";
                    std::string h = "HTTP/1.1 200 OK\r\ncontent-type: " + type +
                                    "\r\nrequest-id: req_static\r\ncontent-length: " +
                                    std::to_string(file.size()) + "\r\n\r\n";
                    asio::write(s, asio::buffer(h), ec);
                    asio::write(s, asio::buffer(file), ec);
                    if (ec)
                        return;
                    continue;
                }
                std::string id = length > 0 ? "msgbatch_sink" : path.substr(path.rfind('/') + 1);
                body =
                    R"({"id":")" + id +
                    R"(","type":"message_batch","processing_status":"ended","request_counts":{"processing":0,"succeeded":0,"errored":0,"canceled":0,"expired":0},"ended_at":"2026-01-01T00:01:00Z","created_at":"2026-01-01T00:00:00Z","expires_at":"2026-01-02T00:00:00Z","archived_at":null,"cancel_initiated_at":null,"results_url":")" +
                    base + prefix + id + R"(/results"})";
                std::string h =
                    "HTTP/1.1 200 OK\r\ncontent-type: " + type +
                    "\r\nrequest-id: req_static\r\ncontent-length: " + std::to_string(body.size()) +
                    "\r\n\r\n" + body;
                asio::write(s, asio::buffer(h), ec);
                if (ec)
                    return;
            }
        }).detach();
    }
}
