// PgStore: sign-in links and web sessions (store/sessions.hpp).
#include "store/postgres/connection.hpp"
#include "store/postgres/pg_store.hpp"
#include "store/postgres/pg_store_internal.hpp"

namespace gpuopt::store::postgres {

namespace {

constexpr const char* kSessionColumns = "id_hash, account_id, csrf_token, created_at, last_seen_at, expires_at";

Session ReadSession(const Rows& r, int i) {
    Session out;
    out.id_hash = std::string(r.Text(i, 0));
    out.account_id = r.Int(i, 1);
    out.csrf_token = std::string(r.Text(i, 2));
    out.created_at = TimeAt(r, i, 3);
    out.last_seen_at = TimeAt(r, i, 4);
    out.expires_at = TimeAt(r, i, 5);
    return out;
}

}  // namespace

Result<std::optional<int64_t>> PgStore::AccountIdForEmail(const std::string& email) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query("SELECT id FROM accounts WHERE email = $1 AND disabled_at IS NULL", Params().Add(email));
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<int64_t>();
    return std::optional<int64_t>(rows->Int(0, 0));
}

void PgStore::CreateSignInLink(NewSignInLink link, Callback<void> done) {
    Submit<void>(
        [link = std::move(link)](Connection& db) -> Result<void> {
            // Only the newest link signs in: the older unused ones are closed with it.
            auto close = db.Query(
                "UPDATE sign_in_links SET replaced_at = $2 WHERE account_id = $1 AND used_at IS NULL"
                " AND replaced_at IS NULL",
                Params().Add(link.account_id).Add(FormatUtc(link.now)));
            if (!close) return close.error();
            auto rows = db.Query(
                "INSERT INTO sign_in_links (token_hash, account_id, ip, created_at, expires_at)"
                " VALUES ($1, $2, $3, $4, $5)",
                Params()
                    .Add(link.token_hash)
                    .Add(link.account_id)
                    .Add(link.ip)
                    .Add(FormatUtc(link.now))
                    .Add(FormatUtc(link.expires_at)));
            if (!rows) return rows.error();
            if (link.mail) {
                if (auto r = InsertOutbox(db, *link.mail, link.now); !r) return r.error();
            }
            return {};
        },
        std::move(done));
}

Result<int64_t> PgStore::CountSignInLinks(int64_t account_id, SysSeconds since) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query("SELECT COUNT(*) FROM sign_in_links WHERE account_id = $1 AND created_at >= $2",
                             Params().Add(account_id).Add(FormatUtc(since)));
    if (!rows) return rows.error();
    return rows->Int(0, 0);
}

void PgStore::RedeemSignInLink(std::string token_hash, SysSeconds now, Callback<std::optional<int64_t>> done) {
    Submit<std::optional<int64_t>>(
        [token_hash = std::move(token_hash), now](Connection& db) -> Result<std::optional<int64_t>> {
            // One statement marks it used only while it is usable, so two redeemers cannot both get it.
            auto rows = db.Query(
                "UPDATE sign_in_links SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL"
                " AND replaced_at IS NULL AND expires_at > $2 RETURNING account_id",
                Params().Add(token_hash).Add(FormatUtc(now)));
            if (!rows) return rows.error();
            if (rows->empty()) return std::optional<int64_t>();
            return std::optional<int64_t>(rows->Int(0, 0));
        },
        std::move(done));
}

void PgStore::CreateSession(Session session, Callback<void> done) {
    Submit<void>(
        [session = std::move(session)](Connection& db) -> Result<void> {
            auto rows = db.Query(
                "INSERT INTO web_sessions (id_hash, account_id, csrf_token, created_at, last_seen_at, expires_at)"
                " VALUES ($1, $2, $3, $4, $5, $6)",
                Params()
                    .Add(session.id_hash)
                    .Add(session.account_id)
                    .Add(session.csrf_token)
                    .Add(FormatUtc(session.created_at))
                    .Add(FormatUtc(session.last_seen_at))
                    .Add(FormatUtc(session.expires_at)));
            if (!rows) return rows.error();
            return {};
        },
        std::move(done));
}

Result<std::optional<Session>> PgStore::FindSession(const std::string& id_hash, SysSeconds now,
                                                    std::chrono::seconds idle) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string("SELECT ") + kSessionColumns +
                                   " FROM web_sessions WHERE id_hash = $1 AND revoked_at IS NULL"
                                   " AND expires_at > $2 AND last_seen_at > $3";
    auto rows = (*db)->Query(sql, Params().Add(id_hash).Add(FormatUtc(now)).Add(FormatUtc(now - idle)));
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<Session>();
    return std::optional<Session>(ReadSession(*rows, 0));
}

void PgStore::TouchSession(std::string id_hash, SysSeconds now, Callback<void> done) {
    Submit<void>(
        [id_hash = std::move(id_hash), now](Connection& db) -> Result<void> {
            auto rows = db.Query(
                "UPDATE web_sessions SET last_seen_at = $2 WHERE id_hash = $1 AND revoked_at IS NULL"
                " AND last_seen_at < $2",
                Params().Add(id_hash).Add(FormatUtc(now)));
            if (!rows) return rows.error();
            return {};
        },
        std::move(done));
}

void PgStore::RevokeSession(std::string id_hash, SysSeconds now, Callback<int64_t> done) {
    Submit<int64_t>(
        [id_hash = std::move(id_hash), now](Connection& db) -> Result<int64_t> {
            auto rows = db.Query("UPDATE web_sessions SET revoked_at = $2 WHERE id_hash = $1 AND revoked_at IS NULL",
                                 Params().Add(id_hash).Add(FormatUtc(now)));
            if (!rows) return rows.error();
            return rows->Affected();
        },
        std::move(done));
}

void PgStore::RevokeAccountSessions(int64_t account_id, SysSeconds now, Callback<int64_t> done) {
    Submit<int64_t>(
        [account_id, now](Connection& db) -> Result<int64_t> {
            auto rows = db.Query("UPDATE web_sessions SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL",
                                 Params().Add(account_id).Add(FormatUtc(now)));
            if (!rows) return rows.error();
            return rows->Affected();
        },
        std::move(done));
}

void PgStore::PruneSessions(SysSeconds before, Callback<int64_t> done) {
    Submit<int64_t>(
        [before](Connection& db) -> Result<int64_t> {
            const std::string cut = FormatUtc(before);
            int64_t removed = 0;
            for (const char* sql : {"DELETE FROM sign_in_links WHERE expires_at < $1",
                                    "DELETE FROM web_sessions WHERE expires_at < $1 OR revoked_at < $1",
                                    "DELETE FROM admin_sessions WHERE expires_at < $1 OR revoked_at < $1"}) {
                auto rows = db.Query(sql, Params().Add(cut));
                if (!rows) return rows.error();
                removed += rows->Affected();
            }
            return removed;
        },
        std::move(done));
}

}  // namespace gpuopt::store::postgres
