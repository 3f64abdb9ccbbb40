// The demo's week of history (make demo): a scenario's hosts replayed from `start` to `end` the way their
// agents would have seen them — samples, windows, report bodies, the server's own validation — and stored
// for one account, with the jobs the server runs (the roll-up, the recommendation tracker) run at their
// simulated times along the way. So a newcomer's first minute shows a week: savings, the savings plan,
// a recommendation already acted on (a GPU the scenario switches off after `stops_after_s`) with the
// saving realized, and idle GPUs that alert as soon as the server's alert job runs (email alerts on).
// The live agents then carry on from the same scenario time zero (gpuopt-agent --simulate-start).
#pragma once

#include <chrono>
#include <string>

#include "agent/simulated/scenario.hpp"
#include "common/config.hpp"
#include "common/price_catalog.hpp"
#include "store/database.hpp"

namespace gpuopt::demo {

struct BackfillOptions {
    std::string email = "demo@example.com";
    Tier tier = Tier::kProfessional;
    SysSeconds start;  // the scenario's time zero
    SysSeconds end;    // usually now
    std::chrono::seconds sample{30};
    std::chrono::seconds window{300};
    int alert_idle_minutes = 10;  // email alerts on, after this much idle time
};

struct BackfillResult {
    int64_t account_id = 0;
    std::string api_key;  // the new account's key (shown once, as at sign-up)
    int reports = 0;
    int tracks_realized = 0;
};

// Creates the account (it must not exist yet) and stores its history.
Result<BackfillResult> Backfill(store::Database& db, const Config& config, const PriceCatalog& catalog,
                                const agent::Scenario& scenario, const BackfillOptions& options);

}  // namespace gpuopt::demo
