// The PostgreSQL schema, versioned: each migration runs once, in order, in a transaction of its own, and
// is recorded in schema_migrations. Servers starting together take turns (an advisory lock), so each
// migration is applied by exactly one of them.
#pragma once

#include <vector>

#include "common/result.hpp"
#include "common/time.hpp"

namespace gpuopt::store::postgres {

class Connection;

struct Migration {
    int version;
    const char* name;
    const char* sql;
    // Runs after `sql`, in the same transaction: what SQL alone cannot do.
    Result<void> (*then)(Connection& db) = nullptr;
};

const std::vector<Migration>& Migrations();

// Applies what is missing; answers how many migrations ran. Fails (changing nothing more) when the
// database was migrated by a newer program.
Result<int> Migrate(Connection& db, SysSeconds now);

// The schema version the database is at (0: none).
Result<int> SchemaVersion(Connection& db);

// Raw windows are kept in one partition per UTC day: gpu_windows_YYYYMMDD holds the windows whose end
// falls on that day. Creates the partitions of the days in [from, to] that are missing. A day whose
// windows already went to the default partition keeps them there (the partition is not made; logged).
Result<void> EnsureDayPartitions(Connection& db, SysSeconds from, SysSeconds to);

}  // namespace gpuopt::store::postgres
