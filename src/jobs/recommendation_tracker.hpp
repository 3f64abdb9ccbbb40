// Realized savings (SPEC §6): a periodic job that records what each account's savings plan recommends,
// GPU by GPU, with what the GPU cost when first recommended, and notices when a recommended GPU changes:
//
//   stopped          (stop, release memory, auto-stop, consolidate) it has not reported for `stopped_after`
//                    since: it no longer costs anything
//   smaller_model    (right_size) it stopped and a cheaper GPU appeared on the same host after the
//                    recommendation, not counted for another track: the saving is the difference in price
//   utilization_up   (stop, release memory, auto-stop) it still reports, and since the recommendation its idle
//                    share fell to half of what it was and by at least 20 points: the saving is the idle cost
//                    that went away
//
// Each change is recorded once, with the cost before and after (store/recommendations.hpp; "before" projects
// a GPU that first reported within the range from its first report); a GPU has one
// open track, whose action follows what the plan recommends for it. A GPU that reports again after it was
// counted as stopped keeps that record (not reversed). Safe to run twice: opening and refreshing tracks
// is an upsert, and a track is realized only while it is open. An account that fails is logged and
// skipped; the run fails once the others are done.
#pragma once

#include <chrono>
#include <functional>

#include "analysis/recommendations.hpp"
#include "common/price_catalog.hpp"
#include "common/tier.hpp"
#include "store/database.hpp"

namespace gpuopt::jobs {

struct TrackerRules {
    analysis::IdleRules idle;
    analysis::RecommendRules recommend;
    std::chrono::hours window{24 * 7};     // the plan's range, and the longest "after" looked at
    std::chrono::hours stopped_after{24};  // silent this long: stopped
    std::chrono::hours min_after{24};      // a track is judged once this old, on this much data
    std::chrono::minutes reporting{120};   // only GPUs reporting within this get tracks opened
    std::function<bool(Tier)> all_recommendations = [](Tier) { return true; };
};

struct TrackerResult {
    int accounts = 0;
    int recorded = 0;  // tracks opened or refreshed
    int realized = 0;
};

Result<TrackerResult> RunRecommendationTracker(store::Database& db, const PriceCatalog& catalog,
                                               const TrackerRules& rules, SysSeconds now);

}  // namespace gpuopt::jobs
