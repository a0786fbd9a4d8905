// Private: file work that may block (the journal's write() and fsync(), seconds on a
// network file system) runs on a thread of its own, never on the event loop that runs
// batch<T>(). One thread per execution context (an io_context service, started at the
// first use), so the work is joined when the io_context is destroyed: a job running then
// finishes, and the coroutines waiting for jobs not started are destroyed, as the
// io_context destroys its own pending handlers. The jobs of one io_context run one after
// the other: a journal on a hung disk delays the records of the other calls on that
// io_context too, and the io_context's destruction waits for the job running then.
#pragma once

#include <aibatch/task.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution_context.hpp>

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace aibatch::detail {

class blocking_io_service final : public boost::asio::execution_context::service {
public:
    using key_type = blocking_io_service;
    static boost::asio::execution_context::id id;

    explicit blocking_io_service(boost::asio::execution_context& ctx);
    ~blocking_io_service() override;
    blocking_io_service(const blocking_io_service&) = delete;
    blocking_io_service& operator=(const blocking_io_service&) = delete;

    using handler = boost::asio::any_completion_handler<void(std::exception_ptr)>;
    /// Runs `f` on the service's thread, then `h` (with what f threw, if anything) on
    /// `ex` (h's own executor). `ex` keeps work outstanding meanwhile, so the io_context's
    /// run() does not return while a job is pending.
    void submit(std::function<void()> f, handler h, const boost::asio::any_io_executor& ex);

private:
    struct work {
        std::function<void()> f;
        handler h;
        // Keeps the handler's io_context from running out of work while the job waits.
        boost::asio::any_io_executor tracked;
    };
    void shutdown() override;
    void run();

    std::mutex m_;
    std::condition_variable cv_;
    std::deque<work> queue_;
    bool stopped_ = false;
    std::thread thread_;
};

/// Runs f away from the calling coroutine's event loop, on the blocking_io_service of its
/// executor's execution context; resumes on the coroutine's own executor. Rethrows what f
/// threw. Not cancellable: a job that started runs to its end.
task<void> off_loop(std::function<void()> f);

} // namespace aibatch::detail
