// Windows and the report body built from them.
#include "agent/window.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "agent/report.hpp"

namespace gpuopt::agent {
namespace {

GpuSample Sample(double util, double used, std::vector<GpuProcess> procs = {}, unsigned index = 0) {
    GpuSample s;
    s.index = index;
    s.uuid = "GPU-" + std::to_string(index);
    s.name = "NVIDIA A100-SXM4-40GB";
    s.util_gpu = util;
    s.util_mem = util / 2;
    s.mem_used_mib = used;
    s.mem_total_mib = 40960;
    s.power_w = 50 + util;
    s.power_limit_w = 400;
    s.temperature_c = 30 + util / 10;
    s.processes = std::move(procs);
    return s;
}

GpuProcess P(uint32_t pid, std::string name, double used_mib) {
    GpuProcess p;
    p.pid = pid;
    p.name = std::move(name);
    p.used_mib = used_mib;
    return p;
}

SampleSet Set(std::vector<GpuSample> gpus) { return SampleSet{std::move(gpus), {}}; }

const auto kStart = std::chrono::system_clock::time_point(std::chrono::seconds(1795600000));

TEST(Window, AveragesPeaksAndIdleFractions) {
    WindowAggregator w(WindowRules{});
    w.Add(Set({Sample(90, 30000, {P(7, "python", 29000)})}));
    w.Add(Set({Sample(2, 30000, {P(7, "python", 29500)})}));  // idle, memory held
    w.Add(Set({Sample(1, 10, {})}));                          // idle, nothing held
    w.Add(Set({Sample(60, 35000, {P(7, "python", 34000), P(8, "tb", 10)})}));
    auto r = w.Close(kStart, kStart + std::chrono::seconds(40));
    EXPECT_EQ(r.samples, 4);
    ASSERT_EQ(r.gpus.size(), 1u);
    const auto& g = r.gpus[0];
    EXPECT_DOUBLE_EQ(g.util_sum / g.util_samples, 38.25);
    EXPECT_EQ(g.util_max, 90);
    EXPECT_EQ(g.idle_samples, 2);
    EXPECT_EQ(g.idle_held_samples, 1);
    EXPECT_EQ(g.mem_used_peak, 35000);
    EXPECT_DOUBLE_EQ(g.power_sum / g.power_samples, 50 + 38.25);
    ASSERT_EQ(g.processes.size(), 2u);
    EXPECT_EQ(g.processes.at(7).used_mib, 34000);  // the most it held
    EXPECT_TRUE(g.Reportable());
    EXPECT_EQ(w.samples(), 0);  // a fresh window after Close
}

TEST(Window, HeldMemoryFallsBackToTheGpuFigureWhenProcessMemoryIsUnknown) {
    GpuProcess unknown = P(9, "x", 0);
    unknown.used_mib.reset();
    GpuSample s = Sample(0, 5000, {unknown});
    EXPECT_EQ(WindowAggregator::HeldMib(s), 5000);
    s.processes = std::vector<GpuProcess>{P(9, "x", 700)};
    EXPECT_EQ(WindowAggregator::HeldMib(s), 700);
    s.processes.reset();
    EXPECT_EQ(WindowAggregator::HeldMib(s), 5000);
}

TEST(Window, AGpuWithoutUtilizationIsNotReportable) {
    WindowAggregator w(WindowRules{});
    GpuSample mig = Sample(0, 10);
    mig.util_gpu.reset();
    w.Add(Set({mig, Sample(50, 100, {}, 1)}));
    auto r = w.Close(kStart, kStart + std::chrono::seconds(10));
    ASSERT_EQ(r.gpus.size(), 2u);
    EXPECT_FALSE(r.gpus[0].Reportable());
    EXPECT_TRUE(r.gpus[1].Reportable());
    auto json =
        boost::json::parse(BuildReportJson(r, ReportContext{"h-1:000001", "h-1", "h", "0.1.0", "nvml", "", {}, {}}));
    EXPECT_EQ(json.at("gpu_data").as_array().size(), 1u);
}

TEST(Report, CarriesTheFieldsTheServerReads) {
    WindowAggregator w(WindowRules{});
    w.Add(Set({Sample(3, 1200, {P(4121, "python", 1100)})}));
    w.Add(Set({Sample(9, 1000, {P(4121, "python", 1000)})}));
    SampleSet with_lost = Set({Sample(5, 1100, {P(4121, "python", 1000)})});
    with_lost.lost.push_back({3, "GPU-3", "GPU is lost"});
    w.Add(with_lost);
    auto r = w.Close(kStart, kStart + std::chrono::seconds(60));
    ReportContext ctx{"trainer-1-ab12:000412",
                      "trainer-1-ab12",
                      "trainer-1",
                      "1.0.0",
                      "nvml",
                      "550.54.15",
                      CloudInstance{"aws", "p4d.24xlarge", "us-east-1"},
                      {}};
    ctx.prices["GPU-0"] = GpuPrice{2.744705, "aws"};
    auto json = boost::json::parse(BuildReportJson(r, ctx)).as_object();
    EXPECT_EQ(json.at("report_id"), "trainer-1-ab12:000412");
    EXPECT_EQ(json.at("agent").at("cloud").at("instance_type"), "p4d.24xlarge");
    EXPECT_EQ(json.at("agent").at("driver_version"), "550.54.15");
    EXPECT_EQ(json.at("window").at("start"), "2026-11-25T09:46:40Z");
    EXPECT_EQ(json.at("window").at("end"), "2026-11-25T09:47:40Z");
    EXPECT_EQ(json.at("window").at("samples"), 3);
    const auto& g = json.at("gpu_data").at(0).as_object();
    EXPECT_EQ(g.at("gpu_index"), 0);
    EXPECT_EQ(g.at("uuid"), "GPU-0");
    EXPECT_DOUBLE_EQ(g.at("gpu_util").to_number<double>(), 5.67);
    EXPECT_DOUBLE_EQ(g.at("util_max").to_number<double>(), 9);
    EXPECT_DOUBLE_EQ(g.at("idle_fraction").to_number<double>(), 1);
    EXPECT_DOUBLE_EQ(g.at("idle_held_fraction").to_number<double>(), 1);
    EXPECT_DOUBLE_EQ(g.at("mem_used").to_number<double>(), 1200);
    EXPECT_DOUBLE_EQ(g.at("mem_total").to_number<double>(), 40960);
    EXPECT_DOUBLE_EQ(g.at("cost_per_hour").to_number<double>(), 2.744705);
    EXPECT_EQ(g.at("processes").at(0).at("pid"), 4121);
    EXPECT_DOUBLE_EQ(g.at("processes").at(0).at("used_mem").to_number<double>(), 1100);
    EXPECT_EQ(json.at("lost_gpus").at(0).at("gpu_index"), 3);
}

TEST(Window, SmActivityDecidesIdleWhenGpmGivesItAndPowerDrawVetoes) {
    WindowAggregator w(WindowRules{});
    GpuSample busy_looking = Sample(60, 30000, {P(7, "python", 29000)});
    busy_looking.sm_active = 4;  // a kernel ran all along on a few SMs: the GPU is all but idle
    GpuSample idle_looking = Sample(2, 30000, {P(7, "python", 29000)});
    idle_looking.power_w = 320;  // of 400 W: working, whatever the utilization reads
    GpuSample idle = Sample(1, 30000, {P(7, "python", 29000)});
    idle.sm_active = 1;
    w.Add(Set({busy_looking}));
    w.Add(Set({idle_looking}));
    w.Add(Set({idle}));
    auto r = w.Close(kStart, kStart + std::chrono::seconds(30));
    const auto& g = r.gpus.at(0);
    EXPECT_EQ(g.idle_samples, 2);
    EXPECT_EQ(g.idle_held_samples, 2);
    EXPECT_EQ(g.sm_active_samples, 2);
    EXPECT_DOUBLE_EQ(g.sm_active_sum, 5);
}

TEST(Window, EnergyIsCountedAcrossWindowsAndACounterResetAddsNothing) {
    WindowAggregator w(WindowRules{});
    auto at = [](double mj) {
        GpuSample s = Sample(50, 100);
        s.energy_mj = mj;
        return s;
    };
    w.Add(Set({at(10000)}));
    w.Add(Set({at(12500)}));
    auto first = w.Close(kStart, kStart + std::chrono::seconds(20));
    EXPECT_EQ(first.gpus.at(0).energy_window_mj, 2500);
    w.Add(Set({at(13000)}));  // the interval since the last window's sample counts here
    w.Add(Set({at(400)}));    // the driver reloaded: the counter starts again
    w.Add(Set({at(900)}));
    auto second = w.Close(kStart + std::chrono::seconds(20), kStart + std::chrono::seconds(50));
    EXPECT_EQ(second.gpus.at(0).energy_window_mj, 500 + 0 + 500);
    EXPECT_EQ(second.gpus.at(0).energy_mj, 900);
}

TEST(Report, CarriesGpmEnergyClocksXidsAndMig) {
    WindowAggregator w(WindowRules{});
    GpuSample s = Sample(20, 9000);
    s.uuid = "MIG-b";
    s.sm_active = 10;
    s.gr_engine_active = 20;
    s.mem_clock_mhz = 2619;
    s.energy_mj = 1000;
    s.pci_bus_id = "00000000:19:00.0";
    s.minor_number = 3;
    s.xids = {48, 79};
    s.mig = MigInstance{"GPU-parent", "NVIDIA H100 80GB HBM3", 81559, 2, "3g.40gb", 3.0 / 7};
    w.Add(Set({s}));
    s.sm_active = 30;
    s.gr_engine_active = 40;
    s.energy_mj = 3500;
    s.xids = {};
    w.Add(Set({s}));
    auto r = w.Close(kStart, kStart + std::chrono::seconds(20));
    auto json =
        boost::json::parse(BuildReportJson(r, ReportContext{"h-1:000001", "h-1", "h", "0.1.0", "nvml", "", {}, {}}));
    const auto& g = json.at("gpu_data").at(0).as_object();
    EXPECT_DOUBLE_EQ(g.at("sm_active").to_number<double>(), 20);
    EXPECT_DOUBLE_EQ(g.at("gr_engine_active").to_number<double>(), 30);
    EXPECT_DOUBLE_EQ(g.at("mem_clock_mhz").to_number<double>(), 2619);
    EXPECT_DOUBLE_EQ(g.at("energy_mj").to_number<double>(), 3500);
    EXPECT_DOUBLE_EQ(g.at("energy_j").to_number<double>(), 2.5);
    EXPECT_EQ(g.at("pci_bus_id"), "00000000:19:00.0");
    EXPECT_EQ(g.at("minor_number"), 3);
    EXPECT_EQ(g.at("xid_errors"), 2);
    EXPECT_EQ(g.at("xid_last"), 79);
    EXPECT_EQ(g.at("mig").at("parent_uuid"), "GPU-parent");
    EXPECT_EQ(g.at("mig").at("gpu_instance_id"), 2);
    EXPECT_EQ(g.at("mig").at("profile"), "3g.40gb");
    EXPECT_DOUBLE_EQ(g.at("mig").at("fraction").to_number<double>(), 0.4286);
}

TEST(Report, IdsAreTheAgentAndAZeroPaddedSequence) {
    EXPECT_EQ(ReportId("host-7f3a", 412), "host-7f3a:000412");
    EXPECT_EQ(ReportId("host-7f3a", 1234567), "host-7f3a:1234567");
}

}  // namespace
}  // namespace gpuopt::agent
