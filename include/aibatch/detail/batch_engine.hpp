// The type-independent part of batch<T>(): validation, splitting, submission, polling,
// results, repair rounds, cost, journal, cancellation. batch.hpp wraps it for a T.
#pragma once

#include <aibatch/api/client.hpp>
#include <aibatch/batch/batch_options.hpp>
#include <aibatch/typed/result_decoder.hpp>

#include <boost/system/error_code.hpp>

#include <functional>
#include <span>
#include <vector>

namespace aibatch::detail {

/// Result of decoding one message for item `index` (the value is kept by the caller).
struct decode_report {
    bool ok = false;
    output_failure failure = output_failure::none;
    std::string message;
    std::string raw;
};
/// Reads result lines for the engine, one line's bytes at a time (typed: result_decoder,
/// runtime schema: the tree and a json_validator).
class line_decoder {
public:
    virtual ~line_decoder() = default;
    /// Decodes one line into the decoder's own line_head and a scratch value; `output`
    /// says how the output went (succeeded lines). Returns nullptr for a line that is
    /// not JSON, with why in `not_json`; throws aibatch::error (result_line::from_json's)
    /// for JSON that is not a result line. The head is valid until the next call.
    virtual const line_head* decode(std::string_view line, decode_report& output,
                                    std::string& not_json) = 0;
    /// Makes the scratch value of the line just decoded item `index`'s. The engine calls
    /// it only for a line its ledger uses (never a duplicate or another batch's line).
    virtual void keep(std::size_t index) = 0;
};

/// Where the engine keeps each item's report: the caller's own list of outcomes
/// (batch_run<V>::items), so nothing is copied when the run ends.
class item_store {
public:
    virtual ~item_store() = default;
    virtual void reserve(std::size_t n) = 0;
    /// Appends the report of item `index` (items are added in input order).
    virtual void add(std::size_t index) = 0;
    virtual item_report& at(std::size_t index) = 0;
    virtual std::size_t size() const = 0;
    /// A hint: item `index`'s report (and value) will be written soon. Result lines come in
    /// no particular order, and each one's item is a cache miss otherwise.
    virtual void prefetch(std::size_t /*index*/) const noexcept {}
};

/// What the engine found besides the items' reports (which are in the item_store).
struct engine_result {
    aibatch::usage usage;
    std::optional<double> cost_usd; ///< nullopt when the model has no known price
    std::vector<std::string> batch_ids;
    std::vector<unread_batch> unread_batches;
    std::vector<std::string> anomalies;
    std::string run_id;
    std::size_t repaired = 0;
    /// Set when the run stopped before every item had an outcome, or a batch-level call
    /// failed: operation_aborted, errc::timed_out, errc::cost_limit, or the API's error.
    boost::system::error_code stop_code;
    std::string stop_message;
};

/// Throws aibatch::error (errc::invalid_argument, errc::missing_api_key, errc::journal)
/// for bad input before any network call; everything later is reported in the result.
/// Runs on the client's strand whatever the caller's executor.
task<engine_result> run_engine(std::shared_ptr<client_state> c,
                               std::span<const conversation> messages, std::string model,
                               batch_options opts, output_spec spec, item_store& items,
                               line_decoder& decode);

} // namespace aibatch::detail
