// An async HTTP service on aibatch: one shared aibatch::client, an io_context run by
// several threads, every connection on a strand of its own (Beast's usual server shape).
//
//   POST /classify   body: ["text", ...]  -> the typed results of batch<T>(), in order
//   POST /jobs       body: ["text", ...]  -> 202 {"id":"job-1"} at once; the batch runs on
//   GET  /jobs/ID                         -> {"status":..., "items_done":..., "results":[...]}
//   GET  /health                          -> {"status":"ok", "jobs_running":N}, always quick
//
// SIGTERM or SIGINT: stops accepting, cancels every running batch (remote batches are
// canceled by batch<T>() itself), prints which batches were canceled or left, exits 0.
//
//   ./build/default/examples/classify_server [--port 8080] [--threads 4] [--model M]
// Without ANTHROPIC_API_KEY it runs against the bundled emulator and says so.
#include "example_support.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/describe.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

enum class Sentiment { positive, negative, neutral };
BOOST_DESCRIBE_ENUM(Sentiment, positive, negative, neutral)

struct Classification {
    Sentiment sentiment;
    std::optional<std::string> topic; ///< absent when the text has no clear topic
    double confidence;
};
BOOST_DESCRIBE_STRUCT(Classification, (), (sentiment, topic, confidence))

namespace {

constexpr std::size_t max_texts = 100'000;
constexpr std::size_t max_body = 64u << 20;

struct job {
    std::string id;
    std::size_t items = 0;
    std::atomic<std::size_t> items_done{0};
    std::mutex mtx; // guards what follows
    std::string status = "running";
    json::array results;
    std::string error;
    std::vector<std::string> batch_ids;
    std::vector<aibatch::unread_batch> unread;
    asio::strand<asio::any_io_executor> strand;
    asio::cancellation_signal cancel; // emitted on `strand` only
    explicit job(asio::any_io_executor ex) : strand(asio::make_strand(std::move(ex))) {}
};

struct service {
    aibatch::client& client;
    std::string model;
    asio::any_io_executor ex;
    std::mutex mtx;
    std::map<std::string, std::shared_ptr<job>> jobs;
    std::atomic<int> running{0};
    std::atomic<bool> stopping{false};
    int next_id = 1;

    service(aibatch::client& c, std::string m, asio::any_io_executor e)
        : client(c), model(std::move(m)), ex(std::move(e)) {}

    std::shared_ptr<job> add_job(std::size_t items) {
        std::lock_guard lock(mtx);
        auto j = std::make_shared<job>(ex);
        j->id = "job-" + std::to_string(next_id++);
        j->items = items;
        jobs[j->id] = j;
        return j;
    }
    std::shared_ptr<job> find(const std::string& id) {
        std::lock_guard lock(mtx);
        auto it = jobs.find(id);
        return it == jobs.end() ? nullptr : it->second;
    }
};

json::array to_results(const aibatch::batch_run<Classification>& run) {
    json::array out;
    for (const auto& it : run.items) {
        if (it.value)
            out.push_back(json::object{
                {"index", it.index}, {"ok", true}, {"value", json::value_from(*it.value)}});
        else
            out.push_back(json::object{{"index", it.index},
                                       {"ok", false},
                                       {"status", std::string(aibatch::to_string(it.status))},
                                       {"error", it.message}});
    }
    return out;
}

// ["text", ...] -> conversations, or the reason it is not acceptable.
std::variant<std::vector<aibatch::conversation>, std::string> parse_texts(const std::string& body) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec)
        return "the body is not JSON (" + ec.message() + "); send a JSON array of strings";
    if (!v.is_array())
        return std::string("the body must be a JSON array of strings");
    const auto& a = v.get_array();
    if (a.empty() || a.size() > max_texts)
        return "send 1 to " + std::to_string(max_texts) + " texts (got " +
               std::to_string(a.size()) + ")";
    std::vector<aibatch::conversation> out;
    out.reserve(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (!a[i].is_string() || a[i].get_string().empty())
            return "element " + std::to_string(i) + " is not a non-empty string";
        out.push_back({aibatch::user("Classify the sentiment and topic of this text: " +
                                     std::string(a[i].get_string()))});
    }
    return out;
}

aibatch::batch_options options_for(job& j) {
    aibatch::batch_options o;
    o.system = "You classify short texts.";
    o.poll_interval = std::chrono::milliseconds(200);
    o.poll_interval_max = std::chrono::seconds(30);
    o.on_progress = [&j](const aibatch::batch_progress& p) { j.items_done = p.items_done; };
    return o;
}

// Runs one job's batch to the end (or until canceled), on the job's strand.
aibatch::task<void> run_job(service& svc, std::shared_ptr<job> j,
                            std::vector<aibatch::conversation> messages) {
    ++svc.running;
    struct done_guard {
        service& s;
        ~done_guard() { --s.running; }
    } guard{svc};
    aibatch::batch_run<Classification> run;
    try {
        run = co_await aibatch::run_batch<Classification>(svc.client, std::move(messages),
                                                          svc.model, options_for(*j));
    } catch (const std::exception& e) {
        std::lock_guard lock(j->mtx);
        j->status = "failed";
        j->error = e.what();
        co_return;
    }
    {
        std::lock_guard lock(j->mtx);
        j->results = to_results(run);
        j->batch_ids = run.batch_ids;
        j->unread = run.unread_batches;
        j->items_done = run.items.size();
        if (run.stop_code == asio::error::operation_aborted)
            j->status = "canceled";
        else
            j->status = run.stop_code && run.succeeded() == 0 ? "failed" : "done";
        j->error = run.stop_message;
    }
}

using response = http::response<http::string_body>;

response reply(unsigned status, const json::value& body, bool keep_alive) {
    response r{static_cast<http::status>(status), 11};
    r.set(http::field::content_type, "application/json");
    r.set(http::field::server, "aibatch-classify-server");
    r.body() = json::serialize(body);
    r.keep_alive(keep_alive);
    r.prepare_payload();
    return r;
}

response error_reply(unsigned status, const std::string& message, bool keep_alive) {
    return reply(status, json::object{{"error", message}}, keep_alive);
}

aibatch::task<response> handle(service& svc, const http::request<http::string_body>& req) {
    const bool ka = req.keep_alive();
    std::string target(req.target());
    if (target == "/health") {
        if (req.method() != http::verb::get)
            co_return error_reply(405, "use GET /health", ka);
        co_return reply(200,
                        json::object{{"status", svc.stopping ? "stopping" : "ok"},
                                     {"jobs_running", svc.running.load()}},
                        ka);
    }
    if (target == "/classify" || target == "/jobs") {
        if (req.method() != http::verb::post)
            co_return error_reply(405, "use POST " + target, ka);
        if (svc.stopping)
            co_return error_reply(503, "the server is shutting down", false);
        auto parsed = parse_texts(req.body());
        if (auto* why = std::get_if<std::string>(&parsed))
            co_return error_reply(400, *why, ka);
        auto messages = std::move(std::get<0>(parsed));
        auto j = svc.add_job(messages.size());
        if (target == "/jobs") {
            asio::co_spawn(j->strand, run_job(svc, j, std::move(messages)),
                           asio::bind_cancellation_slot(j->cancel.slot(), asio::detached));
            co_return reply(202, json::object{{"id", j->id}}, ka);
        }
        co_await asio::co_spawn(
            j->strand, run_job(svc, j, std::move(messages)),
            asio::bind_cancellation_slot(j->cancel.slot(), asio::use_awaitable));
        std::lock_guard lock(j->mtx);
        if (j->status == "failed")
            co_return error_reply(502, j->error, ka);
        co_return reply(200, j->results, ka);
    }
    if (target.rfind("/jobs/", 0) == 0) {
        if (req.method() != http::verb::get)
            co_return error_reply(405, "use GET " + target, ka);
        auto j = svc.find(target.substr(6));
        if (!j)
            co_return error_reply(404, "no job " + target.substr(6), ka);
        std::lock_guard lock(j->mtx);
        json::object o{{"id", j->id},
                       {"status", j->status},
                       {"items", j->items},
                       {"items_done", j->items_done.load()}};
        if (j->status != "running") {
            o["results"] = j->results;
            o["error"] = j->error;
        }
        co_return reply(200, o, ka);
    }
    co_return error_reply(404,
                          "unknown path " + target +
                              "; use POST /classify, POST /jobs, GET /jobs/ID, GET /health",
                          ka);
}

aibatch::task<void> session(service& svc, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(max_body);
        stream.expires_after(std::chrono::seconds(60));
        auto [ec, n] =
            co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
        if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
            ec == asio::error::eof)
            break;
        if (ec) {
            // Malformed HTTP: answer 400 once, then close.
            auto r = error_reply(400, "bad HTTP request: " + ec.message(), false);
            co_await http::async_write(stream, r, asio::as_tuple(asio::use_awaitable));
            break;
        }
        auto req = parser.release();
        stream.expires_never();
        response r = co_await handle(svc, req);
        bool keep = r.keep_alive();
        auto [wec, wn] = co_await http::async_write(stream, r, asio::as_tuple(asio::use_awaitable));
        if (wec || !keep)
            break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

aibatch::task<void> listen(service& svc, tcp::acceptor& acceptor) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
        if (ec)
            co_return; // closed at shutdown
        asio::co_spawn(asio::make_strand(svc.ex), session(svc, std::move(socket)), asio::detached);
    }
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"aibatch classify_server: typed batch classification over HTTP"};
    unsigned short port = 8080;
    unsigned threads = 4;
    std::string model = "claude-haiku-4-5";
    app.add_option("--port", port, "Port on 127.0.0.1 (0 = pick a free one)");
    app.add_option("--threads", threads, "Threads running the io_context")
        ->check(CLI::Range(1, 64));
    app.add_option("--model", model, "Model id");
    CLI11_PARSE(app, argc, argv);
    try {
        example::backend b = example::choose_backend();
        asio::io_context ioc(static_cast<int>(threads));
        aibatch::client client(ioc.get_executor(), b.config);
        service svc(client, model, ioc.get_executor());
        tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), port});
        std::cout << "listening on http://127.0.0.1:" << acceptor.local_endpoint().port()
                  << std::endl;
        asio::co_spawn(ioc, listen(svc, acceptor), asio::detached);

        asio::signal_set signals(ioc, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code& ec, int) {
            if (ec)
                return;
            svc.stopping = true;
            acceptor.close();
            std::cout << "shutting down: canceling running jobs" << std::endl;
            std::vector<std::shared_ptr<job>> all;
            {
                std::lock_guard lock(svc.mtx);
                for (auto& [id, j] : svc.jobs)
                    all.push_back(j);
            }
            for (auto& j : all)
                asio::dispatch(j->strand,
                               [j] { j->cancel.emit(asio::cancellation_type::terminal); });
            // When every job has ended, say what became of its batches, then stop.
            asio::co_spawn(
                ioc,
                [&, all]() -> aibatch::task<void> {
                    asio::steady_timer t(co_await asio::this_coro::executor);
                    while (svc.running > 0) {
                        t.expires_after(std::chrono::milliseconds(20));
                        co_await t.async_wait(asio::use_awaitable);
                    }
                    for (auto& j : all) {
                        std::lock_guard lock(j->mtx);
                        std::cout << j->id << ": " << j->status;
                        for (const auto& id : j->batch_ids)
                            std::cout
                                << (j->status == "canceled" ? ", canceled batch " : ", batch ")
                                << id;
                        for (const auto& u : j->unread)
                            std::cout << ", left batch " << u.id << " (" << u.why << ")";
                        std::cout << "\n";
                    }
                    std::cout << "stopped" << std::endl;
                    ioc.stop();
                },
                asio::detached);
        });

        std::vector<std::thread> pool;
        for (unsigned i = 1; i < threads; ++i)
            pool.emplace_back([&] { ioc.run(); });
        ioc.run();
        for (auto& t : pool)
            t.join();
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
}
