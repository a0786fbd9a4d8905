// The emulator's network side: accepts connections (TLS when configured), reads HTTP
// requests, applies the faults that act on the connection (drop, drop-after, delay, an
// injected status), writes the service's replies and streams results (with the
// cut-results, trickle, dup-line and inject-line faults). What each request is answered
// is the service's business (service.hpp).
#include "service.hpp"

#include <aibatch/emulator/emulator.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <thread>

namespace aibatch::emulator {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string chunk(std::string_view data) {
    char head[24];
    int n = std::snprintf(head, sizeof head, "%zx\r\n", data.size());
    std::string out(head, static_cast<std::size_t>(n));
    out.append(data);
    out += "\r\n";
    return out;
}

} // namespace

struct server::impl {
    asio::io_context ioc{1};
    asio::ssl::context ssl_ctx{asio::ssl::context::tls_server};
    bool tls = false;
    tcp::acceptor acceptor{ioc};
    std::thread thread;
    std::optional<service> svc; ///< set once the socket is bound (its origin is known)

    explicit impl(options opts) {
        tls = !opts.tls_cert.empty() || !opts.tls_key.empty();
        if (tls) {
            if (opts.tls_cert.empty() || opts.tls_key.empty())
                throw std::invalid_argument("TLS needs both --tls-cert and --tls-key");
            ssl_ctx.use_certificate_chain_file(opts.tls_cert.string());
            ssl_ctx.use_private_key_file(opts.tls_key.string(), asio::ssl::context::pem);
        }
        tcp::endpoint ep(asio::ip::make_address(opts.host), opts.port);
        acceptor.open(ep.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(ep);
        acceptor.listen(asio::socket_base::max_listen_connections);
        auto port = acceptor.local_endpoint().port();
        std::string host = opts.host;
        if (tls && (host == "127.0.0.1" || host == "::1"))
            host = "localhost"; // certificates name hosts, rarely loopback addresses
        else if (host.find(':') != std::string::npos)
            host = "[" + host + "]";
        std::string origin =
            std::string(tls ? "https://" : "http://") + host + ":" + std::to_string(port);
        svc.emplace(std::move(opts), std::move(origin));
        asio::co_spawn(ioc, accept_loop(), asio::detached);
    }

    // ---------------------------------------------------------------- connections
    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, sock] = co_await acceptor.async_accept(use_tuple);
            if (ec) {
                if (ec == asio::error::operation_aborted)
                    co_return;
                continue;
            }
            sock.set_option(tcp::no_delay(true));
            asio::co_spawn(ioc, session(std::move(sock)), asio::detached);
        }
    }

    asio::awaitable<void> session(tcp::socket sock) {
        if (!tls) {
            beast::tcp_stream s(std::move(sock));
            co_await serve(s);
            co_return;
        }
        beast::ssl_stream<beast::tcp_stream> s(std::move(sock), ssl_ctx);
        auto [ec] = co_await s.async_handshake(asio::ssl::stream_base::server, use_tuple);
        if (ec)
            co_return;
        co_await serve(s);
    }

    template <class Stream>
    asio::awaitable<void> serve(Stream& s) {
        const std::uint64_t max_bytes = svc->opts().max_batch_bytes;
        beast::flat_buffer buf;
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.header_limit(64 * 1024);
            // Beast checks Content-Length against the body limit while reading the
            // header: lift it there, answer 413 ourselves, then limit chunked bodies.
            parser.body_limit(boost::none);
            auto [hec, hn] = co_await http::async_read_header(s, buf, parser, use_tuple);
            if (hec)
                co_return;
            parser.body_limit(max_bytes);
            auto length = parser.content_length();
            if (length && *length > 0 && co_await cut_request(s, buf, parser.get(), *length))
                co_return;
            if (length && *length > max_bytes) {
                // Take the whole body so the client sees the answer, then close.
                co_await drain(s, buf, *length);
                co_await write_reply(s, svc->too_large(*length), false);
                co_return;
            }
            auto [ec, n] = co_await http::async_read(s, buf, parser, use_tuple);
            if (ec == http::error::body_limit) {
                co_await write_reply(s, svc->too_large(max_bytes + 1), false);
                co_return;
            }
            if (ec)
                co_return;
            auto req = parser.release();
            bool keep_alive = req.keep_alive();
            if (!co_await handle(s, req))
                co_return;
            if (!keep_alive)
                co_return;
        }
    }

    template <class Stream>
    asio::awaitable<void> drain(Stream& s, beast::flat_buffer& buf, std::uint64_t length) {
        std::uint64_t left = length;
        std::size_t have = std::min<std::uint64_t>(buf.size(), left);
        buf.consume(have);
        left -= have;
        std::vector<char> sink(std::size_t{64} << 10);
        while (left > 0) {
            auto [ec, n] = co_await s.async_read_some(
                asio::buffer(sink.data(), std::min<std::uint64_t>(sink.size(), left)), use_tuple);
            if (ec)
                co_return;
            left -= n;
        }
    }

    // The cut-request fault: reads BYTES of the body, logs the request (status 0, never
    // carried out) and resets the connection. True when the request was cut.
    template <class Stream, class Fields>
    asio::awaitable<bool> cut_request(Stream& s, beast::flat_buffer& buf,
                                      const http::request_header<Fields>& head,
                                      std::uint64_t length) {
        std::string target(head.target());
        std::string path = target.substr(0, target.find('?'));
        auto r = match_route(path);
        if (!r)
            co_return false;
        std::string endpoint = endpoint_of(*r, head.method());
        auto cut = svc->take_cut_request(endpoint);
        if (!cut)
            co_return false;
        co_await drain(s, buf, std::min(*cut, length));
        svc->log_request(std::string(head.method_string()), path, 0, endpoint, r->batch_id, 0, {});
        auto& sock = beast::get_lowest_layer(s).socket();
        boost::system::error_code ignored;
        sock.set_option(asio::socket_base::linger(true, 0), ignored); // a reset, not a FIN
        sock.close(ignored);
        co_return true;
    }

    // Handles one request; returns whether the connection stays open.
    template <class Stream>
    asio::awaitable<bool> handle(Stream& s, http_request& req) {
        std::string target(req.target());
        std::string path = target.substr(0, target.find('?'));
        std::string method(req.method_string());
        auto r = match_route(path);
        if (!r)
            co_return co_await write_reply(s, svc->not_found(method, path), req.keep_alive());
        std::string endpoint = endpoint_of(*r, req.method());
        svc->note_received(endpoint);
        auto fd = svc->take_request_faults(endpoint);
        // Printed before a create takes the body (moved into the batch).
        const auto print = fd.drop || fd.drop_after ? body_print::of(req.body()) : body_print{};
        if (fd.drop) {
            svc->log_request(method, path, 0, endpoint, r->batch_id, 0, print);
            co_return false;
        }
        if (fd.delay.count() > 0) {
            asio::steady_timer t(ioc, fd.delay);
            co_await t.async_wait(use_tuple);
        }
        reply rep = fd.status ? svc->injected(*fd.status, method, path, endpoint, r->batch_id)
                              : svc->dispatch(*r, req, endpoint);
        if (fd.drop_after) {
            svc->log_request(method, path, 0, endpoint, r->batch_id, 0, print);
            co_return false;
        }
        if (rep.results_of)
            co_return co_await stream_results(s, *rep.results_of, rep, req.keep_alive());
        co_return co_await write_reply(s, rep, req.keep_alive());
    }

    // ---------------------------------------------------------------- responses
    template <class Stream>
    asio::awaitable<bool> write_reply(Stream& s, const reply& r, bool keep_alive) {
        http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
        res.set(http::field::content_type, "application/json");
        res.set(http::field::server, "aibatch-emulator");
        for (const auto& [k, v] : r.headers)
            res.set(k, v);
        res.body() = r.body;
        res.keep_alive(keep_alive && !r.close);
        res.prepare_payload();
        auto [ec, n] = co_await http::async_write(s, res, use_tuple);
        co_return !ec && keep_alive && !r.close;
    }

    template <class Stream>
    asio::awaitable<bool> stream_results(Stream& s, const batch_record& b, const reply& rep,
                                         bool keep_alive) {
        auto bytes_of = [](const std::optional<fault>& f) -> std::optional<std::uint64_t> {
            if (!f)
                return std::nullopt;
            return f->bytes;
        };
        auto cut = bytes_of(svc->take_fault(fault::kind::cut_results));
        auto trickle = bytes_of(svc->take_fault(fault::kind::trickle));
        auto dup = svc->take_fault(fault::kind::dup_line);
        auto inject = svc->take_fault(fault::kind::inject_line);
        std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/x-jsonl\r\n"
                           "Server: aibatch-emulator\r\nTransfer-Encoding: chunked\r\n";
        for (const auto& [k, v] : rep.headers)
            head.append(k).append(": ").append(v).append("\r\n");
        head += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
        auto [hec, hn] = co_await asio::async_write(s, asio::buffer(head), use_tuple);
        if (hec)
            co_return false;

        std::uint64_t sent = 0;
        std::string pending;
        constexpr std::size_t flush_at = std::size_t{64} << 10;
        auto send = [&](std::string_view data) -> asio::awaitable<bool> {
            while (!data.empty()) {
                std::string_view piece = data;
                if (trickle)
                    piece = piece.substr(0, *trickle);
                if (cut && sent + piece.size() > *cut)
                    piece = piece.substr(0, *cut - sent);
                if (!piece.empty()) {
                    auto c = chunk(piece);
                    auto [ec, n] = co_await asio::async_write(s, asio::buffer(c), use_tuple);
                    if (ec)
                        co_return false;
                    sent += piece.size();
                }
                data.remove_prefix(piece.size());
                if (cut && sent >= *cut)
                    co_return false; // cut: close without the terminating chunk
                if (trickle) {
                    asio::steady_timer t(ioc, std::chrono::milliseconds(10));
                    co_await t.async_wait(use_tuple);
                }
            }
            co_return true;
        };
        if (inject && !co_await send(inject->line + "\n"))
            co_return false;
        if (auto cached = svc->kept_results(b.id)) {
            // Generated before: the same bytes, at memory speed.
            constexpr std::size_t piece = std::size_t{1} << 20;
            for (std::size_t off = 0; off < cached->size(); off += piece)
                if (!co_await send(std::string_view(*cached).substr(off, piece)))
                    co_return false;
        } else {
            // Generate line by line; offer the whole text to the results cache when it
            // can fit there (one budget across all batches).
            const std::size_t keep_limit = svc->opts().results_cache_bytes;
            auto keep = keep_limit > 0 ? std::make_shared<std::string>() : nullptr;
            for (std::size_t k = 0; k < b.size(); ++k) {
                pending += b.result_line(b.completion_order[k]);
                if (pending.size() >= flush_at) {
                    if (keep && keep->size() + pending.size() <= keep_limit)
                        keep->append(pending);
                    else
                        keep.reset();
                    if (!co_await send(pending))
                        co_return false;
                    pending.clear();
                }
            }
            if (keep && keep->size() + pending.size() <= keep_limit) {
                keep->append(pending);
                keep->shrink_to_fit(); // the cache counts sizes: no spare capacity
                svc->keep_results(b.id, std::move(keep));
            }
            if (!pending.empty() && !co_await send(pending))
                co_return false;
        }
        if (dup && b.size() > 0 && !co_await send(b.result_line(b.completion_order[0])))
            co_return false;
        auto [tec, tn] = co_await asio::async_write(s, asio::buffer("0\r\n\r\n", 5), use_tuple);
        co_return !tec && keep_alive;
    }
};

server::server(options opts) : impl_(std::make_unique<impl>(std::move(opts))) {}

server::~server() {
    stop();
}

void server::start() {
    impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

void server::run() {
    asio::signal_set signals(impl_->ioc, SIGINT, SIGTERM);
    signals.async_wait([this](const error_code& ec, int) {
        if (!ec)
            impl_->ioc.stop();
    });
    impl_->ioc.run();
}

void server::stop() {
    impl_->ioc.stop();
    if (impl_->thread.joinable())
        impl_->thread.join();
}

std::string server::url() const {
    return impl_->svc->origin();
}
unsigned short server::port() const {
    return impl_->acceptor.local_endpoint().port();
}

void server::add_fault(fault f) {
    impl_->svc->add_fault(std::move(f));
}

std::vector<log_entry> server::log() const {
    return impl_->svc->log();
}

std::size_t server::batches_created() const {
    return impl_->svc->batches_created();
}

std::vector<batch_summary> server::batches() const {
    return impl_->svc->batches();
}

results_cache_stats server::results_cache() const {
    return impl_->svc->results_cache();
}

std::size_t server::batch_count() const {
    return impl_->svc->batch_count();
}

bool server::release(const std::string& batch_id) {
    return impl_->svc->release(batch_id);
}

std::size_t server::release_all() {
    return impl_->svc->release_all();
}

bool server::wait_ended(const std::string& batch_id, std::chrono::milliseconds timeout) const {
    return impl_->svc->wait_ended(batch_id, timeout);
}

bool server::wait_received(const std::string& endpoint, std::size_t n,
                           std::chrono::milliseconds timeout) const {
    return impl_->svc->wait_received(endpoint, n, timeout);
}

bool server::wait_for_log(const std::function<bool(const std::vector<log_entry>&)>& done,
                          std::chrono::milliseconds timeout) const {
    return impl_->svc->wait_for_log(done, timeout);
}

} // namespace aibatch::emulator
