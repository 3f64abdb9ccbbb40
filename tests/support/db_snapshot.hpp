// Reads a SQLite database from outside the server, to check what it stored (or did not).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gpuopt::testing {

// Every row of every table, in a stable order, as text: equal snapshots mean an unchanged database.
std::string DatabaseSnapshot(const std::string& db_path);

// SELECT COUNT(*) ... with one optional text parameter bound to ?1.
int64_t CountRows(const std::string& db_path, const std::string& sql, const std::string& param = "");

// The first column of every row of `sql`, as text (NULL as "").
std::vector<std::string> QueryColumn(const std::string& db_path, const std::string& sql);

}  // namespace gpuopt::testing
