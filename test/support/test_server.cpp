#include "test_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace aibatch::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

std::string query_param(std::string_view target, std::string_view name) {
    auto u = boost::urls::parse_origin_form(target);
    if (!u)
        return {};
    auto it = u->params().find(name);
    return it == u->params().end() ? std::string() : std::string((*it).value);
}

template <class Stream>
asio::awaitable<void> write_raw(Stream& s, std::string_view data) {
    co_await asio::async_write(s, asio::buffer(data.data(), data.size()), use_tuple);
}

std::string chunk(std::string_view data) {
    char head[32];
    std::snprintf(head, sizeof head, "%zx\r\n", data.size());
    return std::string(head) + std::string(data) + "\r\n";
}

// Serves one connection; returns when the client closes or the path asks to close.
template <class Stream>
asio::awaitable<void> serve(Stream& s, std::atomic<std::size_t>& requests) {
    beast::flat_buffer buf;
    for (;;) {
        http::request<http::string_body> req;
        auto [ec, n] = co_await http::async_read(s, buf, req, use_tuple);
        if (ec)
            co_return;
        ++requests;
        std::string target(req.target());
        std::string path = target.substr(0, target.find('?'));
        auto simple = [&](unsigned status, std::string body) {
            http::response<http::string_body> res{static_cast<http::status>(status), 11};
            res.set(http::field::content_type, "text/plain");
            res.set("request-id", "req_test");
            res.body() = std::move(body);
            res.keep_alive(true);
            res.prepare_payload();
            return res;
        };
        if (path == "/hello") {
            auto res = simple(200, "hello");
            co_await http::async_write(s, res, use_tuple);
        } else if (path == "/echo") {
            auto res =
                simple(200, std::string(req.method_string()) + " " + target + "\n" + req.body());
            co_await http::async_write(s, res, use_tuple);
        } else if (path == "/headers") {
            std::string body;
            for (const auto& f : req)
                body += std::string(f.name_string()) + ": " + std::string(f.value()) + "\n";
            auto res = simple(200, body);
            co_await http::async_write(s, res, use_tuple);
        } else if (path == "/close-after") {
            auto res = simple(200, "bye");
            co_await http::async_write(s, res, use_tuple);
            co_return; // closes without saying so: the client's idle connection goes stale
        } else if (path == "/delay") {
            asio::steady_timer t(co_await asio::this_coro::executor);
            t.expires_after(std::chrono::milliseconds(std::stoi(query_param(target, "ms"))));
            co_await t.async_wait(use_tuple);
            auto res = simple(200, "late");
            co_await http::async_write(s, res, use_tuple);
        } else if (path == "/big") {
            std::size_t total = std::stoull(query_param(target, "bytes"));
            co_await write_raw(s, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n");
            std::string piece;
            for (std::size_t i = 0; i < total;) {
                std::size_t len = std::min<std::size_t>(16 * 1024, total - i);
                piece.resize(len);
                for (std::size_t k = 0; k < len; ++k)
                    piece[k] = static_cast<char>('a' + (i + k) % 26);
                co_await write_raw(s, chunk(piece));
                i += len;
            }
            co_await write_raw(s, "0\r\n\r\n");
        } else if (path == "/stall") {
            co_await write_raw(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                      chunk("partial"));
            asio::steady_timer t(co_await asio::this_coro::executor);
            t.expires_after(std::chrono::seconds(30));
            co_await t.async_wait(use_tuple);
            co_return;
        } else if (path == "/status") {
            unsigned code = static_cast<unsigned>(std::stoi(query_param(target, "code")));
            auto res =
                simple(code, R"({"type":"error","error":{"type":"api_error","message":"x"}})");
            co_await http::async_write(s, res, use_tuple);
        } else {
            auto res = simple(404, "no such path");
            co_await http::async_write(s, res, use_tuple);
        }
    }
}

} // namespace

struct test_server::impl {
    test_server_options opts;
    asio::io_context ioc;
    asio::ssl::context ssl_ctx{asio::ssl::context::tls_server};
    tcp::acceptor acceptor{ioc};
    std::atomic<std::size_t> accepted{0};
    std::atomic<std::size_t> requests{0}; ///< requests read whole
    std::mutex closed_mutex;
    std::condition_variable closed_changed;
    std::size_t closed = 0;                         ///< connections the server has closed
    std::vector<std::shared_ptr<tcp::socket>> held; // silent mode
    std::thread thread;

    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, sock] = co_await acceptor.async_accept(use_tuple);
            if (ec)
                co_return;
            ++accepted;
            if (opts.silent) {
                held.push_back(std::make_shared<tcp::socket>(std::move(sock)));
                continue;
            }
            asio::co_spawn(ioc, session(std::move(sock)), asio::detached);
        }
    }

    // The connection is closed when connection() returns (its stream is gone).
    asio::awaitable<void> session(tcp::socket sock) {
        co_await connection(std::move(sock));
        {
            std::lock_guard lock(closed_mutex);
            ++closed;
        }
        closed_changed.notify_all();
    }

    asio::awaitable<void> connection(tcp::socket sock) {
        if (!opts.tls) {
            beast::tcp_stream s(std::move(sock));
            co_await serve(s, requests);
            co_return;
        }
        beast::ssl_stream<beast::tcp_stream> s(std::move(sock), ssl_ctx);
        auto [ec] = co_await s.async_handshake(asio::ssl::stream_base::server, use_tuple);
        if (ec)
            co_return;
        co_await serve(s, requests);
    }
};

test_server::test_server(test_server_options opts) : impl_(std::make_unique<impl>()) {
    impl_->opts = std::move(opts);
    if (impl_->opts.tls) {
        impl_->ssl_ctx.use_certificate_chain_file(impl_->opts.cert_file.string());
        impl_->ssl_ctx.use_private_key_file(impl_->opts.key_file.string(), asio::ssl::context::pem);
    }
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    impl_->acceptor.open(ep.protocol());
    impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    impl_->acceptor.bind(ep);
    impl_->acceptor.listen();
    asio::co_spawn(impl_->ioc, impl_->accept_loop(), asio::detached);
    impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

test_server::~test_server() {
    impl_->ioc.stop();
    impl_->thread.join();
}

unsigned short test_server::port() const {
    return impl_->acceptor.local_endpoint().port();
}

std::string test_server::url() const {
    return impl_->opts.tls ? "https://localhost:" + std::to_string(port())
                           : "http://127.0.0.1:" + std::to_string(port());
}

std::string test_server::url_by_ip() const {
    return std::string(impl_->opts.tls ? "https" : "http") +
           "://127.0.0.1:" + std::to_string(port());
}

std::size_t test_server::accepted() const {
    return impl_->accepted;
}

std::size_t test_server::requests() const {
    return impl_->requests;
}

bool test_server::wait_closed(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->closed_mutex);
    return impl_->closed_changed.wait_for(lock, timeout, [&] { return impl_->closed >= n; });
}

} // namespace aibatch::test
