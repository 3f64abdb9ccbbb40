// Blocking use of the store's callback-based writes, for jobs on their own thread.
#pragma once

#include <future>

#include "store/callback.hpp"

namespace gpuopt::store {

template <class T, class Start>
Result<T> Wait(Start start) {
    std::promise<Result<T>> promise;
    auto future = promise.get_future();
    start(Callback<T>([&promise](Result<T> r) { promise.set_value(std::move(r)); }));
    return future.get();
}

}  // namespace gpuopt::store
