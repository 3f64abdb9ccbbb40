#include "jobs/history_jobs.hpp"

#include <spdlog/spdlog.h>

#include "store/wait.hpp"

namespace gpuopt::jobs {

Result<RollupResult> RunRollup(store::UsageRepository& db, const analysis::IdleRules& rules, size_t chunk) {
    RollupResult total;
    for (;;) {
        auto watermark = db.RollupWatermark();
        if (!watermark) return watermark.error();
        auto windows = db.ReadWindowsAfter(*watermark, chunk);
        if (!windows) return windows.error();
        if (windows->empty()) break;
        auto hours = analysis::RollUp(*windows, rules);
        const int64_t new_watermark = windows->back().id;
        const auto rows = static_cast<int64_t>(hours.size());
        auto applied = store::Wait<void>([&](store::Callback<void> done) {
            db.ApplyRollup(std::move(hours), *watermark, new_watermark, std::move(done));
        });
        if (!applied) {
            if (applied.error().code == ErrorCode::kAlreadyExists) continue;  // someone else merged them; read on
            return applied.error();
        }
        total.windows += static_cast<int64_t>(windows->size());
        total.hours += rows;
        if (windows->size() < chunk) break;
    }
    if (total.windows > 0)
        spdlog::debug("roll-up: merged {} window(s) into {} hour row(s)", total.windows, total.hours);
    return total;
}

Result<int64_t> RunRetention(store::UsageRepository& db, SysSeconds now, int raw_days, int hourly_days, size_t chunk) {
    int64_t total = 0;
    for (;;) {
        auto deleted = store::Wait<int64_t>([&](store::Callback<int64_t> done) {
            db.PruneHistory(now - std::chrono::days(raw_days), now - std::chrono::days(hourly_days), chunk,
                            std::move(done));
        });
        if (!deleted) return deleted.error();
        total += *deleted;
        if (*deleted < static_cast<int64_t>(chunk)) break;
    }
    if (total > 0) spdlog::info("retention: deleted {} row(s) of history", total);
    return total;
}

}  // namespace gpuopt::jobs
