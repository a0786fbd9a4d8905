// Configuration of an aibatch client: where to connect, credentials, timeouts, retries.
#pragma once

#include <aibatch/observer.hpp>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace aibatch {

/// Per-operation time limits of the transport. Each one fails with its own error code
/// (errc::connect_timeout, errc::request_timeout, errc::idle_timeout).
struct timeouts {
    /// Name resolution, TCP connect and TLS handshake together.
    std::chrono::milliseconds connect{std::chrono::seconds(10)};
    /// Sending a request and receiving the whole response (collected bodies) or the
    /// response head (streamed bodies).
    std::chrono::milliseconds request{std::chrono::minutes(10)};
    /// Longest silence between two pieces of a streamed body.
    std::chrono::milliseconds idle{std::chrono::minutes(2)};
    /// A streamed body (results) must average at least min_stream_rate bytes per second
    /// once it has been open this long (errc::stream_too_slow otherwise): a server that
    /// trickles bytes just often enough to beat the idle timeout cannot hold a call
    /// forever.
    std::chrono::milliseconds stream_grace{std::chrono::minutes(1)};
};

/// How the transport talks to the server.
struct transport_options {
    aibatch::timeouts timeouts;
    /// Largest response body collected in memory; streamed bodies have no limit.
    std::size_t max_body_size = std::size_t{8} << 20;
    /// Extra PEM file of trusted CA certificates, added to the system trust store.
    std::string ca_file;
    /// Minimum average rate of a streamed body, checked after timeouts.stream_grace.
    std::size_t min_stream_rate = 1024;
    /// Allow plain http:// to hosts other than loopback. Off by default: the API key
    /// must never travel in clear text by accident.
    bool allow_insecure_http = false;
};

/// Retries of failed API calls (used by the API layer): exponential backoff with jitter.
struct retry_policy {
    int max_retries = 2;
    std::chrono::milliseconds initial_backoff{500};
    std::chrono::milliseconds max_backoff{8000};
};

/// Everything a client needs. Build one by hand or with from_env().
struct client_config {
    std::string api_key;
    std::string base_url = "https://api.anthropic.com";
    std::string anthropic_version = "2023-06-01";
    /// Beta features to enable (sent as `anthropic-beta: a,b`); empty = header not sent.
    std::vector<std::string> anthropic_beta;
    transport_options transport;
    retry_policy retry;
    /// The .env file from_env() consulted (for messages); empty when none.
    std::string dotenv_file;
    /// Told of every request, answer, retry, ambiguous create, resumed download and
    /// adopted or re-attached batch (see observer.hpp); empty = nothing reported. Not
    /// read from the environment.
    client_observer observer;

    /// Reads the configuration from the environment, then from `.env` in the current
    /// directory for what the environment does not set (a .env never overrides the
    /// environment). Variables (all optional; see .env.example):
    /// ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, AIBATCH_ANTHROPIC_VERSION,
    /// AIBATCH_CONNECT_TIMEOUT, AIBATCH_REQUEST_TIMEOUT, AIBATCH_IDLE_TIMEOUT (seconds,
    /// decimals allowed), AIBATCH_MAX_BODY_BYTES, AIBATCH_CA_FILE,
    /// AIBATCH_ALLOW_INSECURE_HTTP (0/1/true/false), AIBATCH_MAX_RETRIES,
    /// AIBATCH_RETRY_INITIAL_BACKOFF, AIBATCH_RETRY_MAX_BACKOFF (seconds).
    /// A missing API key is not an error here (see require_api_key()); a malformed
    /// value is: aibatch::error (errc::invalid_config) naming the variable.
    static client_config from_env();
    /// The same with an explicit .env path (it need not exist).
    static client_config from_env(const std::filesystem::path& dotenv_file);

    /// Throws aibatch::error (errc::missing_api_key) when api_key is empty, naming
    /// ANTHROPIC_API_KEY and the .env file that was consulted; then check_header_values()
    /// (a client checks both when it is constructed).
    void require_api_key() const;

    /// Throws aibatch::error (errc::invalid_config) when api_key, anthropic_version or a
    /// beta name holds what an HTTP header value cannot carry (CR, LF, NUL or another
    /// control character; a beta name also no comma or blank). The message names the
    /// setting, never its value. from_env() checks this too.
    void check_header_values() const;

    /// The key as it may be shown to a person: "sk-ant-...abcd" (its first 7 and last 4
    /// characters, when at least 16 more stay hidden), "(set, 20 characters)" for a shorter
    /// key, or "(not set)".
    std::string redacted_api_key() const;
};

} // namespace aibatch
