// Private: the state of an aibatch::client, shared with result_stream and batch_lister.
// Everything but the counters and the ownership records is touched only on `strand`.
#pragma once

#include "api_rules.hpp"

#include <aibatch/api/client.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <set>

namespace aibatch {

struct client_state {
    client_state(const boost::asio::any_io_executor& ex, client_config c);

    client_config cfg;
    boost::asio::strand<boost::asio::any_io_executor> strand;
    http_client http; // runs on `strand`

    struct counters {
        std::atomic<std::uint64_t> requests{0}, retries{0}, creates_adopted{0}, results_resumed{0};
    } stats;

    std::minstd_rand jitter_rng{std::random_device{}()};

    mutable std::mutex own_mtx;
    std::set<std::string> own_batches;                   // created or claimed here
    std::map<std::uint64_t, unsigned> creates_in_flight; // by request count (strand only)

    void claim(const std::string& id);
    bool owns(const std::string& id) const;

    /// Runs `op` on the strand and resumes the caller on its own executor (inline when
    /// the caller already runs on the strand).
    ///
    /// The caller's cancellation is forwarded here rather than by co_spawn: Boost 1.81's
    /// co_spawn dispatches the emit to the strand with a raw pointer to a signal that the
    /// op's completion (on another thread) may free first (boost/asio/impl/co_spawn.hpp,
    /// co_spawn_cancellation_handler; newer Boosts hold it by shared_ptr). Here the signal
    /// is shared and emitted on the strand, where co_spawn's own forwarding is inline.
    template <class T>
    static task<T> on_strand(std::shared_ptr<client_state> self, task<T> op) {
        namespace asio = boost::asio;
        auto ex = co_await asio::this_coro::executor;
        if (ex == asio::any_io_executor(self->strand))
            co_return co_await std::move(op);
        auto signal = std::make_shared<asio::cancellation_signal>();
        asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
        asio::cancellation_slot slot = state.slot();
        struct unhook {
            asio::cancellation_slot s;
            ~unhook() {
                if (s.is_connected())
                    s.clear();
            }
        } unhooked{slot};
        if (slot.is_connected())
            slot.assign([signal, strand = self->strand](asio::cancellation_type type) {
                asio::dispatch(strand, [signal, type] { signal->emit(type); });
            });
        co_return co_await asio::co_spawn(
            self->strand, std::move(op),
            asio::bind_cancellation_slot(signal->slot(), asio::use_awaitable));
    }

    /// A request with the API's headers.
    /// `accept`: application/json, but application/binary for results (what both
    /// official SDKs send there).
    http_request make_request(std::string method, std::string target, std::string body = {},
                              std::string_view accept = "application/json");

    /// One attempt of a request: its value, or how it failed (never thrown).
    template <class R>
    struct attempt {
        std::optional<R> value;
        std::optional<detail::failed_attempt> failure;
    };
    /// What the retry loop came to: the value, the last failure, or the error that
    /// before_retry ended it with.
    template <class R>
    struct retried {
        std::optional<R> value;
        std::optional<detail::failed_attempt> failure;
        std::optional<error> stopped;
        int retries = 0;
    };
    task<attempt<http_response>> send_once(const http_request& req, std::string_view what);
    task<attempt<response_stream>> open_once(const http_request& req, std::string_view what);
    template <class R, class Once, class BeforeRetry>
    task<retried<R>> retrying(Once once, BeforeRetry before_retry);

    /// Sends with retries; returns a 2xx response or throws the mapped error.
    task<http_response> call(http_request req, std::string what);

    /// Opens a streamed 2xx response with retries (for results).
    task<response_stream> open(http_request req, std::string what);

    /// Sleeps the backoff before retry `retry_index`, honouring the server's wish; tells
    /// the observer (why: the failure being retried).
    task<void> backoff_sleep(int retry_index, const http_headers* headers,
                             const std::string& why = {});

    /// Tells cfg.observer, if any (an exception from it is dropped).
    void tell(const client_event& e) const noexcept;
    /// Observer hooks of one attempt: sent (returns the start time), answered, failed.
    std::chrono::steady_clock::time_point announce(const http_request& req) const;
    void answered(const http_request& req, unsigned status, const http_headers& headers,
                  std::chrono::steady_clock::time_point started) const;
    void failed(const http_request& req, const error& err,
                std::chrono::steady_clock::time_point started) const;

    /// Whether a transport failure may be retried.
    static bool retryable(const error& e);
    /// Whether a failed create may nevertheless have created the batch.
    static bool ambiguous(const error& e);

    // `complete`, when given, is set to whether the listing went back to sent_at's window
    // (else it stopped at its page limit: an older batch may not have been seen).
    task<std::vector<batch_info>> find_candidates(std::uint64_t count, timestamp sent_at,
                                                  bool* complete = nullptr);
    task<batch_info> create(std::string body, std::uint64_t count);
    /// create() of a body the caller keeps (to send it again later if need be). Without
    /// resend_after_ambiguous, an attempt that may have created the batch ends the call
    /// (batch<T>() resolves those itself, by the custom_ids of the candidates).
    task<batch_info> create_shared(std::shared_ptr<const std::string> body, std::uint64_t count,
                                   bool resend_after_ambiguous);
    /// create_shared() of a body written piece by piece as it is sent (never whole in
    /// memory), anew at every attempt.
    task<batch_info> create_streamed(streamed_body body, std::uint64_t count,
                                     bool resend_after_ambiguous);
    task<batch_info> create_request(http_request req, std::uint64_t count,
                                    bool resend_after_ambiguous);

    /// The target of a batch's results (results_url when on our origin).
    std::string results_target(const std::string& id, const std::optional<std::string>& url) const;
};

/// What tells two result lines of one custom_id apart cheaply: the result type with the
/// message id (succeeded) or the error's request id (errored).
/// `id` is the message id (succeeded) or the error's request id (errored), else "".
inline std::uint64_t result_identity(result_type type, std::string_view id) {
    // Eight bytes at a time (a byte-wise hash was a tenth of reading a line), mixed with
    // 64-bit multiplies; in memory only, never stored.
    constexpr std::uint64_t k = 0x9E3779B97F4A7C15ull;
    std::uint64_t h = (static_cast<std::uint64_t>(type) + 1) * k;
    auto mix = [&](std::uint64_t w) {
        h = (h ^ w) * k;
        h ^= h >> 29;
    };
    std::size_t i = 0;
    for (; i + 8 <= id.size(); i += 8) {
        std::uint64_t w;
        std::memcpy(&w, id.data() + i, 8);
        mix(w);
    }
    if (i < id.size()) {
        std::uint64_t w = 0;
        std::memcpy(&w, id.data() + i, id.size() - i);
        mix(w);
    }
    // The length last: folded in first, it cancelled against the first word ("ls" and
    // "ms\0" were one identity).
    h = (h ^ id.size()) * 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 31);
}
inline std::uint64_t result_identity(const result_line& line) {
    std::string_view id;
    if (line.type == result_type::succeeded) {
        if (const auto* v = line.message.if_contains("id"); v && v->is_string())
            id = v->get_string();
    } else if (line.type == result_type::errored) {
        id = line.error.request_id;
    }
    return result_identity(line.type, id);
}

/// A client handle on existing state (for aibatch's own layers).
client client_from_state(std::shared_ptr<client_state> s);

/// Checks a batch id before it goes into a URL path.
void check_batch_id(const std::string& id);

/// The JSON of an answer; errc::bad_response, naming `what`, when it is not JSON.
boost::json::value parse_body(const http_response& r, std::string_view what);

} // namespace aibatch
