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
// (callback, use_future, deferred, use_awaitable) and fill a diagnostics object. The
// objects an operation works on (client, result_stream, batch_lister, the requests)
// must outlive it.
//
// Retries (client_config::retry): connection failures and timeouts, 408, 409, 429, 5xx
// and 529 are retried with exponential backoff and jitter, honouring retry-after-ms /
// retry-after and x-should-retry. Cancellation ends a backoff sleep at once.
//
// create_batch is not idempotent: when an attempt fails ambiguously (the request may
// have reached the API but no answer came back: the connection dropped or timed out
// after sending, or a 5xx other than 529), the client lists recent batches before it
// sends again and adopts a batch that (1) was created no earlier than 2 minutes before
// the attempt, (2) holds exactly as many requests, and (3) is not one this client
// already created or adopted; other creates of the same size from this client that are
// still in flight are awaited first so they cannot be mistaken for it. If the check
// itself fails, create_batch fails (errc says why) rather than risk a second paid batch.
#pragma once

#include <aibatch/api/batches.hpp>
#include <aibatch/config.hpp>
#include <aibatch/detail/async_run.hpp>
#include <aibatch/http_client.hpp>
#include <aibatch/task.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace aibatch {

/// Counters of what a client did (for tests, logs and benchmarks).
struct client_stats {
    std::uint64_t requests = 0;        ///< HTTP requests sent (attempts)
    std::uint64_t retries = 0;         ///< attempts after a failure
    std::uint64_t creates_adopted = 0; ///< ambiguous creates resolved by adoption
    std::uint64_t results_resumed = 0; ///< results downloads restarted after a drop
};

/// The results of one batch, one line at a time. Memory is bounded by the longest
/// line (at most max_line_bytes), not by the file. A dropped connection is resumed by
/// downloading again and skipping the lines already delivered (by custom_id), so each
/// line is seen once.
class result_stream {
public:
    /// An empty stream (what a moved-from stream is); next() on it throws.
    result_stream() noexcept;
    result_stream(result_stream&&) noexcept;
    result_stream& operator=(result_stream&&) noexcept;
    ~result_stream();

    /// The next line, or std::nullopt at the end. Throws aibatch::error on failure
    /// (errc::bad_response for a line that is not a result).
    task<std::optional<result_line>> next();

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
    std::unique_ptr<state> state_;
};

class client;

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
    batch_lister(client& c, list_options o) : client_(&c), opts_(std::move(o)) {}
    client* client_;
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
    client(boost::asio::any_io_executor ex, client_config cfg);
    client(client&&) noexcept;
    client& operator=(client&&) noexcept;
    ~client();

    /// Creates a batch. `requests` must stay alive until the task completes.
    task<batch_info> create_batch(std::span<const batch_request> requests);
    /// Creates a batch from a ready create body ({"requests":[...]}) holding `count`
    /// requests (count is what the ambiguous-create guard matches on).
    task<batch_info> create_batch_from_body(std::string body, std::uint64_t count);
    task<batch_info> retrieve_batch(std::string id);
    /// Starts canceling; the batch ends soon after with unprocessed items canceled.
    task<batch_info> cancel_batch(std::string id);
    /// Deletes an ended batch (cancel first when it is still in progress).
    task<deleted_batch> delete_batch(std::string id);
    /// One page of batches, newest first.
    task<batch_page> list_batches(list_options opts = {});
    /// Every batch, newest first, fetched lazily page by page.
    batch_lister list_all_batches(list_options opts = {});
    /// Opens the results of an ended batch (from its results_url when that is on the
    /// configured API origin, else the standard path: the key never goes elsewhere).
    task<result_stream> open_results(batch_info batch);
    task<result_stream> open_results(std::string batch_id);
    /// A batch holding `count` requests, created at or after `not_before` (less 2
    /// minutes for clock skew), that this client did not create: what a create that
    /// failed ambiguously may have left behind (see above). Adopted batches count as
    /// this client's own afterwards.
    task<std::optional<batch_info>> find_created_batch(std::uint64_t count, timestamp not_before);
    /// Every result line of a batch, collected (convenient for small batches).
    task<std::vector<result_line>> results(std::string batch_id);

    template <class Token>
    auto async_create_batch(std::span<const batch_request> requests, diagnostics& diag,
                            Token&& token) {
        return detail::async_run<batch_info>(get_executor(), create_batch(requests), diag,
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

    boost::asio::any_io_executor get_executor() const;
    const client_config& config() const;
    http_client& http();
    client_stats stats() const;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

} // namespace aibatch
