// `aibatch config`: the configuration the library would use, and where each value came from.
#include "commands.hpp"
#include "output.hpp"

#include <cstdlib>
#include <filesystem>

namespace aibatch::cli {

namespace json = boost::json;

namespace {

std::string seconds(std::chrono::milliseconds ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", static_cast<double>(ms.count()) / 1000.0);
    return std::string(buf) + " s";
}

} // namespace

int config_command(const global_options& g) {
    const std::filesystem::path dotenv = std::filesystem::current_path() / ".env";
    // The same reading as the library's (from_env); its errors are configuration errors.
    client_config cfg = client_config::from_env(dotenv);
    std::optional<dotenv_entries> entries = read_dotenv(dotenv);
    auto source = [&](const char* name) -> std::string {
        if (std::getenv(name))
            return "environment";
        if (entries)
            for (const auto& [k, v] : *entries)
                if (k == name)
                    return ".env (" + dotenv.string() + ")";
        return "default";
    };
    struct row {
        const char* name;
        std::string value;
    };
    std::vector<row> rows = {
        {"ANTHROPIC_API_KEY", cfg.redacted_api_key()},
        {"ANTHROPIC_BASE_URL", cfg.base_url},
        {"AIBATCH_ANTHROPIC_VERSION", cfg.anthropic_version},
        {"AIBATCH_CONNECT_TIMEOUT", seconds(cfg.transport.timeouts.connect)},
        {"AIBATCH_REQUEST_TIMEOUT", seconds(cfg.transport.timeouts.request)},
        {"AIBATCH_IDLE_TIMEOUT", seconds(cfg.transport.timeouts.idle)},
        {"AIBATCH_MAX_BODY_BYTES", std::to_string(cfg.transport.max_body_size)},
        {"AIBATCH_CA_FILE",
         cfg.transport.ca_file.empty() ? "(none: system store only)" : cfg.transport.ca_file},
        {"AIBATCH_ALLOW_INSECURE_HTTP", cfg.transport.allow_insecure_http ? "1" : "0"},
        {"AIBATCH_MAX_RETRIES", std::to_string(cfg.retry.max_retries)},
        {"AIBATCH_RETRY_INITIAL_BACKOFF", seconds(cfg.retry.initial_backoff)},
        {"AIBATCH_RETRY_MAX_BACKOFF", seconds(cfg.retry.max_backoff)},
    };
    if (g.json) {
        json::object settings;
        for (const auto& r : rows)
            settings[r.name] = json::object{{"value", r.value}, {"source", source(r.name)}};
        write_all(stdout, json_line(json::object{{"settings", std::move(settings)},
                                                 {"dotenv_file", dotenv.string()},
                                                 {"dotenv_found", entries.has_value()},
                                                 {"api_key_set", !cfg.api_key.empty()}}));
    } else {
        std::size_t w = 0;
        for (const auto& r : rows)
            w = std::max(w, std::string_view(r.name).size());
        std::size_t vw = 0;
        for (const auto& r : rows)
            vw = std::max(vw, r.value.size());
        std::string s;
        for (const auto& r : rows) {
            std::string name = r.name;
            s += name + std::string(w - name.size() + 2, ' ') + r.value +
                 std::string(vw - r.value.size() + 2, ' ') + "(" + source(r.name) + ")\n";
        }
        s += ".env file: " + dotenv.string() + (entries ? "" : " (not found)") + "\n";
        if (cfg.api_key.empty())
            s += "ANTHROPIC_API_KEY is not set: put it in the environment or in .env\n";
        write_all(stdout, s);
    }
    return exit_ok;
}

} // namespace aibatch::cli
