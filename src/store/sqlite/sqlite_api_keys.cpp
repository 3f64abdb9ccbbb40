// SqliteStore: an account's API keys (store/accounts.hpp).
#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"

namespace gpuopt::store::sqlite {

namespace {

constexpr const char* kKeyColumns = "id, account_id, name, key_prefix, created_at, last_used_at, revoked_at";

std::optional<SysSeconds> OptionalTime(const Statement& s, int col) {
    if (s.IsNull(col)) return std::nullopt;
    return ParseUtc(s.Text(col));
}

ApiKeyInfo ReadKey(const Statement& s) {
    ApiKeyInfo k;
    k.id = s.Int(0);
    k.account_id = s.Int(1);
    k.name = s.Text(2);
    k.key_prefix = s.Text(3);
    k.created_at = ParseUtc(s.Text(4)).value_or(SysSeconds{});
    k.last_used_at = OptionalTime(s, 5);
    k.revoked_at = OptionalTime(s, 6);
    return k;
}

// Inserts the key within the caller's transaction, unless the account has its fill of active keys.
Result<ApiKeyInfo> InsertKey(Connection& db, const NewApiKey& key) {
    auto count = db.Prepare("SELECT COUNT(*) FROM api_keys WHERE account_id = ?1 AND revoked_at IS NULL");
    if (!count) return count.error();
    count->Bind(1, key.account_id);
    if (auto row = count->Step(); !row) return row.error();
    if (count->Int(0) >= static_cast<int64_t>(kMaxActiveApiKeys)) {
        return Error{
            ErrorCode::kForbidden,
            "An account has at most " + std::to_string(kMaxActiveApiKeys) + " active API keys: revoke one first",
            {}};
    }
    auto st = db.Prepare(
        "INSERT INTO api_keys (account_id, name, key_hash, key_prefix, created_at) VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!st) return st.error();
    st->Bind(1, key.account_id)
        .Bind(2, std::string_view(key.name))
        .Bind(3, std::string_view(key.key_hash))
        .Bind(4, std::string_view(key.key_prefix))
        .Bind(5, FormatUtc(key.now));
    if (auto r = st->Run(); !r) return r.error();
    return ApiKeyInfo{db.LastInsertId(), key.account_id, key.name, key.key_prefix, key.now, std::nullopt, std::nullopt};
}

// Revokes an active key of the account within the caller's transaction: its name, or nullopt when none.
Result<std::optional<std::string>> RevokeKey(Connection& db, int64_t account_id, int64_t id, SysSeconds now) {
    auto st = db.Prepare(
        "UPDATE api_keys SET revoked_at = ?3 WHERE id = ?1 AND account_id = ?2 AND revoked_at IS NULL RETURNING name");
    if (!st) return st.error();
    st->Bind(1, id).Bind(2, account_id).Bind(3, FormatUtc(now));
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) return std::optional<std::string>();
    return std::optional<std::string>(st->Text(0));
}

}  // namespace

void SqliteStore::CreateApiKey(NewApiKey key, Callback<ApiKeyInfo> done) {
    Submit<ApiKeyInfo>([key = std::move(key)](Connection& db) { return InsertKey(db, key); }, std::move(done));
}

Result<std::vector<ApiKeyInfo>> SqliteStore::ListApiKeys(int64_t account_id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string("SELECT ") + kKeyColumns +
                                   " FROM api_keys WHERE account_id = ?1"
                                   " ORDER BY revoked_at IS NOT NULL, COALESCE(revoked_at, created_at) DESC, id DESC"
                                   " LIMIT 100";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, account_id);
    return Collect<ApiKeyInfo>(*st, ReadKey);
}

void SqliteStore::RevokeApiKey(int64_t account_id, int64_t id, SysSeconds now, Callback<bool> done) {
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

void SqliteStore::RotateApiKey(int64_t account_id, int64_t id, NewApiKey replacement,
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

void SqliteStore::TouchApiKey(std::string key_hash, SysSeconds now, Callback<void> done) {
    Submit<void>(
        [key_hash = std::move(key_hash), now](Connection& db) -> Result<void> {
            auto st = db.Prepare(
                "UPDATE api_keys SET last_used_at = ?2 WHERE key_hash = ?1"
                " AND (last_used_at IS NULL OR last_used_at < ?2)");
            if (!st) return st.error();
            st->Bind(1, std::string_view(key_hash)).Bind(2, FormatUtc(now));
            return st->Run();
        },
        std::move(done));
}

}  // namespace gpuopt::store::sqlite
