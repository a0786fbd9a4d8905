// aibatch::task<T>: the coroutine type of every aibatch operation.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace aibatch {

/// An aibatch operation as a coroutine: boost::asio::awaitable<T>. It composes with any
/// Asio program (co_await it, or co_spawn it with any completion token).
template <class T = void>
using task = boost::asio::awaitable<T, boost::asio::any_io_executor>;

} // namespace aibatch
