// PgStore: an account's API keys (store/accounts.hpp).
#include "store/postgres/connection.hpp"
#include "store/postgres/pg_store.hpp"
#include "store/postgres/pg_store_internal.hpp"

namespace gpuopt::store::postgres {

namespace {

constexpr const char* kKeyColumns = "id, account_id, name, key_prefix, created_at, last_used_at, revoked_at";

ApiKeyInfo ReadKey(const Rows& r, int i) {
    ApiKeyInfo k;
    k.id = r.Int(i, 0);
    k.account_id = r.Int(i, 1);
    k.name = std::string(r.Text(i, 2));
    k.key_prefix = std::string(r.Text(i, 3));
    k.created_at = TimeAt(r, i, 4);
    k.last_used_at = OptTimeAt(r, i, 5);
    k.revoked_at = OptTimeAt(r, i, 6);
    return k;
}

// Inserts the key within the caller's transaction, unless the account has its fill of active keys. The
// account's row is locked first, so that two creations at once cannot both pass the count.
Result<ApiKeyInfo> InsertKey(Connection& db, const NewApiKey& key) {
    auto lock = db.Query("SELECT id FROM accounts WHERE id = $1 FOR UPDATE", Params().Add(key.account_id));
    if (!lock) return lock.error();
    auto count = db.Query("SELECT COUNT(*) FROM api_keys WHERE account_id = $1 AND revoked_at IS NULL",
                          Params().Add(key.account_id));
    if (!count) return count.error();
    if (count->Int(0, 0) >= static_cast<int64_t>(kMaxActiveApiKeys)) {
        return Error{
            ErrorCode::kForbidden,
            "An account has at most " + std::to_string(kMaxActiveApiKeys) + " active API keys: revoke one first",
            {}};
    }
    auto rows = db.Query(
        "INSERT INTO api_keys (account_id, name, key_hash, key_prefix, created_at) VALUES ($1, $2, $3, $4, $5)"
        " RETURNING id",
        Params().Add(key.account_id).Add(key.name).Add(key.key_hash).Add(key.key_prefix).Add(FormatUtc(key.now)));
    if (!rows) return rows.error();
    return ApiKeyInfo{rows->Int(0, 0), key.account_id, key.name, key.key_prefix, key.now, std::nullopt, std::nullopt};
}

// Revokes an active key of the account within the caller's transaction: its name, or nullopt when none.
Result<std::optional<std::string>> RevokeKey(Connection& db, int64_t account_id, int64_t id, SysSeconds now) {
    auto rows = db.Query(
        "UPDATE api_keys SET revoked_at = $3 WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL RETURNING name",
        Params().Add(id).Add(account_id).Add(FormatUtc(now)));
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<std::string>();
    return std::optional<std::string>(std::string(rows->Text(0, 0)));
}

}  // namespace

void PgStore::CreateApiKey(NewApiKey key, Callback<ApiKeyInfo> done) {
    Submit<ApiKeyInfo>([key = std::move(key)](Connection& db) { return InsertKey(db, key); }, std::move(done));
}

Result<std::vector<ApiKeyInfo>> PgStore::ListApiKeys(int64_t account_id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string("SELECT ") + kKeyColumns +
                                   " FROM api_keys WHERE account_id = $1"
                                   " ORDER BY revoked_at IS NOT NULL, COALESCE(revoked_at, created_at) DESC, id DESC"
                                   " LIMIT 100";
    auto rows = (*db)->Query(sql, Params().Add(account_id));
    if (!rows) return rows.error();
    return CollectRows<ApiKeyInfo>(*rows, ReadKey);
}

void PgStore::RevokeApiKey(int64_t account_id, int64_t id, SysSeconds now, Callback<bool> done) {
    Submit<bool>(
        [account_id, id, now](Connection& db) -> Result<bool> {
            auto revoked = RevokeKey(db, account_id, id, now);
            if (!revoked) return revoked.error();
            return revoked->has_value();
        },
        Callback<bool>([this, done = std::move(done)](Result<bool> r) {
            if (r.ok() && *r) ForgetCachedAccounts();  // before the caller hears of it
            done(std::move(r));
        }));
}

void PgStore::RotateApiKey(int64_t account_id, int64_t id, NewApiKey replacement,
                           Callback<std::optional<ApiKeyInfo>> done) {
    Submit<std::optional<ApiKeyInfo>>(
        [account_id, id, replacement = std::move(replacement)](Connection& db) -> Result<std::optional<ApiKeyInfo>> {
            auto revoked = RevokeKey(db, account_id, id, replacement.now);
            if (!revoked) return revoked.error();
            if (!*revoked) return std::optional<ApiKeyInfo>();
            NewApiKey key = replacement;
            key.account_id = account_id;
            key.name = **revoked;
            auto made = InsertKey(db, key);
            if (!made) return made.error();
            return std::optional<ApiKeyInfo>(std::move(*made));
        },
        Callback<std::optional<ApiKeyInfo>>([this, done = std::move(done)](Result<std::optional<ApiKeyInfo>> r) {
            if (r.ok() && r->has_value()) ForgetCachedAccounts();
            done(std::move(r));
        }));
}

void PgStore::TouchApiKey(std::string key_hash, SysSeconds now, Callback<void> done) {
    Submit<void>(
        [key_hash = std::move(key_hash), now](Connection& db) -> Result<void> {
            auto rows = db.Query(
                "UPDATE api_keys SET last_used_at = $2 WHERE key_hash = $1"
                " AND (last_used_at IS NULL OR last_used_at < $2)",
                Params().Add(key_hash).Add(FormatUtc(now)));
            if (!rows) return rows.error();
            return {};
        },
        std::move(done));
}

}  // namespace gpuopt::store::postgres
