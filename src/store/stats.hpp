// The operator's figures (GET /api/stats), read across every domain.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "common/time.hpp"

namespace gpuopt::store {

struct DailyCount {
    std::string date;  // YYYY-MM-DD
    int64_t count = 0;
};

struct PaymentCount {
    std::string gateway;
    std::string status;
    int64_t count = 0;
    double amount = 0;
};

struct StatsQuery {
    SysSeconds now;
    int signup_days = 30;
    double idle_threshold_percent = 15;
    double recoverable_fraction = 0.5;
};

struct Stats {
    std::map<std::string, int64_t> customers_by_tier;  // every tier present, zero included
    int64_t total_customers = 0;
    std::vector<DailyCount> daily_signups;  // the last signup_days days, oldest first, gaps as zero
    int64_t gpus_last_24h = 0;
    double total_idle_cost = 0;                                   // Σ idle time × cost over stored history
    double total_customer_savings = 0;                            // total_idle_cost × recoverable fraction
    std::map<std::string, int64_t> active_subscriptions_by_tier;  // active or in grace
    double revenue_this_month = 0;       // completed payments since the 1st (UTC), in their currency (USD)
    std::vector<PaymentCount> payments;  // by gateway and status
};

class StatsReader {
public:
    virtual ~StatsReader() = default;
    virtual Result<Stats> GetStats(const StatsQuery& query) = 0;
};

}  // namespace gpuopt::store
