// What batch<T>() and run_batch<T>() accept and report, apart from the type T.
#pragma once

#include <aibatch/api/batches.hpp>
#include <aibatch/pricing.hpp>
#include <aibatch/schema.hpp>
#include <aibatch/structured_output.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace aibatch {

/// Where a run stands, reported through batch_options::on_progress after every poll.
struct batch_progress {
    unsigned round = 0;                   ///< 0, then 1.. for repair rounds
    std::string batch_id;                 ///< the batch just polled
    aibatch::request_counts batch_counts; ///< its request_counts
    aibatch::request_counts total_counts; ///< summed over every batch of the run so far
    std::size_t batches_submitted = 0;
    std::size_t batches_ended = 0;
    std::size_t items_total = 0; ///< input size
    std::size_t items_done = 0;  ///< items with a final outcome
};

struct batch_options {
    /// Output token limit of each request.
    std::int64_t max_tokens = 1024;
    /// System prompt of every request (json_text mode appends its instructions to it).
    std::optional<std::string> system;
    /// 0..1; the API's default when unset.
    std::optional<double> temperature;
    /// How the model is asked for T: forced tool use (default), native JSON schema
    /// output, or JSON in text.
    aibatch::output_mode output_mode = aibatch::output_mode::tool;
    /// First wait between polls of a batch; each later wait is 1.5x longer, up to
    /// poll_interval_max.
    std::chrono::milliseconds poll_interval{std::chrono::seconds(1)};
    std::chrono::milliseconds poll_interval_max{std::chrono::seconds(60)};
    /// Overall time limit of the call (none by default). When it passes, the remote
    /// batches still running are canceled and the call ends with errc::timed_out,
    /// keeping what had succeeded.
    std::optional<std::chrono::milliseconds> timeout;
    /// Called after every poll (on the client's executor; keep it quick).
    std::function<void(const batch_progress&)> on_progress;
    /// Per-batch limits; larger inputs are split. Defaults are the API's limits.
    std::size_t max_requests_per_batch = 100'000;
    std::size_t max_bytes_per_batch = 256'000'000;
    /// How many batches may be in progress at once.
    std::size_t max_batches_in_flight = 4;
    /// Stop submitting when the estimated cost in USD would pass this. The estimate
    /// counts actual usage of finished batches plus, for batches in flight and the next
    /// one, input tokens estimated from the request size and output tokens at the
    /// average seen so far (max_tokens before any result is in). Already-submitted
    /// batches run to the end.
    std::optional<double> cost_limit;
    /// Prices used for cost and cost_limit; the built-in table (pricing.hpp) when unset.
    std::optional<model_price> price;
    /// A journal file: submitted batch ids and the items each covers, written before and
    /// after each create (fsync'ed). Run again with the same journal and input after a
    /// crash, and the call re-attaches to its batches instead of paying for them again.
    std::filesystem::path journal;
    /// Items whose output failed validation are sent again this many times in follow-up
    /// batches, with the validation error as feedback (as instructor does for live
    /// calls). Only those items are resubmitted, so a round costs little. Default 1.
    unsigned repair_rounds = 1;
    /// custom_id of input i is custom_id_prefix + i ("item-0", "item-1", ...).
    std::string custom_id_prefix = "item-";
    /// How outputs are decoded into T.
    decode_options decode;
    /// Last word on each request's params (add tools, metadata, extra fields...).
    std::function<void(message_params&, std::size_t index)> customize;
};

/// The outcome of one input item.
enum class item_status {
    succeeded,      ///< a T was decoded
    errored,        ///< the API reported an error for the item (see error_type)
    expired,        ///< the batch expired before the item was processed
    canceled,       ///< the batch was canceled (by the caller, a timeout, or elsewhere)
    invalid_output, ///< the model answered, but the output did not decode into T
    not_submitted,  ///< never sent (cost limit, create failure, stop before submission)
    failed,         ///< sent, but the client could not get its result (poll/results failed)
};
std::string_view to_string(item_status s) noexcept;

/// What happened to one item, without the value.
struct item_report {
    std::size_t index = 0;
    std::string custom_id;
    item_status status = item_status::not_submitted;
    std::string error_type; ///< API error type, or the output_failure ("validation", ...)
    std::string message;    ///< why, when not succeeded
    std::string raw_output; ///< the model's output when it did not decode
    std::string batch_id;   ///< the batch that carried the item last
    unsigned rounds = 0;    ///< how many times it was submitted (1 + repair rounds used)
};

} // namespace aibatch
