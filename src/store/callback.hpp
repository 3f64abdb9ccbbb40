// The completion of an asynchronous store write: called once with the result, after the write's
// transaction is durable (or has failed). It runs on a store thread and must be quick: post real work
// elsewhere. A write given to a store that is closing fails with kUnavailable at once, and then `done`
// runs on the caller's thread before the call returns.
#pragma once

#include <functional>

#include "common/result.hpp"

namespace gpuopt::store {

template <class T>
using Callback = std::function<void(Result<T>)>;

}  // namespace gpuopt::store
