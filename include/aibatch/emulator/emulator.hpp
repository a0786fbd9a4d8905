// aibatch-emulator as a library: a faithful local Message Batches API on loopback, for
// tests, examples and benchmarks. Start one in-process on an ephemeral port:
//
//     aibatch::emulator::options opts;           // 127.0.0.1, port 0 = pick one
//     opts.processing_time = std::chrono::milliseconds(200);
//     aibatch::emulator::server emu(opts);
//     emu.start();                                // serves on its own thread
//     client_config cfg; cfg.base_url = emu.url(); ...
//
// The server's state is guarded by a mutex: the methods below may be called from any
// thread while it runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aibatch::emulator {

/// One scripted fault. Parsed from the command line's `--fault SPEC`:
///   status:CODE:N[:ENDPOINT]   the next N requests get CODE with the API's error body
///                              (429 carries retry-after: 1). N may be a fraction
///                              (0.25) = that share of all requests, for good.
///   drop:N[:ENDPOINT]          the next N requests: connection closed before any response
///   drop-after:N[:ENDPOINT]    the next N requests are carried out, then the connection
///                              is closed before the response (an ambiguous failure)
///   cut-request:BYTES:N[:ENDPOINT]  the next N requests with a body: the connection is
///                              reset after BYTES bytes of it were read (the request is
///                              never carried out; a client still sending sees the reset)
///   cut-results:BYTES          the next results stream is cut after BYTES body bytes
///   delay:MS:N[:ENDPOINT]      the next N responses wait MS milliseconds first
///   trickle:BYTES:N            the next N results streams send BYTES bytes per 10 ms
///   expire:N                   the next N batches created expire: items not processed
///                              when processing time is up come back `expired`
///   transient-404:MS:N[:ENDPOINT]  the next N batches created answer 404 not_found_error
///                              to retrieve and results (with ENDPOINT: to that one of
///                              retrieve, results, cancel, delete) for their first MS
///                              milliseconds (what users of the official SDKs see right
///                              after a create)
///   dup-line:N                 the next N results streams send their first line twice
///                              (again at the end)
///   inject-line:N:TEXT         the next N results streams start with the line TEXT (any
///                              bytes: another batch's line, a line that is not JSON, ...)
/// ENDPOINT: create, retrieve, list, cancel, delete, results, messages, count_tokens.
struct fault {
    enum class kind {
        status,
        drop,
        drop_after,
        cut_results,
        delay,
        trickle,
        expire,
        transient_404,
        dup_line,
        inject_line,
        cut_request
    };
    kind what = kind::status;
    unsigned status = 0;     ///< for status
    std::uint64_t count = 1; ///< how many requests / streams / batches
    double fraction = 0;     ///< for status: > 0 means a share of requests, forever
    std::uint64_t bytes = 0; ///< for cut-results, cut-request and trickle
    std::chrono::milliseconds delay{0};
    std::string endpoint; ///< empty = any endpoint
    std::string line;     ///< for inject-line
};

/// Parses a --fault SPEC; throws std::invalid_argument naming the problem.
fault parse_fault(std::string_view spec);

struct options {
    std::string host = "127.0.0.1";
    unsigned short port = 0; ///< 0 = pick a free port
    /// When set, other keys get 401; when empty, any non-empty key is accepted. A request
    /// without a key (x-api-key or Authorization: Bearer) always gets 401, as from the API.
    std::string api_key;
    std::filesystem::path tls_cert, tls_key; ///< both set = serve HTTPS
    std::chrono::milliseconds processing_time{std::chrono::seconds(2)};
    /// When true, processing_time does not apply: each batch created stays in_progress
    /// until server::release(id) or server::release_all() ends it (every item processed
    /// at that moment). A cancel moves it to canceling, then to ended after cancel_time
    /// (or at release()), every item canceled. For tests that need a batch still running
    /// when something happens, without racing a clock.
    bool hold_batches = false;
    /// How long `canceling` lasts before the batch ends.
    std::chrono::milliseconds cancel_time{std::chrono::milliseconds(100)};
    std::uint64_t seed = 0;
    /// The server's clock runs this far ahead of (negative: behind) the machine's: every
    /// time it reports (created_at, ended_at, expires_at, ...) is shifted by it. For tests
    /// of a client whose clock is off.
    std::chrono::seconds clock_offset{0};
    /// The day model end-of-life dates (the model table's, from the OpenAPI deprecation
    /// notes) are compared with; unset = the system clock's day. A retired model answers
    /// not_found_error.
    std::optional<std::chrono::sys_days> today;
    std::uint64_t max_batch_requests = 100'000;
    std::uint64_t max_batch_bytes = 256'000'000;
    std::vector<fault> faults;
    /// One budget, in bytes, for the results kept once generated, across all batches:
    /// later downloads of a kept batch are served at memory speed (the bytes are the same
    /// either way). When a new rendering does not fit, the least recently downloaded ones
    /// are dropped first; a rendering larger than the whole budget is not kept; a deleted
    /// batch's is dropped. A download being generated holds its text besides (up to this
    /// size). 0 = regenerate every time. server::results_cache() tells what is kept.
    std::size_t results_cache_bytes = std::size_t{512} << 20;
    /// When set, one JSON line per request is appended (method, path, status, ...).
    std::filesystem::path log_file;
};

/// What the emulator knows of one batch it created (for tests that check what a client
/// did with every batch, including ones it never heard of).
struct batch_summary {
    std::string id;
    std::vector<std::string> custom_ids; ///< in request order
    bool cancel_requested = false;       ///< a cancel reached it before it ended
    bool deleted = false;
};

/// What the results cache (options::results_cache_bytes) holds at one moment.
struct results_cache_stats {
    std::size_t budget = 0;      ///< options::results_cache_bytes
    std::size_t bytes = 0;       ///< total size of the renderings kept (never over budget)
    std::size_t batches = 0;     ///< how many batches have their rendering kept
    std::uint64_t evictions = 0; ///< renderings dropped so far to make room for another
};

/// One request the emulator served (the in-memory log).
struct log_entry {
    std::string method;
    std::string path;
    unsigned status = 0;          ///< 0 when the connection was dropped
    std::string endpoint;         ///< create, retrieve, ... or empty
    std::string batch_id;         ///< the batch concerned, when there is one
    std::uint64_t requests = 0;   ///< create: number of requests in the batch
    std::uint64_t body_bytes = 0; ///< the request body's size
    std::uint64_t body_hash = 0;  ///< its FNV-1a hash (0 without a body): same bytes, same hash
};

class server {
public:
    /// Binds the listening socket (so url() is known at once). Throws on a port in use,
    /// unreadable TLS files, and the like.
    explicit server(options opts);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Serves on a thread of its own until stop() or destruction.
    void start();
    /// Serves on the calling thread until stop() (from another thread or a signal).
    void run();
    void stop();

    /// "http://127.0.0.1:PORT" (or https://localhost:PORT with TLS).
    std::string url() const;
    unsigned short port() const;

    void add_fault(fault f);
    /// Every request served so far, in order.
    std::vector<log_entry> log() const;
    /// Number of batches created so far (successful creates).
    std::size_t batches_created() const;
    /// Number of batches that exist (created and not deleted).
    std::size_t batch_count() const;
    /// Every batch created so far, oldest first (deleted ones included, marked). A
    /// deleted batch keeps only what this reports (its requests' memory is released).
    std::vector<batch_summary> batches() const;
    /// What the results cache holds now (options::results_cache_bytes).
    results_cache_stats results_cache() const;

    /// Ends batch `batch_id` now if it is held (options::hold_batches) or canceling: it
    /// answers ended, with its results (a canceling batch's items canceled). False when
    /// there is no such batch to end (unknown id, ended, or running on processing_time).
    /// With a long cancel_time, this is how a test ends a canceling batch when it chooses.
    bool release(const std::string& batch_id);
    /// release() for every batch it would end; returns how many it ended.
    std::size_t release_all();
    /// Blocks until batch `batch_id` has ended (processing done, or canceled and
    /// canceling over) or `timeout` has passed: true when it has ended.
    bool wait_ended(const std::string& batch_id, std::chrono::milliseconds timeout) const;
    /// Blocks until `done(log())` holds or `timeout` has passed (re-checked after each
    /// request served): true when it holds. `done` runs under the server's lock: it must
    /// not call the server.
    bool wait_for_log(const std::function<bool(const std::vector<log_entry>&)>& done,
                      std::chrono::milliseconds timeout) const;
    /// Blocks until `n` requests to `endpoint` (create, retrieve, ...) have been read off
    /// their connections, answered or not (a delay fault may still hold them back), or
    /// `timeout` has passed: true when they have. For "the request is on the server".
    bool wait_received(const std::string& endpoint, std::size_t n,
                       std::chrono::milliseconds timeout) const;

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

} // namespace aibatch::emulator
