// What batch<T>() and run_batch<T>() accept and report, apart from the type T.
#pragma once

#include <aibatch/api/batches.hpp>
#include <aibatch/api/pricing.hpp>
#include <aibatch/shared_string.hpp>
#include <aibatch/typed/schema.hpp>
#include <aibatch/typed/structured_output.hpp>

#include <boost/json/fwd.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace aibatch {

/// Where a run stands, reported through batch_options::on_progress after a poll that
/// changed something (counts, a batch ending, items finishing).
struct batch_progress {
    unsigned round = 0;                   ///< 0, then 1.. for repair rounds
    std::string batch_id;                 ///< the batch just polled
    aibatch::request_counts batch_counts; ///< its request_counts
    aibatch::request_counts total_counts; ///< summed over every batch of the run so far
    std::size_t batches_submitted = 0;
    std::size_t batches_ended = 0;
    std::size_t items_total = 0;     ///< input size
    std::size_t items_done = 0;      ///< items with a final outcome (success or failure)
    std::size_t items_repairing = 0; ///< items whose output failed validation and that
                                     ///< will be sent again in a repair round
};

struct batch_options {
    /// Output token limit of each request.
    std::int64_t max_tokens = 1024;
    /// System prompt of every request (json_text mode appends its instructions to it).
    std::optional<std::string> system;
    /// Prompt caching of what every request shares: the system prompt and the tools
    /// before it (in tool mode, T's schema). The first request to reach the API writes
    /// the cache (1.25x the input price for those tokens with five_minutes, 2x with
    /// one_hour); the requests after it read it at 0.1x. In a batch, hits are best effort
    /// (the API processes items in parallel; one_hour outlives a batch that takes longer
    /// than 5 minutes). Pays for a long system prompt: the API caches nothing shorter
    /// than the model's minimum (e.g. 4,096 tokens for Haiku 4.5, 1,024 for Sonnet 4.x).
    /// Needs `system`. The usage and cost of the run count the writes and reads.
    prompt_cache cache_system = prompt_cache::off;
    /// 0..1; the API's default when unset.
    std::optional<double> temperature;
    /// How the model is asked for T: forced tool use (default), native JSON schema
    /// output, or JSON in text.
    aibatch::output_mode output_mode = aibatch::output_mode::tool;
    /// First wait between polls of a batch; each later wait is 1.5x longer, up to
    /// poll_interval_max.
    std::chrono::milliseconds poll_interval{std::chrono::seconds(1)};
    std::chrono::milliseconds poll_interval_max{std::chrono::seconds(60)};
    /// Overall time limit of the call. None by default: a batch may take up to 24 hours
    /// (then the API expires it), and the call waits that long; without a timeout it gives
    /// up polling a batch only after its expires_at plus an hour. When the timeout
    /// passes, the remote batches still running are canceled, results of batches that
    /// have ended are still read, and the call ends with errc::timed_out, keeping what
    /// had succeeded.
    std::optional<std::chrono::milliseconds> timeout;
    /// Called after a poll that changed something (on the client's strand, which may be
    /// any thread of the client's executor: synchronise what it touches; keep it quick).
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
    /// How long after a create whose answer was lost (a timeout, a dropped connection:
    /// the API has no idempotency key) the batch it may have made can still appear. Until
    /// then such a create is named in unread_batches (without an id) whenever its batch
    /// has not been found; once this long has passed since it was sent, a complete listing
    /// of the batches created since then (since this long before then, so that a server
    /// clock behind this machine's by less than that does not hide its batch) that shows
    /// none of its size settles it: it made nothing (recorded in the journal, so later
    /// reruns do not name it again). Default
    /// one hour: the API carries a create out while it serves the request, and ends a
    /// request that runs too long (504 timeout_error) well before that.
    /// std::chrono::seconds::max() never settles one.
    std::chrono::seconds lost_create_horizon{std::chrono::hours(1)};
    /// Items whose output failed validation are sent again this many times in follow-up
    /// batches, with the validation error as feedback (as instructor does for live
    /// calls). Only those items are resubmitted, so a round costs little in money, but
    /// it is a whole new batch in time: a run with one bad item takes about twice as
    /// long. Default 1; 0 turns repairs off. batch_progress::items_repairing and
    /// batch_run::repaired report them.
    unsigned repair_rounds = 1;
    /// custom_id of input i is custom_id_prefix + run_id + "-" + i
    /// ("item-k3v9x2m7q1zt-0"); in repair round r, custom_id_prefix + run_id + "r" + r +
    /// "-" + i. Every result line is checked against these ids.
    std::string custom_id_prefix = "item-";
    /// The run-unique part of every custom_id: 1 to 24 letters and digits. Empty (the
    /// default): a random one, or the one recorded in the journal when resuming. It is
    /// what tells this call's batches and result lines from any other program's that
    /// uses the same API key.
    std::string run_id;
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
    failed,         ///< sent, but no trustworthy result came back (the batch could not
                    ///< be read: see batch_run::unread_batches; or its line was bad)
};
std::string_view to_string(item_status s) noexcept;

/// A batch this call created (or may have created) and did not read to the end, and
/// why. Its results may still be worth reading (client::open_results) or it may need
/// canceling (client::cancel_batch): aibatch never forgets a paid batch silently.
struct unread_batch {
    /// Empty when the batch was not found: a create whose answer was lost may still make
    /// one (why says what to look for), or listing batches to find it failed.
    std::string id;
    std::string items; ///< the input indices it carries ("0-499"), when known
    std::string why;
};

/// Boost.JSON: json::value_from(report.batch_id) is the id as a JSON string.
inline void tag_invoke(const boost::json::value_from_tag&, boost::json::value& v,
                       const shared_string& s) {
    v = boost::json::string(s.str());
}

/// What happened to one item, without the value.
struct item_report {
    std::size_t index = 0;
    std::string custom_id;
    item_status status = item_status::not_submitted;
    std::string error_type; ///< API error type, or the output_failure ("validation", ...)
    std::string message;    ///< why, when not succeeded
    std::string raw_output; ///< the model's output when it did not decode
    /// The batch that carried the item last. A shared_string (reads like a const
    /// std::string): the items of a batch share one copy of its id.
    shared_string batch_id;
    unsigned rounds = 0; ///< how many times it was submitted (1 + repair rounds used)
};

} // namespace aibatch
