#include <aibatch/error.hpp>

#include <boost/asio/error.hpp>

#include <ostream>

namespace aibatch {
namespace {

class aibatch_category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "aibatch"; }

    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
        case errc::missing_api_key:
            return "ANTHROPIC_API_KEY is not set; put it in the environment or in .env";
        case errc::invalid_config:
            return "invalid configuration value";
        case errc::invalid_url:
            return "invalid base URL";
        case errc::insecure_http:
            return "plain http:// is only allowed for loopback hosts unless explicitly enabled";
        case errc::dotenv_syntax:
            return ".env file syntax error";
        case errc::invalid_argument:
            return "invalid argument";
        case errc::invalid_output:
            return "model output does not match the requested type";
        case errc::items_failed:
            return "some batch items failed";
        case errc::timed_out:
            return "the batch run timed out";
        case errc::cost_limit:
            return "the cost limit stopped further submissions";
        case errc::journal:
            return "the batch journal cannot be used";
        case errc::connect_timeout:
            return "connect timeout";
        case errc::request_timeout:
            return "request timeout";
        case errc::idle_timeout:
            return "idle timeout while reading the response body";
        case errc::body_too_large:
            return "response body exceeds the size limit";
        case errc::tls_handshake:
            return "TLS handshake failed";
        case errc::connection_closed:
            return "connection closed by the peer";
        case errc::bad_response:
            return "malformed response";
        case errc::invalid_request:
            return "invalid request (HTTP 400)";
        case errc::authentication:
            return "authentication failed (HTTP 401)";
        case errc::billing:
            return "billing error (HTTP 402)";
        case errc::permission:
            return "permission denied (HTTP 403)";
        case errc::not_found:
            return "not found (HTTP 404)";
        case errc::request_too_large:
            return "request too large (HTTP 413)";
        case errc::rate_limited:
            return "rate limited (HTTP 429)";
        case errc::api_internal:
            return "API internal error (HTTP 500)";
        case errc::gateway_timeout:
            return "API timeout (HTTP 504)";
        case errc::overloaded:
            return "API overloaded (HTTP 529)";
        case errc::http_status:
            return "unexpected HTTP status";
        case errc::ambiguous_create:
            return "a create may have created a batch that cannot be told apart";
        case errc::stream_too_slow:
            return "a streamed body arrived slower than the minimum rate";
        case errc::unread_batches:
            return "every item succeeded, but batches were left unread";
        case errc::connection_failed:
            return "the connection dropped before the request was sent";
        }
        return "unknown aibatch error";
    }
};

std::string what_text(boost::system::error_code ec, const diagnostics& diag) {
    std::string s = diag.to_string();
    if (s.empty())
        s = ec.message();
    return s;
}

} // namespace

const boost::system::error_category& error_category() noexcept {
    static const aibatch_category cat;
    return cat;
}

bool is_api_error(const boost::system::error_code& ec) noexcept {
    return ec.category() == error_category() && is_api_errc(static_cast<errc>(ec.value()));
}

std::optional<errc> errc_of(const boost::system::error_code& ec) noexcept {
    if (ec.category() == error_category())
        return static_cast<errc>(ec.value());
    return std::nullopt;
}

std::string diagnostics::to_string() const {
    std::string s = message;
    auto add = [&s](std::string_view label, std::string_view value) {
        if (value.empty())
            return;
        s += s.empty() ? "" : " ";
        s += "[";
        s += label;
        s += value;
        s += "]";
    };
    add("http ", http_status ? std::to_string(http_status) : std::string());
    add("type ", api_error_type);
    add("request-id ", request_id);
    return s;
}

error::error(boost::system::error_code ec, diagnostics diag)
    : boost::system::system_error(ec, what_text(ec, diag)), diag_(std::move(diag)) {}

error::error(errc e, std::string message)
    : error(make_error_code(e), diagnostics{std::move(message), {}, 0, {}, {}}) {}

std::ostream& operator<<(std::ostream& os, errc e) {
    return os << "aibatch:" << static_cast<int>(e) << " (" << make_error_code(e).message() << ")";
}

void throw_if_error(boost::system::error_code ec, const diagnostics& diag) {
    if (ec)
        throw error(ec, diag);
}

} // namespace aibatch

namespace aibatch {

bool is_retryable(const boost::system::error_code& ec) noexcept {
    if (ec == boost::asio::error::operation_aborted)
        return false;
    if (auto c = errc_of(ec)) {
        switch (*c) {
        case errc::connect_timeout:
        case errc::connection_failed:
        case errc::request_timeout:
        case errc::idle_timeout:
        case errc::connection_closed:
            return true;
        default:
            return false;
        }
    }
    return !!ec; // connection refused / reset / unreachable, DNS failures, ...
}

} // namespace aibatch
