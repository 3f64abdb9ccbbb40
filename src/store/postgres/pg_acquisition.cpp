// PgStore as a SqlRunner: the portable domains' statements (store/acquisition.hpp) on its connections,
// their ?N placeholders turned into $N.
#include <unordered_map>

#include "store/postgres/pg_store.hpp"
#include "store/postgres/pg_store_internal.hpp"

namespace gpuopt::store::postgres {

namespace {

// "?12" becomes "$12" outside quoted text; the statements use no other question marks.
std::string Dollars(std::string_view sql) {
    std::string out;
    out.reserve(sql.size());
    bool quoted = false;
    for (size_t i = 0; i < sql.size(); ++i) {
        const char c = sql[i];
        if (c == '\'') quoted = !quoted;
        if (!quoted && c == '?' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
            out.push_back('$');
            continue;
        }
        out.push_back(c);
    }
    return out;
}

class PgSession final : public SqlSession {
public:
    PgSession(Connection& db, std::string audit_key, bool writer)
        : db_(db), audit_key_(std::move(audit_key)), writer_(writer) {}

    Result<SqlRows> Query(std::string_view sql, const SqlArgs& args) override {
        Params params;
        for (const auto& value : args.values()) {
            if (std::holds_alternative<int64_t>(value)) {
                params.Add(std::get<int64_t>(value));
            } else if (std::holds_alternative<double>(value)) {
                params.Add(std::get<double>(value));
            } else if (std::holds_alternative<std::string>(value)) {
                params.Add(std::string_view(std::get<std::string>(value)));
            } else {
                params.AddNull();
            }
        }
        auto rows = db_.Query(Translated(sql), params);
        if (!rows) return rows.error();
        SqlRows out;
        const int columns = rows->columns();
        for (int r = 0; r < rows->size(); ++r) {
            std::vector<std::optional<std::string>> row;
            row.reserve(static_cast<size_t>(columns));
            for (int c = 0; c < columns; ++c) {
                if (rows->IsNull(r, c)) {
                    row.emplace_back(std::nullopt);
                } else {
                    row.emplace_back(std::string(rows->Text(r, c)));
                }
            }
            out.AddRow(std::move(row));
        }
        return out;
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
    // The same statements come back again and again: each is translated once per thread.
    static const std::string& Translated(std::string_view sql) {
        thread_local std::unordered_map<std::string, std::string> cache;
        auto it = cache.find(std::string(sql));
        if (it == cache.end()) it = cache.emplace(std::string(sql), Dollars(sql)).first;
        return it->second;
    }

    Connection& db_;
    std::string audit_key_;
    bool writer_;
};

}  // namespace

Result<void> PgStore::Read(const std::function<Result<void>(SqlSession&)>& work) {
    auto db = LeaseReader();
    if (!db) return db.error();
    PgSession session(**db, {}, false);
    return work(session);
}

void PgStore::Write(std::function<Result<void>(SqlSession&)> work, Callback<void> done) {
    // Each job runs under a savepoint of the writer's, undone when it answers an error (RunInTransaction).
    Submit<void>(
        [work = std::move(work), key = AuditKey()](Connection& db) -> Result<void> {
            PgSession session(db, key, true);
            return work(session);
        },
        std::move(done));
}

}  // namespace gpuopt::store::postgres
