#include "canned_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <sys/socket.h>
#include <thread>

namespace aibatch::test {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::string recorded_request::header(const std::string& name) const {
    for (const auto& [k, v] : headers)
        if (k == name)
            return v;
    return {};
}

struct canned_server::impl {
    asio::io_context ioc;
    tcp::acceptor acceptor{ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
    std::vector<std::string> responses;
    std::size_t next = 0;
    mutable std::mutex mtx;
    std::vector<recorded_request> seen;
    std::thread thread;
    std::atomic<bool> stopping{false};
    std::atomic<int> current_fd{-1};

    void serve(tcp::socket s) {
        boost::system::error_code ec;
        asio::streambuf buf;
        for (;;) {
            std::size_t n = asio::read_until(s, buf, "\r\n\r\n", ec);
            if (ec)
                return;
            std::string head(asio::buffers_begin(buf.data()),
                             asio::buffers_begin(buf.data()) + static_cast<std::ptrdiff_t>(n));
            buf.consume(n);
            recorded_request r;
            std::size_t eol = head.find("\r\n");
            std::string line = head.substr(0, eol);
            std::size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
            r.method = line.substr(0, sp1);
            r.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
            std::size_t length = 0;
            for (std::size_t pos = eol + 2; pos < head.size();) {
                std::size_t e = head.find("\r\n", pos);
                if (e == pos || e == std::string::npos)
                    break;
                std::string field = head.substr(pos, e - pos);
                std::size_t colon = field.find(':');
                std::string name = field.substr(0, colon);
                std::transform(name.begin(), name.end(), name.begin(),
                               [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
                std::string value = field.substr(colon + 1);
                value.erase(0, value.find_first_not_of(' '));
                if (name == "content-length")
                    length = std::stoul(value);
                r.headers.emplace_back(name, value);
                pos = e + 2;
            }
            if (length > buf.size())
                asio::read(s, buf, asio::transfer_exactly(length - buf.size()), ec);
            if (ec)
                return;
            r.body.assign(asio::buffers_begin(buf.data()),
                          asio::buffers_begin(buf.data()) + static_cast<std::ptrdiff_t>(length));
            buf.consume(length);
            std::string answer;
            {
                std::lock_guard lock(mtx);
                seen.push_back(std::move(r));
                answer = responses[std::min(next, responses.size() - 1)];
                ++next;
            }
            asio::write(s, asio::buffer(answer), ec);
            if (ec)
                return;
        }
    }
};

canned_server::canned_server(std::vector<std::string> responses) : impl_(std::make_unique<impl>()) {
    impl_->responses = std::move(responses);
    impl_->thread = std::thread([this] {
        for (;;) {
            boost::system::error_code ec;
            tcp::socket s(impl_->ioc);
            impl_->acceptor.accept(s, ec);
            if (ec || impl_->stopping)
                return;
            impl_->current_fd = s.native_handle();
            impl_->serve(std::move(s)); // one connection at a time is enough for tests
            impl_->current_fd = -1;
        }
    });
}

canned_server::~canned_server() {
    impl_->stopping = true;
    if (int fd = impl_->current_fd.load(); fd >= 0)
        ::shutdown(fd, SHUT_RDWR); // unblocks a read on a kept-alive connection
    boost::system::error_code ec;
    tcp::socket s(impl_->ioc);
    s.connect(impl_->acceptor.local_endpoint(), ec); // wake the accept
    s.close(ec);
    impl_->acceptor.close(ec);
    impl_->thread.join();
}

std::string canned_server::url() const {
    return "http://127.0.0.1:" + std::to_string(impl_->acceptor.local_endpoint().port());
}

std::vector<recorded_request> canned_server::requests() const {
    std::lock_guard lock(impl_->mtx);
    return impl_->seen;
}

std::string canned_server::response(unsigned status, const std::string& body,
                                    const std::string& extra_headers,
                                    const std::string& content_type) {
    return "HTTP/1.1 " + std::to_string(status) + " X\r\ncontent-type: " + content_type +
           "\r\ncontent-length: " + std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" +
           body;
}

} // namespace aibatch::test
