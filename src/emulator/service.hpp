// The emulator's Message Batches API without sockets: its state (batches, scripted
// faults, request log, ids) and the answer to each request. answer() is a request ->
// reply function that unit tests call directly; the server (server.cpp) reads requests
// off connections, applies the faults that act on connections (drop, delay) and writes
// these replies. Thread-safe: one mutex guards the state.
#pragma once

#include "batch_store.hpp"
#include "fault_plan.hpp"
#include "prompt_cache.hpp"
#include "results_cache.hpp"
#include "rng.hpp"

#include <aibatch/emulator/emulator.hpp>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aibatch::emulator {

using http_request = boost::beast::http::request<boost::beast::http::string_body>;

/// A response to write, or an instruction to stream a batch's results.
struct reply {
    unsigned status = 200;
    std::string body; ///< JSON
    std::vector<std::pair<std::string, std::string>> headers;
    bool close = false;                             ///< close the connection after it
    std::shared_ptr<const batch_record> results_of; ///< set: stream this batch's JSONL
    std::string batch_id;       ///< for the request log: the batch a create made
    std::uint64_t requests = 0; ///< for the request log: the number of requests it holds
};

/// What the request log keeps of a body: its size and FNV-1a hash (0 without a body).
struct body_print {
    std::uint64_t bytes = 0;
    std::uint64_t hash = 0;
    static body_print of(std::string_view body);
};

/// Where a request goes: the endpoint (create and list share "batches", retrieve and
/// delete share "batch"), the batch id in the path, the methods the path allows.
struct route {
    std::string endpoint; ///< batches, batch, cancel, results, messages, count_tokens
    std::string batch_id;
    std::vector<boost::beast::http::verb> methods;
};
/// The route of a path (without its query); std::nullopt when no endpoint has it.
std::optional<route> match_route(std::string_view path);
/// The endpoint a method on a route names: create, list, retrieve, delete, cancel,
/// results, messages or count_tokens (the names of the request log and of faults).
std::string endpoint_of(const route& r, boost::beast::http::verb method);

class service {
public:
    /// `origin`: the server's own URL, which each batch's results_url starts with.
    service(options opts, std::string origin);

    // ------------------------------------------------ request -> reply (logged)
    /// The answer to a request when no fault applies: its route, then dispatch().
    reply answer(http_request req);
    /// The answer to a routed request: the headers (key, version, method), then the
    /// endpoint's handler. A create takes the request's body (moved into the batch).
    reply dispatch(const route& r, http_request& req, const std::string& endpoint);
    /// 404 for a path that names no endpoint.
    reply not_found(const std::string& method, const std::string& path);
    /// The error an injected status fault answers instead of the endpoint.
    reply injected(unsigned status, const std::string& method, const std::string& path,
                   const std::string& endpoint, const std::string& batch_id);
    /// 413 (closing the connection) for a create body of `bytes` bytes, over the limit.
    reply too_large(std::uint64_t bytes);

    // ------------------------------------------------ the endpoints (not logged)
    /// Keeps `body`'s text as the batch's requests.
    reply create(std::string body);
    /// retrieve, cancel, delete or results of batch `id`.
    reply on_batch(const std::string& endpoint, const std::string& id);
    reply list(std::string_view target);
    reply messages(const std::string& body);
    reply count_tokens(const std::string& body);

    // ------------------------------------------------ faults, log, state
    fault_decision take_request_faults(const std::string& endpoint);
    std::optional<fault> take_fault(fault::kind k);
    std::optional<std::uint64_t> take_cut_request(const std::string& endpoint);
    void add_fault(fault f);
    void log_request(std::string method, std::string path, unsigned status, std::string endpoint,
                     std::string batch_id, std::uint64_t requests, body_print body = {});

    const options& opts() const { return opts_; }
    const std::string& origin() const { return origin_; }
    std::vector<log_entry> log() const;
    std::size_t batches_created() const;
    std::size_t batch_count() const;
    std::vector<batch_summary> batches() const;
    bool release(const std::string& id);
    std::size_t release_all();
    bool wait_ended(const std::string& id, std::chrono::milliseconds timeout) const;
    bool wait_for_log(const std::function<bool(const std::vector<log_entry>&)>& done,
                      std::chrono::milliseconds timeout) const;
    /// The rendering of batch `id`'s results kept in the results cache (now its most
    /// recently used), or null.
    std::shared_ptr<const std::string> kept_results(const std::string& id);
    /// Offers batch `id`'s rendered results to the results cache (nothing when the batch
    /// has been deleted meanwhile, or the rendering exceeds the budget).
    void keep_results(const std::string& id, std::shared_ptr<const std::string> text);
    results_cache_stats results_cache() const;
    /// Counts a request to `endpoint` read off its connection (before faults and answer).
    void note_received(const std::string& endpoint);
    bool wait_received(const std::string& endpoint, std::size_t n,
                       std::chrono::milliseconds timeout) const;

private:
    std::string request_id();
    reply error_reply(unsigned status, std::string type, std::string message);
    reply json_reply(const boost::json::value& v);
    /// The day model end-of-life dates are compared with.
    std::chrono::sys_days today(sys_clock::time_point now) const;
    std::shared_ptr<batch_record> find_locked(const std::string& id);

    options opts_;
    std::string origin_;

    mutable std::mutex mtx_;
    /// Notified when a request is read or logged and when a batch's end moves (release,
    /// cancel).
    mutable std::condition_variable changed_;
    std::vector<std::shared_ptr<batch_record>> batches_; // oldest first
    std::vector<std::shared_ptr<batch_record>> history_; // every batch created, oldest first
    fault_plan faults_;
    std::vector<log_entry> log_entries_;
    std::map<std::string, std::size_t, std::less<>> received_; ///< requests read, by endpoint
    std::size_t created_ = 0;
    rng ids_;
    /// Prefixes cached by POST /v1/messages and by batch items (prompt_cache.hpp).
    prompt_cache cache_;
    /// Rendered results of ended batches, within options::results_cache_bytes in all.
    emulator::results_cache results_cache_;
    std::ofstream log_out_;
};

} // namespace aibatch::emulator
