// Private: the state of an aibatch::client, shared with result_stream.
#pragma once

#include <aibatch/client.hpp>

#include <map>
#include <random>
#include <set>

namespace aibatch {

struct client::impl {
    impl(boost::asio::any_io_executor ex, client_config c);

    client_config cfg;
    http_client http;
    client_stats stats;
    std::minstd_rand jitter_rng{std::random_device{}()};
    std::set<std::string> own_batches;                   // created or adopted here
    std::map<std::uint64_t, unsigned> creates_in_flight; // by request count

    /// A request with the API's headers.
    http_request make_request(std::string method, std::string target, std::string body = {});

    /// Sends with retries; returns a 2xx response or throws the mapped error.
    task<http_response> call(http_request req, std::string what);

    /// Opens a streamed 2xx response with retries (for results).
    task<response_stream> open(http_request req, std::string what);

    /// Sleeps the backoff before retry `retry_index`, honouring the server's wish.
    task<void> backoff_sleep(int retry_index, const http_headers* headers);

    /// Whether a transport failure may be retried.
    static bool retryable(const error& e);
    /// Whether a failed create may nevertheless have created the batch.
    static bool ambiguous(const error& e);

    task<std::optional<batch_info>> find_orphan(std::uint64_t count, timestamp sent_at);
    task<batch_info> create(std::string body, std::uint64_t count);

    /// The target of a batch's results (results_url when on our origin).
    std::string results_target(const std::string& id, const std::optional<std::string>& url) const;
};

/// Checks a batch id before it goes into a URL path.
void check_batch_id(const std::string& id);

} // namespace aibatch
