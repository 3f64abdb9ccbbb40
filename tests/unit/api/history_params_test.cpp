// The query parameters every history endpoint shares: durations (`range`, `step`) and the range a
// request asks for, within its plan's history.
#include "api/history.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace gpuopt::api {
namespace {

using namespace std::chrono;
const SysSeconds kNow = sys_days{2026y / 11 / 25} + 12h;

TEST(ParseDuration, ReadsACountAndOneAllowedUnit) {
    EXPECT_EQ(ParseDuration("90s", "smhd"), seconds(90));
    EXPECT_EQ(ParseDuration("5m", "smhd"), minutes(5));
    EXPECT_EQ(ParseDuration("24h", "hd"), hours(24));
    EXPECT_EQ(ParseDuration("30d", "hd"), days(30));
    EXPECT_EQ(ParseDuration("100000d", "d"), days(100000));
}

TEST(ParseDuration, RefusesWhatIsNotOne) {
    for (const char* v :
         {"", "h", "0h", "-1h", "+1h", "1.5h", "1 h", "h1", "1H", "1w", "100001d", "99999999999999999999d"})
        EXPECT_FALSE(ParseDuration(v, "smhd").has_value()) << v;
    EXPECT_FALSE(ParseDuration("90s", "hd").has_value());  // a unit the parameter does not take
    EXPECT_FALSE(ParseDuration("5m", "hd").has_value());
}

Plan PlanWithHistory(int days) {
    Plan p;
    p.display_name = "Test";
    p.history_days = days;
    return p;
}

TEST(ParseRange, DefaultsRangeAndFromTo) {
    const Plan plan = PlanWithHistory(30);
    auto r = ParseRange({}, plan, kNow, hours(24 * 7));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->from, kNow - days(7));
    EXPECT_EQ(r->to, kNow);
    r = ParseRange({{"range", "24h"}}, plan, kNow, hours(24 * 7));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->from, kNow - hours(24));
    r = ParseRange({{"from", "2026-11-20T00:00:00Z"}, {"to", "2026-11-21T00:00:00Z"}}, plan, kNow, hours(24));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->from, sys_days{2026y / 11 / 20});
    EXPECT_EQ(r->to, sys_days{2026y / 11 / 21});
}

TEST(ParseRange, ErrorsNameTheParameter) {
    const Plan plan = PlanWithHistory(30);
    auto field = [&](std::map<std::string, std::string> q) {
        auto r = ParseRange(q, plan, kNow, hours(24));
        EXPECT_FALSE(r.ok());
        return r.ok() || r.error().details.empty() ? std::string() : r.error().details.begin()->first;
    };
    EXPECT_EQ(field({{"range", "24h"}, {"from", "2026-11-20T00:00:00Z"}}), "range");
    EXPECT_EQ(field({{"range", "90m"}}), "range");
    EXPECT_EQ(field({{"range", "31d"}}), "range");  // past the plan's 30 days
    EXPECT_EQ(field({{"from", "yesterday"}}), "from");
    EXPECT_EQ(field({{"from", "2026-10-01T00:00:00Z"}}), "from");
    EXPECT_EQ(field({{"to", "2026-11-25T99:00:00Z"}}), "to");
    EXPECT_EQ(field({{"from", "2026-11-25T11:00:00Z"}, {"to", "2026-11-25T10:00:00Z"}}), "from");
}

}  // namespace
}  // namespace gpuopt::api
