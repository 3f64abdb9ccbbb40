// The history jobs: the hourly roll-up of new report windows, and retention (raw windows after
// RAW_RETENTION_DAYS, roll-up hours after HOURLY_RETENTION_DAYS). Both work in bounded chunks, each its
// own short transaction, so ingest keeps flowing while they catch up; both are safe to run twice.
#pragma once

#include <cstdint>

#include "analysis/history.hpp"
#include "store/usage.hpp"

namespace gpuopt::jobs {

struct RollupResult {
    int64_t windows = 0;  // raw windows merged
    int64_t hours = 0;    // hour rows written
};

// Merges every window stored after the watermark into the hours, `chunk` windows per transaction.
Result<RollupResult> RunRollup(store::UsageRepository& db, const analysis::IdleRules& rules, size_t chunk = 2000);

// Deletes what retention allows, `chunk` rows per transaction. Returns the rows deleted.
Result<int64_t> RunRetention(store::UsageRepository& db, SysSeconds now, int raw_days, int hourly_days,
                             size_t chunk = 2000);

}  // namespace gpuopt::jobs
