// Acting on idle GPUs: parsing a customer's policy, what agents are handed with each report's answer, and a
// short-lived cache of it so the report path does not read it for every report.
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.hpp"
#include "store/idle_actions.hpp"

namespace gpuopt::api {

// `body`'s fields over `base` (fields left out keep their value; an unknown one is refused).
Result<store::IdlePolicy> ParseIdlePolicy(const boost::json::object& body, store::IdlePolicy base,
                                          double min_idle_minutes);

// The policy as an agent on `host` gets it: the settings, and the GPUs of that host snoozed and until when.
boost::json::object AgentPolicyJson(const store::IdlePolicy& p, const std::vector<store::IdleSnooze>& snoozes,
                                    const std::string& host);

// Each account's policy and active snoozes, read at most once per `ttl` (a change made through another
// server shows within it; one made through this server at once). Thread-safe.
class IdlePolicyCache {
public:
    struct Entry {
        std::optional<store::IdlePolicy> policy;
        std::vector<store::IdleSnooze> snoozes;
        std::chrono::steady_clock::time_point read_at;
    };

    explicit IdlePolicyCache(std::chrono::seconds ttl = std::chrono::seconds(30)) : ttl_(ttl) {}

    // The cached entry when fresh, else `read()`'s (kept when it succeeds).
    template <class Read>
    Result<Entry> Get(int64_t account_id, Read read) {
        const auto now = std::chrono::steady_clock::now();
        {
            std::lock_guard lock(mu_);
            auto it = entries_.find(account_id);
            if (it != entries_.end() && now - it->second.read_at < ttl_) return it->second;
        }
        Result<Entry> fresh = read();
        if (!fresh) return fresh;
        fresh->read_at = now;
        std::lock_guard lock(mu_);
        if (entries_.size() >= kMaxEntries) entries_.clear();  // bounded: a full cache starts again
        entries_[account_id] = *fresh;
        return fresh;
    }
    void Forget(int64_t account_id) {
        std::lock_guard lock(mu_);
        entries_.erase(account_id);
    }

private:
    static constexpr size_t kMaxEntries = 100000;
    std::chrono::seconds ttl_;
    std::mutex mu_;
    std::unordered_map<int64_t, Entry> entries_;
};

}  // namespace gpuopt::api
