#include "store/sqlite/connection.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

namespace gpuopt::store::sqlite {

Error SqliteError(sqlite3* db, int rc, std::string_view what) {
    if ((rc & 0xff) == SQLITE_CONSTRAINT && (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)) {
        return Error{ErrorCode::kAlreadyExists, "already exists", {}};
    }
    spdlog::error("sqlite: {} failed: {} ({})", what, db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
    switch (rc & 0xff) {
        case SQLITE_FULL:   // the disk (or a file size limit) is full
        case SQLITE_IOERR:  // a write or sync failed
        case SQLITE_BUSY:   // another process holds the database past the busy timeout
        case SQLITE_LOCKED:
        case SQLITE_READONLY:  // the file or its folder turned read-only
        case SQLITE_CANTOPEN:
        case SQLITE_NOMEM:
            return Error{ErrorCode::kUnavailable, "The store cannot write now; nothing was changed. Retry later", {}};
        default:
            return Error{ErrorCode::kInternal, "internal error", {}};
    }
}

Statement::~Statement() {
    if (stmt_ != nullptr) {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
}

Statement& Statement::Bind(int index, int64_t value) {
    sqlite3_bind_int64(stmt_, index, value);
    return *this;
}

Statement& Statement::Bind(int index, double value) {
    sqlite3_bind_double(stmt_, index, value);
    return *this;
}

Statement& Statement::Bind(int index, std::string_view value) {
    // An empty view may have no data at all: it is still the empty text, never NULL.
    sqlite3_bind_text(stmt_, index, value.data() != nullptr ? value.data() : "", static_cast<int>(value.size()),
                      SQLITE_TRANSIENT);
    return *this;
}

Statement& Statement::BindBlob(int index, std::string_view bytes) {
    sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
    return *this;
}

Statement& Statement::Bind(int index, const std::optional<double>& value) {
    return value ? Bind(index, *value) : BindNull(index);
}

Statement& Statement::BindNull(int index) {
    sqlite3_bind_null(stmt_, index);
    return *this;
}

Result<bool> Statement::Step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqliteError(sqlite3_db_handle(stmt_), sqlite3_extended_errcode(sqlite3_db_handle(stmt_)),
                       sqlite3_sql(stmt_));
}

Result<void> Statement::Run() {
    for (;;) {
        auto r = Step();
        if (!r) return r.error();
        if (!*r) return {};
    }
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::Double(int column) const { return sqlite3_column_double(stmt_, column); }
bool Statement::IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
std::string Statement::Text(int column) const {
    const auto* p = sqlite3_column_text(stmt_, column);
    return p == nullptr ? std::string()
                        : std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, column));
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path, bool create) {
    sqlite3* db = nullptr;
    const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    std::unique_ptr<Connection> conn(new Connection(db));  // owns db even when open failed
    if (rc != SQLITE_OK) return SqliteError(db, rc, "open " + path);
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, 5000);
    for (const char* pragma : {"PRAGMA foreign_keys=ON", "PRAGMA synchronous=FULL", "PRAGMA temp_store=MEMORY"}) {
        if (auto r = conn->Exec(pragma); !r) return r.error();
    }
    return conn;
}

std::string_view Statement::TextView(int column) const {
    const auto* p = sqlite3_column_text(stmt_, column);
    return p == nullptr ? std::string_view()
                        : std::string_view(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, column));
}

std::string_view Statement::BlobView(int column) const {
    const void* p = sqlite3_column_blob(stmt_, column);
    return p == nullptr ? std::string_view()
                        : std::string_view(static_cast<const char*>(p),
                                           static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

Connection::~Connection() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
}

Result<void> Connection::Exec(const char* sql) {
    char* msg = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &msg);
    sqlite3_free(msg);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, sql);
    return {};
}

Result<void> Connection::Run(const char* sql) {
    auto stmt = Prepare(sql);
    if (!stmt) return stmt.error();
    return stmt->Run();
}

Result<Statement> Connection::Prepare(const char* sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
        sqlite3_stmt* stmt = nullptr;
        const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
        if (rc != SQLITE_OK) return SqliteError(db_, rc, sql);
        it = cache_.emplace(sql, stmt).first;
    }
    return Statement(it->second);
}

int64_t Connection::Changes() const { return sqlite3_changes64(db_); }
int64_t Connection::LastInsertId() const { return sqlite3_last_insert_rowid(db_); }

}  // namespace gpuopt::store::sqlite
