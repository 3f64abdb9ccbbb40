// How many agent reports (POST /api/track-usage) an account may send: a budget per reporting host, not
// the plan's API request budget, so a plan always carries its own fleet at the agent's cadence
// (docs/decisions/0011). Pure rules over a RateLimiter, testable on a fake clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/config.hpp"
#include "http/rate_limiter.hpp"

namespace gpuopt::api {

struct ReportBudgetRules {
    int per_host_per_hour = 240;      // REPORTS_PER_HOST_PER_HOUR: 4x the default one report a minute
    int unlimited_plan_hosts = 1000;  // the account-wide budget of a plan without a GPU limit, in hosts
};

// Takes one report from the host's bucket and from the account's (per_host_per_hour × the plan's GPU
// limit, at least one host's worth; unlimited plans: × unlimited_plan_hosts). nullopt when the plan has
// no request limit at all (enterprise). The decision returned is the tighter of the two.
std::optional<http::RateDecision> CheckReportBudget(http::RateLimiter& limiter, const Plan& plan, int64_t account_id,
                                                    std::string_view host, const ReportBudgetRules& rules);

}  // namespace gpuopt::api
