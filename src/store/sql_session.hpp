// Portable SQL for the domains written once for both backends (store/acquisition.hpp): statements in the
// subset SQLite and PostgreSQL share, with ?1, ?2 ... placeholders (PostgreSQL gets $1, $2 ...), values
// bound as text, and every row read back as text. A statement casts a parameter whose type its context
// does not settle (CAST(?1 AS BIGINT)); times are integer Unix seconds (decision 0030).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.hpp"
#include "common/time.hpp"
#include "store/admin.hpp"
#include "store/callback.hpp"
#include "store/outbox.hpp"

namespace gpuopt::store {

using SqlValue = std::variant<std::monostate, int64_t, double, std::string>;

class SqlArgs {
public:
    SqlArgs& Add(int64_t value);
    SqlArgs& Add(int value) { return Add(static_cast<int64_t>(value)); }
    SqlArgs& Add(double value);
    SqlArgs& Add(std::string_view value);
    SqlArgs& Add(const char* value) { return Add(std::string_view(value)); }
    SqlArgs& Add(const std::string& value) { return Add(std::string_view(value)); }
    SqlArgs& Add(SysSeconds at) { return Add(static_cast<int64_t>(at.time_since_epoch().count())); }
    template <class T>
    SqlArgs& Add(const std::optional<T>& value) {
        return value ? Add(*value) : AddNull();
    }
    SqlArgs& AddNull();
    const std::vector<SqlValue>& values() const { return values_; }

private:
    std::vector<SqlValue> values_;
};

// A statement's rows as text; NULL kept apart from "". Rows and columns are 0-based.
class SqlRows {
public:
    void AddRow(std::vector<std::optional<std::string>> row) { rows_.push_back(std::move(row)); }
    size_t size() const { return rows_.size(); }
    bool empty() const { return rows_.empty(); }
    bool IsNull(size_t row, size_t column) const { return !rows_[row][column].has_value(); }
    const std::string& Text(size_t row, size_t column) const;  // "" for NULL
    int64_t Int(size_t row, size_t column) const;              // 0 for NULL or not a number
    double Double(size_t row, size_t column) const;            // 0 for NULL or not a number
    std::optional<int64_t> OptInt(size_t row, size_t column) const;
    SysSeconds Time(size_t row, size_t column) const;  // from Unix seconds
    std::optional<SysSeconds> OptTime(size_t row, size_t column) const;

private:
    std::vector<std::vector<std::optional<std::string>>> rows_;
};

// One connection's statements: a reader's, or the writer's inside the transaction of one write.
class SqlSession {
public:
    virtual ~SqlSession() = default;
    // A unique-constraint failure answers kAlreadyExists.
    virtual Result<SqlRows> Query(std::string_view sql, const SqlArgs& args = {}) = 0;
    // Writes only: the mail, unless one with its dedup key exists (answers whether it was new), and an
    // audit row chained after the newest one. Both join the write's transaction.
    virtual Result<bool> EnqueueMail(const OutboxMessage& message, SysSeconds now) = 0;
    virtual Result<void> AppendAudit(const AuditEntry& entry) = 0;
};

// How a backend lends its connections to portable code.
class SqlRunner {
public:
    virtual ~SqlRunner() = default;
    // On a reader connection, on the caller's thread.
    virtual Result<void> Read(const std::function<Result<void>(SqlSession&)>& work) = 0;
    // One write job on the writer: `work` runs in a transaction with other writes and may run again
    // when the batch is retried; what it changed is undone when it answers an error. `done` runs once the
    // transaction is durable (or has failed).
    virtual void Write(std::function<Result<void>(SqlSession&)> work, Callback<void> done) = 0;
};

}  // namespace gpuopt::store
