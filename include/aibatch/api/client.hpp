// Layer 2: the Message Batches API, typed, on coroutines, with the retry behaviour of
// the official SDKs.
//
//   boost::asio::io_context ioc;
//   aibatch::client client(ioc.get_executor(), aibatch::client_config::from_env());
//   aibatch::batch_info b = co_await client.create_batch(requests);
//   b = co_await client.retrieve_batch(b.id);                 // poll until b.ended()
//   aibatch::result_stream rs = co_await client.open_results(b);
//   while (auto line = co_await rs.next()) { ... }             // bounded memory
//
// Every operation is an aibatch::task<T>; the async_* forms take a completion token
// (callback, use_future, deferred, use_awaitable) and fill a diagnostics object.
//
// Threads. A client may be shared by any number of concurrent operations, started from
// any thread, strand or coroutine of any executor (an io_context run by several
// threads included): the client's own state (connection pool, ownership records,
// counters) is touched only on the client's strand, and each operation hops onto it
// and back to the caller's executor. What is NOT safe: destroying or moving-assigning
// the client object while another thread uses that same object; using one
// result_stream or batch_lister from two operations at once. A client (and every
// result_stream and batch_lister made from it) keeps the shared state alive, so moving
// the client object does not invalidate them. The arguments an operation takes are
// copied or owned by it, except the span of create_batch(), which must outlive it.
//
// Retries (client_config::retry): connection failures and timeouts, 408, 409, 429, 5xx
// and 529 are retried with exponential backoff and jitter, honouring retry-after-ms /
// retry-after and x-should-retry. Cancellation ends a backoff sleep at once.
//
// create_batch is not idempotent, and the API has no idempotency key. When an attempt
// fails ambiguously (the request may have reached the API but no answer came back: the
// connection dropped or timed out after sending, or a 5xx other than 529), the client
// lists the recent batches before it sends again. A batch is never adopted on a guess:
//  - when no batch is found that could be it (same request count, created no earlier
//    than 2 minutes before the attempt, not created or claimed by this client), the
//    create is sent again (if the first attempt's batch shows up only later, both are
//    paid: batch<T>() never resends blindly and names such late batches instead);
//  - when such batches exist, create_batch fails with errc::ambiguous_create naming
//    them, and sends nothing: only the custom_ids of their results can tell whether one
//    is yours (batch<T>() does exactly that check, see batch.hpp);
//  - when the check itself fails, create_batch fails (the message says so) rather than
//    risk paying twice.
#pragma once

#include <aibatch/api/batches.hpp>
#include <aibatch/config.hpp>
#include <aibatch/detail/async_run.hpp>
#include <aibatch/task.hpp>
#include <aibatch/transport/http_client.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace aibatch {

/// Counters of what a client did (for tests, logs and benchmarks).
struct client_stats {
    std::uint64_t requests = 0;        ///< HTTP requests sent (attempts)
    std::uint64_t retries = 0;         ///< attempts after a failure
    std::uint64_t creates_adopted = 0; ///< ambiguous creates resolved by adoption
    std::uint64_t results_resumed = 0; ///< results downloads restarted after a drop
};

class result_stream;

namespace detail {

/// A result stream's lines as bytes, so that a line is decoded once, straight into T
/// (typed_results<T>, batch<T>()), not into a result_line first. result_stream::next()
/// is these steps with the tree.
struct raw_results {
    /// The next line that is not blank (resumes and the line cap handled as next()
    /// does), or nullopt at the end. Valid until the next call.
    static task<std::optional<std::string_view>> next(result_stream& rs);
    /// next() without reading: a line already received, or nullopt when the next line
    /// needs a read (call next() then). Lets a reader take a buffer's lines without a
    /// coroutine frame each.
    static std::optional<std::string_view> buffered(result_stream& rs);
    /// The error next() throws for `line` that is not JSON (`why`), or is JSON but no
    /// result line (`e`, from result_line::from_json); bad_line_custom_id() is set.
    static error not_json(result_stream& rs, std::string_view line, std::string_view why);
    static error not_a_result(result_stream& rs, std::string_view line, const error& e);
    /// Counts a decoded line: false when the same answer for custom_id was delivered
    /// before a resume (skip it), true otherwise. `answer` is the message id (succeeded)
    /// or the error's request id (errored).
    static bool deliver(result_stream& rs, std::string_view custom_id, result_type type,
                        std::string_view answer);
};

} // namespace detail

/// The results of one batch, one line at a time. Memory is bounded by the longest
/// line (at most max_line_bytes) plus the custom_ids delivered, which are at most the
/// batch's request count when the stream was opened from a batch_info (past twice that
/// many lines, next() throws errc::body_too_large). A dropped connection is resumed
/// by downloading again and skipping the lines already delivered (by custom_id and
/// answer), so each line is seen once; a line whose custom_id was delivered with a
/// different answer is delivered, so the caller sees the conflict. A body arriving slower than
/// transport_options::min_stream_rate ends with errc::stream_too_slow.
class result_stream {
public:
    /// An empty stream (what a moved-from stream is); next() on it throws.
    result_stream() noexcept;
    result_stream(result_stream&&) noexcept;
    result_stream& operator=(result_stream&&) noexcept;
    ~result_stream();

    /// The next line, or std::nullopt at the end. Throws aibatch::error on failure.
    /// A line that is not a result (not JSON, bad UTF-8, no custom_id, ...) throws
    /// errc::bad_response and is skipped: the stream stays usable, call next() again for
    /// the following line; bad_line_custom_id() tells whose line it was when a
    /// custom_id could be read from its bytes. A download that failed for good (not
    /// resumed, or its resumes used up) throws that same error at every later call,
    /// never the end. A call canceled through its completion token throws
    /// operation_aborted; the next call downloads again and skips what was delivered.
    task<std::optional<result_line>> next();

    /// The custom_id found in the last line that next() rejected, if any could be read.
    const std::optional<std::string>& bad_line_custom_id() const noexcept;

    /// next() with a completion token: void(error_code, std::optional<result_line>).
    template <class Token>
    auto async_next(boost::asio::any_io_executor ex, diagnostics& diag, Token&& token) {
        return detail::async_run<std::optional<result_line>>(std::move(ex), next(), diag,
                                                             std::forward<Token>(token));
    }

    std::uint64_t lines_read() const noexcept;
    std::uint64_t bytes_read() const noexcept;
    /// Times the download was restarted after a connection failure.
    unsigned resumes() const noexcept;

    /// Longest line accepted (default 64 MiB); errc::body_too_large past it.
    static constexpr std::size_t max_line_bytes = 64u << 20;

    struct state;
    explicit result_stream(std::unique_ptr<state> s);

private:
    friend struct detail::raw_results;
    static task<std::optional<result_line>> next_line_of(state& s);
    std::unique_ptr<state> state_;
};

struct client_state;

/// All batches of the account, newest first, one page fetched at a time as needed.
class batch_lister {
public:
    /// The next batch, or std::nullopt after the last.
    task<std::optional<batch_info>> next();
    /// next() with a completion token: void(error_code, std::optional<batch_info>).
    template <class Token>
    auto async_next(boost::asio::any_io_executor ex, diagnostics& diag, Token&& token) {
        return detail::async_run<std::optional<batch_info>>(std::move(ex), next(), diag,
                                                            std::forward<Token>(token));
    }
    /// Pages fetched so far.
    unsigned pages() const noexcept { return pages_; }

private:
    friend class client;
    batch_lister(std::shared_ptr<client_state> s, list_options o)
        : state_(std::move(s)), opts_(std::move(o)) {}
    std::shared_ptr<client_state> state_;
    list_options opts_;
    std::vector<batch_info> page_;
    std::size_t pos_ = 0;
    bool more_ = true;
    unsigned pages_ = 0;
};

class client {
public:
    /// Throws aibatch::error: errc::missing_api_key (no key), errc::invalid_url,
    /// errc::insecure_http, errc::invalid_config.
    client(const boost::asio::any_io_executor& ex, client_config cfg);
    client(client&&) noexcept;
    client& operator=(client&&) noexcept;
    ~client();

    /// Creates a batch. `requests` must stay alive until the task completes.
    task<batch_info> create_batch(std::span<const batch_request> requests);
    /// Creates a batch from a ready create body ({"requests":[...]}) holding `count`
    /// requests (count is what the ambiguous-create guard matches on).
    task<batch_info> create_batch_from_body(std::string body, std::uint64_t count);
    /// Creates a batch from a body written piece by piece while it is sent, never whole in
    /// memory (what batch<T>() does): `body.size` is its exact length, and `body.start()`
    /// is called at every attempt (a create refused with 429/529 is sent again) and must
    /// give the same bytes each time. Bodies that do not come to `body.size` are never
    /// completed on the wire: the create fails with errc::invalid_argument, nothing made.
    /// What `body.start` refers to must stay alive until the task completes.
    task<batch_info> create_batch_streamed(streamed_body body, std::uint64_t count);
    task<batch_info> retrieve_batch(std::string id);
    /// Starts canceling; the batch ends soon after with unprocessed items canceled.
    task<batch_info> cancel_batch(std::string id);
    /// Deletes an ended batch (cancel first when it is still in progress).
    task<deleted_batch> delete_batch(std::string id);
    /// One page of batches, newest first.
    task<batch_page> list_batches(list_options opts);
    task<batch_page> list_batches() { return list_batches(list_options{}); }
    /// Every batch, newest first, fetched lazily page by page (in the direction the
    /// options start: after_id pages onward, before_id pages back).
    batch_lister list_all_batches(list_options opts = {});
    /// Opens the results of an ended batch (from its results_url when that is on the
    /// configured API origin, else the standard path: the key never goes elsewhere).
    task<result_stream> open_results(batch_info batch);
    task<result_stream> open_results(std::string batch_id);
    /// Every batch holding `count` requests, created at or after `not_before` (less 2
    /// minutes for clock skew), that this client did not create or claim: what a create
    /// that failed ambiguously may have left behind (see above). Nothing is adopted:
    /// confirm one by the custom_ids of its results, then claim_batch() it.
    task<std::vector<batch_info>> find_created_batches(std::uint64_t count, timestamp not_before);
    /// The first of find_created_batches() (kept for compatibility; it no longer
    /// adopts: a batch found by count alone may be another program's).
    task<std::optional<batch_info>> find_created_batch(std::uint64_t count, timestamp not_before);
    /// Records a batch as this client's own (for example one re-attached from a journal
    /// or confirmed by its results), so ambiguous-create checks never take it for
    /// another create's. Safe from any thread.
    void claim_batch(const std::string& id);
    /// Whether this client created or claimed the batch. Safe from any thread.
    bool owns_batch(const std::string& id) const;
    /// Every result line of a batch, collected (convenient for small batches).
    task<std::vector<result_line>> results(std::string batch_id);

    template <class Token>
    auto async_create_batch(std::span<const batch_request> requests, diagnostics& diag,
                            Token&& token) {
        return detail::async_run<batch_info>(get_executor(), create_batch(requests), diag,
                                             std::forward<Token>(token));
    }
    template <class Token>
    auto async_create_batch_from_body(std::string body, std::uint64_t count, diagnostics& diag,
                                      Token&& token) {
        return detail::async_run<batch_info>(get_executor(),
                                             create_batch_from_body(std::move(body), count), diag,
                                             std::forward<Token>(token));
    }
    template <class Token>
    auto async_create_batch_streamed(streamed_body body, std::uint64_t count, diagnostics& diag,
                                     Token&& token) {
        return detail::async_run<batch_info>(get_executor(),
                                             create_batch_streamed(std::move(body), count), diag,
                                             std::forward<Token>(token));
    }
    template <class Token>
    auto async_retrieve_batch(std::string id, diagnostics& diag, Token&& token) {
        return detail::async_run<batch_info>(get_executor(), retrieve_batch(std::move(id)), diag,
                                             std::forward<Token>(token));
    }
    template <class Token>
    auto async_cancel_batch(std::string id, diagnostics& diag, Token&& token) {
        return detail::async_run<batch_info>(get_executor(), cancel_batch(std::move(id)), diag,
                                             std::forward<Token>(token));
    }
    template <class Token>
    auto async_delete_batch(std::string id, diagnostics& diag, Token&& token) {
        return detail::async_run<deleted_batch>(get_executor(), delete_batch(std::move(id)), diag,
                                                std::forward<Token>(token));
    }
    template <class Token>
    auto async_list_batches(list_options opts, diagnostics& diag, Token&& token) {
        return detail::async_run<batch_page>(get_executor(), list_batches(std::move(opts)), diag,
                                             std::forward<Token>(token));
    }
    template <class Token>
    auto async_open_results(std::string id, diagnostics& diag, Token&& token) {
        return detail::async_run<result_stream>(get_executor(), open_results(std::move(id)), diag,
                                                std::forward<Token>(token));
    }
    template <class Token>
    auto async_results(std::string id, diagnostics& diag, Token&& token) {
        return detail::async_run<std::vector<result_line>>(get_executor(), results(std::move(id)),
                                                           diag, std::forward<Token>(token));
    }

    /// The client's strand (every operation's completion is delivered on the caller's
    /// executor, not this one).
    boost::asio::any_io_executor get_executor() const;
    const client_config& config() const;
    /// The transport. Deprecated: it is the layer below the API client, not part of it
    /// (every operation is a member of `client`); it stays for source compatibility and
    /// may only be used on the client's strand (get_executor()).
    [[deprecated(
        "aibatch::client::http() exposes the transport; use the client's members")]] http_client&
    http();
    /// A snapshot of the counters (safe from any thread).
    client_stats stats() const;

    using impl = client_state;
    /// The shared state (for aibatch's own layers).
    const std::shared_ptr<client_state>& state() const noexcept { return impl_; }

private:
    friend client client_from_state(std::shared_ptr<client_state>);
    explicit client(std::shared_ptr<client_state> s);
    std::shared_ptr<client_state> impl_;
};

} // namespace aibatch
