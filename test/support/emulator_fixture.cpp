#include "emulator_fixture.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <stdexcept>

namespace aibatch::test {

namespace json = boost::json;

constexpr auto wait_limit = std::chrono::seconds(20);

emulator::options emulator_fixture::default_options() {
    return options(std::chrono::milliseconds(150));
}

emulator::options emulator_fixture::options(std::chrono::milliseconds processing,
                                            std::uint64_t seed) {
    emulator::options o;
    o.processing_time = processing;
    o.seed = seed;
    return o;
}

emulator::options emulator_fixture::held(std::uint64_t seed) {
    auto o = default_options();
    o.seed = seed;
    o.hold_batches = true;
    return o;
}

client_config emulator_fixture::default_client_config() {
    client_config c;
    c.api_key = "sk-ant-emulator-test";
    c.retry.max_retries = 2;
    c.retry.initial_backoff = std::chrono::milliseconds(10);
    c.retry.max_backoff = std::chrono::milliseconds(50);
    return c;
}

emulator_fixture::emulator_fixture(emulator::options opts, client_config cfg, transport_options raw)
    : emu_(std::make_unique<emulator::server>(std::move(opts))), client_config_(std::move(cfg)),
      raw_(std::move(raw)) {
    emu_->start();
}

emulator_fixture::~emulator_fixture() {
    // The clients go first (they may hold connections), then the server stops.
    client_.reset();
    http_.reset();
    emu_->stop();
}

client_config emulator_fixture::client_settings() const {
    return client_settings(client_config_);
}

client_config emulator_fixture::client_settings(client_config cfg) const {
    cfg.base_url = emu_->url();
    return cfg;
}

aibatch::client& emulator_fixture::client() {
    if (!client_)
        client_.emplace(ioc_.get_executor(), client_settings());
    return *client_;
}

aibatch::client emulator_fixture::make_client(client_config cfg) {
    return aibatch::client(ioc_.get_executor(), client_settings(std::move(cfg)));
}

aibatch::client emulator_fixture::make_client(const boost::asio::any_io_executor& ex,
                                              client_config cfg) {
    return aibatch::client(ex, client_settings(std::move(cfg)));
}

void emulator_fixture::block_until_ended(const std::string& id) const {
    if (!emu_->wait_ended(id, wait_limit))
        throw std::runtime_error("batch " + id + " did not end within 20 s");
}

batch_info emulator_fixture::ended_batch(const std::string& id) {
    block_until_ended(id);
    return run(client().retrieve_batch(id));
}

std::size_t emulator_fixture::count(std::string_view endpoint) const {
    std::size_t n = 0;
    for (const auto& e : emu_->log())
        n += e.endpoint == endpoint;
    return n;
}

bool emulator_fixture::wait_created(std::size_t n) const {
    return emu_->wait_for_log(
        [n](const std::vector<emulator::log_entry>& log) {
            std::size_t created = 0;
            for (const auto& e : log)
                created += e.endpoint == "create" && e.status == 200;
            return created >= n;
        },
        wait_limit);
}

void emulator_fixture::release(const std::string& id) {
    if (!emu_->release(id))
        throw std::runtime_error("batch " + id +
                                 " is neither held nor canceling (unknown, or ended)");
}

http_client& emulator_fixture::http() {
    if (!http_)
        http_ = std::make_unique<http_client>(ioc_.get_executor(), emu_->url(), raw_);
    return *http_;
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
    auto res = run_task(ioc_, http().request(std::move(req)));
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
    block_until_ended(id);
    auto a = call("GET", "/v1/messages/batches/" + id);
    if (a.status != 200)
        throw std::runtime_error("retrieve failed: " + a.raw);
    if (a.body.at("processing_status") != "ended")
        throw std::runtime_error("batch " + id +
                                 " ended for the emulator, not for retrieve: " + a.raw);
    return a.body;
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
