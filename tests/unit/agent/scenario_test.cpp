// Simulated fleets: scenario files and the usage patterns over time.
#include "agent/simulated/scenario.hpp"

#include <gtest/gtest.h>

namespace gpuopt::agent {
namespace {

SimulatedGpu Gpu(Pattern p) {
    SimulatedGpu g;
    g.name = "NVIDIA A100-SXM4-40GB";
    g.uuid = "GPU-x";
    g.memory_mib = 40960;
    g.pattern = p;
    g.noise = 0;
    return g;
}

TEST(Scenario, TheShippedDemoScenarioLoads) {
    auto s = LoadScenario(std::string(GPUOPT_SOURCE_DIR) + "/scenarios/demo.json");
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(s->hosts.size(), 3u);
    ASSERT_NE(s->FindHost("research-2"), nullptr);
    EXPECT_EQ(s->FindHost("research-2")->gpus[0].pattern, Pattern::kPeriodicTraining);
}

TEST(Scenario, RejectsBadFilesNamingTheField) {
    auto bad_pattern = ParseScenario(R"({"hosts":[{"hostname":"a","gpus":[{"pattern":"sleepy"}]}]})");
    ASSERT_FALSE(bad_pattern.ok());
    EXPECT_EQ(bad_pattern.error().details.begin()->first, "hosts[0].gpus[0].pattern");
    auto held =
        ParseScenario(R"({"hosts":[{"hostname":"a","gpus":[{"pattern":"busy","memory_mib":100,"held_mib":200}]}]})");
    ASSERT_FALSE(held.ok());
    EXPECT_EQ(held.error().details.begin()->first, "hosts[0].gpus[0].held_mib");
    EXPECT_FALSE(ParseScenario(R"({"hosts":[]})").ok());
    EXPECT_FALSE(
        ParseScenario(
            R"({"hosts":[{"hostname":"a","gpus":[{"pattern":"idle"}]},{"hostname":"a","gpus":[{"pattern":"idle"}]}]})")
            .ok());
    EXPECT_FALSE(ParseScenario("not json").ok());
}

TEST(Scenario, IdleHoldingMemoryIsIdleWhileAProcessHoldsMemory) {
    auto g = Gpu(Pattern::kIdleHoldingMemory);
    g.held_mib = 30720;
    for (double t : {0.0, 100.0, 5000.0}) {
        auto s = SimulateGpu(g, 0, t, 100);
        EXPECT_LT(*s.util_gpu, 2);
        EXPECT_EQ(s.mem_used_mib, 30724);
        ASSERT_EQ(s.processes->size(), 1u);
        EXPECT_EQ((*s.processes)[0].used_mib, 30720);
        EXPECT_EQ((*s.processes)[0].pid, 100u);
    }
}

TEST(Scenario, AGpuWithGpmReportsSmActivityAsItsShareOfUtilization) {
    auto g = Gpu(Pattern::kBusy);
    g.util = 97;
    g.sm_share = 0.07;
    auto s = SimulateGpu(g, 0, 60, 100);
    EXPECT_EQ(s.util_gpu, 97);
    EXPECT_EQ(s.sm_active, 6.8);  // 97 × 0.07 = 6.79, to a tenth
    EXPECT_FALSE(SimulateGpu(Gpu(Pattern::kBusy), 0, 60, 100).sm_active.has_value()) << "no GPM";
    auto bad = ParseScenario(R"({"hosts":[{"hostname":"a","gpus":[{"pattern":"busy","sm_share":1.5}]}]})");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().details.begin()->first, "hosts[0].gpus[0].sm_share");
}

TEST(Scenario, PeriodicTrainingIsBusyForItsShareOfEachPeriod) {
    auto g = Gpu(Pattern::kPeriodicTraining);
    g.period_s = 600;
    g.busy_s = 240;
    g.util = 95;
    EXPECT_EQ(SimulateGpu(g, 0, 10, 1).util_gpu, 95);
    EXPECT_EQ(SimulateGpu(g, 0, 239, 1).util_gpu, 95);
    EXPECT_LT(*SimulateGpu(g, 0, 300, 1).util_gpu, 2);
    EXPECT_TRUE(SimulateGpu(g, 0, 300, 1).processes->empty());  // memory released between runs
    EXPECT_EQ(SimulateGpu(g, 0, 610, 1).util_gpu, 95);
    g.hold_between = true;
    EXPECT_EQ(SimulateGpu(g, 0, 300, 1).processes->size(), 1u);
}

TEST(Scenario, RampClimbsFromItsStartToItsEnd) {
    auto g = Gpu(Pattern::kRamp);
    g.from = 10;
    g.to = 90;
    g.ramp_s = 1000;
    EXPECT_EQ(SimulateGpu(g, 0, 0, 1).util_gpu, 10);
    EXPECT_EQ(SimulateGpu(g, 0, 500, 1).util_gpu, 50);
    EXPECT_EQ(SimulateGpu(g, 0, 1000, 1).util_gpu, 90);
    EXPECT_EQ(SimulateGpu(g, 0, 5000, 1).util_gpu, 90);
}

TEST(Scenario, NoiseIsRepeatableAndBounded) {
    auto g = Gpu(Pattern::kBusy);
    g.noise = 3;
    g.util = 90;
    for (double t = 0; t < 100; t += 7.3) {
        const double u = *SimulateGpu(g, 2, t, 1).util_gpu;
        EXPECT_GE(u, 87);
        EXPECT_LE(u, 93);
        EXPECT_EQ(u, *SimulateGpu(g, 2, t, 1).util_gpu);
    }
}

}  // namespace
}  // namespace gpuopt::agent
