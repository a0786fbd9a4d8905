#include <aibatch/config.hpp>
#include <aibatch/error.hpp>
#include <aibatch/transport/http_client.hpp>

#include "../support/run_task.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <fstream>
#include <unistd.h>

using aibatch::client_config;
using aibatch::test::scoped_env;

namespace {

struct temp_dotenv {
    std::filesystem::path path;
    explicit temp_dotenv(const std::string& text) {
        static int n = 0;
        path = std::filesystem::temp_directory_path() /
               ("aibatch-dotenv-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
        std::ofstream(path) << text;
    }
    ~temp_dotenv() { std::filesystem::remove(path); }
};

// Every variable from_env reads, cleared for the test.
struct clean_env {
    scoped_env a{"ANTHROPIC_API_KEY", nullptr}, b{"ANTHROPIC_BASE_URL", nullptr},
        c{"AIBATCH_CONNECT_TIMEOUT", nullptr}, d{"AIBATCH_REQUEST_TIMEOUT", nullptr},
        e{"AIBATCH_IDLE_TIMEOUT", nullptr}, f{"AIBATCH_MAX_RETRIES", nullptr},
        g{"AIBATCH_CA_FILE", nullptr}, h{"AIBATCH_ALLOW_INSECURE_HTTP", nullptr},
        i{"AIBATCH_MAX_BODY_BYTES", nullptr}, j{"AIBATCH_RETRY_INITIAL_BACKOFF", nullptr},
        k{"AIBATCH_RETRY_MAX_BACKOFF", nullptr}, l{"AIBATCH_ANTHROPIC_VERSION", nullptr};
};

} // namespace

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(defaults_without_environment_or_dotenv) {
    clean_env env;
    auto cfg = client_config::from_env("/nonexistent/.env");
    BOOST_TEST(cfg.api_key.empty());
    BOOST_TEST(cfg.base_url == "https://api.anthropic.com");
    BOOST_TEST(cfg.anthropic_version == "2023-06-01");
    BOOST_TEST(cfg.retry.max_retries == 2);
    BOOST_TEST(cfg.retry.initial_backoff.count() == 500);
    BOOST_TEST(cfg.retry.max_backoff.count() == 8000);
    BOOST_TEST(!cfg.transport.allow_insecure_http);
}

BOOST_AUTO_TEST_CASE(dotenv_supplies_what_the_environment_lacks) {
    clean_env env;
    temp_dotenv file("ANTHROPIC_API_KEY=sk-ant-from-file\nAIBATCH_CONNECT_TIMEOUT=2.5\n"
                     "export AIBATCH_MAX_RETRIES=5\n");
    auto cfg = client_config::from_env(file.path);
    BOOST_TEST(cfg.api_key == "sk-ant-from-file");
    BOOST_TEST(cfg.transport.timeouts.connect.count() == 2500);
    BOOST_TEST(cfg.retry.max_retries == 5);
}

BOOST_AUTO_TEST_CASE(environment_wins_over_dotenv) {
    clean_env env;
    scoped_env key("ANTHROPIC_API_KEY", "sk-ant-from-env");
    scoped_env url("ANTHROPIC_BASE_URL", "http://127.0.0.1:9999");
    temp_dotenv file("ANTHROPIC_API_KEY=sk-ant-from-file\nANTHROPIC_BASE_URL=https://x\n");
    auto cfg = client_config::from_env(file.path);
    BOOST_TEST(cfg.api_key == "sk-ant-from-env");
    BOOST_TEST(cfg.base_url == "http://127.0.0.1:9999");
}

BOOST_AUTO_TEST_CASE(malformed_number_names_the_variable) {
    clean_env env;
    scoped_env t("AIBATCH_REQUEST_TIMEOUT", "soon");
    try {
        client_config::from_env("/nonexistent/.env");
        BOOST_FAIL("expected an error");
    } catch (const aibatch::error& e) {
        BOOST_TEST(e.code() == aibatch::errc::invalid_config);
        BOOST_TEST(e.diag().message.find("AIBATCH_REQUEST_TIMEOUT") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(missing_api_key_names_the_variable_and_the_dotenv_file) {
    clean_env env;
    auto cfg = client_config::from_env("/some/where/.env");
    try {
        cfg.require_api_key();
        BOOST_FAIL("expected an error");
    } catch (const aibatch::error& e) {
        BOOST_TEST(e.code() == aibatch::errc::missing_api_key);
        std::string msg = e.what();
        BOOST_TEST(msg.find("ANTHROPIC_API_KEY") != std::string::npos, msg);
        BOOST_TEST(msg.find("/some/where/.env") != std::string::npos, msg);
    }
}

BOOST_AUTO_TEST_CASE(redacted_key_never_shows_the_whole_key) {
    client_config cfg;
    cfg.api_key = "sk-ant-api03-THISISTHESECRETPART-abcd";
    auto shown = cfg.redacted_api_key();
    BOOST_TEST(shown.find("THISISTHESECRETPART") == std::string::npos, shown);
    BOOST_TEST(shown.find("abcd") != std::string::npos);
    cfg.api_key.clear();
    BOOST_TEST(cfg.redacted_api_key() == "(not set)");
}

// Found by the hostile review: a 12-character key was shown as 7 + "..." + 4, 11 of its
// 12 characters. A key whose ends would leave fewer than 16 characters hidden is shown as
// its length only; a longer one shows at most 11 characters.
BOOST_AUTO_TEST_CASE(redacted_short_key_shows_none_of_it) {
    const std::string letters = "QWERTYUIOPASDFGHJKLZXCVBNMQWERTYUIOPASDFGHJKLZXCVBNM";
    for (std::size_t n = 1; n <= letters.size(); ++n) {
        client_config cfg;
        cfg.api_key = letters.substr(0, n);
        const std::string shown = cfg.redacted_api_key();
        const auto revealed = static_cast<std::size_t>(
            std::count_if(shown.begin(), shown.end(), [](char c) { return c >= 'A' && c <= 'Z'; }));
        BOOST_TEST_INFO("key of " << n << " characters shown as " << shown);
        if (n < 27)
            BOOST_TEST(revealed == 0u);
        else
            BOOST_TEST((revealed <= 11 && n - revealed >= 16));
    }
}

BOOST_AUTO_TEST_CASE(header_values_with_cr_lf_or_nul_are_refused_without_showing_them) {
    for (std::string bad : {std::string("sk-ant-SECRET\r\nX-Injected: 1"),
                            std::string("sk-ant-SECRET\n"), std::string("sk-ant-SECRET\0x", 15)}) {
        client_config cfg;
        cfg.api_key = bad;
        try {
            cfg.require_api_key();
            BOOST_FAIL("a key with CR/LF/NUL was accepted");
        } catch (const aibatch::error& e) {
            BOOST_TEST(e.code() == aibatch::errc::invalid_config);
            BOOST_TEST(e.diag().message.find("ANTHROPIC_API_KEY") != std::string::npos);
            BOOST_TEST(e.diag().message.find("SECRET") == std::string::npos, e.diag().message);
        }
    }
    client_config cfg;
    cfg.api_key = "sk-ant-1";
    cfg.anthropic_beta = {"files-api-2025-04-14", "x\r\ny"};
    BOOST_CHECK_THROW(cfg.require_api_key(), aibatch::error);
    cfg.anthropic_beta = {"a,b"};
    BOOST_CHECK_THROW(cfg.require_api_key(), aibatch::error);
    cfg.anthropic_beta = {"files-api-2025-04-14"};
    cfg.anthropic_version = "2023-06-01\r\nX: 1";
    BOOST_CHECK_THROW(cfg.require_api_key(), aibatch::error);
}

BOOST_AUTO_TEST_CASE(a_dotenv_key_with_a_line_break_is_refused_by_from_env) {
    clean_env env;
    temp_dotenv file("\xEF\xBB\xBF"
                     "ANTHROPIC_API_KEY=\"sk-ant-1\\r\\nX-Injected: 1\"\n");
    BOOST_CHECK_THROW(client_config::from_env(file.path), aibatch::error);
}

BOOST_AUTO_TEST_CASE(http_headers_refuse_cr_lf_and_nul) {
    aibatch::http_headers h;
    BOOST_CHECK_THROW(h.add("x-api-key", "k\r\nX-Injected: 1"), aibatch::error);
    BOOST_CHECK_THROW(h.add("x-a\nb", "v"), aibatch::error);
    BOOST_CHECK_THROW(h.add("x", std::string("a\0b", 3)), aibatch::error);
    BOOST_CHECK_NO_THROW(h.add("x", "a\tb"));
}

BOOST_AUTO_TEST_SUITE_END()
