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
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>

#include <exception>
#include <memory>
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

/// The cancellation of a completion token, forwarded by the operation itself: the token's
/// slot gets a handler that emits, on `ex`, a signal the operation shares (Boost 1.81's
/// co_spawn forwards with a raw pointer to a signal the completion may already have
/// freed). Bind the task to the returned signal's slot; call release() on completion.
class owned_cancellation {
public:
    template <class Handler>
    owned_cancellation(const Handler& handler, const boost::asio::any_io_executor& ex)
        : slot_(boost::asio::get_associated_cancellation_slot(handler)) {
        if (slot_.is_connected())
            slot_.assign([signal = signal_, ex](boost::asio::cancellation_type type) {
                boost::asio::dispatch(ex, [signal, type] { signal->emit(type); });
            });
    }
    boost::asio::cancellation_slot slot() const { return signal_->slot(); }
    /// On completion: the token's slot no longer points at this operation (it may be
    /// used for the next one), as Asio's own operations do.
    void release() {
        if (slot_.is_connected())
            slot_.clear();
    }

private:
    std::shared_ptr<boost::asio::cancellation_signal> signal_ =
        std::make_shared<boost::asio::cancellation_signal>();
    boost::asio::cancellation_slot slot_;
};

/// co_spawn(ex, op, token) as an operation with `Signature`: the token's cancellation is
/// forwarded by owned_cancellation, and `finish(handler, exception_ptr, value...)` maps
/// the coroutine's completion onto the handler. The one place the token forms spawn.
template <class Signature, class T, class Token, class Finish>
auto spawn_owned_as(boost::asio::any_io_executor ex, task<T> op, Token&& token, Finish finish) {
    return boost::asio::async_initiate<Token, Signature>(
        [ex, finish](auto handler, task<T> op) mutable {
            owned_cancellation cancel(handler, ex);
            auto hex = boost::asio::get_associated_executor(handler, ex);
            auto slot = cancel.slot();
            boost::asio::co_spawn(
                ex, std::move(op),
                boost::asio::bind_cancellation_slot(
                    slot, boost::asio::bind_executor(
                              hex, [h = std::move(handler), cancel = std::move(cancel),
                                    finish](std::exception_ptr e, auto... value) mutable {
                                  cancel.release();
                                  finish(std::move(h), std::move(e), std::move(value)...);
                              })));
        },
        token, std::move(op));
}

/// co_spawn(ex, op, token) with signature void(std::exception_ptr, T).
template <class T, class Token>
auto spawn_owned(boost::asio::any_io_executor ex, task<T> op, Token&& token) {
    return spawn_owned_as<void(std::exception_ptr, T)>(
        std::move(ex), std::move(op), std::forward<Token>(token),
        [](auto h, std::exception_ptr e, T value) {
            std::move(h)(std::move(e), std::move(value));
        });
}

template <class T, class Token>
auto async_run(boost::asio::any_io_executor ex, task<T> op, diagnostics& diag, Token&& token) {
    using signature = std::conditional_t<std::is_void_v<T>, void(boost::system::error_code),
                                         void(boost::system::error_code, T)>;
    return spawn_owned_as<signature>(std::move(ex), std::move(op), std::forward<Token>(token),
                                     [&diag](auto h, const std::exception_ptr& e, auto... value) {
                                         auto ec = to_error_code(e, diag);
                                         std::move(h)(ec, std::move(value)...);
                                     });
}

} // namespace aibatch::detail
