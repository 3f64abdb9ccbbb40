// SqliteStore as a SqlRunner: the portable domains' statements (store/acquisition.hpp) on its connections.
// These statements are few and seldom run, so each is prepared for its call rather than cached.
#include <sqlite3.h>

#include <memory>

#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"

namespace gpuopt::store::sqlite {

namespace {

struct Finalize {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};

class SqliteSession final : public SqlSession {
public:
    SqliteSession(Connection& db, std::string audit_key, bool writer)
        : db_(db), audit_key_(std::move(audit_key)), writer_(writer) {}

    Result<SqlRows> Query(std::string_view sql, const SqlArgs& args) override {
        sqlite3* raw = db_.raw();
        sqlite3_stmt* prepared = nullptr;
        int rc = sqlite3_prepare_v3(raw, sql.data(), static_cast<int>(sql.size()), 0, &prepared, nullptr);
        if (rc != SQLITE_OK) return SqliteError(raw, rc, sql);
        std::unique_ptr<sqlite3_stmt, Finalize> stmt(prepared);
        int index = 1;
        for (const auto& value : args.values()) {
            if (std::holds_alternative<int64_t>(value)) {
                rc = sqlite3_bind_int64(prepared, index, std::get<int64_t>(value));
            } else if (std::holds_alternative<double>(value)) {
                rc = sqlite3_bind_double(prepared, index, std::get<double>(value));
            } else if (std::holds_alternative<std::string>(value)) {
                const auto& text = std::get<std::string>(value);
                rc = sqlite3_bind_text(prepared, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
            } else {
                rc = sqlite3_bind_null(prepared, index);
            }
            if (rc != SQLITE_OK) return SqliteError(raw, rc, sql);
            ++index;
        }
        SqlRows rows;
        const int columns = sqlite3_column_count(prepared);
        for (;;) {
            rc = sqlite3_step(prepared);
            if (rc == SQLITE_DONE) return rows;
            if (rc != SQLITE_ROW) return SqliteError(raw, sqlite3_extended_errcode(raw), sql);
            std::vector<std::optional<std::string>> row;
            row.reserve(static_cast<size_t>(columns));
            for (int c = 0; c < columns; ++c) {
                if (sqlite3_column_type(prepared, c) == SQLITE_NULL) {
                    row.emplace_back(std::nullopt);
                    continue;
                }
                const auto* text = sqlite3_column_text(prepared, c);
                row.emplace_back(std::string(reinterpret_cast<const char*>(text),
                                             static_cast<size_t>(sqlite3_column_bytes(prepared, c))));
            }
            rows.AddRow(std::move(row));
        }
    }

    Result<bool> EnqueueMail(const OutboxMessage& message, SysSeconds now) override {
        if (!writer_) return Error{ErrorCode::kInternal, "a mail queued from a read", {}};
        return InsertOutbox(db_, message, now);
    }

    Result<void> AppendAudit(const AuditEntry& entry) override {
        if (!writer_) return Error{ErrorCode::kInternal, "an audit row written from a read", {}};
        auto r = InsertAudit(db_, entry, audit_key_);
        if (!r) return r.error();
        return {};
    }

private:
    Connection& db_;
    std::string audit_key_;
    bool writer_;
};

}  // namespace

Result<void> SqliteStore::Read(const std::function<Result<void>(SqlSession&)>& work) {
    auto db = LeaseReader();
    if (!db) return db.error();
    SqliteSession session(**db, {}, false);
    return work(session);
}

void SqliteStore::Write(std::function<Result<void>(SqlSession&)> work, Callback<void> done) {
    // The writer keeps a failed job's statements unless it fails internally (RunBatch): a savepoint of its
    // own undoes a portable write that answers an error after it changed something.
    Submit<void>(
        [work = std::move(work), key = AuditKey()](Connection& db) -> Result<void> {
            if (auto r = db.Run("SAVEPOINT portable"); !r) return r.error();
            SqliteSession session(db, key, true);
            auto result = work(session);
            if (!result) {
                if (auto r = db.Run("ROLLBACK TO portable"); !r) return r.error();
            }
            if (auto r = db.Run("RELEASE portable"); !r) return r.error();
            return result;
        },
        std::move(done));
}

}  // namespace gpuopt::store::sqlite
