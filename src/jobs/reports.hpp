// Report mails (SPEC §8): a weekly report for every account whose GPUs reported in the week (Monday to
// Monday, UTC), and a daily one (the previous UTC day) on plans that have it; each on until the customer
// turns it off. A report is enqueued in the mail outbox under a key naming its account, kind and period,
// so it goes once per period however often the job runs, on however many servers, across restarts. A
// report due while the server was down goes out when it is back, within its period's successor.
#pragma once

#include <functional>
#include <string>

#include "analysis/recommendations.hpp"
#include "common/config.hpp"
#include "common/price_catalog.hpp"
#include "mail/templates.hpp"
#include "store/database.hpp"

namespace gpuopt::jobs {

struct ReportRules {
    analysis::IdleRules idle;
    analysis::RecommendRules recommend;
    std::function<const Plan*(Tier)> plan;  // the plan of a tier (its daily reports, its recommendations)
    mail::Brand brand;
};

struct ReportRun {
    int weekly = 0;  // reports enqueued
    int daily = 0;
};

// The periods that have ended by `now`: [from, to).
analysis::Range LastWeek(SysSeconds now);
analysis::Range LastDay(SysSeconds now);

// The figures of one account's report over `range`.
Result<mail::ReportContent> BuildReport(store::Database& db, const PriceCatalog& catalog, const ReportRules& rules,
                                        const store::Account& account, const Plan& plan, analysis::Range range);

// Enqueues the reports due at `now`. An account that fails is logged and skipped; the run fails once the
// others are done.
Result<ReportRun> RunReports(store::Database& db, const PriceCatalog& catalog, const ReportRules& rules,
                             SysSeconds now);

}  // namespace gpuopt::jobs
