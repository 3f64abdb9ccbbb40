#include "support/db_snapshot.hpp"

#include <sqlite3.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "store/postgres/connection.hpp"
#include "support/pg_database.hpp"

namespace gpuopt::testing {

namespace {

struct Db {
    sqlite3* db = nullptr;
    explicit Db(const std::string& path) {
        if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
            throw std::runtime_error("cannot open " + path);
        }
        sqlite3_busy_timeout(db, 10000);
    }
    ~Db() { sqlite3_close_v2(db); }
};

bool IsPostgres(const std::string& location) { return location.rfind("postgresql://", 0) == 0; }

std::unique_ptr<store::postgres::Connection> PgConnect(const std::string& url) {
    auto c = store::postgres::Connection::Open({url});
    if (!c) throw std::runtime_error("cannot connect to the test PostgreSQL: " + c.error().message);
    return std::move(*c);
}

// The statements are written for SQLite (?1); PostgreSQL numbers its parameters $1.
std::string PgSql(std::string sql) {
    for (size_t at = sql.find("?1"); at != std::string::npos; at = sql.find("?1", at)) sql.replace(at, 2, "$1");
    return sql;
}

std::mutex stores_mu;
std::map<std::string, std::unique_ptr<PgTestDatabase>>& Stores() {
    static auto* stores = new std::map<std::string, std::unique_ptr<PgTestDatabase>>();
    return *stores;
}

// What a snapshot reads of a table: every column but the bookkeeping of authentication, which any
// authenticated request writes whatever it asked (a key's last use, a session's last activity).
std::string SnapshotColumns(const std::string& table) {
    if (table == "api_keys") return "id, account_id, name, key_hash, key_prefix, created_at, revoked_at";
    if (table == "web_sessions") return "id_hash, account_id, csrf_token, created_at, expires_at, revoked_at";
    if (table == "admin_sessions")
        return "id_hash, admin_id, csrf_token, ip, user_agent, created_at, expires_at, revoked_at";
    return "";
}

std::string PgSnapshot(const std::string& url) {
    auto db = PgConnect(url);
    // Tables and partitioned tables, not their partitions (the parent shows their rows).
    auto tables = db->Query(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        " AND c.relname NOT IN ('job_leases', 'job_runs') ORDER BY c.relname");
    if (!tables) throw std::runtime_error("cannot list tables");
    std::string out;
    for (int i = 0; i < tables->size(); ++i) {
        const std::string name(tables->Text(i, 0));
        out += "## " + name + "\n";
        const std::string columns = SnapshotColumns(name);
        auto rows = db->Exec(columns.empty() ? "SELECT t::text FROM \"" + name + "\" t ORDER BY 1"
                                             : "SELECT (" + columns + ")::text FROM \"" + name + "\" ORDER BY 1");
        if (!rows) throw std::runtime_error("cannot read " + name);
        for (int r = 0; r < rows->size(); ++r) {
            out += rows->Text(r, 0);
            out += '\n';
        }
    }
    return out;
}

}  // namespace

bool TestOnPostgres() {
    const char* backend = std::getenv("GPUOPT_TEST_BACKEND");
    return backend != nullptr && std::string(backend) == "postgres";
}

std::string StoreLocation(const std::string& data_dir) {
    if (!TestOnPostgres()) return data_dir + "/gpuopt.db";
    std::lock_guard lock(stores_mu);
    auto& db = Stores()[data_dir];
    if (!db) db = std::make_unique<PgTestDatabase>();
    return db->Url();
}

void ReleaseStore(const std::string& data_dir) {
    std::unique_ptr<PgTestDatabase> gone;
    std::lock_guard lock(stores_mu);
    auto it = Stores().find(data_dir);
    if (it == Stores().end()) return;
    gone = std::move(it->second);
    Stores().erase(it);
}

std::string DatabaseSnapshot(const std::string& db_path) {
    if (IsPostgres(db_path)) return PgSnapshot(db_path);
    Db db(db_path);
    std::vector<std::string> tables;
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(
        db.db,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('job_leases', 'job_runs') ORDER BY name",
        -1, &stmt, nullptr);
    while (sqlite3_step(stmt) == SQLITE_ROW)
        tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
    sqlite3_finalize(stmt);
    std::string out;
    for (const auto& t : tables) {
        out += "## " + t + "\n";
        const std::string columns = SnapshotColumns(t);
        const std::string sql =
            "SELECT " + (columns.empty() ? std::string("*") : columns) + " FROM \"" + t + "\" ORDER BY 1";
        sqlite3_prepare_v2(db.db, sql.c_str(), -1, &stmt, nullptr);
        while (sqlite3_step(stmt) == SQLITE_ROW) {
            for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
                const auto* v = sqlite3_column_text(stmt, i);
                out += v == nullptr ? "NULL" : reinterpret_cast<const char*>(v);
                out += '|';
            }
            out += '\n';
        }
        sqlite3_finalize(stmt);
    }
    return out;
}

int64_t CountRows(const std::string& db_path, const std::string& sql, const std::string& param) {
    if (IsPostgres(db_path)) {
        auto db = PgConnect(db_path);
        store::postgres::Params params;
        if (!param.empty()) params.Add(param);
        auto rows = db->Query(PgSql(sql), params);
        if (!rows) throw std::runtime_error("bad SQL: " + sql);
        return rows->empty() ? -1 : rows->Int(0, 0);
    }
    Db db(db_path);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db.db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
        throw std::runtime_error(std::string("bad SQL: ") + sqlite3_errmsg(db.db));
    }
    if (!param.empty()) sqlite3_bind_text(stmt, 1, param.c_str(), -1, SQLITE_TRANSIENT);
    int64_t n = -1;
    if (sqlite3_step(stmt) == SQLITE_ROW) n = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return n;
}

void Execute(const std::string& db_path, const std::string& sql, const std::string& param) {
    if (IsPostgres(db_path)) {
        auto db = PgConnect(db_path);
        store::postgres::Params params;
        if (!param.empty()) params.Add(param);
        if (!db->Query(PgSql(sql), params)) throw std::runtime_error("bad SQL: " + sql);
        return;
    }
    Db db(db_path);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db.db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
        throw std::runtime_error(std::string("bad SQL: ") + sqlite3_errmsg(db.db));
    }
    if (!param.empty()) sqlite3_bind_text(stmt, 1, param.c_str(), -1, SQLITE_TRANSIENT);
    const int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) throw std::runtime_error(std::string("failed: ") + sql);
}

std::vector<std::string> QueryColumn(const std::string& db_path, const std::string& sql) {
    std::vector<std::string> out;
    if (IsPostgres(db_path)) {
        auto pg = PgConnect(db_path);
        auto rows = pg->Query(PgSql(sql));
        if (!rows) return out;
        for (int i = 0; i < rows->size(); ++i) out.emplace_back(rows->Text(i, 0));
        return out;
    }
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(db);
        return out;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
        while (sqlite3_step(stmt) == SQLITE_ROW) {
            const auto* text = sqlite3_column_text(stmt, 0);
            out.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
        }
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return out;
}

}  // namespace gpuopt::testing
