#include <aibatch/config.hpp>
#include <aibatch/dotenv.hpp>
#include <aibatch/error.hpp>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>

namespace aibatch {
namespace {

// Environment first, then the .env file: a .env never overrides the environment.
class variable_source {
public:
    explicit variable_source(const std::filesystem::path& dotenv) {
        if (auto entries = read_dotenv(dotenv)) {
            for (auto& [k, v] : *entries)
                dotenv_[k] = v; // later lines win, as in shells
            found_ = true;
        }
    }

    std::optional<std::string> get(const char* name) const {
        if (const char* v = std::getenv(name))
            return std::string(v);
        if (auto it = dotenv_.find(name); it != dotenv_.end())
            return it->second;
        return std::nullopt;
    }

    bool found() const { return found_; }

private:
    std::map<std::string, std::string, std::less<>> dotenv_;
    bool found_ = false;
};

[[noreturn]] void bad_value(const char* name, const std::string& value, const char* expected) {
    throw error(errc::invalid_config, std::string(name) + "=\"" + value + "\" is not " + expected +
                                          "; fix it in the "
                                          "environment or in .env");
}

std::chrono::milliseconds seconds_value(const char* name, const std::string& v) {
    char* end = nullptr;
    errno = 0;
    double d = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || errno != 0 || !std::isfinite(d) || d <= 0 || d > 1e7)
        bad_value(name, v, "a positive number of seconds (e.g. 10 or 2.5)");
    return std::chrono::milliseconds(static_cast<long long>(std::llround(d * 1000)));
}

long long integer_value(const char* name, const std::string& v, long long lo, long long hi) {
    char* end = nullptr;
    errno = 0;
    long long n = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || errno != 0 || n < lo || n > hi)
        bad_value(
            name, v,
            ("a whole number from " + std::to_string(lo) + " to " + std::to_string(hi)).c_str());
    return n;
}

bool bool_value(const char* name, const std::string& v) {
    if (v == "1" || v == "true" || v == "yes" || v == "on")
        return true;
    if (v == "0" || v == "false" || v == "no" || v == "off" || v.empty())
        return false;
    bad_value(name, v, "a boolean (1/0, true/false)");
}

// Why `v` cannot be sent as (part of) an HTTP header value, or nullptr. The value itself
// is never part of a message: it may be the API key.
const char* header_value_problem(std::string_view v) {
    for (char c : v) {
        auto u = static_cast<unsigned char>(c);
        if (c == '\r' || c == '\n')
            return "holds a line break (CR or LF), which would end the HTTP header and start "
                   "another; check for a stray newline where it was pasted";
        if (c == '\0')
            return "holds a NUL byte, which an HTTP header cannot carry";
        if (u < 0x20 || u == 0x7F)
            return "holds a control character, which an HTTP header cannot carry";
    }
    return nullptr;
}

void check_header_value(std::string_view what, std::string_view v) {
    if (const char* why = header_value_problem(v))
        throw error(errc::invalid_config, std::string(what) + " " + why);
}

} // namespace

void client_config::check_header_values() const {
    check_header_value("ANTHROPIC_API_KEY (client_config::api_key)", api_key);
    check_header_value("AIBATCH_ANTHROPIC_VERSION (client_config::anthropic_version)",
                       anthropic_version);
    for (const auto& b : anthropic_beta) {
        check_header_value("a beta name (client_config::anthropic_beta)", b);
        if (b.empty() || b.find_first_of(", \t") != std::string::npos)
            throw error(errc::invalid_config,
                        "a beta name (client_config::anthropic_beta) is empty or holds a comma "
                        "or blank; give each beta as its own element");
    }
}

client_config client_config::from_env() {
    return from_env(std::filesystem::current_path() / ".env");
}

client_config client_config::from_env(const std::filesystem::path& dotenv_file) {
    variable_source vars(dotenv_file);
    client_config cfg;
    cfg.dotenv_file = dotenv_file.string();

    if (auto v = vars.get("ANTHROPIC_API_KEY"))
        cfg.api_key = *v;
    if (auto v = vars.get("ANTHROPIC_BASE_URL"); v && !v->empty())
        cfg.base_url = *v;
    if (auto v = vars.get("AIBATCH_ANTHROPIC_VERSION"); v && !v->empty())
        cfg.anthropic_version = *v;
    if (auto v = vars.get("AIBATCH_CONNECT_TIMEOUT"))
        cfg.transport.timeouts.connect = seconds_value("AIBATCH_CONNECT_TIMEOUT", *v);
    if (auto v = vars.get("AIBATCH_REQUEST_TIMEOUT"))
        cfg.transport.timeouts.request = seconds_value("AIBATCH_REQUEST_TIMEOUT", *v);
    if (auto v = vars.get("AIBATCH_IDLE_TIMEOUT"))
        cfg.transport.timeouts.idle = seconds_value("AIBATCH_IDLE_TIMEOUT", *v);
    if (auto v = vars.get("AIBATCH_MAX_BODY_BYTES"))
        cfg.transport.max_body_size =
            static_cast<std::size_t>(integer_value("AIBATCH_MAX_BODY_BYTES", *v, 1024, 1LL << 40));
    if (auto v = vars.get("AIBATCH_CA_FILE"))
        cfg.transport.ca_file = *v;
    if (auto v = vars.get("AIBATCH_ALLOW_INSECURE_HTTP"))
        cfg.transport.allow_insecure_http = bool_value("AIBATCH_ALLOW_INSECURE_HTTP", *v);
    if (auto v = vars.get("AIBATCH_MAX_RETRIES"))
        cfg.retry.max_retries = static_cast<int>(integer_value("AIBATCH_MAX_RETRIES", *v, 0, 100));
    if (auto v = vars.get("AIBATCH_RETRY_INITIAL_BACKOFF"))
        cfg.retry.initial_backoff = seconds_value("AIBATCH_RETRY_INITIAL_BACKOFF", *v);
    if (auto v = vars.get("AIBATCH_RETRY_MAX_BACKOFF"))
        cfg.retry.max_backoff = seconds_value("AIBATCH_RETRY_MAX_BACKOFF", *v);
    cfg.check_header_values();
    if (cfg.retry.max_backoff < cfg.retry.initial_backoff)
        throw error(errc::invalid_config,
                    "AIBATCH_RETRY_MAX_BACKOFF is smaller than "
                    "AIBATCH_RETRY_INITIAL_BACKOFF; raise it or lower the other");
    return cfg;
}

void client_config::require_api_key() const {
    if (!api_key.empty())
        return check_header_values();
    std::string where = dotenv_file.empty() ? std::string(".env") : dotenv_file;
    throw error(errc::missing_api_key, "ANTHROPIC_API_KEY is not set; put it in the environment "
                                       "(export ANTHROPIC_API_KEY=sk-ant-...) or in " +
                                           where + " (copy .env.example to .env and fill it in)");
}

std::string client_config::redacted_api_key() const {
    if (api_key.empty())
        return "(not set)";
    // Its ends (7 + 4 characters) only when at least 16 stay hidden; else its length only.
    if (api_key.size() < 27)
        return "(set, " + std::to_string(api_key.size()) + " characters)";
    return api_key.substr(0, 7) + "..." + api_key.substr(api_key.size() - 4);
}

} // namespace aibatch
