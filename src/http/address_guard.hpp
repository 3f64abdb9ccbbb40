// Temporary blocks of client addresses after repeated authentication failures (SPEC §11): an address that
// fails `max_failures` times within `window` (wrong API keys, a wrong operator token, forged webhook
// signatures, and later logins) is refused for `block_for`, with 429 and Retry-After, even when it then
// sends a valid key. Thread-safe; memory stays proportional to the addresses failing within a window.
// With Share(), failures and blocks are counted for every server process (Redis). Operators also block
// addresses by hand (store/panel.hpp): those blocks are kept in the database, handed to every server's guard
// (SetManualBlocks) and hold whatever the failure limit.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/time.hpp"

#include "http/rate_limiter.hpp"
#include "http/shared_limits.hpp"

namespace gpuopt::http {

class AddressGuard {
public:
    struct Options {
        int max_failures = 20;  // 0: never block
        std::chrono::seconds window{300};
        std::chrono::seconds block_for{900};
    };
    using Clock = std::function<std::chrono::steady_clock::time_point()>;

    explicit AddressGuard(
        Options options, Clock clock = [] { return std::chrono::steady_clock::now(); });

    // Whole seconds the address stays blocked (at least 1), or nullopt when it is not blocked.
    std::optional<int> BlockedFor(std::string_view ip);
    // Records one failure from `ip`. True when this failure starts a block: the caller records one
    // security event per block, not one per attempt.
    bool Fail(std::string_view ip);

    const Options& options() const { return options_; }
    // Counts failures and keeps blocks in `shared` too, so a block made by one server holds on all of
    // them; while it cannot answer, this process's own counters and blocks decide. Set before first use.
    void Share(SharedLimits* shared);
    size_t Blocked();

    // The blocks made by hand, replacing those set before: address -> end (nullopt: until lifted).
    void SetManualBlocks(std::unordered_map<std::string, std::optional<SysSeconds>> blocks);
    // Lifts the block for failures of `ip`, here and in the shared store; true when there was one.
    bool Unblock(std::string_view ip);
    // This process's blocks for failures still in force: address and whole seconds left.
    std::vector<std::pair<std::string, int>> FailureBlocks();

private:
    Options options_;
    Clock clock_;
    RateLimiter failures_;  // a bucket of max_failures tokens per address, refilled over the window
    std::mutex mu_;
    std::unordered_map<std::string, std::chrono::steady_clock::time_point> blocked_until_;
    std::unordered_map<std::string, std::optional<SysSeconds>> manual_;  // guarded by mu_
    SharedLimits* shared_ = nullptr;
};

}  // namespace gpuopt::http
