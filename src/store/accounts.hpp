// Customer accounts: created with their hashed API key, found by it on every authenticated request.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.hpp"
#include "common/tier.hpp"
#include "common/time.hpp"
#include "store/callback.hpp"
#include "store/outbox.hpp"

namespace gpuopt::store {

struct Account {
    int64_t id = 0;
    std::string email;
    Tier tier = Tier::kFree;
    std::string key_prefix;
    std::string created_at;
};

struct NewAccount {
    std::string email;       // normalised
    std::string key_hash;    // HashApiKey(key); the key itself is never stored
    std::string key_prefix;  // first characters of the key, for display
    Tier tier = Tier::kFree;
    SysSeconds now;
    std::optional<OutboxMessage> welcome;  // enqueued with the account, in the same transaction
};

class AccountRepository {
public:
    virtual ~AccountRepository() = default;

    // Fails with kAlreadyExists when the email is taken (whatever the concurrency). The signup's ledger
    // row and the welcome mail are written in the same transaction.
    virtual void CreateAccount(NewAccount account, Callback<Account> done) = 0;
    virtual Result<Account> GetAccount(int64_t id) = 0;
    // Fails with kNotFound for an unknown email.
    virtual void SetTier(std::string email, Tier tier, Callback<Account> done) = 0;
    // kNotFound when no account holds the key hash. Answers from this process's recent lookups when it
    // can (CachedAccountByKeyHash), else reads the database.
    virtual Result<Account> FindAccountByKeyHash(const std::string& key_hash) = 0;
    // The account of a key hash as this process read it recently, without touching the database: what
    // an event loop may ask before it hands a lookup to the read pool. nullopt when there is none.
    virtual std::optional<Account> CachedAccountByKeyHash(const std::string& key_hash) = 0;
};

}  // namespace gpuopt::store
