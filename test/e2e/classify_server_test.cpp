// examples/classify_server driven over loopback as a client would: 200 concurrent
// /classify calls from four threads, /health answering while a 100,000-item batch is
// submitted, malformed requests, and a graceful SIGTERM that cancels the running batch.
// The server runs as a child process against its bundled emulator (no key).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

extern char** environ;

namespace {

struct answer {
    unsigned status = 0;
    std::string body;
};

// One request on a fresh connection.
asio::awaitable<answer> call(unsigned short port, http::verb method, std::string target,
                             std::string body) {
    beast::tcp_stream s(co_await asio::this_coro::executor);
    s.expires_after(60s);
    co_await s.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                             asio::use_awaitable);
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
    req.prepare_payload();
    co_await http::async_write(s, req, asio::use_awaitable);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> p;
    p.body_limit(64u << 20);
    co_await http::async_read(s, buf, p, asio::use_awaitable);
    co_return answer{p.get().result_int(), p.get().body()};
}

answer call_sync(unsigned short port, http::verb method, std::string target,
                 std::string body = {}) {
    asio::io_context ioc;
    answer out;
    std::exception_ptr failure;
    asio::co_spawn(ioc, call(port, method, std::move(target), std::move(body)),
                   [&](std::exception_ptr e, answer a) {
                       failure = e;
                       out = std::move(a);
                   });
    ioc.run();
    if (failure)
        std::rethrow_exception(failure);
    return out;
}

std::string scripted(const std::string& tag) {
    return "text " + tag + "\nEMULATOR_OUTPUT: {\"sentiment\":\"neutral\",\"topic\":\"" + tag +
           "\",\"confidence\":0.5}";
}

struct server_process {
    pid_t pid = -1;
    std::string out_path;
    unsigned short port = 0;

    server_process() {
        out_path = "/tmp/aibatch-classify-" + std::to_string(::getpid()) + ".out";
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                         0644);
        std::vector<std::string> args{AIBATCH_CLASSIFY_SERVER, "--port", "0", "--threads", "4"};
        std::vector<char*> argv;
        for (auto& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        // No key: the server uses its bundled emulator.
        std::vector<std::string> env_strings;
        for (char** e = environ; *e; ++e)
            if (std::string_view(*e).rfind("ANTHROPIC_API_KEY=", 0) != 0)
                env_strings.emplace_back(*e);
        std::vector<char*> envp;
        for (auto& e : env_strings)
            envp.push_back(e.data());
        envp.push_back(nullptr);
        int rc = posix_spawn(&pid, AIBATCH_CLASSIFY_SERVER, &fa, nullptr, argv.data(), envp.data());
        posix_spawn_file_actions_destroy(&fa);
        BOOST_REQUIRE_MESSAGE(rc == 0, "posix_spawn failed: " << rc);
        for (int i = 0; i < 500 && port == 0; ++i) {
            std::this_thread::sleep_for(10ms);
            std::ifstream f(out_path);
            std::string line;
            while (std::getline(f, line))
                if (auto at = line.find("listening on http://127.0.0.1:"); at != std::string::npos)
                    port = static_cast<unsigned short>(std::stoi(line.substr(at + 30)));
        }
        BOOST_REQUIRE_MESSAGE(port != 0, "the server did not start");
    }
    int stop(std::chrono::seconds limit = 60s) {
        ::kill(pid, SIGTERM);
        int status = 0;
        auto until = std::chrono::steady_clock::now() + limit;
        while (::waitpid(pid, &status, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() > until) {
                ::kill(pid, SIGKILL);
                ::waitpid(pid, &status, 0);
                return -1;
            }
            std::this_thread::sleep_for(20ms);
        }
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::string output() const {
        std::ifstream f(out_path);
        return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
    }
    ~server_process() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
        std::remove(out_path.c_str());
    }
};

} // namespace

BOOST_AUTO_TEST_SUITE(classify_server)

BOOST_AUTO_TEST_CASE(serves_concurrent_calls_health_and_shuts_down_gracefully) {
    server_process srv;

    // Malformed requests get 400 with a JSON error; nothing crashes.
    auto bad = call_sync(srv.port, http::verb::post, "/classify", "{not json");
    BOOST_TEST(bad.status == 400u);
    BOOST_TEST(json::parse(bad.body).as_object().contains("error"));
    BOOST_TEST(call_sync(srv.port, http::verb::post, "/classify", "[1,2]").status == 400u);
    BOOST_TEST(call_sync(srv.port, http::verb::post, "/classify", "[]").status == 400u);
    BOOST_TEST(call_sync(srv.port, http::verb::get, "/nope").status == 404u);
    BOOST_TEST(call_sync(srv.port, http::verb::get, "/classify").status == 405u);

    // 200 concurrent /classify calls from an io_context on four threads.
    {
        asio::io_context ioc(4);
        std::atomic<int> good{0}, wrong{0};
        for (int k = 0; k < 200; ++k) {
            int n = 1 + k % 3;
            json::array texts;
            for (int i = 0; i < n; ++i)
                texts.emplace_back(scripted("c" + std::to_string(k) + "-" + std::to_string(i)));
            asio::co_spawn(
                ioc, call(srv.port, http::verb::post, "/classify", json::serialize(texts)),
                [&, k, n](std::exception_ptr e, answer a) {
                    bool ok = !e && a.status == 200;
                    if (ok) {
                        auto v = json::parse(a.body).as_array();
                        ok = v.size() == static_cast<std::size_t>(n);
                        for (int i = 0; ok && i < n; ++i) {
                            const auto& item = v[static_cast<std::size_t>(i)].as_object();
                            ok = item.at("ok").as_bool() &&
                                 item.at("value").at("topic").as_string() ==
                                     "c" + std::to_string(k) + "-" + std::to_string(i);
                        }
                    }
                    (ok ? good : wrong)++;
                });
        }
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&] { ioc.run(); });
        for (auto& t : threads)
            t.join();
        BOOST_TEST(good == 200);
        BOOST_TEST(wrong == 0);
    }

    // A 100,000-item job: accepted at once; /health keeps answering while it is built
    // and submitted (latencies printed; the loop-stall target is measured in bench/).
    json::array big;
    for (int i = 0; i < 100'000; ++i)
        big.emplace_back("short text number " + std::to_string(i));
    auto started = call_sync(srv.port, http::verb::post, "/jobs", json::serialize(big));
    BOOST_TEST(started.status == 202u);
    std::string job = std::string(json::parse(started.body).at("id").as_string());
    std::vector<double> ms;
    auto until = std::chrono::steady_clock::now() + 3s;
    while (std::chrono::steady_clock::now() < until) {
        auto t0 = std::chrono::steady_clock::now();
        auto h = call_sync(srv.port, http::verb::get, "/health");
        ms.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count());
        BOOST_TEST(h.status == 200u);
        std::this_thread::sleep_for(5ms);
    }
    std::sort(ms.begin(), ms.end());
    BOOST_TEST_MESSAGE("/health during a 100,000-item submission: "
                       << ms.size() << " calls, p50 " << ms[ms.size() / 2] << " ms, p99 "
                       << ms[ms.size() * 99 / 100] << " ms, max " << ms.back() << " ms");
    auto status = call_sync(srv.port, http::verb::get, "/jobs/" + job);
    BOOST_TEST(status.status == 200u);
    BOOST_TEST(json::parse(status.body).at("status").as_string() == "running");

    // SIGTERM: the running job is canceled, its batch named, the process exits 0.
    BOOST_TEST(srv.stop() == 0);
    std::string out = srv.output();
    BOOST_TEST(out.find(job + ": canceled") != std::string::npos, out);
    BOOST_TEST(out.find("stopped") != std::string::npos, out);
}

BOOST_AUTO_TEST_SUITE_END()
