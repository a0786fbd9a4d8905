// What a batch<T>() / run_batch<T>() call gives back: an outcome per item with its value
// (batch_run<T>, from run_batch<T>()), or the batch_error that batch<T>() throws when
// any item failed, holding every value that succeeded.
#pragma once

#include <aibatch/api/messages.hpp>
#include <aibatch/batch/batch_options.hpp>
#include <aibatch/error.hpp>

#include <boost/system/error_code.hpp>

#include <any>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace aibatch {

/// One item's outcome with its value.
template <class T>
struct item_outcome : item_report {
    std::optional<T> value; ///< set exactly when status == item_status::succeeded
};

/// What run_batch<T>() returns: every item in input order, usage and cost.
template <class T>
struct batch_run {
    std::vector<item_outcome<T>> items;
    aibatch::usage usage;
    std::optional<double> cost_usd; ///< estimate (see pricing.hpp); nullopt: unknown model
    /// Every batch that carried items of this call.
    std::vector<std::string> batch_ids;
    /// Batches this call created, or may have created, and did not read to the end, with
    /// why (see unread_batch). Empty when every batch was read or canceled.
    std::vector<unread_batch> unread_batches;
    /// Result lines that were not used, and why (another batch's line, a duplicate, a
    /// line that is not a result, ...), each naming its batch. Never used as values.
    std::vector<std::string> anomalies;
    /// The run-unique part of this call's custom_ids (batch_options::run_id).
    std::string run_id;
    /// Items that succeeded in a repair round.
    std::size_t repaired = 0;
    /// Why the run stopped early (operation_aborted, errc::timed_out, errc::cost_limit,
    /// an API error), or empty when every item got its outcome.
    boost::system::error_code stop_code;
    std::string stop_message;

    std::size_t succeeded() const {
        std::size_t n = 0;
        for (const auto& i : items)
            n += i.status == item_status::succeeded;
        return n;
    }
    bool all_succeeded() const { return succeeded() == items.size() && !stop_code; }
};

/// Thrown by batch<T>(): which items failed and why, plus every result that succeeded.
/// code(): errc::items_failed, or why the run stopped (operation_aborted,
/// errc::timed_out, errc::cost_limit, an API error). what() tells the whole story.
class batch_error : public error {
public:
    batch_error(boost::system::error_code ec, diagnostics d, std::vector<item_report> failures,
                std::any values, std::size_t total, aibatch::usage u, std::optional<double> cost,
                std::vector<unread_batch> unread = {}, std::vector<std::string> anomalies = {})
        : error(ec, std::move(d)), failures_(std::move(failures)), values_(std::move(values)),
          total_(total), usage_(std::move(u)), cost_(cost), unread_(std::move(unread)),
          anomalies_(std::move(anomalies)) {}

    /// The items that did not succeed, in input order.
    const std::vector<item_report>& failures() const noexcept { return failures_; }
    /// Every input's value (empty for failures), in input order. T must be the T of
    /// the batch<T>() call (else std::bad_any_cast).
    template <class T>
    const std::vector<std::optional<T>>& results() const {
        return std::any_cast<const std::vector<std::optional<T>>&>(values_);
    }
    template <class T>
    std::vector<std::optional<T>>& results() {
        return std::any_cast<std::vector<std::optional<T>>&>(values_);
    }
    std::size_t total() const noexcept { return total_; }
    std::size_t succeeded() const noexcept { return total_ - failures_.size(); }
    const aibatch::usage& usage() const noexcept { return usage_; }
    std::optional<double> cost_usd() const noexcept { return cost_; }
    /// Batches created (or maybe created) and not read to the end: see batch_run.
    const std::vector<unread_batch>& unread_batches() const noexcept { return unread_; }
    const std::vector<std::string>& anomalies() const noexcept { return anomalies_; }

private:
    std::vector<item_report> failures_;
    std::any values_;
    std::size_t total_;
    aibatch::usage usage_;
    std::optional<double> cost_;
    std::vector<unread_batch> unread_;
    std::vector<std::string> anomalies_;
};

} // namespace aibatch
