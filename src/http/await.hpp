// Bridges callback-style asynchronous calls (the store's writes) into coroutines.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <functional>
#include <memory>

#include "common/result.hpp"

namespace gpuopt::http {

// co_await AwaitCallback<T>([&](std::function<void(Result<T>)> done) { store.Write(..., done); })
// suspends the coroutine until `done` is called (from any thread), then resumes it on its own
// executor. The I/O loop is kept alive while the call is outstanding. `done` must be called once.
template <class T, class Start>
boost::asio::awaitable<Result<T>> AwaitCallback(Start start) {
    namespace asio = boost::asio;
    auto executor = co_await asio::this_coro::executor;
    auto initiation = [&start, executor](auto handler) {
        using CompletionHandler = decltype(handler);
        auto shared = std::make_shared<CompletionHandler>(std::move(handler));
        auto work = std::make_shared<asio::executor_work_guard<decltype(executor)>>(executor);
        start(std::function<void(Result<T>)>([shared, work](Result<T> result) {
            auto target = asio::get_associated_executor(*shared, work->get_executor());
            asio::post(target, [shared, result = std::move(result)]() mutable { (*shared)(std::move(result)); });
            work->reset();
        }));
    };
    // Named, not a temporary, inside the co_await expression (GCC 12 can destroy those twice).
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(Result<T>)>(std::move(initiation),
                                                                                            asio::use_awaitable);
}

}  // namespace gpuopt::http
