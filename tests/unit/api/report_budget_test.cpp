// A plan's report budget carries its own fleet at the agent's default cadence, with retries and a spool
// replayed after an outage, for hours on end; a runaway agent still meets a limit.
#include "api/report_budget.hpp"

#include <gtest/gtest.h>

#include <map>

namespace gpuopt::api {
namespace {

using namespace std::chrono;

struct FakeClock {
    steady_clock::time_point now{};
    http::RateLimiter::Clock fn() {
        return [this] { return now; };
    }
};

Plan PlanOf(Tier tier) {
    std::map<std::string, ConfigValue> none;
    auto config = BuildConfig(none);
    EXPECT_TRUE(config.ok());
    return *config->FindPlan(tier);
}

// `hosts` agents each sending one report per `window` for `span`; every `retry_every`-th report is sent
// twice (a lost answer) and host 0 replays `replay` spooled reports at once after the first `outage`.
int Refusals(const Plan& plan, int hosts, seconds span, int retry_every, int replay, seconds outage) {
    FakeClock clock;
    http::RateLimiter limiter(clock.fn());
    const ReportBudgetRules rules;
    int refused = 0, sent = 0;
    const seconds window(60);
    for (seconds t(0); t < span; t += window) {
        clock.now = steady_clock::time_point{} + t;
        for (int h = 0; h < hosts; ++h) {
            const std::string host = "host:trainer-" + std::to_string(h);
            int copies = 1;
            if (retry_every > 0 && (sent % retry_every) == 0) ++copies;
            if (h == 0 && t == outage) copies += replay;
            for (int c = 0; c < copies; ++c) {
                auto d = CheckReportBudget(limiter, plan, 42, host, rules);
                ++sent;
                if (d && !d->allowed) ++refused;
            }
        }
    }
    return refused;
}

TEST(ReportBudget, TwoFreeHostsForThreeHoursAreNeverRefused) {
    const Plan free = PlanOf(Tier::kFree);
    ASSERT_EQ(free.requests_per_hour.value_or(0), 100);  // the API budget alone would refuse them
    EXPECT_EQ(Refusals(free, 2, hours(3), 10, 60, minutes(90)), 0);
}

TEST(ReportBudget, AHundredProfessionalHostsForAnHourAreNeverRefused) {
    EXPECT_EQ(Refusals(PlanOf(Tier::kProfessional), 100, hours(1), 10, 60, minutes(30)), 0);
}

TEST(ReportBudget, EnterpriseIsUnlimited) {
    FakeClock clock;
    http::RateLimiter limiter(clock.fn());
    EXPECT_FALSE(CheckReportBudget(limiter, PlanOf(Tier::kEnterprise), 1, "host:a", {}).has_value());
}

TEST(ReportBudget, ARunawayAgentMeetsItsHostsLimitAndNotItsNeighbours) {
    FakeClock clock;
    http::RateLimiter limiter(clock.fn());
    const Plan pro = PlanOf(Tier::kProfessional);
    int allowed = 0;
    for (int i = 0; i < 1000; ++i) {
        auto d = CheckReportBudget(limiter, pro, 7, "host:runaway", {});
        allowed += d->allowed ? 1 : 0;
        if (!d->allowed) {
            EXPECT_GE(d->retry_after_seconds, 1);
            EXPECT_EQ(d->reset_seconds, d->retry_after_seconds);
        }
    }
    EXPECT_EQ(allowed, 240);
    EXPECT_TRUE(CheckReportBudget(limiter, pro, 7, "host:neighbour", {})->allowed);
}

TEST(ReportBudget, AFreeAccountCannotMultiplyItsBudgetWithInventedHosts) {
    FakeClock clock;
    http::RateLimiter limiter(clock.fn());
    const Plan free = PlanOf(Tier::kFree);
    int allowed = 0;
    for (int i = 0; i < 5000; ++i) {
        auto d = CheckReportBudget(limiter, free, 9, "host:fake-" + std::to_string(i), {});
        allowed += d->allowed ? 1 : 0;
    }
    EXPECT_EQ(allowed, 240 * 2);  // two GPUs' worth of hosts
}

}  // namespace
}  // namespace gpuopt::api
