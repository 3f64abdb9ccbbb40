#include "api/report_budget.hpp"

#include <algorithm>

namespace gpuopt::api {

std::optional<http::RateDecision> CheckReportBudget(http::RateLimiter& limiter, const Plan& plan, int64_t account_id,
                                                    std::string_view host, const ReportBudgetRules& rules) {
    if (!plan.requests_per_hour || rules.per_host_per_hour <= 0) return std::nullopt;
    const std::string account = "reports:" + std::to_string(account_id);
    const int hosts = plan.gpu_limit ? std::max(1, *plan.gpu_limit) : rules.unlimited_plan_hosts;
    const int account_limit = rules.per_host_per_hour * hosts;
    // The host first: a runaway agent uses up its own bucket, not its neighbours' share of the account's.
    auto per_host =
        limiter.Check(account + "/" + std::string(host.substr(0, 256)), rules.per_host_per_hour, std::chrono::hours(1));
    if (!per_host.allowed) return per_host;
    auto whole = limiter.Check(account, account_limit, std::chrono::hours(1));
    if (!whole.allowed) return whole;
    return per_host.remaining <= whole.remaining ? per_host : whole;
}

}  // namespace gpuopt::api
