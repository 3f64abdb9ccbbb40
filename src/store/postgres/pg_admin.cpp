// PgStore: admin accounts, their sessions and the audit log (store/admin.hpp).

#include "common/at_rest.hpp"
#include "store/audit_chain.hpp"
#include "store/postgres/connection.hpp"
#include "store/postgres/pg_store.hpp"
#include "store/postgres/pg_store_internal.hpp"
#include "store/sealing.hpp"

namespace gpuopt::store::postgres {

namespace {

constexpr const char* kAdminColumns =
    "id, email, password_hash, totp_secret, totp_last_step, disabled, failed_logins, lockouts, locked_until,"
    " created_at, last_login_at";

AdminUser ReadAdmin(const Rows& r, int i) {
    AdminUser out;
    out.id = r.Int(i, 0);
    out.email = std::string(r.Text(i, 1));
    out.password_hash = std::string(r.Text(i, 2));
    out.totp_secret = std::string(r.Text(i, 3));
    out.totp_last_step = r.Int(i, 4);
    out.disabled = r.Bool(i, 5);
    out.failed_logins = static_cast<int>(r.Int(i, 6));
    out.lockouts = static_cast<int>(r.Int(i, 7));
    out.locked_until = OptTimeAt(r, i, 8);
    out.created_at = TimeAt(r, i, 9);
    out.last_login_at = OptTimeAt(r, i, 10);
    return out;
}

Result<std::optional<AdminUser>> ReadAdminWhere(Connection& db, const std::string& where, const Params& params) {
    auto rows = db.Query(std::string("SELECT ") + kAdminColumns + " FROM admin_users WHERE " + where, params);
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<AdminUser>();
    return std::optional<AdminUser>(ReadAdmin(*rows, 0));
}

Result<AdminUser> AdminById(Connection& db, int64_t id) {
    auto found = ReadAdminWhere(db, "id = $1", Params().Add(id));
    if (!found) return found.error();
    if (!*found) return Error{ErrorCode::kNotFound, "no such admin", {}};
    return std::move(**found);
}

constexpr const char* kAuditColumns =
    "id, at, actor_type, actor, action, target, before_json, after_json, result, ip, session_ref, prev_hash, row_hash";

AuditEntry ReadAudit(const Rows& r, int i) {
    AuditEntry out;
    out.id = r.Int(i, 0);
    out.at = TimeAt(r, i, 1);
    out.actor_type = std::string(r.Text(i, 2));
    out.actor = std::string(r.Text(i, 3));
    out.action = std::string(r.Text(i, 4));
    out.target = std::string(r.Text(i, 5));
    out.before = std::string(r.Text(i, 6));
    out.after = std::string(r.Text(i, 7));
    out.result = std::string(r.Text(i, 8));
    out.ip = std::string(r.Text(i, 9));
    out.session_ref = std::string(r.Text(i, 10));
    out.prev_hash = std::string(r.Text(i, 11));
    out.row_hash = std::string(r.Text(i, 12));
    return out;
}

// The advisory lock every appender takes: servers sharing the database append one at a time, so each row

// Re-seals every value of `column` in `table` (rows named by `key`) under the first key; answers how many changed.
Result<int64_t> ResealColumn(Connection& db, const std::string& keys, const char* table, const char* key,
                             const char* column, SysSeconds now) {
    auto rows = db.Query(std::string("SELECT ") + key + ", " + column + " FROM " + table + " WHERE " + column +
                         " <> '' FOR UPDATE");
    if (!rows) return rows.error();
    int64_t changed = 0;
    const std::string update = std::string("UPDATE ") + table + " SET " + column + " = $2 WHERE " + key + " = $1";
    for (int i = 0; i < rows->size(); ++i) {
        const std::string stored(rows->Text(i, 1));
        auto resealed = at_rest::Reseal(keys, stored, now);
        if (!resealed) return resealed.error();
        if (*resealed == stored) continue;
        auto up = db.Query(update, Params().Add(rows->Int(i, 0)).Add(*resealed));
        if (!up) return up.error();
        ++changed;
    }
    return changed;
}

}  // namespace

// follows the one that was newest when it was written.
constexpr int64_t kAuditLock = 0x6770756f61756474;  // "gpuoaudt"

Result<AuditEntry> InsertAudit(Connection& db, AuditEntry entry, const std::string& key) {
    if (auto r = db.Query("SELECT pg_advisory_xact_lock($1::bigint)", Params().Add(kAuditLock)); !r) return r.error();
    auto last = db.Query("SELECT id, row_hash FROM audit_log ORDER BY id DESC LIMIT 1");
    if (!last) return last.error();
    entry.id = last->empty() ? 1 : last->Int(0, 0) + 1;
    entry.prev_hash = last->empty() ? std::string() : std::string(last->Text(0, 1));
    entry.row_hash = AuditRowHash(key, entry);
    auto rows = db.Query(
        "INSERT INTO audit_log (id, at, actor_type, actor, action, target, before_json, after_json, result, ip,"
        " session_ref, prev_hash, row_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        Params()
            .Add(entry.id)
            .Add(FormatUtc(entry.at))
            .Add(entry.actor_type)
            .Add(entry.actor)
            .Add(entry.action)
            .Add(entry.target)
            .Add(entry.before)
            .Add(entry.after)
            .Add(entry.result)
            .Add(entry.ip)
            .Add(entry.session_ref)
            .Add(entry.prev_hash)
            .Add(entry.row_hash));
    if (!rows) return rows.error();
    return entry;
}

Result<std::string> PgStore::Seal(std::string_view plain) const {
    if (plain.empty()) return std::string();
    return at_rest::Seal(encryption_keys_, plain, UtcNow());
}

Result<std::string> PgStore::Unseal(std::string_view stored) const { return at_rest::Open(encryption_keys_, stored); }

void PgStore::SetEncryptionKeys(std::string keys) { encryption_keys_ = std::move(keys); }

void PgStore::RotateEncryption(AuditEntry audit, Callback<int64_t> done) {
    Submit<int64_t>(
        [keys = encryption_keys_, audit = std::move(audit), key = AuditKey()](Connection& db) -> Result<int64_t> {
            const auto now = UtcNow();
            int64_t changed = 0;
            for (const SealedColumn& c : kSealedColumns) {
                auto n = ResealColumn(db, keys, c.table, c.key, c.column, now);
                if (!n) return n.error();
                changed += *n;
            }
            AuditEntry entry = audit;
            entry.after = "{\"values_resealed\":" + std::to_string(changed) + "}";
            if (auto r = InsertAudit(db, std::move(entry), key); !r) return r.error();
            return changed;
        },
        std::move(done));
}

void PgStore::SetAuditKey(std::string key) {
    const std::lock_guard lock(audit_key_mu_);
    audit_key_ = std::move(key);
}

std::string PgStore::AuditKey() {
    const std::lock_guard lock(audit_key_mu_);
    return audit_key_;
}

void PgStore::CreateAdminUser(AdminUser user, AuditEntry audit, Callback<AdminUser> done) {
    auto sealed = Seal(user.totp_secret);
    if (!sealed) return done(sealed.error());
    user.totp_secret = std::move(*sealed);
    done = OpeningAdminSecret(encryption_keys_, std::move(done));
    Submit<AdminUser>(
        [user = std::move(user), audit = std::move(audit), key = AuditKey()](Connection& db) -> Result<AdminUser> {
            auto rows = db.Query(
                "INSERT INTO admin_users (email, password_hash, totp_secret, created_at) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (email) DO NOTHING RETURNING id",
                Params().Add(user.email).Add(user.password_hash).Add(user.totp_secret).Add(FormatUtc(user.created_at)));
            if (!rows) return rows.error();
            if (rows->empty()) return Error{ErrorCode::kAlreadyExists, "an admin with this email exists", {}};
            const int64_t id = rows->Int(0, 0);
            AuditEntry entry = audit;
            entry.target = "admin:" + std::to_string(id);
            if (auto r = InsertAudit(db, std::move(entry), key); !r) return r.error();
            return AdminById(db, id);
        },
        std::move(done));
}

Result<std::optional<AdminUser>> PgStore::FindAdminUser(const std::string& email) {
    auto db = LeaseReader();
    if (!db) return db.error();
    return OpenAdminSecret(encryption_keys_, ReadAdminWhere(**db, "email = $1", Params().Add(email)));
}

Result<std::optional<AdminUser>> PgStore::GetAdminUser(int64_t admin_id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    return OpenAdminSecret(encryption_keys_, ReadAdminWhere(**db, "id = $1", Params().Add(admin_id)));
}

Result<std::vector<AdminUser>> PgStore::ListAdminUsers() {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query(std::string("SELECT ") + kAdminColumns + " FROM admin_users ORDER BY id");
    if (!rows) return rows.error();
    std::vector<AdminUser> out;
    for (int i = 0; i < rows->size(); ++i) {
        auto opened = OpenAdminSecret(encryption_keys_, Result<AdminUser>(ReadAdmin(*rows, i)));
        if (!opened) return opened.error();
        out.push_back(std::move(*opened));
    }
    return out;
}

void PgStore::ChangeAdminUser(AdminUserChange change, AuditEntry audit, Callback<AdminUser> done) {
    if (change.totp_secret) {
        auto sealed = Seal(*change.totp_secret);
        if (!sealed) return done(sealed.error());
        change.totp_secret = std::move(*sealed);
    }
    done = OpeningAdminSecret(encryption_keys_, std::move(done));
    Submit<AdminUser>(
        [change = std::move(change), audit = std::move(audit), key = AuditKey()](Connection& db) -> Result<AdminUser> {
            auto rows = db.Query(
                "UPDATE admin_users SET password_hash = COALESCE($2, password_hash),"
                " totp_secret = COALESCE($3, totp_secret),"
                " totp_last_step = CASE WHEN $3::text IS NULL THEN totp_last_step ELSE 0 END,"
                " disabled = COALESCE($4::boolean, disabled),"
                " failed_logins = CASE WHEN $5::boolean THEN 0 ELSE failed_logins END,"
                " lockouts = CASE WHEN $5::boolean THEN 0 ELSE lockouts END,"
                " locked_until = CASE WHEN $5::boolean THEN NULL ELSE locked_until END"
                " WHERE id = $1",
                Params()
                    .Add(change.admin_id)
                    .Add(change.password_hash)
                    .Add(change.totp_secret)
                    .Add(change.disabled)
                    .Add(change.unlock));
            if (!rows) return rows.error();
            if (rows->Affected() == 0) return Error{ErrorCode::kNotFound, "no such admin", {}};
            if (change.password_hash || change.totp_secret || change.disabled) {
                auto ended =
                    db.Query("UPDATE admin_sessions SET revoked_at = $2 WHERE admin_id = $1 AND revoked_at IS NULL",
                             Params().Add(change.admin_id).Add(FormatUtc(change.now)));
                if (!ended) return ended.error();
            }
            if (auto r = InsertAudit(db, audit, key); !r) return r.error();
            return AdminById(db, change.admin_id);
        },
        std::move(done));
}

void PgStore::RecordAdminLoginFailure(int64_t admin_id, SysSeconds now, AdminLockPolicy policy, AuditEntry audit,
                                      Callback<AdminUser> done) {
    done = OpeningAdminSecret(encryption_keys_, std::move(done));
    Submit<AdminUser>(
        [admin_id, now, policy, audit = std::move(audit), key = AuditKey()](Connection& db) -> Result<AdminUser> {
            // Locked while counting, so that failures arriving at two servers at once are both counted.
            auto current = ReadAdminWhere(db, "id = $1 FOR UPDATE", Params().Add(admin_id));
            if (!current) return current.error();
            if (!*current) return Error{ErrorCode::kNotFound, "no such admin", {}};
            const AdminUser after = AfterFailedSignIn(std::move(**current), now, policy);
            auto rows =
                db.Query("UPDATE admin_users SET failed_logins = $2, lockouts = $3, locked_until = $4 WHERE id = $1",
                         Params()
                             .Add(admin_id)
                             .Add(after.failed_logins)
                             .Add(after.lockouts)
                             .Add(OptTimeText(after.locked_until)));
            if (!rows) return rows.error();
            if (auto r = InsertAudit(db, audit, key); !r) return r.error();
            return AdminById(db, admin_id);
        },
        std::move(done));
}

void PgStore::AcceptTotpStep(int64_t admin_id, int64_t step, Callback<bool> done) {
    Submit<bool>(
        [admin_id, step](Connection& db) -> Result<bool> {
            auto rows = db.Query("UPDATE admin_users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2",
                                 Params().Add(admin_id).Add(step));
            if (!rows) return rows.error();
            return rows->Affected() == 1;
        },
        std::move(done));
}

void PgStore::SignInAdmin(AdminSession session, AuditEntry audit, Callback<void> done) {
    Submit<void>(
        [session = std::move(session), audit = std::move(audit), key = AuditKey()](Connection& db) -> Result<void> {
            auto reset = db.Query(
                "UPDATE admin_users SET failed_logins = 0, lockouts = 0, locked_until = NULL, last_login_at = $2"
                " WHERE id = $1",
                Params().Add(session.admin_id).Add(FormatUtc(session.created_at)));
            if (!reset) return reset.error();
            auto rows = db.Query(
                "INSERT INTO admin_sessions (id_hash, admin_id, csrf_token, ip, user_agent, created_at, last_seen_at,"
                " expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                Params()
                    .Add(session.id_hash)
                    .Add(session.admin_id)
                    .Add(session.csrf_token)
                    .Add(session.ip)
                    .Add(session.user_agent)
                    .Add(FormatUtc(session.created_at))
                    .Add(FormatUtc(session.last_seen_at))
                    .Add(FormatUtc(session.expires_at)));
            if (!rows) return rows.error();
            if (auto r = InsertAudit(db, audit, key); !r) return r.error();
            return {};
        },
        std::move(done));
}

Result<std::optional<AdminSession>> PgStore::FindAdminSession(const std::string& id_hash, SysSeconds now,
                                                              std::chrono::seconds idle) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query(
        "SELECT s.id_hash, s.admin_id, s.csrf_token, s.ip, s.user_agent, s.created_at, s.last_seen_at, s.expires_at"
        " FROM admin_sessions s JOIN admin_users u ON u.id = s.admin_id"
        " WHERE s.id_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND s.last_seen_at > $3"
        " AND NOT u.disabled",
        Params().Add(id_hash).Add(FormatUtc(now)).Add(FormatUtc(now - idle)));
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<AdminSession>();
    AdminSession out;
    out.id_hash = std::string(rows->Text(0, 0));
    out.admin_id = rows->Int(0, 1);
    out.csrf_token = std::string(rows->Text(0, 2));
    out.ip = std::string(rows->Text(0, 3));
    out.user_agent = std::string(rows->Text(0, 4));
    out.created_at = TimeAt(*rows, 0, 5);
    out.last_seen_at = TimeAt(*rows, 0, 6);
    out.expires_at = TimeAt(*rows, 0, 7);
    return std::optional<AdminSession>(std::move(out));
}

void PgStore::TouchAdminSession(std::string id_hash, SysSeconds now, Callback<void> done) {
    Submit<void>(
        [id_hash = std::move(id_hash), now](Connection& db) -> Result<void> {
            auto rows = db.Query(
                "UPDATE admin_sessions SET last_seen_at = $2 WHERE id_hash = $1 AND revoked_at IS NULL"
                " AND last_seen_at < $2",
                Params().Add(id_hash).Add(FormatUtc(now)));
            if (!rows) return rows.error();
            return {};
        },
        std::move(done));
}

void PgStore::RevokeAdminSession(std::string id_hash, SysSeconds now, AuditEntry audit, Callback<int64_t> done) {
    Submit<int64_t>(
        [id_hash = std::move(id_hash), now, audit = std::move(audit),
         key = AuditKey()](Connection& db) -> Result<int64_t> {
            auto rows = db.Query("UPDATE admin_sessions SET revoked_at = $2 WHERE id_hash = $1 AND revoked_at IS NULL",
                                 Params().Add(id_hash).Add(FormatUtc(now)));
            if (!rows) return rows.error();
            const int64_t ended = rows->Affected();
            if (ended > 0) {
                if (auto r = InsertAudit(db, audit, key); !r) return r.error();
            }
            return ended;
        },
        std::move(done));
}

void PgStore::AppendAudit(AuditEntry entry, Callback<AuditEntry> done) {
    Submit<AuditEntry>([entry = std::move(entry),
                        key = AuditKey()](Connection& db) -> Result<AuditEntry> { return InsertAudit(db, entry, key); },
                       std::move(done));
}

Result<std::vector<AuditEntry>> PgStore::ListAudit(const AuditQuery& query) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query(std::string("SELECT ") + kAuditColumns +
                                 " FROM audit_log WHERE ($1 = '' OR left(action, length($1)) = $1)"
                                 " AND ($2 = '' OR actor = $2) AND ($3 = '' OR target = $3)"
                                 " AND ($4::bigint IS NULL OR id < $4::bigint) ORDER BY id DESC LIMIT $5",
                             Params()
                                 .Add(query.action_prefix)
                                 .Add(query.actor)
                                 .Add(query.target)
                                 .Add(query.before_id)
                                 .Add(static_cast<int64_t>(query.limit)));
    if (!rows) return rows.error();
    std::vector<AuditEntry> out;
    for (int i = 0; i < rows->size(); ++i) out.push_back(ReadAudit(*rows, i));
    return out;
}

Result<AuditVerification> PgStore::VerifyAuditChain() {
    auto db = LeaseReader();
    if (!db) return db.error();
    const std::string key = AuditKey();
    AuditVerification out;
    std::string prev;
    int64_t after = 0;
    // In pages, so that a long log is never held in memory at once.
    for (;;) {
        auto rows = (*db)->Query(
            std::string("SELECT ") + kAuditColumns + " FROM audit_log WHERE id > $1 ORDER BY id LIMIT 1000",
            Params().Add(after));
        if (!rows) return rows.error();
        if (rows->empty()) return out;
        for (int i = 0; i < rows->size(); ++i) {
            const AuditEntry entry = ReadAudit(*rows, i);
            ++out.rows;
            if (!out.first_broken_id && (entry.prev_hash != prev || AuditRowHash(key, entry) != entry.row_hash)) {
                out.first_broken_id = entry.id;
            }
            prev = entry.row_hash;
            after = entry.id;
        }
    }
}

}  // namespace gpuopt::store::postgres
