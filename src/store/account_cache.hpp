// Accounts by API-key hash as a store read them lately: every customer request authenticates, and a key's
// account is served from memory for a few seconds instead of a database read. Any change a store makes to
// an account clears it all; a change made by another process shows within the TTL. Unknown keys are never
// kept (a flood of made-up keys cannot fill it).
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "store/accounts.hpp"

namespace gpuopt::store {

class AccountCache {
public:
    explicit AccountCache(std::chrono::milliseconds ttl) : ttl_(ttl) {}

    // The account kept for `key_hash`, if it was put there less than the TTL ago (never with a zero TTL).
    std::optional<Account> Get(const std::string& key_hash) {
        if (ttl_.count() <= 0) return std::nullopt;
        std::lock_guard lock(mu_);
        auto it = entries_.find(key_hash);
        if (it == entries_.end() || it->second.expires <= std::chrono::steady_clock::now()) return std::nullopt;
        return it->second.account;
    }

    // Keeps `account` until the TTL after `read_at`, when its read began.
    void Put(const std::string& key_hash, const Account& account, std::chrono::steady_clock::time_point read_at) {
        if (ttl_.count() <= 0) return;
        std::lock_guard lock(mu_);
        if (entries_.size() >= kMaxEntries) entries_.clear();  // bounded: it starts again empty
        entries_[key_hash] = Entry{account, read_at + ttl_};
    }

    void Clear() {
        std::lock_guard lock(mu_);
        entries_.clear();
    }

private:
    static constexpr size_t kMaxEntries = 100000;
    struct Entry {
        Account account;
        std::chrono::steady_clock::time_point expires;
    };
    const std::chrono::milliseconds ttl_;
    std::mutex mu_;
    std::unordered_map<std::string, Entry> entries_;
};

}  // namespace gpuopt::store
