#include "blocking_io.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <optional>
#include <utility>

namespace aibatch::detail {

namespace asio = boost::asio;

boost::asio::execution_context::id blocking_io_service::id;

blocking_io_service::blocking_io_service(asio::execution_context& ctx)
    : asio::execution_context::service(ctx) {}

blocking_io_service::~blocking_io_service() {
    shutdown();
}

void blocking_io_service::submit(std::function<void()> f, handler h,
                                 const asio::any_io_executor& ex) {
    work w{std::move(f), std::move(h), asio::prefer(ex, asio::execution::outstanding_work.tracked)};
    std::unique_lock lock(m_);
    if (stopped_)
        return; // the context is being destroyed: w (and the coroutine it holds) with it
    if (!thread_.joinable()) {
        try {
            thread_ = std::thread([this] { run(); });
        } catch (...) {
            // No thread (EAGAIN): the waiting coroutine gets the error from its co_await,
            // and no job is left queued without a thread to run it.
            lock.unlock();
            asio::post(w.tracked,
                       [h = std::move(w.h), failed = std::current_exception()]() mutable {
                           std::move(h)(failed);
                       });
            return;
        }
    }
    queue_.push_back(std::move(w));
    cv_.notify_one();
}

void blocking_io_service::shutdown() {
    std::deque<work> dropped;
    {
        std::lock_guard lock(m_);
        stopped_ = true;
        dropped.swap(queue_);
    }
    cv_.notify_all();
    if (thread_.joinable())
        thread_.join(); // a job that started finishes (its handler goes to the context)
    // `dropped` is destroyed here, unrun: the coroutines waiting for these jobs with it.
}

void blocking_io_service::run() {
    for (;;) {
        // Moved by construction only: Boost 1.81's any_completion_handler move assignment
        // recurses without end.
        std::optional<work> w;
        {
            std::unique_lock lock(m_);
            cv_.wait(lock, [&] { return stopped_ || !queue_.empty(); });
            if (queue_.empty())
                return;
            w.emplace(std::move(queue_.front()));
            queue_.pop_front();
        }
        std::exception_ptr failed;
        try {
            w->f();
        } catch (...) {
            failed = std::current_exception();
        }
        asio::any_io_executor ex = std::move(w->tracked);
        asio::post(ex, [h = std::move(w->h), failed]() mutable { std::move(h)(failed); });
        w.reset();
    }
}

task<void> off_loop(std::function<void()> f) {
    auto ex = co_await asio::this_coro::executor;
    auto& svc = asio::use_service<blocking_io_service>(asio::query(ex, asio::execution::context));
    co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr)>(
        [&svc](auto h, std::function<void()> job) {
            asio::any_io_executor hx = asio::get_associated_executor(h);
            svc.submit(std::move(job), blocking_io_service::handler(std::move(h)), hx);
        },
        asio::use_awaitable, std::move(f));
}

} // namespace aibatch::detail
