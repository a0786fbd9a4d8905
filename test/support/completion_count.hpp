// A count of finished operations that a test thread can wait on, instead of polling a
// counter with sleeps: handlers on any thread call add(); the test calls wait_for().
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace aibatch::test {

class completion_count {
public:
    void add() {
        {
            std::lock_guard lock(mutex_);
            ++count_;
        }
        changed_.notify_all();
    }
    std::size_t value() const {
        std::lock_guard lock(mutex_);
        return count_;
    }
    /// Blocks until the count reaches `n` or `timeout` has passed: true when it did.
    bool wait_for(std::size_t n, std::chrono::milliseconds timeout) const {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return count_ >= n; });
    }

private:
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    std::size_t count_ = 0;
};

} // namespace aibatch::test
