// Runs one aibatch::task on a fresh io_context to completion and returns its value (or
// rethrows its exception). For tests only.
#pragma once

#include <aibatch/task.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <optional>

namespace aibatch::test {

template <class T>
T run_task(boost::asio::io_context& ioc, task<T> t) {
    std::exception_ptr failure;
    std::optional<T> value;
    boost::asio::co_spawn(ioc, std::move(t), [&](std::exception_ptr e, T v) {
        failure = e;
        if (!e)
            value.emplace(std::move(v));
    });
    ioc.restart();
    ioc.run();
    if (failure)
        std::rethrow_exception(failure);
    return std::move(*value);
}

inline void run_task(boost::asio::io_context& ioc, task<void> t) {
    std::exception_ptr failure;
    boost::asio::co_spawn(ioc, std::move(t), [&](std::exception_ptr e) { failure = e; });
    ioc.restart();
    ioc.run();
    if (failure)
        std::rethrow_exception(failure);
}

/// Sets an environment variable for the lifetime of the object, restoring it after.
class scoped_env {
public:
    scoped_env(const char* name, const char* value);
    ~scoped_env();
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;

private:
    std::string name_;
    std::optional<std::string> old_;
};

} // namespace aibatch::test
