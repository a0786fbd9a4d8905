// Layer 5: the one call.
//
//   std::vector<SpamResult> r =
//       co_await aibatch::batch<SpamResult>(client, messages, "claude-haiku-4-5", options);
//
// Builds the JSON Schema of T, asks for structured output, splits the input over the
// per-batch limits, submits, polls, streams and decodes the results and returns them in
// input order. See batch_options for every knob.
//
// batch<T>() throws one aibatch::batch_error when any item fails (or the run is
// canceled, times out, or reaches the cost limit): it lists each failed item and holds
// every T that succeeded. run_batch<T>() never throws for item failures: it returns an
// outcome per item, with usage and cost.
#pragma once

#include <aibatch/batch_options.hpp>
#include <aibatch/client.hpp>
#include <aibatch/detail/batch_engine.hpp>

#include <any>
#include <span>
#include <string>
#include <vector>

namespace aibatch {

/// One item's outcome with its value.
template <class T>
struct item_outcome : item_report {
    std::optional<T> value;
};

/// What run_batch<T>() returns: every item in input order, usage and cost.
template <class T>
struct batch_run {
    std::vector<item_outcome<T>> items;
    aibatch::usage usage;
    std::optional<double> cost_usd; ///< estimate (see pricing.hpp); nullopt: unknown model
    std::vector<std::string> batch_ids;
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
/// errc::timed_out, errc::cost_limit, an API error).
class batch_error : public error {
public:
    batch_error(boost::system::error_code ec, diagnostics d, std::vector<item_report> failures,
                std::any values, std::size_t total, aibatch::usage u, std::optional<double> cost)
        : error(ec, std::move(d)), failures_(std::move(failures)), values_(std::move(values)),
          total_(total), usage_(std::move(u)), cost_(cost) {}

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

private:
    std::vector<item_report> failures_;
    std::any values_;
    std::size_t total_;
    aibatch::usage usage_;
    std::optional<double> cost_;
};

namespace detail {
/// The one-paragraph story of a run's failures (first few items listed).
std::string describe_failures(const std::vector<item_report>& failures, std::size_t total,
                              const std::string& stop_message);
} // namespace detail

/// Runs the batch and returns an outcome per item (never throws for item failures;
/// throws aibatch::error for bad input, before any network call).
template <class T>
task<batch_run<T>> run_batch(client& c, std::span<const conversation> messages, std::string model,
                             batch_options opts = {}) {
    output_spec spec = output_spec::for_type<T>(opts.output_mode);
    std::vector<std::optional<T>> values(messages.size());
    decode_options dopts = opts.decode;
    detail::decode_fn fn = [&values, &spec, dopts](const boost::json::object& m,
                                                   std::size_t i) -> detail::decode_report {
        auto r = read_output<T>(m, spec, dopts);
        if (r.value) {
            values[i] = std::move(*r.value);
            return {true, output_failure::none, {}, {}};
        }
        return {false, r.failure, std::move(r.message), std::move(r.raw)};
    };
    detail::engine_result er =
        co_await detail::run_engine(c, messages, std::move(model), std::move(opts), spec, fn);
    batch_run<T> out;
    out.items.resize(er.items.size());
    for (std::size_t i = 0; i < er.items.size(); ++i) {
        static_cast<item_report&>(out.items[i]) = std::move(er.items[i]);
        out.items[i].value = std::move(values[i]);
    }
    out.usage = er.usage;
    out.cost_usd = er.cost_usd;
    out.batch_ids = std::move(er.batch_ids);
    out.stop_code = er.stop_code;
    out.stop_message = std::move(er.stop_message);
    co_return out;
}

/// Runs the batch and returns one T per input, in input order, or throws batch_error
/// (failed items listed, successes kept).
template <class T>
task<std::vector<T>> batch(client& c, std::span<const conversation> messages, std::string model,
                           batch_options opts = {}) {
    batch_run<T> run = co_await run_batch<T>(c, messages, std::move(model), std::move(opts));
    if (run.all_succeeded()) {
        std::vector<T> out;
        out.reserve(run.items.size());
        for (auto& i : run.items)
            out.push_back(std::move(*i.value));
        co_return out;
    }
    std::vector<item_report> failures;
    std::vector<std::optional<T>> values;
    values.reserve(run.items.size());
    for (auto& i : run.items) {
        if (i.status != item_status::succeeded)
            failures.push_back(static_cast<item_report&>(i));
        values.push_back(std::move(i.value));
    }
    diagnostics d;
    d.message = detail::describe_failures(failures, run.items.size(), run.stop_message);
    boost::system::error_code ec =
        run.stop_code ? run.stop_code : make_error_code(errc::items_failed);
    throw batch_error(ec, std::move(d), std::move(failures), std::any(std::move(values)),
                      run.items.size(), run.usage, run.cost_usd);
}

/// batch<T>() with a completion token: void(error_code, std::vector<T>). On failure the
/// diagnostics carry the story (batch_error's details need the coroutine form).
template <class T, class Token>
auto async_batch(client& c, std::span<const conversation> messages, std::string model,
                 batch_options opts, diagnostics& diag, Token&& token) {
    return detail::async_run<std::vector<T>>(
        c.get_executor(), batch<T>(c, messages, std::move(model), std::move(opts)), diag,
        std::forward<Token>(token));
}

} // namespace aibatch
