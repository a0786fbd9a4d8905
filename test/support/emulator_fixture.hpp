// An in-process emulator plus a raw HTTP client talking JSON to it: for tests of the
// emulator itself and of anything that needs a Message Batches API on loopback.
#pragma once

#include <aibatch/emulator/emulator.hpp>
#include <aibatch/transport/http_client.hpp>

#include "run_task.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/value.hpp>

#include <memory>
#include <string>

namespace aibatch::test {

struct json_answer {
    unsigned status = 0;
    boost::json::value body; ///< parsed JSON (null when the body is not JSON)
    std::string raw;
    http_headers headers;
};

class emulator_fixture {
public:
    explicit emulator_fixture(emulator::options opts = default_options(),
                              transport_options topts = {});

    static emulator::options default_options();

    /// Sends a request with anthropic-version and x-api-key (when api_key is not empty) and parses
    /// the answer.
    json_answer call(const std::string& method, const std::string& target,
                     const std::string& body = {}, bool with_version = true);
    json_answer create(const boost::json::value& body);
    /// Polls retrieve until processing_status is "ended" (bounded: 20 s).
    boost::json::value wait_ended(const std::string& id);
    /// The lines of a batch's results, parsed.
    std::vector<boost::json::value> results(const std::string& id);

    emulator::server& emu() { return *emu_; }
    http_client& http() { return *http_; }
    boost::asio::io_context& ioc() { return ioc_; }
    /// Sent as x-api-key when not empty (the emulator, like the API, answers a request
    /// without a key with 401).
    std::string api_key = "sk-ant-emulator-test";

private:
    std::unique_ptr<emulator::server> emu_;
    boost::asio::io_context ioc_;
    std::unique_ptr<http_client> http_;
};

/// One batch request: custom_id plus Messages params with a forced tool `answer`.
boost::json::object tool_request(const std::string& custom_id, const std::string& prompt,
                                 const boost::json::value& input_schema);
/// A plain valid request with a text prompt.
boost::json::object text_request(const std::string& custom_id, const std::string& prompt);

} // namespace aibatch::test
