// Reads a server's database from outside the server, to check what it stored (or did not). A database is
// named by its location: a SQLite file's path, or a postgresql:// URL.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gpuopt::testing {

// The backend the integration suites run their servers on: SQLite, or PostgreSQL when
// GPUOPT_TEST_BACKEND=postgres (CTest's integration_pg.* tests, on the `services` fixture's server).
bool TestOnPostgres();

// Where a server started in `data_dir` keeps its data: DATA_DIR/gpuopt.db, or on PostgreSQL a database of
// its own made on first use (the same one for every server started in that folder, as a restart needs).
std::string StoreLocation(const std::string& data_dir);
// Drops the PostgreSQL database of that folder, if one was made (TempDir does it when it goes).
void ReleaseStore(const std::string& data_dir);

// Every row of every table, in a stable order, as text: equal snapshots mean an unchanged database. The
// periodic jobs' own bookkeeping (job_leases, job_runs) is left out: it changes with the clock at every
// run, whatever the requests do; so are the marks of authentication (an API key's last use, a web session's
// last activity), which an authenticated request writes whatever it asked.
std::string DatabaseSnapshot(const std::string& location);

// SELECT COUNT(*) ... with one optional text parameter bound to ?1.
int64_t CountRows(const std::string& location, const std::string& sql, const std::string& param = "");

// Runs one statement that changes rows (a test moving a stored time into the past); throws when it fails.
// Written with ?1-style placeholders as CountRows, with one optional text parameter.
void Execute(const std::string& location, const std::string& sql, const std::string& param = "");

// The first column of every row of `sql`, as text (NULL as "").
std::vector<std::string> QueryColumn(const std::string& location, const std::string& sql);

}  // namespace gpuopt::testing
