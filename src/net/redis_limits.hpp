// Rate-limit buckets and temporary address blocks in Redis, shared by every server process (SPEC §11):
// one Lua script per decision on Redis' own clock, so several servers agree on one budget. When Redis
// cannot answer, each call says so (nullopt) and the caller decides on its own counters: limits fail
// open. Every such answer is counted (gpuopt_shared_limits_fail_open_total); the first of an outage is
// logged and reported through `on_outage` (the server records a security event), and the recovery logged.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "http/shared_limits.hpp"
#include "net/redis.hpp"

namespace gpuopt::net {

class RedisLimits final : public http::SharedLimits {
public:
    // `on_outage` gets a line saying what failed, once when Redis stops answering (not once per request).
    RedisLimits(std::unique_ptr<RedisClient> client, std::function<void(const std::string&)> on_outage = {});

    std::optional<http::RateDecision> Take(std::string_view key, int limit, std::chrono::seconds period) override;
    std::optional<int> BlockedFor(std::string_view ip) override;
    std::optional<bool> Block(std::string_view ip, std::chrono::seconds duration) override;
    std::optional<bool> Unblock(std::string_view ip) override;

    // Prometheus text: gpuopt_shared_limits_up and gpuopt_shared_limits_fail_open_total.
    void WriteMetrics(std::string& out) const;
    uint64_t FailOpen() const { return fail_open_.load(); }
    RedisClient& client() { return *client_; }

private:
    template <class T>
    std::optional<T> Answered(Result<T> r);

    std::unique_ptr<RedisClient> client_;
    std::function<void(const std::string&)> on_outage_;
    RedisScript take_;
    std::atomic<uint64_t> fail_open_{0};
    std::atomic<bool> down_{false};
};

}  // namespace gpuopt::net
