#include "runtime.hpp"

#include "output.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/json/serialize.hpp>

#include <csignal>
#include <cstdio>
#include <unistd.h>

namespace aibatch::cli {

namespace asio = boost::asio;
namespace json = boost::json;

runtime::runtime(global_options o) : opts_(o) {}

runtime::~runtime() = default;

aibatch::client& runtime::client() {
    if (!client_) {
        client_config cfg = client_config::from_env();
        base_url_ = cfg.base_url;
        note("configuration: base URL " + cfg.base_url + ", key " + cfg.redacted_api_key() +
             (cfg.dotenv_file.empty() ? std::string() : ", .env " + cfg.dotenv_file));
        if (opts_.verbose) // every request, answer, retry, resume: never the key
            cfg.observer = [this](const client_event& e) { note(describe(e)); };
        client_.emplace(ioc_.get_executor(), std::move(cfg));
    }
    return *client_;
}

void runtime::note(const std::string& what) const {
    if (opts_.verbose)
        write_all(stderr, "aibatch: " + what + "\n");
}

void runtime::warn(const std::string& what) const {
    write_all(stderr, "aibatch: warning: " + what + "\n");
}

int runtime::execute(const std::function<task<int>(runtime&)>& command) {
    int status = exit_failed;
    std::exception_ptr failure;
    bool finished = false;
    asio::co_spawn(
        ioc_, command(*this),
        asio::bind_cancellation_slot(cancel_.slot(), [&](const std::exception_ptr& e, int s) {
            failure = e;
            status = s;
            finished = true;
            // Nothing else must keep the loop
            // (a signal watch, a pending prompt).
            if (signals_)
                signals_->cancel();
            if (stdin_)
                stdin_->cancel();
        }));
    ioc_.run();
    if (failure)
        return report_failure(failure, opts_.json, base_url_);
    if (!finished)
        return exit_failed;
    return status;
}

void runtime::watch_interrupts(std::function<void(interrupt_policy)> decided) {
    decided_ = std::move(decided);
    signals_.emplace(ioc_, SIGINT, SIGTERM);
    signals_->async_wait([this](boost::system::error_code ec, int) {
        if (ec)
            return;
        if (opts_.on_interrupt != interrupt_policy::ask)
            return decide(opts_.on_interrupt);
        if (!isatty(STDIN_FILENO))
            return decide(interrupt_policy::leave);
        ask();
    });
}

void runtime::stop_watching() {
    decided_ = nullptr;
    if (signals_)
        signals_->cancel();
    if (stdin_)
        stdin_->cancel();
}

void runtime::decide(interrupt_policy p) {
    asking_ = false;
    if (signals_)
        signals_->cancel();
    if (stdin_)
        stdin_->cancel();
    if (auto f = std::exchange(decided_, nullptr))
        f(p);
}

void runtime::ask() {
    asking_ = true;
    write_all(stderr, "\naibatch: interrupted. Cancel the remote batches still running? "
                      "[y/N] (Ctrl-C again: leave them running) ");
    // A second Ctrl-C answers no.
    signals_->async_wait([this](boost::system::error_code ec, int) {
        if (!ec)
            decide(interrupt_policy::leave);
    });
    int fd = ::dup(STDIN_FILENO);
    if (fd < 0)
        return decide(interrupt_policy::leave);
    stdin_.emplace(ioc_, fd);
    auto buffer = std::make_shared<asio::streambuf>(4096);
    asio::async_read_until(
        *stdin_, *buffer, '\n', [this, buffer](boost::system::error_code ec, std::size_t n) {
            if (ec == asio::error::operation_aborted)
                return;
            std::string line(asio::buffers_begin(buffer->data()),
                             asio::buffers_begin(buffer->data()) + static_cast<std::ptrdiff_t>(n));
            bool yes = !ec && !line.empty() && (line[0] == 'y' || line[0] == 'Y');
            decide(yes ? interrupt_policy::cancel : interrupt_policy::leave);
        });
}

namespace {

bool is_configuration(const boost::system::error_code& ec) {
    if (ec.category() != aibatch::error_category())
        return false;
    switch (static_cast<errc>(ec.value())) {
    case errc::missing_api_key:
    case errc::invalid_config:
    case errc::invalid_url:
    case errc::insecure_http:
    case errc::dotenv_syntax:
    case errc::invalid_argument:
    case errc::journal:
        return true;
    default:
        return false;
    }
}

// What to do, for the errors whose message is about the API and not the fix.
std::string hint(const boost::system::error_code& ec, const std::string& base_url) {
    if (ec.category() != aibatch::error_category())
        return "check ANTHROPIC_BASE_URL and the network (`aibatch config` shows what is used)";
    switch (static_cast<errc>(ec.value())) {
    case errc::authentication:
        return "check ANTHROPIC_API_KEY (`aibatch config` shows where it comes from)";
    case errc::permission:
    case errc::billing:
        return "check the account of ANTHROPIC_API_KEY in the Anthropic console";
    case errc::not_found:
        return not_found_hint(base_url);
    case errc::rate_limited:
    case errc::overloaded:
    case errc::api_internal:
    case errc::gateway_timeout:
        return "the API is busy or failing: try again in a while";
    case errc::connect_timeout:
    case errc::request_timeout:
    case errc::idle_timeout:
    case errc::connection_closed:
    case errc::connection_failed:
    case errc::tls_handshake:
        return "check ANTHROPIC_BASE_URL and the network (`aibatch config` shows what is used)";
    default:
        return {};
    }
}

} // namespace

std::string error_token(const boost::system::error_code& ec) {
    auto e = errc_of(ec);
    if (!e)
        return "system_error";
    // Every enumerator by name, no default: a new errc is a compile warning here.
    switch (*e) {
    case errc::missing_api_key:
        return "missing_api_key";
    case errc::invalid_config:
        return "invalid_config";
    case errc::invalid_url:
        return "invalid_url";
    case errc::insecure_http:
        return "insecure_http";
    case errc::dotenv_syntax:
        return "dotenv_syntax";
    case errc::invalid_argument:
        return "invalid_argument";
    case errc::invalid_output:
        return "invalid_output";
    case errc::items_failed:
        return "items_failed";
    case errc::timed_out:
        return "timed_out";
    case errc::cost_limit:
        return "cost_limit";
    case errc::journal:
        return "journal";
    case errc::connect_timeout:
        return "connect_timeout";
    case errc::request_timeout:
        return "request_timeout";
    case errc::idle_timeout:
        return "idle_timeout";
    case errc::body_too_large:
        return "body_too_large";
    case errc::tls_handshake:
        return "tls_handshake";
    case errc::connection_closed:
        return "connection_closed";
    case errc::bad_response:
        return "bad_response";
    case errc::invalid_request:
        return "invalid_request";
    case errc::authentication:
        return "authentication";
    case errc::billing:
        return "billing";
    case errc::permission:
        return "permission";
    case errc::not_found:
        return "not_found";
    case errc::request_too_large:
        return "request_too_large";
    case errc::rate_limited:
        return "rate_limited";
    case errc::api_internal:
        return "api_internal";
    case errc::gateway_timeout:
        return "gateway_timeout";
    case errc::overloaded:
        return "overloaded";
    case errc::http_status:
        return "http_status";
    case errc::ambiguous_create:
        return "ambiguous_create";
    case errc::stream_too_slow:
        return "stream_too_slow";
    case errc::unread_batches:
        return "unread_batches";
    case errc::connection_failed:
        return "connection_failed";
    }
    return "error";
}

std::string not_found_hint(const std::string& base_url) {
    if (auto h = doubled_v1_hint(base_url))
        return *h;
    return "check the batch id (`aibatch list` shows the batches of this key)";
}

std::optional<std::string> doubled_v1_hint(const std::string& base_url) {
    std::optional<endpoint> ep;
    try {
        ep = endpoint::parse(base_url);
    } catch (const aibatch::error&) {
        return std::nullopt;
    }
    const std::string& path = ep->base_path;
    const bool ends = path.ends_with("/v1");
    if (!ends && path.find("/v1/") == std::string::npos)
        return std::nullopt;
    std::string shown = base_url; // as the user wrote it, without trailing slashes
    while (shown.ends_with('/'))
        shown.pop_back();
    std::string h = "the base URL " + shown + (ends ? " ends with /v1" : " holds /v1/") +
                    ", and aibatch adds /v1/messages/... itself (the request went to " + path +
                    "/v1/...): ";
    if (ends && shown.ends_with("/v1"))
        h += "set ANTHROPIC_BASE_URL to " + shown.substr(0, shown.size() - 3);
    else
        h += "set ANTHROPIC_BASE_URL without its /v1 part";
    return h;
}

int report_failure(const std::exception_ptr& e, bool json_output) {
    return report_failure(e, json_output, std::string());
}

int report_failure(const std::exception_ptr& e, bool json_output, const std::string& base_url) {
    int status = exit_failed;
    std::string message;
    std::string code;
    try {
        std::rethrow_exception(e);
    } catch (const usage_error& u) {
        status = exit_usage;
        message = u.what();
        code = "usage";
    } catch (const aibatch::error& a) {
        status = is_configuration(a.code()) ? exit_usage : exit_failed;
        message = a.diag().to_string();
        if (auto h = hint(a.code(), base_url); !h.empty())
            message += "; " + h;
        code = error_token(a.code());
    } catch (const boost::system::system_error& s) {
        message = s.what();
        if (auto h = hint(s.code(), base_url); !h.empty())
            message += "; " + h;
        code = error_token(s.code());
    } catch (const std::exception& x) {
        message = x.what();
        code = "error";
    }
    write_all(stderr, "aibatch: error: " + message + "\n");
    if (json_output) {
        try {
            write_all(stdout,
                      json_line(json::object{{"error", json::object{{"status", status},
                                                                    {"code", code},
                                                                    {"message", message}}}}));
        } catch (const output_error&) { // stdout is what failed: stderr has said it
        }
    }
    return status;
}

} // namespace aibatch::cli
