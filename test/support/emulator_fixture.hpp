// The one in-process emulator of a test: started on loopback with chosen options, its URL,
// clients for it, raw HTTP calls to it, its state and faults (emu()), and waits on it
// that block on the emulator's own state instead of polling a clock.
#pragma once

#include <aibatch/api/client.hpp>
#include <aibatch/emulator/emulator.hpp>
#include <aibatch/transport/http_client.hpp>

#include "run_task.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aibatch::test {

struct json_answer {
    unsigned status = 0;
    boost::json::value body; ///< parsed JSON (null when the body is not JSON)
    std::string raw;
    http_headers headers;
};

class emulator_fixture {
public:
    /// 150 ms of processing, seed 42.
    static emulator::options default_options();
    /// default_options() with this processing time and seed.
    static emulator::options options(std::chrono::milliseconds processing, std::uint64_t seed = 42);
    /// default_options() with hold_batches: a batch stays in_progress until the test
    /// releases it (release(), release_all()), so "still running when X happens" is
    /// certain, not a race against processing_time.
    static emulator::options held(std::uint64_t seed = 42);
    /// The key "sk-ant-emulator-test" and quick retries (10 ms, at most 50 ms, 2 retries).
    static client_config default_client_config();

    /// Starts an emulator with `opts` on a thread of its own. `cfg` (its base_url replaced
    /// by the emulator's) configures client(); `raw` the transport of call().
    explicit emulator_fixture(emulator::options opts = default_options(),
                              client_config cfg = default_client_config(),
                              transport_options raw = {});
    ~emulator_fixture();
    emulator_fixture(const emulator_fixture&) = delete;
    emulator_fixture& operator=(const emulator_fixture&) = delete;

    /// The emulator: its log, batches, faults (add_fault), release(), waits.
    emulator::server& emu() { return *emu_; }
    const emulator::server& emu() const { return *emu_; }
    /// "http://127.0.0.1:PORT".
    std::string url() const { return emu_->url(); }
    /// Stops serving (connections are refused afterwards). The destructor also does.
    void stop() { emu_->stop(); }
    /// The io_context client(), make_client() and call() run on (run() drives it).
    boost::asio::io_context& ioc() { return ioc_; }

    // ------------------------------------------------------------- typed clients
    /// The constructor's client_config with this emulator's base_url.
    client_config client_settings() const;
    /// `cfg` with this emulator's base_url.
    client_config client_settings(client_config cfg) const;
    /// A client on ioc() made from client_settings(), on first use.
    aibatch::client& client();
    /// Another client on ioc() for this emulator (`cfg`'s base_url is replaced).
    aibatch::client make_client(client_config cfg);
    /// The same on another executor (an io_context run by several threads, say).
    aibatch::client make_client(const boost::asio::any_io_executor& ex, client_config cfg);
    /// Runs a task on ioc() to its end (its exception rethrown).
    template <class T>
    T run(task<T> t) {
        return run_task(ioc_, std::move(t));
    }
    /// Blocks until batch `id` has ended (at most 20 s), then
    /// retrieves it through client(). Throws std::runtime_error when it does not end.
    batch_info ended_batch(const std::string& id);

    // ------------------------------------------------------------- the emulator's state
    /// Requests served so far to `endpoint` (create, retrieve, list, cancel, results, ...).
    std::size_t count(std::string_view endpoint) const;
    /// Blocks until `n` batches have been created (at most 20 s): true when they were.
    bool wait_created(std::size_t n) const;
    /// Ends held or canceling batch `id` now (emulator::server::release); throws when
    /// there was nothing to end.
    void release(const std::string& id);
    /// Ends every held or canceling batch now; returns how many.
    std::size_t release_all() { return emu_->release_all(); }

    // ------------------------------------------------------------- raw HTTP (JSON)
    /// The HTTP client of call() (made on first use).
    http_client& http();
    /// Sends a request with anthropic-version and x-api-key (when api_key is not empty) and
    /// parses the answer.
    json_answer call(const std::string& method, const std::string& target,
                     const std::string& body = {}, bool with_version = true);
    json_answer create(const boost::json::value& body);
    /// Blocks until batch `id` has ended (at most 20 s, else throws), then retrieves it.
    boost::json::value wait_ended(const std::string& id);
    /// The lines of a batch's results, parsed.
    std::vector<boost::json::value> results(const std::string& id);
    /// Sent by call() as x-api-key when not empty (the emulator, like the API, answers a
    /// request without a key with 401).
    std::string api_key = "sk-ant-emulator-test";

private:
    void block_until_ended(const std::string& id) const;

    std::unique_ptr<emulator::server> emu_;
    client_config client_config_;
    transport_options raw_;
    boost::asio::io_context ioc_;
    std::unique_ptr<http_client> http_;
    std::optional<aibatch::client> client_;
};

/// One batch request: custom_id plus Messages params with a forced tool `answer`.
boost::json::object tool_request(const std::string& custom_id, const std::string& prompt,
                                 const boost::json::value& input_schema);
/// A plain valid request with a text prompt.
boost::json::object text_request(const std::string& custom_id, const std::string& prompt);

} // namespace aibatch::test
