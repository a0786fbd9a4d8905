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

#include <aibatch/api/client.hpp>
#include <aibatch/batch/batch_options.hpp>
#include <aibatch/detail/batch_engine.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <any>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <span>
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

namespace detail {
/// The one-paragraph story of a run's failures (first few items listed), its unread
/// batches and anomalies.
std::string describe_failures(const std::vector<item_report>& failures, std::size_t total,
                              const std::string& stop_message,
                              const std::vector<unread_batch>& unread = {},
                              std::size_t anomalies = 0);

using client_ptr = std::shared_ptr<client_state>;

/// Yields to the event loop once the calling coroutine has held it for about a
/// millisecond. Never where a cancellation is seen: the loops that breathe account for
/// every item they touch, so the post must not throw operation_aborted into them.
class loop_breath {
public:
    task<void> operator()() {
        if (std::chrono::steady_clock::now() - slice_ < std::chrono::milliseconds(1))
            co_return;
        const bool throwing = co_await boost::asio::this_coro::throw_if_cancelled();
        co_await boost::asio::this_coro::throw_if_cancelled(false);
        co_await boost::asio::post(co_await boost::asio::this_coro::executor,
                                   boost::asio::use_awaitable);
        co_await boost::asio::this_coro::throw_if_cancelled(throwing);
        slice_ = std::chrono::steady_clock::now();
    }

private:
    std::chrono::steady_clock::time_point slice_ = std::chrono::steady_clock::now();
};

/// Destroys a large vector's elements a slice at a time (100,000 reports, even moved-from,
/// take milliseconds to destroy at once).
template <class V>
task<void> release_in_slices(V v, loop_breath& breathe) {
    while (!v.empty()) {
        v.pop_back();
        if (v.size() % 256 == 0)
            co_await breathe();
    }
}

/// The engine's item_store and line_decoder for a run<V>: the reports and the values go
/// straight into the batch_run<V>'s own items (nothing is copied when the run ends).
/// Lines is the decoder proper (decode(line, output, not_json) -> const line_head*, and
/// take() -> std::optional<V> for the value of the line just decoded).
template <class V, class Lines>
class outcome_keeper final : public item_store, public line_decoder {
public:
    outcome_keeper(Lines lines, std::vector<item_outcome<V>>& items)
        : lines_(std::move(lines)), items_(items) {}
    void reserve(std::size_t n) override { items_.reserve(n); }
    void add(std::size_t index) override { items_.emplace_back().index = index; }
    item_report& at(std::size_t index) override { return items_[index]; }
    std::size_t size() const override { return items_.size(); }
    const line_head* decode(std::string_view line, decode_report& output,
                            std::string& not_json) override {
        return lines_.decode(line, output, not_json);
    }
    void keep(std::size_t index) override { items_[index].value = lines_.take(); }

private:
    Lines lines_;
    std::vector<item_outcome<V>>& items_;
};

/// The lines of a run<T>: one pass over each line's bytes straight into T
/// (result_decoder.hpp); the rare line that needs it goes through the tree, with the same
/// messages and repair feedback.
template <class T>
class typed_lines {
public:
    typed_lines(output_spec spec, const decode_options& opts) : dec_(std::move(spec), opts) {}
    const line_head* decode(std::string_view text, decode_report& output, std::string& not_json) {
        try {
            dec_.decode(text, line_);
        } catch (const error&) {
            if (dec_.not_json_why().empty())
                throw;
            not_json = dec_.not_json_why();
            return nullptr;
        }
        if (line_.type == result_type::succeeded) {
            auto& r = line_.output;
            output.ok = r.value.has_value();
            output.failure = r.failure;
            output.message = r.message;
            output.raw = r.raw;
        }
        return &line_;
    }
    std::optional<T> take() { return std::move(line_.output.value); }

private:
    result_decoder<T> dec_;
    decoded_line<T> line_;
};

/// The engine with one way to read result lines into V: run_batch<T>() reads T,
/// run_batch_json() a JSON value checked by a runtime schema. `lines` is the Lines of
/// outcome_keeper.
template <class V, class Lines>
task<batch_run<V>> run_batch_with(client_ptr c, std::span<const conversation> messages,
                                  std::string model, batch_options opts, output_spec spec,
                                  Lines lines) {
    // Large runs are set up and handed over in slices that yield to the event loop, so an
    // async server never stalls on a 100,000-item call (bench/run measures it).
    loop_breath breathe;
    batch_run<V> out;
    outcome_keeper<V, Lines> keeper(std::move(lines), out.items);
    engine_result er = co_await run_engine(c, messages, std::move(model), std::move(opts),
                                           std::move(spec), keeper, keeper);
    // A cancellation has been handled by the engine (it is in stop_code): what follows
    // must run to the end. Its only waits are posts, which no cancellation cuts short, so
    // not throwing is enough: the caller's cancellation state (this is its coroutine) is
    // left as it is, or the caller could never be canceled again.
    const bool throwing = co_await boost::asio::this_coro::throw_if_cancelled();
    co_await boost::asio::this_coro::throw_if_cancelled(false);
    // A value is returned only for an item whose final outcome is success (an item can
    // lose its value later: two different answers, say).
    for (std::size_t i = 0; i < out.items.size(); ++i) {
        auto& item = out.items[i];
        if (item.status != item_status::succeeded)
            item.value.reset();
        if (i % 64 == 63)
            co_await breathe();
    }
    out.usage = er.usage;
    out.cost_usd = er.cost_usd;
    out.batch_ids = std::move(er.batch_ids);
    out.unread_batches = std::move(er.unread_batches);
    out.anomalies = std::move(er.anomalies);
    out.run_id = std::move(er.run_id);
    out.repaired = er.repaired;
    out.stop_code = er.stop_code;
    out.stop_message = std::move(er.stop_message);
    co_await boost::asio::this_coro::throw_if_cancelled(throwing); // the caller's setting
    co_return out;
}

template <class T>
task<batch_run<T>> run_batch_impl(client_ptr c, std::span<const conversation> messages,
                                  std::string model, batch_options opts) {
    output_spec spec = output_spec::for_type<T>(opts.output_mode);
    typed_lines<T> lines(spec, opts.decode);
    co_return co_await run_batch_with<T>(std::move(c), messages, std::move(model), std::move(opts),
                                         std::move(spec), std::move(lines));
}

template <class T>
task<batch_run<T>> run_batch_owning(client_ptr c, std::vector<conversation> messages,
                                    std::string model, batch_options opts) {
    co_return co_await run_batch_impl<T>(std::move(c), messages, std::move(model), std::move(opts));
}

// The values of a run, or the batch_error with the whole story. Moves (never copies) the
// reports and values, in slices that yield to the event loop: a 100,000-item failure must
// not stall an async server either.
template <class T>
task<std::vector<T>> values_or_throw(batch_run<T> run) {
    loop_breath breathe;
    // Every value is there, but a batch was left unread (a paid duplicate, say): that
    // must not pass silently, so it is a batch_error too (holding every value).
    const std::size_t ok = run.succeeded(); // one pass over the items, not three
    if (ok == run.items.size() && !run.stop_code && run.unread_batches.empty()) {
        std::vector<T> out;
        out.reserve(run.items.size());
        for (std::size_t k = 0; k < run.items.size(); ++k) {
            out.push_back(std::move(*run.items[k].value));
            if (k % 64 == 63)
                co_await breathe();
        }
        co_await release_in_slices(std::move(run.items), breathe);
        co_return out;
    }
    std::vector<item_report> failures;
    failures.reserve(run.items.size() - ok);
    std::vector<std::optional<T>> values;
    values.reserve(run.items.size());
    for (std::size_t k = 0; k < run.items.size(); ++k) {
        auto& i = run.items[k];
        if (i.status != item_status::succeeded)
            failures.push_back(std::move(static_cast<item_report&>(i)));
        values.push_back(std::move(i.value));
        if (k % 64 == 63)
            co_await breathe();
    }
    const std::size_t total = run.items.size();
    co_await release_in_slices(std::move(run.items), breathe);
    diagnostics d;
    d.message = describe_failures(failures, total, run.stop_message, run.unread_batches,
                                  run.anomalies.size());
    boost::system::error_code ec = run.stop_code       ? run.stop_code
                                   : !failures.empty() ? make_error_code(errc::items_failed)
                                                       : make_error_code(errc::unread_batches);
    throw batch_error(ec, std::move(d), std::move(failures), std::any(std::move(values)), total,
                      run.usage, run.cost_usd, std::move(run.unread_batches),
                      std::move(run.anomalies));
}

template <class T>
task<std::vector<T>> batch_span(client_ptr c, std::span<const conversation> messages,
                                std::string model, batch_options opts) {
    batch_run<T> run =
        co_await run_batch_impl<T>(std::move(c), messages, std::move(model), std::move(opts));
    // The engine has handled a cancellation (it is in the run's stop_code): the values or
    // the batch_error must come out, not an operation_aborted from the co_await below.
    // The caller's setting is restored before either leaves.
    const bool throwing = co_await boost::asio::this_coro::throw_if_cancelled();
    co_await boost::asio::this_coro::throw_if_cancelled(false);
    std::optional<std::vector<T>> out;
    std::exception_ptr failure;
    try {
        out.emplace(co_await values_or_throw<T>(std::move(run)));
    } catch (...) {
        failure = std::current_exception();
    }
    co_await boost::asio::this_coro::throw_if_cancelled(throwing);
    if (failure)
        std::rethrow_exception(failure);
    co_return std::move(*out);
}

template <class T>
task<std::vector<T>> batch_owning(client_ptr c, std::vector<conversation> messages,
                                  std::string model, batch_options opts) {
    co_return co_await batch_span<T>(std::move(c), messages, std::move(model), std::move(opts));
}

template <class T>
task<batch_run<T>> run_batch_reporting(client_ptr c, std::span<const conversation> m,
                                       std::string model, batch_options o) {
    try {
        co_return co_await run_batch_impl<T>(std::move(c), m, std::move(model), std::move(o));
    } catch (const boost::system::system_error& e) {
        batch_run<T> r;
        r.stop_code = e.code();
        const auto* ae = dynamic_cast<const error*>(&e);
        r.stop_message = ae ? ae->diag().to_string() : std::string(e.what());
        co_return r;
    }
}

template <class T>
task<batch_run<T>> run_batch_reporting_owning(client_ptr c, std::vector<conversation> m,
                                              std::string model, batch_options o) {
    co_return co_await run_batch_reporting<T>(std::move(c), m, std::move(model), std::move(o));
}

template <class T, class Token>
auto async_run_batch_task(boost::asio::any_io_executor ex, task<batch_run<T>> t, Token&& token) {
    return spawn_owned_as<void(boost::system::error_code, batch_run<T>)>(
        std::move(ex), std::move(t), std::forward<Token>(token),
        [](auto h, const std::exception_ptr& e, batch_run<T> r) {
            if (e)
                std::rethrow_exception(e); // a bug, not an error to report
            // Bad input is the only error of the operation itself: every item outcome is
            // in the batch_run otherwise.
            auto ec = r.items.empty() && r.stop_code ? r.stop_code : boost::system::error_code{};
            std::move(h)(ec, std::move(r));
        });
}

} // namespace detail

// Every function below is a plain function (not a coroutine) that returns a task: a
// coroutine with defaulted parameters is miscompiled by g++ 12, and a coroutine must
// never keep a view of the caller's temporaries. Spans (lvalue inputs) are not copied
// and must outlive the task; an rvalue vector (a temporary, or std::move(v)) or a
// braced list is moved into the task, which owns it.

/// Runs the batch and returns an outcome per item (never throws for item failures;
/// throws aibatch::error for bad input, before any network call).
template <class T>
task<batch_run<T>> run_batch(const client& c, std::span<const conversation> messages,
                             std::string model, batch_options opts) {
    return detail::run_batch_impl<T>(c.state(), messages, std::move(model), std::move(opts));
}
template <class T>
task<batch_run<T>> run_batch(const client& c, std::span<const conversation> messages,
                             std::string model) {
    return detail::run_batch_impl<T>(c.state(), messages, std::move(model), batch_options{});
}
template <class T>
task<batch_run<T>> run_batch(const client& c, std::vector<conversation>&& messages,
                             std::string model, batch_options opts) {
    return detail::run_batch_owning<T>(c.state(), std::move(messages), std::move(model),
                                       std::move(opts));
}
template <class T>
task<batch_run<T>> run_batch(const client& c, std::vector<conversation>&& messages,
                             std::string model) {
    return detail::run_batch_owning<T>(c.state(), std::move(messages), std::move(model),
                                       batch_options{});
}

/// Runs the batch and returns one T per input, in input order, or throws batch_error
/// (failed items listed, successes kept, unread batches named).
template <class T>
task<std::vector<T>> batch(const client& c, std::span<const conversation> messages,
                           std::string model, batch_options opts) {
    return detail::batch_span<T>(c.state(), messages, std::move(model), std::move(opts));
}
template <class T>
task<std::vector<T>> batch(const client& c, std::span<const conversation> messages,
                           std::string model) {
    return detail::batch_span<T>(c.state(), messages, std::move(model), batch_options{});
}
template <class T>
task<std::vector<T>> batch(const client& c, std::vector<conversation>&& messages, std::string model,
                           batch_options opts) {
    return detail::batch_owning<T>(c.state(), std::move(messages), std::move(model),
                                   std::move(opts));
}
template <class T>
task<std::vector<T>> batch(const client& c, std::vector<conversation>&& messages,
                           std::string model) {
    return detail::batch_owning<T>(c.state(), std::move(messages), std::move(model),
                                   batch_options{});
}

// Completion-token forms. An lvalue input is viewed (it must outlive the operation); an
// rvalue vector is moved into the operation.

/// batch<T>() with a completion token and signature void(std::exception_ptr,
/// std::vector<T>): the exception is the batch_error (or aibatch::error) the coroutine
/// form throws, with every detail. With boost::asio::use_future, future::get() throws it.
template <class T, class Token>
auto async_batch(const client& c, std::span<const conversation> messages, std::string model,
                 batch_options opts, Token&& token) {
    return detail::spawn_owned<std::vector<T>>(
        c.get_executor(),
        detail::batch_span<T>(c.state(), messages, std::move(model), std::move(opts)),
        std::forward<Token>(token));
}
template <class T, class Token>
auto async_batch(const client& c, std::vector<conversation>&& messages, std::string model,
                 batch_options opts, Token&& token) {
    return detail::spawn_owned<std::vector<T>>(
        c.get_executor(),
        detail::batch_owning<T>(c.state(), std::move(messages), std::move(model), std::move(opts)),
        std::forward<Token>(token));
}

/// batch<T>() with a completion token, Boost.MySQL style: void(error_code,
/// std::vector<T>), the story in `diag` (which must outlive the operation). The failed
/// items and partial results need async_run_batch or the exception form above.
template <class T, class Token>
auto async_batch(const client& c, std::span<const conversation> messages, std::string model,
                 batch_options opts, diagnostics& diag, Token&& token) {
    return detail::async_run<std::vector<T>>(
        c.get_executor(),
        detail::batch_span<T>(c.state(), messages, std::move(model), std::move(opts)), diag,
        std::forward<Token>(token));
}
template <class T, class Token>
auto async_batch(const client& c, std::vector<conversation>&& messages, std::string model,
                 batch_options opts, diagnostics& diag, Token&& token) {
    return detail::async_run<std::vector<T>>(
        c.get_executor(),
        detail::batch_owning<T>(c.state(), std::move(messages), std::move(model), std::move(opts)),
        diag, std::forward<Token>(token));
}

/// run_batch<T>() with a completion token: void(error_code, batch_run<T>). The
/// error_code is set only for bad input (with the message in batch_run::stop_message);
/// otherwise every item outcome, unread batch and anomaly is in the batch_run.
template <class T, class Token>
auto async_run_batch(const client& c, std::span<const conversation> messages, std::string model,
                     batch_options opts, Token&& token) {
    return detail::async_run_batch_task<T>(
        c.get_executor(),
        detail::run_batch_reporting<T>(c.state(), messages, std::move(model), std::move(opts)),
        std::forward<Token>(token));
}
template <class T, class Token>
auto async_run_batch(const client& c, std::vector<conversation>&& messages, std::string model,
                     batch_options opts, Token&& token) {
    return detail::async_run_batch_task<T>(
        c.get_executor(),
        detail::run_batch_reporting_owning<T>(c.state(), std::move(messages), std::move(model),
                                              std::move(opts)),
        std::forward<Token>(token));
}

} // namespace aibatch
