// SqliteStore: admin accounts, their sessions and the audit log (store/admin.hpp).

#include "common/at_rest.hpp"
#include "store/audit_chain.hpp"
#include "store/sealing.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"

namespace gpuopt::store::sqlite {

namespace {

constexpr const char* kAdminColumns =
    "id, email, password_hash, totp_secret, totp_last_step, disabled, failed_logins, lockouts, locked_until,"
    " created_at, last_login_at";

std::optional<SysSeconds> OptTime(const Statement& s, int column) {
    if (s.IsNull(column)) return std::nullopt;
    return ParseUtc(s.Text(column));
}

AdminUser ReadAdmin(const Statement& s) {
    AdminUser out;
    out.id = s.Int(0);
    out.email = s.Text(1);
    out.password_hash = s.Text(2);
    out.totp_secret = s.Text(3);
    out.totp_last_step = s.Int(4);
    out.disabled = s.Int(5) != 0;
    out.failed_logins = static_cast<int>(s.Int(6));
    out.lockouts = static_cast<int>(s.Int(7));
    out.locked_until = OptTime(s, 8);
    out.created_at = ParseUtc(s.Text(9)).value_or(SysSeconds{});
    out.last_login_at = OptTime(s, 10);
    return out;
}

Result<std::optional<AdminUser>> ReadAdminWhere(Connection& db, const char* where, const auto& bind) {
    const std::string sql = std::string("SELECT ") + kAdminColumns + " FROM admin_users WHERE " + where;
    auto st = db.Prepare(sql.c_str());
    if (!st) return st.error();
    bind(*st);
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) return std::optional<AdminUser>();
    return std::optional<AdminUser>(ReadAdmin(*st));
}

Result<AdminUser> AdminById(Connection& db, int64_t id) {
    auto found = ReadAdminWhere(db, "id = ?1", [id](Statement& st) { st.Bind(1, id); });
    if (!found) return found.error();
    if (!*found) return Error{ErrorCode::kNotFound, "no such admin", {}};
    return std::move(**found);
}

constexpr const char* kAuditColumns =
    "id, at, actor_type, actor, action, target, before_json, after_json, result, ip, session_ref, prev_hash, row_hash";

AuditEntry ReadAudit(const Statement& s) {
    AuditEntry out;
    out.id = s.Int(0);
    out.at = ParseUtc(s.Text(1)).value_or(SysSeconds{});
    out.actor_type = s.Text(2);
    out.actor = s.Text(3);
    out.action = s.Text(4);
    out.target = s.Text(5);
    out.before = s.Text(6);
    out.after = s.Text(7);
    out.result = s.Text(8);
    out.ip = s.Text(9);
    out.session_ref = s.Text(10);
    out.prev_hash = s.Text(11);
    out.row_hash = s.Text(12);
    return out;
}

Result<void> EndAdminSessions(Connection& db, int64_t admin_id, SysSeconds now) {
    auto st = db.Prepare("UPDATE admin_sessions SET revoked_at = ?2 WHERE admin_id = ?1 AND revoked_at IS NULL");
    if (!st) return st.error();
    st->Bind(1, admin_id).Bind(2, FormatUtc(now));
    return st->Run();
}

// Re-seals every value of `column` in `table` (rows named by `key`) under the first key; answers how many changed.
Result<int64_t> ResealColumn(Connection& db, const std::string& keys, const char* table, const char* key,
                             const char* column, SysSeconds now) {
    const std::string select =
        std::string("SELECT ") + key + ", " + column + " FROM " + table + " WHERE " + column + " <> ''";
    auto st = db.Prepare(select.c_str());
    if (!st) return st.error();
    std::vector<std::pair<int64_t, std::string>> changed;
    for (;;) {
        auto row = st->Step();
        if (!row) return row.error();
        if (!*row) break;
        const std::string stored = st->Text(1);
        auto resealed = at_rest::Reseal(keys, stored, now);
        if (!resealed) return resealed.error();
        if (*resealed != stored) changed.emplace_back(st->Int(0), std::move(*resealed));
    }
    const std::string update = std::string("UPDATE ") + table + " SET " + column + " = ?2 WHERE " + key + " = ?1";
    for (const auto& [id, value] : changed) {
        auto up = db.Prepare(update.c_str());
        if (!up) return up.error();
        up->Bind(1, id).Bind(2, std::string_view(value));
        if (auto r = up->Run(); !r) return r.error();
    }
    return static_cast<int64_t>(changed.size());
}

}  // namespace

// Appends `entry` after the newest row (the writer is the only one appending, so nobody comes between).
Result<AuditEntry> InsertAudit(Connection& db, AuditEntry entry, const std::string& key) {
    auto last = db.Prepare("SELECT id, row_hash FROM audit_log ORDER BY id DESC LIMIT 1");
    if (!last) return last.error();
    auto row = last->Step();
    if (!row) return row.error();
    entry.id = *row ? last->Int(0) + 1 : 1;
    entry.prev_hash = *row ? last->Text(1) : std::string();
    entry.row_hash = AuditRowHash(key, entry);
    auto st = db.Prepare(
        "INSERT INTO audit_log (id, at, actor_type, actor, action, target, before_json, after_json, result, ip,"
        " session_ref, prev_hash, row_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
    if (!st) return st.error();
    st->Bind(1, entry.id)
        .Bind(2, FormatUtc(entry.at))
        .Bind(3, std::string_view(entry.actor_type))
        .Bind(4, std::string_view(entry.actor))
        .Bind(5, std::string_view(entry.action))
        .Bind(6, std::string_view(entry.target))
        .Bind(7, std::string_view(entry.before))
        .Bind(8, std::string_view(entry.after))
        .Bind(9, std::string_view(entry.result))
        .Bind(10, std::string_view(entry.ip))
        .Bind(11, std::string_view(entry.session_ref))
        .Bind(12, std::string_view(entry.prev_hash))
        .Bind(13, std::string_view(entry.row_hash));
    if (auto r = st->Run(); !r) return r.error();
    return entry;
}

Result<std::string> SqliteStore::Seal(std::string_view plain) const {
    if (plain.empty()) return std::string();
    return at_rest::Seal(encryption_keys_, plain, UtcNow());
}

Result<std::string> SqliteStore::Unseal(std::string_view stored) const {
    return at_rest::Open(encryption_keys_, stored);
}

void SqliteStore::SetEncryptionKeys(std::string keys) { encryption_keys_ = std::move(keys); }

void SqliteStore::RotateEncryption(AuditEntry audit, Callback<int64_t> done) {
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

void SqliteStore::SetAuditKey(std::string key) {
    const std::lock_guard lock(audit_key_mu_);
    audit_key_ = std::move(key);
}

std::string SqliteStore::AuditKey() {
    const std::lock_guard lock(audit_key_mu_);
    return audit_key_;
}

void SqliteStore::CreateAdminUser(AdminUser user, AuditEntry audit, Callback<AdminUser> done) {
    auto sealed = Seal(user.totp_secret);
    if (!sealed) return done(sealed.error());
    user.totp_secret = std::move(*sealed);
    done = OpeningAdminSecret(encryption_keys_, std::move(done));
    Submit<AdminUser>(
        [user = std::move(user), audit = std::move(audit), key = AuditKey()](Connection& db) -> Result<AdminUser> {
            auto st = db.Prepare(
                "INSERT INTO admin_users (email, password_hash, totp_secret, created_at) VALUES (?1, ?2, ?3, ?4)"
                " ON CONFLICT (email) DO NOTHING");
            if (!st) return st.error();
            st->Bind(1, std::string_view(user.email))
                .Bind(2, std::string_view(user.password_hash))
                .Bind(3, std::string_view(user.totp_secret))
                .Bind(4, FormatUtc(user.created_at));
            if (auto r = st->Run(); !r) return r.error();
            if (db.Changes() == 0) return Error{ErrorCode::kAlreadyExists, "an admin with this email exists", {}};
            const int64_t id = db.LastInsertId();
            AuditEntry entry = audit;
            entry.target = "admin:" + std::to_string(id);
            if (auto r = InsertAudit(db, std::move(entry), key); !r) return r.error();
            return AdminById(db, id);
        },
        std::move(done));
}

Result<std::optional<AdminUser>> SqliteStore::FindAdminUser(const std::string& email) {
    auto db = LeaseReader();
    if (!db) return db.error();
    return OpenAdminSecret(encryption_keys_, ReadAdminWhere(**db, "email = ?1", [&email](Statement& st) {
                               st.Bind(1, std::string_view(email));
                           }));
}

Result<std::optional<AdminUser>> SqliteStore::GetAdminUser(int64_t admin_id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    return OpenAdminSecret(encryption_keys_,
                           ReadAdminWhere(**db, "id = ?1", [admin_id](Statement& st) { st.Bind(1, admin_id); }));
}

Result<std::vector<AdminUser>> SqliteStore::ListAdminUsers() {
    auto db = LeaseReader();
    if (!db) return db.error();
    const std::string sql = std::string("SELECT ") + kAdminColumns + " FROM admin_users ORDER BY id";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    auto all = Collect<AdminUser>(*st, ReadAdmin);
    if (!all) return all;
    for (auto& u : *all) {
        auto opened = OpenAdminSecret(encryption_keys_, Result<AdminUser>(std::move(u)));
        if (!opened) return opened.error();
        u = std::move(*opened);
    }
    return all;
}

void SqliteStore::ChangeAdminUser(AdminUserChange change, AuditEntry audit, Callback<AdminUser> done) {
    if (change.totp_secret) {
        auto sealed = Seal(*change.totp_secret);
        if (!sealed) return done(sealed.error());
        change.totp_secret = std::move(*sealed);
    }
    done = OpeningAdminSecret(encryption_keys_, std::move(done));
    Submit<AdminUser>(
        [change = std::move(change), audit = std::move(audit), key = AuditKey()](Connection& db) -> Result<AdminUser> {
            auto st = db.Prepare(
                "UPDATE admin_users SET password_hash = COALESCE(?2, password_hash),"
                " totp_secret = COALESCE(?3, totp_secret),"
                " totp_last_step = CASE WHEN ?3 IS NULL THEN totp_last_step ELSE 0 END,"
                " disabled = COALESCE(?4, disabled),"
                " failed_logins = CASE WHEN ?5 THEN 0 ELSE failed_logins END,"
                " lockouts = CASE WHEN ?5 THEN 0 ELSE lockouts END,"
                " locked_until = CASE WHEN ?5 THEN NULL ELSE locked_until END"
                " WHERE id = ?1");
            if (!st) return st.error();
            st->Bind(1, change.admin_id);
            if (change.password_hash)
                st->Bind(2, std::string_view(*change.password_hash));
            else
                st->BindNull(2);
            if (change.totp_secret)
                st->Bind(3, std::string_view(*change.totp_secret));
            else
                st->BindNull(3);
            if (change.disabled)
                st->Bind(4, int64_t{*change.disabled ? 1 : 0});
            else
                st->BindNull(4);
            st->Bind(5, int64_t{change.unlock ? 1 : 0});
            if (auto r = st->Run(); !r) return r.error();
            if (db.Changes() == 0) return Error{ErrorCode::kNotFound, "no such admin", {}};
            if (change.password_hash || change.totp_secret || change.disabled) {
                if (auto r = EndAdminSessions(db, change.admin_id, change.now); !r) return r.error();
            }
            if (auto r = InsertAudit(db, audit, key); !r) return r.error();
            return AdminById(db, change.admin_id);
        },
        std::move(done));
}

void SqliteStore::RecordAdminLoginFailure(int64_t admin_id, SysSeconds now, AdminLockPolicy policy, AuditEntry audit,
                                          Callback<AdminUser> done) {
    done = OpeningAdminSecret(encryption_keys_, std::move(done));
    Submit<AdminUser>(
        [admin_id, now, policy, audit = std::move(audit), key = AuditKey()](Connection& db) -> Result<AdminUser> {
            auto user = AdminById(db, admin_id);
            if (!user) return user.error();
            const AdminUser after = AfterFailedSignIn(std::move(*user), now, policy);
            auto st =
                db.Prepare("UPDATE admin_users SET failed_logins = ?2, lockouts = ?3, locked_until = ?4 WHERE id = ?1");
            if (!st) return st.error();
            st->Bind(1, admin_id).Bind(2, int64_t{after.failed_logins}).Bind(3, int64_t{after.lockouts});
            if (after.locked_until)
                st->Bind(4, FormatUtc(*after.locked_until));
            else
                st->BindNull(4);
            if (auto r = st->Run(); !r) return r.error();
            if (auto r = InsertAudit(db, audit, key); !r) return r.error();
            return AdminById(db, admin_id);
        },
        std::move(done));
}

void SqliteStore::AcceptTotpStep(int64_t admin_id, int64_t step, Callback<bool> done) {
    Submit<bool>(
        [admin_id, step](Connection& db) -> Result<bool> {
            auto st = db.Prepare("UPDATE admin_users SET totp_last_step = ?2 WHERE id = ?1 AND totp_last_step < ?2");
            if (!st) return st.error();
            st->Bind(1, admin_id).Bind(2, step);
            if (auto r = st->Run(); !r) return r.error();
            return db.Changes() == 1;
        },
        std::move(done));
}

void SqliteStore::SignInAdmin(AdminSession session, AuditEntry audit, Callback<void> done) {
    Submit<void>(
        [session = std::move(session), audit = std::move(audit), key = AuditKey()](Connection& db) -> Result<void> {
            auto reset = db.Prepare(
                "UPDATE admin_users SET failed_logins = 0, lockouts = 0, locked_until = NULL, last_login_at = ?2"
                " WHERE id = ?1");
            if (!reset) return reset.error();
            reset->Bind(1, session.admin_id).Bind(2, FormatUtc(session.created_at));
            if (auto r = reset->Run(); !r) return r.error();
            auto st = db.Prepare(
                "INSERT INTO admin_sessions (id_hash, admin_id, csrf_token, ip, user_agent, created_at, last_seen_at,"
                " expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
            if (!st) return st.error();
            st->Bind(1, std::string_view(session.id_hash))
                .Bind(2, session.admin_id)
                .Bind(3, std::string_view(session.csrf_token))
                .Bind(4, std::string_view(session.ip))
                .Bind(5, std::string_view(session.user_agent))
                .Bind(6, FormatUtc(session.created_at))
                .Bind(7, FormatUtc(session.last_seen_at))
                .Bind(8, FormatUtc(session.expires_at));
            if (auto r = st->Run(); !r) return r.error();
            if (auto r = InsertAudit(db, audit, key); !r) return r.error();
            return {};
        },
        std::move(done));
}

Result<std::optional<AdminSession>> SqliteStore::FindAdminSession(const std::string& id_hash, SysSeconds now,
                                                                  std::chrono::seconds idle) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto st = (*db)->Prepare(
        "SELECT s.id_hash, s.admin_id, s.csrf_token, s.ip, s.user_agent, s.created_at, s.last_seen_at, s.expires_at"
        " FROM admin_sessions s JOIN admin_users u ON u.id = s.admin_id"
        " WHERE s.id_hash = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2 AND s.last_seen_at > ?3"
        " AND u.disabled = 0");
    if (!st) return st.error();
    st->Bind(1, std::string_view(id_hash)).Bind(2, FormatUtc(now)).Bind(3, FormatUtc(now - idle));
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) return std::optional<AdminSession>();
    AdminSession out;
    out.id_hash = st->Text(0);
    out.admin_id = st->Int(1);
    out.csrf_token = st->Text(2);
    out.ip = st->Text(3);
    out.user_agent = st->Text(4);
    out.created_at = ParseUtc(st->Text(5)).value_or(SysSeconds{});
    out.last_seen_at = ParseUtc(st->Text(6)).value_or(SysSeconds{});
    out.expires_at = ParseUtc(st->Text(7)).value_or(SysSeconds{});
    return std::optional<AdminSession>(std::move(out));
}

void SqliteStore::TouchAdminSession(std::string id_hash, SysSeconds now, Callback<void> done) {
    Submit<void>(
        [id_hash = std::move(id_hash), now](Connection& db) -> Result<void> {
            auto st = db.Prepare(
                "UPDATE admin_sessions SET last_seen_at = ?2 WHERE id_hash = ?1 AND revoked_at IS NULL"
                " AND last_seen_at < ?2");
            if (!st) return st.error();
            st->Bind(1, std::string_view(id_hash)).Bind(2, FormatUtc(now));
            return st->Run();
        },
        std::move(done));
}

void SqliteStore::RevokeAdminSession(std::string id_hash, SysSeconds now, AuditEntry audit, Callback<int64_t> done) {
    Submit<int64_t>(
        [id_hash = std::move(id_hash), now, audit = std::move(audit),
         key = AuditKey()](Connection& db) -> Result<int64_t> {
            auto st = db.Prepare("UPDATE admin_sessions SET revoked_at = ?2 WHERE id_hash = ?1 AND revoked_at IS NULL");
            if (!st) return st.error();
            st->Bind(1, std::string_view(id_hash)).Bind(2, FormatUtc(now));
            if (auto r = st->Run(); !r) return r.error();
            const int64_t ended = db.Changes();
            if (ended > 0) {
                if (auto r = InsertAudit(db, audit, key); !r) return r.error();
            }
            return ended;
        },
        std::move(done));
}

void SqliteStore::AppendAudit(AuditEntry entry, Callback<AuditEntry> done) {
    Submit<AuditEntry>([entry = std::move(entry),
                        key = AuditKey()](Connection& db) -> Result<AuditEntry> { return InsertAudit(db, entry, key); },
                       std::move(done));
}

Result<std::vector<AuditEntry>> SqliteStore::ListAudit(const AuditQuery& query) {
    auto db = LeaseReader();
    if (!db) return db.error();
    const std::string sql = std::string("SELECT ") + kAuditColumns +
                            " FROM audit_log WHERE (?1 = '' OR substr(action, 1, length(?1)) = ?1)"
                            " AND (?2 = '' OR actor = ?2) AND (?3 = '' OR target = ?3) AND (?4 IS NULL OR id < ?4)"
                            " ORDER BY id DESC LIMIT ?5";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, std::string_view(query.action_prefix))
        .Bind(2, std::string_view(query.actor))
        .Bind(3, std::string_view(query.target));
    if (query.before_id)
        st->Bind(4, *query.before_id);
    else
        st->BindNull(4);
    st->Bind(5, static_cast<int64_t>(query.limit));
    return Collect<AuditEntry>(*st, ReadAudit);
}

Result<AuditVerification> SqliteStore::VerifyAuditChain() {
    auto db = LeaseReader();
    if (!db) return db.error();
    const std::string sql = std::string("SELECT ") + kAuditColumns + " FROM audit_log ORDER BY id";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    const std::string key = AuditKey();
    AuditVerification out;
    std::string prev;
    for (;;) {
        auto row = st->Step();
        if (!row) return row.error();
        if (!*row) return out;
        const AuditEntry entry = ReadAudit(*st);
        ++out.rows;
        if (!out.first_broken_id && (entry.prev_hash != prev || AuditRowHash(key, entry) != entry.row_hash)) {
            out.first_broken_id = entry.id;
        }
        prev = entry.row_hash;
    }
}

}  // namespace gpuopt::store::sqlite
