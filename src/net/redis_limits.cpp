#include "net/redis_limits.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace gpuopt::net {

namespace {

// A token bucket in a hash {tokens, ts} on Redis' clock (TIME: every server shares it). Takes one token
// when there is one; a bucket that shrank (the plan changed) keeps its spent share. The key expires once
// the bucket would be full again, so idle keys cost nothing. Answers {allowed, tokens left}.
constexpr const char* kTakeScript = R"lua(
local capacity = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local rate = capacity / period
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then
  tokens = capacity
else
  tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.9f', tokens), 'ts', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
return {allowed, string.format('%.9f', tokens)}
)lua";

const std::string kRatePrefix = "gpuopt:rl:";
const std::string kBlockPrefix = "gpuopt:block:";

}  // namespace

RedisLimits::RedisLimits(std::unique_ptr<RedisClient> client, std::function<void(const std::string&)> on_outage)
    : client_(std::move(client)), on_outage_(std::move(on_outage)), take_(kTakeScript) {}

template <class T>
std::optional<T> RedisLimits::Answered(Result<T> r) {
    if (r) {
        if (down_.exchange(false))
            spdlog::info("rate limits: Redis at {} answers again; limits are shared", client_->Describe());
        return std::move(*r);
    }
    fail_open_.fetch_add(1, std::memory_order_relaxed);
    if (!down_.exchange(true)) {
        const std::string what = "Redis at " + client_->Describe() + " does not answer (" + r.error().message +
                                 "); rate limits and address blocks count in each server alone until it does";
        spdlog::warn("rate limits: {}", what);
        if (on_outage_) on_outage_(what);
    }
    return std::nullopt;
}

std::optional<http::RateDecision> RedisLimits::Take(std::string_view key, int limit, std::chrono::seconds period) {
    const double capacity = limit;
    const double seconds = std::max<double>(1.0, static_cast<double>(period.count()));
    auto reply = client_->Eval(take_, {kRatePrefix + std::string(key)},
                               {std::to_string(limit), std::to_string(static_cast<long long>(seconds))});
    auto decision = [&]() -> Result<http::RateDecision> {
        if (!reply) return reply.error();
        const auto& r = *reply;
        if (r.type != RedisReply::Type::kArray || r.elements.size() != 2 ||
            r.elements[0].type != RedisReply::Type::kInteger || r.elements[1].type != RedisReply::Type::kString) {
            return Error{ErrorCode::kUnavailable, "Redis: the bucket script answered an unexpected shape", {}};
        }
        const double tokens = std::strtod(r.elements[1].text.c_str(), nullptr);
        return http::DecideFromBucket(r.elements[0].integer == 1, tokens, capacity, capacity / seconds, limit);
    }();
    return Answered(std::move(decision));
}

std::optional<int> RedisLimits::BlockedFor(std::string_view ip) {
    auto reply = client_->Command({"PTTL", kBlockPrefix + std::string(ip)});
    auto seconds = [&]() -> Result<int> {
        if (!reply) return reply.error();
        if (reply->type != RedisReply::Type::kInteger) return Error{ErrorCode::kUnavailable, "Redis: PTTL", {}};
        const long long ms = reply->integer;
        if (ms == -2) return 0;  // no block
        if (ms < 0) return 1;    // a block without expiry (set by hand): blocked, ask again
        return std::max(1, static_cast<int>(std::ceil(static_cast<double>(ms) / 1000.0)));
    }();
    return Answered(std::move(seconds));
}

std::optional<bool> RedisLimits::Block(std::string_view ip, std::chrono::seconds duration) {
    auto reply = client_->Command({"SET", kBlockPrefix + std::string(ip), "1", "NX", "EX",
                                   std::to_string(std::max<long long>(1, duration.count()))});
    auto started = [&]() -> Result<bool> {
        if (!reply) return reply.error();
        return reply->type == RedisReply::Type::kStatus;  // OK; nil when another process set it first
    }();
    return Answered(std::move(started));
}

std::optional<bool> RedisLimits::Unblock(std::string_view ip) {
    auto reply = client_->Command({"DEL", kBlockPrefix + std::string(ip)});
    auto removed = [&]() -> Result<bool> {
        if (!reply) return reply.error();
        if (reply->type != RedisReply::Type::kInteger) return Error{ErrorCode::kUnavailable, "Redis: DEL", {}};
        return reply->integer > 0;
    }();
    return Answered(std::move(removed));
}

void RedisLimits::WriteMetrics(std::string& out) const {
    out += "# HELP gpuopt_shared_limits_up 1 while Redis answers the shared rate limits, 0 during an outage.\n";
    out += "# TYPE gpuopt_shared_limits_up gauge\n";
    out += "gpuopt_shared_limits_up " + std::string(down_.load() ? "0" : "1") + "\n";
    out +=
        "# HELP gpuopt_shared_limits_fail_open_total Limit decisions made by one server alone because Redis "
        "did not answer.\n";
    out += "# TYPE gpuopt_shared_limits_fail_open_total counter\n";
    out += "gpuopt_shared_limits_fail_open_total " + std::to_string(fail_open_.load()) + "\n";
}

}  // namespace gpuopt::net
