// Rate limiting with token buckets: each key holds up to `limit` tokens, refilled evenly over `period`; a
// request takes one. In process by default: thread-safe (sharded locks), and idle keys are forgotten once
// their bucket is full again, so memory stays proportional to the keys active within one period. With
// Share(), the buckets live in a store every server process shares (Redis), and the in-process ones are
// the fallback while it cannot answer.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace gpuopt::http {

struct RateDecision {
    bool allowed = true;
    int limit = 0;
    int remaining = 0;            // whole tokens left after this request
    int reset_seconds = 0;        // until `remaining` grows by one (0 when full); = retry_after when refused
    int retry_after_seconds = 0;  // until one token is available (0 when allowed)
};

// The decision for a bucket of `capacity` tokens refilled at `rate` tokens/s that holds `tokens` after
// this request (which took one when `allowed`): the RateLimit-* figures, the same for every store.
RateDecision DecideFromBucket(bool allowed, double tokens, double capacity, double rate, int limit);

class SharedLimits;

class RateLimiter {
public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;
    explicit RateLimiter(Clock clock = [] { return std::chrono::steady_clock::now(); });

    // Takes one token from `key`'s bucket when one is available. `limit` must be > 0.
    RateDecision Check(std::string_view key, int limit, std::chrono::seconds period);

    size_t TrackedKeys();

    // Counts in `shared` first (under `prefix` + key), and in this process only when it cannot answer.
    // `shared` outlives the limiter; set before the first Check.
    void Share(SharedLimits* shared, std::string prefix) {
        shared_ = shared;
        prefix_ = std::move(prefix);
    }

private:
    RateDecision CheckLocal(std::string_view key, int limit, std::chrono::seconds period);

    struct Bucket {
        double tokens;
        double capacity;
        double rate;  // tokens per second
        std::chrono::steady_clock::time_point updated;
    };
    struct Shard {
        std::mutex mu;
        std::unordered_map<std::string, Bucket> buckets;
        size_t checks_since_sweep = 0;
    };
    static constexpr size_t kShards = 16;
    static constexpr size_t kSweepEvery = 256;

    Clock clock_;
    std::array<Shard, kShards> shards_;
    SharedLimits* shared_ = nullptr;
    std::string prefix_;
};

}  // namespace gpuopt::http
