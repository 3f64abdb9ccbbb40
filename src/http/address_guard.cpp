#include "http/address_guard.hpp"

#include <cmath>

namespace gpuopt::http {

namespace {

constexpr size_t kSweepAbove = 4096;
// What Retry-After says of a block by hand: it may be lifted any time, so at most an hour.
constexpr int kManualRetrySeconds = 3600;

}  // namespace

AddressGuard::AddressGuard(Options options, Clock clock)
    : options_(options), clock_(clock), failures_(std::move(clock)) {}

void AddressGuard::Share(SharedLimits* shared) {
    shared_ = shared;
    failures_.Share(shared, "authfail:");
}

std::optional<int> AddressGuard::BlockedFor(std::string_view ip) {
    {
        std::lock_guard lock(mu_);
        if (!manual_.empty()) {
            auto it = manual_.find(std::string(ip));
            if (it != manual_.end()) {
                if (!it->second) return kManualRetrySeconds;
                const auto left = *it->second - UtcNow();
                if (left.count() > 0) return static_cast<int>(std::min<int64_t>(left.count(), kManualRetrySeconds));
            }
        }
    }
    if (options_.max_failures <= 0) return std::nullopt;
    const auto now = clock_();
    {
        std::lock_guard lock(mu_);
        if (!blocked_until_.empty()) {
            auto it = blocked_until_.find(std::string(ip));
            if (it != blocked_until_.end()) {
                if (it->second > now) {
                    const double left = std::chrono::duration<double>(it->second - now).count();
                    return std::max(1, static_cast<int>(std::ceil(left)));
                }
                blocked_until_.erase(it);
            }
        }
    }
    if (shared_ != nullptr) {
        if (auto seconds = shared_->BlockedFor(ip); seconds && *seconds > 0) return *seconds;
    }
    return std::nullopt;
}

bool AddressGuard::Fail(std::string_view ip) {
    if (options_.max_failures <= 0) return false;
    // A bucket of max_failures - 1 tokens: the failure that finds it empty is the max_failures-th.
    if (options_.max_failures > 1 && failures_.Check(ip, options_.max_failures - 1, options_.window).allowed) {
        return false;
    }
    const auto now = clock_();
    {
        std::lock_guard lock(mu_);
        if (blocked_until_.size() >= kSweepAbove) {
            for (auto it = blocked_until_.begin(); it != blocked_until_.end();) {
                it = it->second <= now ? blocked_until_.erase(it) : std::next(it);
            }
        }
        auto [it, inserted] = blocked_until_.try_emplace(std::string(ip), now + options_.block_for);
        if (!inserted && it->second > now) return false;  // already blocked: the same block
        it->second = now + options_.block_for;
    }
    // Shared: the process that starts the cluster's block is the one that reports it.
    if (shared_ != nullptr) {
        if (auto started = shared_->Block(ip, options_.block_for)) return *started;
    }
    return true;
}

size_t AddressGuard::Blocked() {
    const auto now = clock_();
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& [ip, until] : blocked_until_) n += until > now;
    return n;
}

void AddressGuard::SetManualBlocks(std::unordered_map<std::string, std::optional<SysSeconds>> blocks) {
    std::lock_guard lock(mu_);
    manual_ = std::move(blocks);
}

bool AddressGuard::Unblock(std::string_view ip) {
    bool lifted = false;
    {
        std::lock_guard lock(mu_);
        auto it = blocked_until_.find(std::string(ip));
        if (it != blocked_until_.end()) {
            lifted = it->second > clock_();
            blocked_until_.erase(it);
        }
    }
    if (shared_ != nullptr) {
        if (auto removed = shared_->Unblock(ip)) lifted = lifted || *removed;
    }
    return lifted;
}

std::vector<std::pair<std::string, int>> AddressGuard::FailureBlocks() {
    const auto now = clock_();
    std::vector<std::pair<std::string, int>> out;
    std::lock_guard lock(mu_);
    for (const auto& [ip, until] : blocked_until_) {
        if (until <= now) continue;
        const double left = std::chrono::duration<double>(until - now).count();
        out.emplace_back(ip, std::max(1, static_cast<int>(std::ceil(left))));
    }
    return out;
}

}  // namespace gpuopt::http
