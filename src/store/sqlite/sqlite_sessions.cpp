// SqliteStore: sign-in links and web sessions (store/sessions.hpp).
#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"

namespace gpuopt::store::sqlite {

namespace {

constexpr const char* kSessionColumns = "id_hash, account_id, csrf_token, created_at, last_seen_at, expires_at";

Session ReadSession(const Statement& s) {
    Session out;
    out.id_hash = s.Text(0);
    out.account_id = s.Int(1);
    out.csrf_token = s.Text(2);
    out.created_at = ParseUtc(s.Text(3)).value_or(SysSeconds{});
    out.last_seen_at = ParseUtc(s.Text(4)).value_or(SysSeconds{});
    out.expires_at = ParseUtc(s.Text(5)).value_or(SysSeconds{});
    return out;
}

}  // namespace

Result<std::optional<int64_t>> SqliteStore::AccountIdForEmail(const std::string& email) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto st = (*db)->Prepare("SELECT id FROM accounts WHERE email = ?1 AND disabled_at IS NULL");
    if (!st) return st.error();
    st->Bind(1, std::string_view(email));
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) return std::optional<int64_t>();
    return std::optional<int64_t>(st->Int(0));
}

void SqliteStore::CreateSignInLink(NewSignInLink link, Callback<void> done) {
    Submit<void>(
        [link = std::move(link)](Connection& db) -> Result<void> {
            // Only the newest link signs in: the older unused ones are closed with it.
            auto close = db.Prepare(
                "UPDATE sign_in_links SET replaced_at = ?2 WHERE account_id = ?1 AND used_at IS NULL"
                " AND replaced_at IS NULL");
            if (!close) return close.error();
            close->Bind(1, link.account_id).Bind(2, FormatUtc(link.now));
            if (auto r = close->Run(); !r) return r.error();
            auto st = db.Prepare(
                "INSERT INTO sign_in_links (token_hash, account_id, ip, created_at, expires_at)"
                " VALUES (?1, ?2, ?3, ?4, ?5)");
            if (!st) return st.error();
            st->Bind(1, std::string_view(link.token_hash))
                .Bind(2, link.account_id)
                .Bind(3, std::string_view(link.ip))
                .Bind(4, FormatUtc(link.now))
                .Bind(5, FormatUtc(link.expires_at));
            if (auto r = st->Run(); !r) return r;
            if (link.mail) {
                if (auto r = InsertOutbox(db, *link.mail, link.now); !r) return r.error();
            }
            return {};
        },
        std::move(done));
}

Result<int64_t> SqliteStore::CountSignInLinks(int64_t account_id, SysSeconds since) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto st = (*db)->Prepare("SELECT COUNT(*) FROM sign_in_links WHERE account_id = ?1 AND created_at >= ?2");
    if (!st) return st.error();
    st->Bind(1, account_id).Bind(2, FormatUtc(since));
    auto row = st->Step();
    if (!row) return row.error();
    return st->Int(0);
}

void SqliteStore::RedeemSignInLink(std::string token_hash, SysSeconds now, Callback<std::optional<int64_t>> done) {
    Submit<std::optional<int64_t>>(
        [token_hash = std::move(token_hash), now](Connection& db) -> Result<std::optional<int64_t>> {
            // One statement marks it used only while it is usable, so two redeemers cannot both get it.
            auto st = db.Prepare(
                "UPDATE sign_in_links SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL"
                " AND replaced_at IS NULL AND expires_at > ?2 RETURNING account_id");
            if (!st) return st.error();
            st->Bind(1, std::string_view(token_hash)).Bind(2, FormatUtc(now));
            auto row = st->Step();
            if (!row) return row.error();
            if (!*row) return std::optional<int64_t>();
            return std::optional<int64_t>(st->Int(0));
        },
        std::move(done));
}

void SqliteStore::CreateSession(Session session, Callback<void> done) {
    Submit<void>(
        [session = std::move(session)](Connection& db) -> Result<void> {
            auto st = db.Prepare(
                "INSERT INTO web_sessions (id_hash, account_id, csrf_token, created_at, last_seen_at, expires_at)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
            if (!st) return st.error();
            st->Bind(1, std::string_view(session.id_hash))
                .Bind(2, session.account_id)
                .Bind(3, std::string_view(session.csrf_token))
                .Bind(4, FormatUtc(session.created_at))
                .Bind(5, FormatUtc(session.last_seen_at))
                .Bind(6, FormatUtc(session.expires_at));
            return st->Run();
        },
        std::move(done));
}

Result<std::optional<Session>> SqliteStore::FindSession(const std::string& id_hash, SysSeconds now,
                                                        std::chrono::seconds idle) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string("SELECT ") + kSessionColumns +
                                   " FROM web_sessions WHERE id_hash = ?1 AND revoked_at IS NULL"
                                   " AND expires_at > ?2 AND last_seen_at > ?3";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, std::string_view(id_hash)).Bind(2, FormatUtc(now)).Bind(3, FormatUtc(now - idle));
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) return std::optional<Session>();
    return std::optional<Session>(ReadSession(*st));
}

void SqliteStore::TouchSession(std::string id_hash, SysSeconds now, Callback<void> done) {
    Submit<void>(
        [id_hash = std::move(id_hash), now](Connection& db) -> Result<void> {
            auto st = db.Prepare(
                "UPDATE web_sessions SET last_seen_at = ?2 WHERE id_hash = ?1 AND revoked_at IS NULL"
                " AND last_seen_at < ?2");
            if (!st) return st.error();
            st->Bind(1, std::string_view(id_hash)).Bind(2, FormatUtc(now));
            return st->Run();
        },
        std::move(done));
}

void SqliteStore::RevokeSession(std::string id_hash, SysSeconds now, Callback<int64_t> done) {
    Submit<int64_t>(
        [id_hash = std::move(id_hash), now](Connection& db) -> Result<int64_t> {
            auto st = db.Prepare("UPDATE web_sessions SET revoked_at = ?2 WHERE id_hash = ?1 AND revoked_at IS NULL");
            if (!st) return st.error();
            st->Bind(1, std::string_view(id_hash)).Bind(2, FormatUtc(now));
            if (auto r = st->Run(); !r) return r.error();
            return db.Changes();
        },
        std::move(done));
}

void SqliteStore::RevokeAccountSessions(int64_t account_id, SysSeconds now, Callback<int64_t> done) {
    Submit<int64_t>(
        [account_id, now](Connection& db) -> Result<int64_t> {
            auto st =
                db.Prepare("UPDATE web_sessions SET revoked_at = ?2 WHERE account_id = ?1 AND revoked_at IS NULL");
            if (!st) return st.error();
            st->Bind(1, account_id).Bind(2, FormatUtc(now));
            if (auto r = st->Run(); !r) return r.error();
            return db.Changes();
        },
        std::move(done));
}

void SqliteStore::PruneSessions(SysSeconds before, Callback<int64_t> done) {
    Submit<int64_t>(
        [before](Connection& db) -> Result<int64_t> {
            const std::string cut = FormatUtc(before);
            int64_t removed = 0;
            for (const char* sql : {"DELETE FROM sign_in_links WHERE expires_at < ?1",
                                    "DELETE FROM web_sessions WHERE expires_at < ?1 OR revoked_at < ?1",
                                    "DELETE FROM admin_sessions WHERE expires_at < ?1 OR revoked_at < ?1"}) {
                auto st = db.Prepare(sql);
                if (!st) return st.error();
                st->Bind(1, std::string_view(cut));
                if (auto r = st->Run(); !r) return r.error();
                removed += db.Changes();
            }
            return removed;
        },
        std::move(done));
}

}  // namespace gpuopt::store::sqlite
