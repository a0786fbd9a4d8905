// What batch<T>() and run_batch<T>() (batch/batch.hpp) are made of: the engine's item
// store and line decoder for a batch_run<V>, the typed hand-over, values_or_throw, and
// the completion-token adapter. Not a user API.
#pragma once

#include <aibatch/api/client.hpp>
#include <aibatch/batch/batch_options.hpp>
#include <aibatch/batch/batch_run.hpp>
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

namespace detail {
/// The one-paragraph story of a run's failures (first few items listed), its unread
/// batches and anomalies.
std::string describe_failures(const std::vector<item_report>& failures, std::size_t total,
                              const std::string& stop_message,
                              const std::vector<unread_batch>& unread = {},
                              std::size_t anomalies = 0);

using client_ptr = std::shared_ptr<client_state>;

/// How long batch<T>()'s loops hold the event loop at most between two yields. A timer's
/// handler elsewhere on the loop runs only after two or three yields (the reactor, the
/// handler, the coroutine it resumes): with 1 ms, bench/run's watchdog saw 3.2-4 ms
/// stalls while bodies were built; with 0.5 ms, about 2 ms.
inline constexpr std::chrono::microseconds breath_period{500};

/// Yields to the event loop once the calling coroutine has held it for breath_period.
/// Never where a cancellation is seen: the loops that breathe account for every item
/// they touch, so the post must not throw operation_aborted into them.
class loop_breath {
public:
    task<void> operator()() {
        if (!due())
            co_return;
        const bool throwing = co_await boost::asio::this_coro::throw_if_cancelled();
        co_await boost::asio::this_coro::throw_if_cancelled(false);
        co_await boost::asio::post(co_await boost::asio::this_coro::executor,
                                   boost::asio::use_awaitable);
        co_await boost::asio::this_coro::throw_if_cancelled(throwing);
        slice_ = std::chrono::steady_clock::now();
    }
    /// Whether a call now would yield (a check without a coroutine frame).
    bool due() const { return std::chrono::steady_clock::now() - slice_ >= breath_period; }

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
    void prefetch(std::size_t index) const noexcept override {
        if (index >= items_.size())
            return;
#if defined(__GNUC__)
        // The report's fields and the value's start: at most four cache lines.
        const char* p = reinterpret_cast<const char*>(items_.data() + index);
        for (std::size_t b = 0; b < std::min<std::size_t>(sizeof(item_outcome<V>), 256); b += 64)
            __builtin_prefetch(p + b, 1);
#endif
    }
    const line_head* decode(std::string_view line, decode_report& output,
                            std::string& not_json) override {
        return lines_.decode(line, output, not_json);
    }
    void keep(std::size_t index) override {
        items_[index].value = lines_.take();
    }

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

} // namespace aibatch
