// Versioned schema migrations for the SQLite backend. Each applied version is recorded in
// schema_migrations; Migrate() applies the missing ones in order, each in its own transaction.
#pragma once

#include <vector>

#include "common/result.hpp"
#include "common/time.hpp"
#include "store/sqlite/connection.hpp"

namespace gpuopt::store::sqlite {

struct Migration {
    int version;
    const char* name;
    const char* sql;
    // Rebuilds a table other tables refer to: runs with foreign keys off (SQLite's documented way to
    // change a constraint), and checks every reference before it commits.
    bool rebuilds_tables = false;
    // Runs after `sql`, in the same transaction: what SQL alone cannot do.
    Result<void> (*then)(Connection& db) = nullptr;
};

const std::vector<Migration>& Migrations();

// Applies every migration newer than the database's version. Fails (changing nothing further) when the
// database is newer than this program knows, or a migration fails. Returns the number applied.
Result<int> Migrate(Connection& db, SysSeconds now);

}  // namespace gpuopt::store::sqlite
