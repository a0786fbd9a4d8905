// An http_client's connections: the TLS context, resolve, connect and handshake within
// the connect timeout (and what each failure means), the pool of idle connections.
#include "http_client_impl.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace aibatch {

namespace asio = boost::asio;
namespace beast = boost::beast;
using boost::system::error_code;

http_client::impl::impl(asio::any_io_executor e, std::string_view url, transport_options o)
    : ex(std::move(e)), ep(endpoint::parse(url)), opts(std::move(o)) {
    ep.check_security(opts.allow_insecure_http);
    bool default_port = ep.port == (ep.tls ? "443" : "80");
    host_field = ep.host.find(':') != std::string::npos ? "[" + ep.host + "]" : ep.host;
    if (!default_port)
        host_field += ":" + ep.port;
    if (ep.tls)
        setup_tls();
}

void http_client::impl::setup_tls() {
    SSL_CTX_set_min_proto_version(ssl_ctx.native_handle(), TLS1_2_VERSION);
    ssl_ctx.set_verify_mode(asio::ssl::verify_peer);
    error_code ec;
    ssl_ctx.set_default_verify_paths(ec); // a machine without a store still takes ca_file
    if (!opts.ca_file.empty()) {
        ssl_ctx.load_verify_file(opts.ca_file, ec);
        if (ec)
            fail(errc::invalid_config, "cannot load the CA file \"" + opts.ca_file + "\" (" +
                                           ec.message() + "); it must be a readable PEM file");
    }
}

task<std::unique_ptr<connection>> http_client::impl::connect() {
    using namespace asio::experimental::awaitable_operators;
    auto deadline = std::chrono::steady_clock::now() + opts.timeouts.connect;
    auto c = std::make_unique<connection>();
    if (ep.tls)
        c->tls.emplace(ex, ssl_ctx);
    else
        c->plain.emplace(ex);

    asio::ip::tcp::resolver resolver(ex);
    asio::steady_timer timer(ex);
    timer.expires_at(deadline);
    auto raced = co_await (resolver.async_resolve(ep.host, ep.port, use_tuple) ||
                           timer.async_wait(use_tuple));
    // The caller's cancellation ends both waits: the timer's operation_aborted is then
    // a cancellation, not the timeout.
    if (raced.index() == 1 && std::get<0>(std::get<1>(raced)) == asio::error::operation_aborted)
        fail(asio::error::operation_aborted, "resolving " + ep.host + ": canceled");
    if (raced.index() == 1)
        fail(errc::connect_timeout, "resolving " + ep.host +
                                        " took longer than the connect "
                                        "timeout (" +
                                        std::to_string(opts.timeouts.connect.count()) + " ms)");
    auto [rec, results] = std::get<0>(std::move(raced));
    if (rec)
        fail(rec, "cannot resolve " + ep.host + ": " + rec.message());

    auto& tcp = c->tcp();
    tcp.expires_at(deadline);
    auto [cec, connected] = co_await tcp.async_connect(results, use_tuple);
    (void)connected;
    if (cec)
        connect_failed(cec, "cannot connect to " + where());
    tcp.socket().set_option(asio::ip::tcp::no_delay(true));

    if (c->tls) {
        if (!SSL_set_tlsext_host_name(c->tls->native_handle(), ep.host.c_str()))
            fail(errc::tls_handshake, "cannot set TLS SNI host name " + ep.host);
        c->tls->set_verify_mode(asio::ssl::verify_peer);
        c->tls->set_verify_callback(asio::ssl::host_name_verification(ep.host));
        auto [hec] = co_await c->tls->async_handshake(asio::ssl::stream_base::client, use_tuple);
        if (hec) {
            long verify = SSL_get_verify_result(c->tls->native_handle());
            if (hec == beast::error::timeout || hec == asio::error::operation_aborted)
                connect_failed(hec, "TLS handshake with " + where());
            // The connection dropped mid-handshake (reset, closed): a network failure,
            // retried like any other, not a certificate or protocol problem.
            if (verify == X509_V_OK &&
                (hec == asio::ssl::error::stream_truncated || hec == asio::error::eof ||
                 hec == asio::error::connection_reset || hec == asio::error::connection_aborted ||
                 hec == asio::error::broken_pipe))
                fail(errc::connection_failed, "TLS handshake with " + where() +
                                                  " failed: the connection was closed (" +
                                                  hec.message() + "); nothing was sent");
            std::string detail =
                verify != X509_V_OK ? X509_verify_cert_error_string(verify) : hec.message();
            fail(errc::tls_handshake,
                 "TLS handshake with " + where() + " failed: " + detail +
                     (verify != X509_V_OK
                          ? " (the server certificate is not trusted for host " + ep.host +
                                "; add its CA with transport_options::ca_file / "
                                "AIBATCH_CA_FILE if it is a private CA)"
                          : ""));
        }
    }
    tcp.expires_never();
    ++opened;
    co_return c;
}

void http_client::impl::connect_failed(const error_code& ec, const std::string& what) {
    if (ec == beast::error::timeout)
        fail(errc::connect_timeout, what + ": no answer within the connect timeout (" +
                                        std::to_string(opts.timeouts.connect.count()) + " ms)");
    fail(ec, what + ": " + ec.message());
}

task<std::pair<std::unique_ptr<connection>, bool>> http_client::impl::acquire() {
    while (!idle.empty()) {
        auto c = std::move(idle.back());
        idle.pop_back();
        if (c->idle_usable())
            co_return std::pair{std::move(c), true};
    }
    co_return std::pair{co_await connect(), false};
}

void http_client::impl::release(std::unique_ptr<connection> c) {
    c->tcp().expires_never();
    idle.push_back(std::move(c));
}

} // namespace aibatch
