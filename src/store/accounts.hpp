// Customer accounts: created with their hashed API key, found by it on every authenticated request.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "common/tier.hpp"
#include "common/time.hpp"
#include "store/admin.hpp"
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

// One of an account's API keys, as the customer manages them (never the key itself).
struct ApiKeyInfo {
    int64_t id = 0;
    int64_t account_id = 0;
    std::string name;
    std::string key_prefix;
    SysSeconds created_at;
    std::optional<SysSeconds> last_used_at;  // written at most about once a minute
    std::optional<SysSeconds> revoked_at;
};

struct NewApiKey {
    int64_t account_id = 0;
    std::string name;
    std::string key_hash;
    std::string key_prefix;
    SysSeconds now;
};

inline constexpr size_t kMaxActiveApiKeys = 20;

// Deleting an account (decision 0025): everything it holds goes, in one transaction; the money ledger
// (payments, revenue events) stays for the books, tied to a row that keeps no address and no key.
struct AccountDeletion {
    int64_t account_id = 0;
    SysSeconds now;
    // Sent to the address the account had; enqueued in the same transaction, tied to no account.
    std::optional<OutboxMessage> farewell;
    // An operator's deletion (store/panel.hpp): its audit row, appended in the same transaction.
    std::optional<AuditEntry> audit;
};

struct DeletedAccount {
    std::string email;        // the address it had
    Tier tier = Tier::kFree;  // the plan it was on
    int64_t rows_removed = 0;
    int64_t checkouts_closed = 0;  // unpaid checkouts marked expired (a late payment is held for a refund)
};

class AccountRepository {
public:
    virtual ~AccountRepository() = default;

    // Fails with kAlreadyExists when the email is taken (whatever the concurrency). The signup's ledger
    // row and the welcome mail are written in the same transaction.
    virtual void CreateAccount(NewAccount account, Callback<Account> done) = 0;
    // kNotFound for an unknown or deleted account.
    virtual Result<Account> GetAccount(int64_t id) = 0;
    // Fails with kNotFound for an unknown email.
    virtual void SetTier(std::string email, Tier tier, Callback<Account> done) = 0;
    // kNotFound when no account holds the key hash, or its account is disabled (store/panel.hpp). Answers from this
    // process's recent lookups when it can (CachedAccountByKeyHash), else reads the database.
    virtual Result<Account> FindAccountByKeyHash(const std::string& key_hash) = 0;
    // The account of a key hash as this process read it recently, without touching the database: what
    // an event loop may ask before it hands a lookup to the read pool. nullopt when there is none.
    virtual std::optional<Account> CachedAccountByKeyHash(const std::string& key_hash) = 0;

    // API keys (the one made at sign-up is "default"). A revoked key stops authenticating at once in this
    // process (the account cache is cleared before `done`), within the cache's TTL in others.
    // kForbidden when the account has kMaxActiveApiKeys active keys already.
    virtual void CreateApiKey(NewApiKey key, Callback<ApiKeyInfo> done) = 0;
    // Active keys first (newest first), then revoked ones (newest revocation first), at most 100.
    virtual Result<std::vector<ApiKeyInfo>> ListApiKeys(int64_t account_id) = 0;
    // False when the account has no active key with that id.
    virtual void RevokeApiKey(int64_t account_id, int64_t id, SysSeconds now, Callback<bool> done) = 0;
    // Revokes the key and makes `replacement` (same name) in one transaction; nullopt when the account has no
    // active key with that id.
    virtual void RotateApiKey(int64_t account_id, int64_t id, NewApiKey replacement,
                              Callback<std::optional<ApiKeyInfo>> done) = 0;
    // Records that the key was used at `now` (callers do it at most about once a minute a key).
    virtual void TouchApiKey(std::string key_hash, SysSeconds now, Callback<void> done) = 0;

    // Removes the account's data from every table, ends its subscription (a paid one is a 'downgrade' in
    // the ledger), expires its unpaid checkouts and blanks the account row (no address, no key; its id
    // stays for the ledger). Its keys and sessions stop at once in this process. kNotFound when there is
    // no such account, or it was deleted already.
    virtual void DeleteAccount(AccountDeletion deletion, Callback<DeletedAccount> done) = 0;
};

}  // namespace gpuopt::store
