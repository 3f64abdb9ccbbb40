#include "http/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

#include "http/shared_limits.hpp"

namespace gpuopt::http {

namespace {

// Whole seconds until `tokens` more have been refilled; a hair of tolerance keeps 12.000000000000002
// from becoming 13.
int SecondsFor(double tokens, double rate) {
    if (tokens <= 0) return 0;
    return static_cast<int>(std::ceil(tokens / rate - 1e-9));
}

}  // namespace

RateDecision DecideFromBucket(bool allowed, double tokens, double capacity, double rate, int limit) {
    RateDecision d;
    d.limit = limit;
    d.allowed = allowed;
    if (!allowed) d.retry_after_seconds = std::max(1, SecondsFor(1.0 - tokens, rate));
    // RateLimit-Reset: when RateLimit-Remaining next grows (a bucket refills a token at a time), so a
    // refused request's Reset and Retry-After are the same number; 0 when the bucket is full.
    const double whole = std::floor(tokens + 1e-9);
    d.remaining = static_cast<int>(whole);
    d.reset_seconds = tokens >= capacity - 1e-9 ? 0 : std::max(1, SecondsFor(whole + 1.0 - tokens, rate));
    return d;
}

RateLimiter::RateLimiter(Clock clock) : clock_(std::move(clock)) {}

RateDecision RateLimiter::Check(std::string_view key, int limit, std::chrono::seconds period) {
    if (shared_ != nullptr) {
        std::string shared_key = prefix_;
        shared_key += key;
        if (auto d = shared_->Take(shared_key, limit, period)) return *d;
    }
    return CheckLocal(key, limit, period);
}

RateDecision RateLimiter::CheckLocal(std::string_view key, int limit, std::chrono::seconds period) {
    const auto now = clock_();
    const double capacity = limit;
    const double rate = capacity / std::max<double>(1.0, static_cast<double>(period.count()));  // tokens/s
    Shard& shard = shards_[std::hash<std::string_view>{}(key) % kShards];
    std::lock_guard lock(shard.mu);

    auto refill = [&](Bucket& b) {
        const double elapsed = std::chrono::duration<double>(now - b.updated).count();
        b.tokens = std::min(b.capacity, b.tokens + std::max(0.0, elapsed) * b.rate);
        b.updated = now;
    };

    // Sweeping after as many checks as the shard holds keys keeps the cost O(1) per check.
    if (++shard.checks_since_sweep >= std::max(kSweepEvery, shard.buckets.size())) {
        shard.checks_since_sweep = 0;
        for (auto it = shard.buckets.begin(); it != shard.buckets.end();) {
            refill(it->second);
            it = it->second.tokens >= it->second.capacity ? shard.buckets.erase(it) : std::next(it);
        }
    }

    auto [it, inserted] = shard.buckets.try_emplace(std::string(key), Bucket{capacity, capacity, rate, now});
    Bucket& b = it->second;
    if (!inserted) refill(b);
    if (b.capacity != capacity || b.rate != rate) {  // the key's plan changed: keep its spent share
        b.tokens = std::min(capacity, b.tokens);
        b.capacity = capacity;
        b.rate = rate;
    }

    const bool allowed = b.tokens >= 1.0;
    if (allowed) b.tokens -= 1.0;
    return DecideFromBucket(allowed, b.tokens, b.capacity, b.rate, limit);
}

size_t RateLimiter::TrackedKeys() {
    size_t n = 0;
    for (auto& s : shards_) {
        std::lock_guard lock(s.mu);
        n += s.buckets.size();
    }
    return n;
}

}  // namespace gpuopt::http
