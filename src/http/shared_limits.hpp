// Counters several server processes share (SPEC §11: Redis when REDIS_URL is set). RateLimiter and
// AddressGuard ask it first and decide alone, on their own counters, whenever it cannot answer: limits fail
// open to one process's view, never to a refusal, and nothing else (authentication, payments) waits on it.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "http/rate_limiter.hpp"

namespace gpuopt::http {

class SharedLimits {
public:
    virtual ~SharedLimits() = default;

    // One token from `key`'s bucket (`limit` tokens refilled evenly over `period`), counted for every
    // process. nullopt when the shared store cannot answer.
    virtual std::optional<RateDecision> Take(std::string_view key, int limit, std::chrono::seconds period) = 0;
    // Seconds `ip` stays blocked (0: not blocked), or nullopt when the shared store cannot answer.
    virtual std::optional<int> BlockedFor(std::string_view ip) = 0;
    // Blocks `ip` for `duration` unless it already is: true when this call started the block, so one
    // process records it; nullopt when the shared store cannot answer.
    virtual std::optional<bool> Block(std::string_view ip, std::chrono::seconds duration) = 0;
    // Lifts `ip`'s block for every process: true when there was one; nullopt when the shared store cannot
    // answer.
    virtual std::optional<bool> Unblock(std::string_view ip) = 0;
};

}  // namespace gpuopt::http
