#include "emulator_fixture.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace aibatch::test {

namespace json = boost::json;

emulator::options emulator_fixture::default_options() {
    emulator::options o;
    o.processing_time = std::chrono::milliseconds(150);
    o.seed = 42;
    return o;
}

emulator_fixture::emulator_fixture(emulator::options opts, transport_options topts)
    : emu_(std::make_unique<emulator::server>(std::move(opts))) {
    emu_->start();
    http_ = std::make_unique<http_client>(ioc_.get_executor(), emu_->url(), std::move(topts));
}

json_answer emulator_fixture::call(const std::string& method, const std::string& target,
                                   const std::string& body, bool with_version) {
    http_request req;
    req.method = method;
    req.target = target;
    req.body = body;
    if (with_version)
        req.headers.add("anthropic-version", "2023-06-01");
    if (!api_key.empty())
        req.headers.add("x-api-key", api_key);
    if (!body.empty())
        req.headers.add("content-type", "application/json");
    auto res = run_task(ioc_, http_->request(std::move(req)));
    json_answer a;
    a.status = res.status;
    a.raw = res.body;
    a.headers = res.headers;
    boost::system::error_code ec;
    a.body = json::parse(res.body, ec);
    if (ec)
        a.body = nullptr;
    return a;
}

json_answer emulator_fixture::create(const json::value& body) {
    return call("POST", "/v1/messages/batches", json::serialize(body));
}

json::value emulator_fixture::wait_ended(const std::string& id) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        auto a = call("GET", "/v1/messages/batches/" + id);
        if (a.status != 200)
            throw std::runtime_error("retrieve failed: " + a.raw);
        if (a.body.at("processing_status") == "ended")
            return a.body;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("batch " + id + " did not end within 20 s");
}

std::vector<json::value> emulator_fixture::results(const std::string& id) {
    auto a = call("GET", "/v1/messages/batches/" + id + "/results");
    if (a.status != 200)
        throw std::runtime_error("results failed: " + a.raw);
    std::vector<json::value> lines;
    std::size_t pos = 0;
    while (pos < a.raw.size()) {
        auto end = a.raw.find('\n', pos);
        if (end == std::string::npos)
            end = a.raw.size();
        if (end > pos)
            lines.push_back(json::parse(std::string_view(a.raw).substr(pos, end - pos)));
        pos = end + 1;
    }
    return lines;
}

json::object tool_request(const std::string& custom_id, const std::string& prompt,
                          const json::value& input_schema) {
    json::object params{
        {"model", "claude-haiku-4-5"},
        {"max_tokens", 512},
        {"messages", json::array{json::object{{"role", "user"}, {"content", prompt}}}},
        {"tools", json::array{json::object{{"name", "answer"},
                                           {"description", "Record the answer"},
                                           {"input_schema", input_schema}}}},
        {"tool_choice", json::object{{"type", "tool"}, {"name", "answer"}}}};
    return json::object{{"custom_id", custom_id}, {"params", std::move(params)}};
}

json::object text_request(const std::string& custom_id, const std::string& prompt) {
    json::object params{
        {"model", "claude-haiku-4-5"},
        {"max_tokens", 256},
        {"messages", json::array{json::object{{"role", "user"}, {"content", prompt}}}}};
    return json::object{{"custom_id", custom_id}, {"params", std::move(params)}};
}

} // namespace aibatch::test
