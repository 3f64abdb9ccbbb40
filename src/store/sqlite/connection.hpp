// RAII over one sqlite3 connection and its cached prepared statements. A Connection is used by one
// thread at a time (the store guarantees it), so the library's own mutexes are turned off.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace gpuopt::store::sqlite {

// A cached statement in use. Resets itself and clears its bindings when it goes out of scope.
class Statement {
public:
    explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
    Statement(Statement&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    Statement& operator=(Statement&&) = delete;
    ~Statement();

    // Parameters are 1-based, as in SQL text (?1, ?2 ...).
    Statement& Bind(int index, int64_t value);
    Statement& Bind(int index, int value) { return Bind(index, static_cast<int64_t>(value)); }
    Statement& Bind(int index, double value);
    Statement& Bind(int index, std::string_view value);
    Statement& Bind(int index, const std::optional<double>& value);
    Statement& BindNull(int index);
    Statement& BindBlob(int index, std::string_view bytes);

    // true: a row is ready; false: done. Errors map unique-constraint failures to kAlreadyExists.
    Result<bool> Step();
    // Runs to completion, for statements that return no rows.
    Result<void> Run();

    int64_t Int(int column) const;
    double Double(int column) const;
    std::string Text(int column) const;
    // Valid until the next Step or the statement's end.
    std::string_view TextView(int column) const;
    // A BLOB's bytes, valid as TextView.
    std::string_view BlobView(int column) const;
    bool IsNull(int column) const;

private:
    sqlite3_stmt* stmt_;
};

class Connection {
public:
    // Opens (creating when `create`) the database file and applies the connection pragmas.
    static Result<std::unique_ptr<Connection>> Open(const std::string& path, bool create);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    Result<void> Exec(const char* sql);
    // Runs one statement that returns no rows through the statement cache (for hot fixed SQL such as
    // SAVEPOINT and COMMIT, which Exec would parse on every call).
    Result<void> Run(const char* sql);
    Result<Statement> Prepare(const char* sql);
    int64_t Changes() const;
    int64_t LastInsertId() const;
    sqlite3* raw() const { return db_; }

private:
    explicit Connection(sqlite3* db) : db_(db) {}
    sqlite3* db_;
    std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

// Builds the store error for a failed SQLite call and logs the detail (the client sees none of it).
Error SqliteError(sqlite3* db, int rc, std::string_view what);

}  // namespace gpuopt::store::sqlite
