// The emulator as a server: the input is the body of a batch create (and of a Messages
// request), posted over loopback to an in-process emulator; a created batch's results
// are read and the batch deleted. Promises: every request gets an HTTP answer (never a
// crash, a hang or a dropped connection), errors are the API's JSON error body, a
// created batch yields exactly one JSON result line per request.
#include "fuzz_targets.hpp"

#include <aibatch/emulator/emulator.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>

#include <memory>

namespace aibatch::fuzz {
namespace {
namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;

class emulator_connection {
public:
    emulator_connection() {
        emulator::options o;
        o.processing_time = std::chrono::milliseconds(0);
        o.results_cache_bytes = 0;
        o.max_batch_bytes = 4u << 20;
        server_ = std::make_unique<emulator::server>(o);
        server_->start();
    }

    http::response<http::string_body> exchange(http::verb method, std::string target,
                                               std::string body) {
        if (!socket_.is_open())
            socket_.connect(
                asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
        http::request<http::string_body> req{method, target, 11};
        req.set(http::field::host, "127.0.0.1");
        req.set("anthropic-version", "2023-06-01");
        req.set("x-api-key", "sk-ant-fuzz"); // the emulator, like the API, wants a key
        req.set(http::field::content_type, "application/json");
        req.body() = std::move(body);
        req.keep_alive(true);
        req.prepare_payload();
        // libFuzzer's timers interrupt blocking calls (EINTR): go on where they stopped.
        boost::system::error_code ec;
        http::request_serializer<http::string_body> sr(req);
        do
            http::write(socket_, sr, ec);
        while (ec == asio::error::interrupted);
        require(!ec, "the emulator did not take " + target + ": " + ec.message());
        http::response_parser<http::string_body> parser;
        parser.body_limit(256u << 20);
        boost::beast::flat_buffer buf;
        do
            http::read(socket_, buf, parser, ec);
        while (ec == asio::error::interrupted);
        require(!ec, "the emulator did not answer " + target + ": " + ec.message());
        auto res = parser.release();
        if (!res.keep_alive())
            socket_.close();
        return res;
    }

private:
    std::unique_ptr<emulator::server> server_;
    asio::io_context ioc_;
    asio::ip::tcp::socket socket_{ioc_};
};

// A fresh emulator every 500 inputs: it keeps a record of every batch it ever created
// (server::batches(), deleted ones included), which would otherwise grow for the whole
// fuzzing run.
emulator_connection& connection() {
    static std::unique_ptr<emulator_connection> c;
    static unsigned uses = 0;
    if (!c || ++uses % 500 == 0) {
        c.reset();
        c = std::make_unique<emulator_connection>();
    }
    return *c;
}

void check_error_body(const http::response<http::string_body>& res) {
    boost::system::error_code ec;
    auto v = json::parse(res.body(), ec);
    require(!ec && v.is_object() && v.get_object().contains("error"),
            "an emulator error answer without the API's error body");
}

} // namespace

void emulator_http(std::string_view data) {
    auto& c = connection();
    auto created = c.exchange(http::verb::post, "/v1/messages/batches", std::string(data));
    if (created.result_int() != 200) {
        require(created.result_int() == 400 || created.result_int() == 413,
                "a batch create answered with an unexpected status");
        check_error_body(created);
    } else {
        auto batch = json::parse(created.body());
        std::string id(batch.at("id").get_string());
        auto requests = json::parse(data).at("requests").get_array().size();
        auto results = c.exchange(http::verb::get, "/v1/messages/batches/" + id + "/results", {});
        require(results.result_int() == 200, "the results of an ended batch are not served");
        std::string_view body = results.body();
        std::size_t lines = 0;
        while (!body.empty()) {
            auto nl = body.find('\n');
            require(nl != std::string_view::npos, "a result line without its newline");
            boost::system::error_code ec;
            auto line = json::parse(body.substr(0, nl), ec);
            require(!ec && line.is_object() && line.get_object().contains("custom_id"),
                    "a result line that is not a result");
            body.remove_prefix(nl + 1);
            ++lines;
        }
        require(lines == requests, "a batch's results do not have one line per request");
        auto deleted = c.exchange(http::verb::delete_, "/v1/messages/batches/" + id, {});
        require(deleted.result_int() == 200, "an ended batch cannot be deleted");
    }
    // The same bytes as the params of a Messages request.
    auto answered = c.exchange(http::verb::post, "/v1/messages", std::string(data));
    if (answered.result_int() != 200)
        check_error_body(answered);
}

} // namespace aibatch::fuzz
