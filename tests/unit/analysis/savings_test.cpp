#include "analysis/savings.hpp"

#include <gtest/gtest.h>

namespace gpuopt::analysis {
namespace {

store::GpuWindow Gpu(double util, double cost, std::optional<double> idle_fraction = std::nullopt) {
    store::GpuWindow g;
    g.util_avg = util;
    g.cost_per_hour = cost;
    g.idle_fraction = idle_fraction;
    return g;
}

TEST(Savings, MatchesThePrototypeSample) {
    // 85.5 % and 10 % at $3.06/h: the idle one costs 3.06/h, half of it is recoverable.
    auto s = ComputeHourlySavings({Gpu(85.5, 3.06), Gpu(10, 3.06)}, {});
    EXPECT_DOUBLE_EQ(s.idle_cost_per_hour, 3.06);
    EXPECT_DOUBLE_EQ(s.potential_hourly_savings, 1.53);
    EXPECT_DOUBLE_EQ(s.monthly_projection, 1101.6);
}

TEST(Savings, ThresholdIsStrictlyBelow) {
    EXPECT_DOUBLE_EQ(ComputeHourlySavings({Gpu(15.0, 2)}, {}).idle_cost_per_hour, 0);
    EXPECT_DOUBLE_EQ(ComputeHourlySavings({Gpu(14.99, 2)}, {}).idle_cost_per_hour, 2);
    EXPECT_DOUBLE_EQ(ComputeHourlySavings({Gpu(30, 2)}, {40, 0.5}).idle_cost_per_hour, 2);
}

TEST(Savings, MeasuredIdleFractionWinsOverTheAverage) {
    // Average 40 % but idle in half of the samples (bursty): half the hour is idle.
    auto s = ComputeHourlySavings({Gpu(40, 4.0, 0.5)}, {});
    EXPECT_DOUBLE_EQ(s.idle_cost_per_hour, 2.0);
    EXPECT_DOUBLE_EQ(s.potential_hourly_savings, 1.0);
    EXPECT_DOUBLE_EQ(s.monthly_projection, 720.0);
}

TEST(Savings, RecoverableFractionIsConfigurable) {
    auto s = ComputeHourlySavings({Gpu(0, 2.74)}, {15, 1.0});
    EXPECT_DOUBLE_EQ(s.potential_hourly_savings, 2.74);
    EXPECT_DOUBLE_EQ(s.monthly_projection, 1972.8);
}

TEST(Savings, NothingIdleMeansNoSavings) {
    auto s = ComputeHourlySavings({Gpu(90, 3), Gpu(99, 3)}, {});
    EXPECT_EQ(s.potential_hourly_savings, 0);
    EXPECT_EQ(s.monthly_projection, 0);
    EXPECT_EQ(ComputeHourlySavings({}, {}).monthly_projection, 0);
}

TEST(Savings, IdleShareStaysInUnitRange) {
    EXPECT_EQ(IdleShare(Gpu(0, 1, 1.7), {}), 1.0);
    EXPECT_EQ(IdleShare(Gpu(0, 1, -0.2), {}), 0.0);
}

}  // namespace
}  // namespace gpuopt::analysis
