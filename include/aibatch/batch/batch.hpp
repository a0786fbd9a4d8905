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
#include <aibatch/batch/batch_run.hpp>
#include <aibatch/detail/run_batch.hpp>

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
