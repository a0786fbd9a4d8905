// Turns an aibatch::task<T> into an operation with a completion token and the signature
// void(error_code, T) (or void(error_code)), filling a diagnostics object on failure,
// as Boost.MySQL's async_ functions do. Cancellation slots of the token reach the task.
#pragma once

#include <aibatch/error.hpp>
#include <aibatch/task.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>

#include <exception>
#include <type_traits>

namespace aibatch::detail {

/// Maps an exception thrown by a task to (error_code, diagnostics). Unknown exceptions
/// are rethrown: they are bugs, not errors to report.
inline boost::system::error_code to_error_code(const std::exception_ptr& e, diagnostics& diag) {
    diag.clear();
    if (!e)
        return {};
    try {
        std::rethrow_exception(e);
    } catch (const aibatch::error& err) {
        diag = err.diag();
        return err.code();
    } catch (const boost::system::system_error& err) {
        diag.message = err.what();
        return err.code();
    }
}

template <class T, class Token>
auto async_run(boost::asio::any_io_executor ex, task<T> op, diagnostics& diag, Token&& token) {
    using signature = std::conditional_t<std::is_void_v<T>, void(boost::system::error_code),
                                         void(boost::system::error_code, T)>;
    return boost::asio::async_initiate<Token, signature>(
        [ex, &diag](auto handler, task<T> op) mutable {
            auto slot = boost::asio::get_associated_cancellation_slot(handler);
            auto hex = boost::asio::get_associated_executor(handler, ex);
            if constexpr (std::is_void_v<T>) {
                boost::asio::co_spawn(ex, std::move(op),
                                      boost::asio::bind_cancellation_slot(
                                          slot, boost::asio::bind_executor(
                                                    hex, [h = std::move(handler), &diag](
                                                             const std::exception_ptr& e) mutable {
                                                        auto ec = to_error_code(e, diag);
                                                        std::move(h)(ec);
                                                    })));
            } else {
                boost::asio::co_spawn(
                    ex, std::move(op),
                    boost::asio::bind_cancellation_slot(
                        slot, boost::asio::bind_executor(
                                  hex, [h = std::move(handler), &diag](const std::exception_ptr& e,
                                                                       T value) mutable {
                                      auto ec = to_error_code(e, diag);
                                      std::move(h)(ec, std::move(value));
                                  })));
            }
        },
        token, std::move(op));
}

} // namespace aibatch::detail
