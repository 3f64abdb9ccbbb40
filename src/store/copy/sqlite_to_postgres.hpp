// Copies a SQLite database of ours into a PostgreSQL one (`gpuopt migrate --from sqlite:PATH --to
// postgresql://...`): the way a team moves from one machine to several servers without losing anything.
//
// The target gets the PostgreSQL schema first; then each table is copied in key order, in chunks, each
// chunk in one transaction together with a note of how far it got (copy_progress), so a copy that stops
// (a crash, a dropped connection, --max-rows) continues where it was. Ids are kept. A target that holds
// data and was not being filled from the same file is refused unless `force` is set. At the end every
// table is verified: rows counted and hashed on both sides, value by value (doubles exactly).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace gpuopt::store::copy {

struct CopyOptions {
    std::string sqlite_path;   // migrated to the latest SQLite schema first
    std::string postgres_url;  // postgresql://...
    bool force = false;        // copy into a target that already holds other data
    size_t batch_rows = 5000;  // rows per transaction
    size_t max_rows = 0;       // stop after about this many rows (0: copy everything); run again to go on
};

struct TableCheck {
    std::string table;
    int64_t source_rows = 0;
    int64_t target_rows = 0;
    std::string source_hash;  // BLAKE2b-256 of the rows in key order, hex
    std::string target_hash;
    bool Same() const { return source_rows == target_rows && source_hash == target_hash; }
};

struct CopyReport {
    bool finished = false;           // false: stopped at max_rows; nothing was verified
    int64_t rows_copied = 0;         // by this run
    std::vector<TableCheck> tables;  // when finished
    bool Verified() const;
};

// `progress` is told about each table as it goes (for the command's output).
Result<CopyReport> CopySqliteToPostgres(const CopyOptions& options,
                                        const std::function<void(const std::string&)>& progress);

}  // namespace gpuopt::store::copy
