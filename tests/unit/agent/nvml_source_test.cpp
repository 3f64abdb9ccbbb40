// NvmlSource through the agent's real loader path, against the fake NVML built by the tests
// (tests/fakes/fake_nvml.cpp), as a current driver and as an old one.
#include "agent/nvml/nvml_source.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "support/test_dir.hpp"

namespace gpuopt::agent {
namespace {

const std::string kCurrent = std::string(GPUOPT_FAKES_DIR) + "/nvml-current/libnvidia-ml.so.1";
const std::string kOld = std::string(GPUOPT_FAKES_DIR) + "/nvml-old/libnvidia-ml.so.1";

class NvmlSourceTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = testing::FreshTestDir("nvml");
        setenv("FAKE_NVML_LOG", (dir_ / "calls.log").c_str(), 1);
    }
    void TearDown() override {
        unsetenv("FAKE_NVML_SCRIPT");
        unsetenv("FAKE_NVML_LOG");
        std::filesystem::remove_all(dir_);
    }
    void Script(const std::string& text) {
        std::ofstream(dir_ / "script") << text;
        setenv("FAKE_NVML_SCRIPT", (dir_ / "script").c_str(), 1);
    }
    std::string Calls() {
        std::ifstream in(dir_ / "calls.log");
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    std::filesystem::path dir_;
};

const auto kNow = std::chrono::system_clock::now();

TEST_F(NvmlSourceTest, ReadsEveryMetricWithTheVersionedCalls) {
    Script(
        "gpu name=\"NVIDIA A100-SXM4-40GB\" uuid=GPU-aaa util=37 mem_util=12 total_mib=40960 used_mib=1200 temp=41 "
        "power_mw=123450 limit_mw=400000 sm_mhz=1410 procs=" +
        std::to_string(::getpid()) + ":1100,999999:50\n");
    auto source = NvmlSource::Open(kCurrent);
    ASSERT_TRUE(source.ok()) << source.error().message;
    EXPECT_EQ((*source)->DriverVersion(), "550.54.15");
    auto set = (*source)->Sample(kNow);
    ASSERT_TRUE(set.ok());
    ASSERT_EQ(set->gpus.size(), 1u);
    const GpuSample& g = set->gpus[0];
    EXPECT_EQ(g.uuid, "GPU-aaa");
    EXPECT_EQ(g.name, "NVIDIA A100-SXM4-40GB");
    EXPECT_EQ(g.util_gpu, 37);
    EXPECT_EQ(g.util_mem, 12);
    // The v2 call (struct version 0x02000028) reports what processes use; v1 would add the reserve.
    EXPECT_EQ(g.mem_used_mib, 1200);
    EXPECT_EQ(g.mem_total_mib, 40960);
    EXPECT_EQ(g.temperature_c, 41);
    EXPECT_DOUBLE_EQ(*g.power_w, 123.45);
    EXPECT_DOUBLE_EQ(*g.power_limit_w, 400);
    EXPECT_EQ(g.sm_clock_mhz, 1410);
    ASSERT_TRUE(g.processes.has_value());
    ASSERT_EQ(g.processes->size(), 2u);
    EXPECT_EQ((*g.processes)[0].pid, static_cast<uint32_t>(::getpid()));
    EXPECT_FALSE((*g.processes)[0].name.empty());  // read from /proc
    EXPECT_EQ((*g.processes)[0].used_mib, 1100);
    EXPECT_EQ((*g.processes)[1].name, "");  // no such process here
}

TEST_F(NvmlSourceTest, LeavesOutWhatAGpuDoesNotSupportAndStopsAsking) {
    Script("gpu util=5\ngpu util=6\nunsupported gpu=1 metric=power\nunsupported gpu=1 metric=processes\n");
    auto source = NvmlSource::Open(kCurrent);
    ASSERT_TRUE(source.ok());
    for (int i = 0; i < 3; ++i) {
        auto set = (*source)->Sample(kNow);
        ASSERT_TRUE(set.ok());
        ASSERT_EQ(set->gpus.size(), 2u);
        EXPECT_TRUE(set->gpus[0].power_w.has_value());
        EXPECT_FALSE(set->gpus[1].power_w.has_value());
        EXPECT_FALSE(set->gpus[1].processes.has_value());
        EXPECT_TRUE(set->gpus[1].power_limit_w.has_value());
        EXPECT_EQ(set->gpus[1].util_gpu, 6);
    }
}

TEST_F(NvmlSourceTest, ALostGpuIsReportedAndTheOthersGoOn) {
    Script("gpu util=10\ngpu util=20 uuid=GPU-lost\ngpu util=30\nlost gpu=1 after=2\n");
    auto source = NvmlSource::Open(kCurrent);
    ASSERT_TRUE(source.ok());
    for (int i = 0; i < 2; ++i) {
        auto set = (*source)->Sample(kNow);
        ASSERT_TRUE(set.ok());
        EXPECT_EQ(set->gpus.size(), 3u);
        EXPECT_TRUE(set->lost.empty());
    }
    for (int i = 0; i < 3; ++i) {
        auto set = (*source)->Sample(kNow);
        ASSERT_TRUE(set.ok());
        ASSERT_EQ(set->gpus.size(), 2u);
        EXPECT_EQ(set->gpus[0].util_gpu, 10);
        EXPECT_EQ(set->gpus[1].util_gpu, 30);
        ASSERT_EQ(set->lost.size(), 1u);
        EXPECT_EQ(set->lost[0].index, 1u);
        EXPECT_EQ(set->lost[0].uuid, "GPU-lost");
    }
}

TEST_F(NvmlSourceTest, AnOldDriverWithoutV3OrV2CallsFallsBack) {
    Script("gpu util=50 total_mib=16384 used_mib=2000 temp=55 procs=4121:1800\n");
    auto source = NvmlSource::Open(kOld);
    ASSERT_TRUE(source.ok()) << source.error().message;
    auto set = (*source)->Sample(kNow);
    ASSERT_TRUE(set.ok());
    ASSERT_EQ(set->gpus.size(), 1u);
    const GpuSample& g = set->gpus[0];
    // v1 memory counts the driver's reserve as used (the fake reserves 300 MiB, as real drivers do).
    EXPECT_EQ(g.mem_used_mib, 2300);
    EXPECT_EQ(g.temperature_c, 55);
    ASSERT_TRUE(g.processes.has_value());
    ASSERT_EQ(g.processes->size(), 1u);
    EXPECT_EQ((*g.processes)[0].pid, 4121u);
    EXPECT_EQ((*g.processes)[0].used_mib, 1800);
}

TEST_F(NvmlSourceTest, KeepsOneNvmlSessionForItsLifetime) {
    Script("gpu util=1\n");
    {
        auto source = NvmlSource::Open(kCurrent);
        ASSERT_TRUE(source.ok());
        for (int i = 0; i < 50; ++i) ASSERT_TRUE((*source)->Sample(kNow).ok());
    }
    EXPECT_EQ(Calls(), "init\nshutdown\n");
}

TEST_F(NvmlSourceTest, FailsClearlyWhenTheLibraryIsMissingOrNvmlWillNotStart) {
    auto missing = NvmlSource::Open((dir_ / "libnvidia-ml.so.1").string());
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().message.find("cannot load"), std::string::npos);

    Script("init rc=9\n");
    auto no_driver = NvmlSource::Open(kCurrent);
    ASSERT_FALSE(no_driver.ok());
    EXPECT_NE(no_driver.error().message.find("Driver Not Loaded"), std::string::npos) << no_driver.error().message;
}

TEST_F(NvmlSourceTest, ScriptedValuesChangeFromSampleToSample) {
    Script("gpu util=0,100 used_mib=10,30000\n");
    auto source = NvmlSource::Open(kCurrent);
    ASSERT_TRUE(source.ok());
    auto a = (*source)->Sample(kNow);
    auto b = (*source)->Sample(kNow);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->gpus[0].util_gpu, 0);
    EXPECT_EQ(b->gpus[0].util_gpu, 100);
    EXPECT_EQ(a->gpus[0].mem_used_mib, 10);
    EXPECT_EQ(b->gpus[0].mem_used_mib, 30000);
}

TEST_F(NvmlSourceTest, AveragesTheDriversSampleBufferAndReadsTheNewerFields) {
    // The point reading says 90; the driver's buffer says the interval averaged 20 (10, 20, 30).
    Script(
        "gpu name=\"NVIDIA H100 80GB HBM3\" uuid=GPU-h util=90 samples=10,20,30 mem_mhz=2619 energy_mj=5000 "
        "energy_step=900 bus=25 minor=3 sm_active=40 gr_active=55\n"
        "xid gpu=0 code=79 after=1\n");
    auto source = NvmlSource::Open(kCurrent);
    ASSERT_TRUE(source.ok()) << source.error().message;
    auto first = (*source)->Sample(kNow);
    ASSERT_TRUE(first.ok());
    ASSERT_EQ(first->gpus.size(), 1u);
    const GpuSample& a = first->gpus[0];
    EXPECT_DOUBLE_EQ(*a.util_gpu, 20);
    EXPECT_EQ(a.mem_clock_mhz, 2619);
    EXPECT_EQ(a.energy_mj, 5900);
    EXPECT_EQ(a.pci_bus_id, "00000000:19:00.0");  // the 32-character form dcgm-exporter labels with
    EXPECT_EQ(a.minor_number, 3u);
    EXPECT_FALSE(a.sm_active.has_value());  // GPM needs two samples: nothing yet
    EXPECT_TRUE(a.xids.empty());
    auto second = (*source)->Sample(kNow);
    ASSERT_TRUE(second.ok());
    const GpuSample& b = second->gpus[0];
    // The buffer repeats the newest sample already averaged (the fake gives it 100): it is not counted again.
    EXPECT_DOUBLE_EQ(*b.util_gpu, 20);
    EXPECT_EQ(b.sm_active, 40);
    EXPECT_EQ(b.gr_engine_active, 55);
    EXPECT_EQ(b.energy_mj, 6800);
    ASSERT_EQ(b.xids.size(), 1u);
    EXPECT_EQ(b.xids[0], 79u);
    auto third = (*source)->Sample(kNow);
    ASSERT_TRUE(third.ok());
    EXPECT_TRUE(third->gpus[0].xids.empty());  // each XID once
}

TEST_F(NvmlSourceTest, WithoutNewSamplesThePointReadingStands) {
    Script("gpu util=37\n");  // the buffer has nothing new: NOT_FOUND
    auto source = NvmlSource::Open(kCurrent);
    ASSERT_TRUE(source.ok());
    auto set = (*source)->Sample(kNow);
    ASSERT_TRUE(set.ok());
    EXPECT_EQ(set->gpus[0].util_gpu, 37);
}

TEST_F(NvmlSourceTest, EachNewerFieldDegradesOnItsOwn) {
    std::string script =
        "gpu uuid=GPU-bare util=12 samples=50 sm_active=30 gr_active=31\n"
        "gpu uuid=GPU-full util=12 samples=50 sm_active=30 gr_active=31\n"
        "xid gpu=0 code=48\nxid gpu=1 code=31\n";
    for (const char* metric : {"samples", "memclock", "energy", "pci", "gpm", "events"}) {
        script += std::string("unsupported gpu=0 metric=") + metric + "\n";
    }
    Script(script);
    auto source = NvmlSource::Open(kCurrent);
    ASSERT_TRUE(source.ok());
    for (int i = 0; i < 3; ++i) {
        auto set = (*source)->Sample(kNow);
        ASSERT_TRUE(set.ok());
        ASSERT_EQ(set->gpus.size(), 2u);
        ASSERT_TRUE(set->lost.empty());
        const GpuSample& bare = set->gpus[0];
        const GpuSample& full = set->gpus[1];
        EXPECT_EQ(bare.util_gpu, 12);  // the point reading
        EXPECT_EQ(full.util_gpu, 50);  // the buffer
        EXPECT_FALSE(bare.mem_clock_mhz || bare.energy_mj || bare.sm_active || bare.gr_engine_active);
        EXPECT_EQ(bare.pci_bus_id, "");
        EXPECT_TRUE(bare.xids.empty());
        EXPECT_TRUE(full.mem_clock_mhz && full.energy_mj);
        EXPECT_EQ(full.pci_bus_id, "00000000:08:00.0");
        // The rest of the unsupported GPU is read as before.
        EXPECT_TRUE(bare.mem_used_mib && bare.temperature_c && bare.power_w && bare.processes);
        if (i > 0) {
            EXPECT_EQ(full.sm_active, 30);
        }
        if (i == 0) {
            ASSERT_EQ(full.xids.size(), 1u);
            EXPECT_EQ(full.xids[0], 31u);
        }
    }
}

TEST_F(NvmlSourceTest, AnOldDriverLacksTheNewerEntryPointsAndGivesTheRest) {
    Script("gpu util=50 samples=20 bus=7 sm_active=30 gr_active=30\nxid gpu=0 code=79\n");
    auto source = NvmlSource::Open(kOld);
    ASSERT_TRUE(source.ok()) << source.error().message;
    for (int i = 0; i < 2; ++i) {
        auto set = (*source)->Sample(kNow);
        ASSERT_TRUE(set.ok());
        const GpuSample& g = set->gpus[0];
        EXPECT_EQ(g.util_gpu, 20);
        EXPECT_EQ(g.pci_bus_id, "0000:07:00.0");  // only the legacy 16-byte bus id before _v2
        EXPECT_FALSE(g.sm_active.has_value());    // no GPM
        EXPECT_TRUE(g.xids.empty());              // no nvmlEventSetWait_v2
        EXPECT_TRUE(g.energy_mj.has_value());
    }
}

TEST_F(NvmlSourceTest, MigInstancesAreTheUnitsEachWithItsShareOfTheGpu) {
    Script(
        "gpu name=\"NVIDIA H100 80GB HBM3\" uuid=GPU-parent total_mib=81559 sm_active=70 gr_active=70\n"
        "gpu name=\"NVIDIA A100-SXM4-40GB\" uuid=GPU-a100 total_mib=40960\n"
        "mig gpu=0 uuid=MIG-small name=\"NVIDIA H100 80GB HBM3 MIG 1g.10gb\" gi=9 slices=1 total_mib=9984 "
        "used_mib=13 gr_active=4 sm_active=3\n"
        "mig gpu=0 uuid=MIG-big name=\"NVIDIA H100 80GB HBM3 MIG 3g.40gb\" gi=2 slices=3 total_mib=40192 "
        "used_mib=30000 procs=4121:29000 gr_active=88 sm_active=61\n"
        "mig gpu=1 uuid=MIG-old name=\"NVIDIA A100-SXM4-40GB MIG 2g.10gb\" gi=5 slices=2 total_mib=9728 "
        "used_mib=9000 procs=4122:8800\n"
        "mig gpu=1 uuid=MIG-empty name=\"NVIDIA A100-SXM4-40GB MIG 1g.5gb\" gi=13 slices=1 total_mib=4864\n");
    auto source = NvmlSource::Open(kCurrent);
    ASSERT_TRUE(source.ok()) << source.error().message;
    for (int i = 0; i < 2; ++i) {
        auto set = (*source)->Sample(kNow);
        ASSERT_TRUE(set.ok());
        // The parents are not reported: their instances are, each priced as its share.
        ASSERT_EQ(set->gpus.size(), 4u);
        std::map<std::string, const GpuSample*> by_uuid;
        for (const auto& g : set->gpus) by_uuid[g.uuid] = &g;
        ASSERT_EQ(by_uuid.count("GPU-parent") + by_uuid.count("GPU-a100"), 0u);
        const GpuSample& small = *by_uuid.at("MIG-small");
        const GpuSample& big = *by_uuid.at("MIG-big");
        const GpuSample& old = *by_uuid.at("MIG-old");
        const GpuSample& empty = *by_uuid.at("MIG-empty");
        ASSERT_TRUE(big.mig.has_value());
        EXPECT_EQ(big.mig->parent_uuid, "GPU-parent");
        EXPECT_EQ(big.mig->parent_name, "NVIDIA H100 80GB HBM3");
        EXPECT_EQ(big.mig->parent_mem_total_mib, 81559);
        EXPECT_EQ(big.mig->gpu_instance_id, 2u);
        EXPECT_EQ(big.mig->profile, "3g.40gb");
        EXPECT_DOUBLE_EQ(big.mig->fraction, 3.0 / 7);
        EXPECT_DOUBLE_EQ(small.mig->fraction, 1.0 / 7);
        EXPECT_EQ(big.index, 0u);
        EXPECT_EQ(old.index, 1u);
        EXPECT_EQ(big.mem_total_mib, 40192);
        ASSERT_TRUE(big.processes && big.processes->size() == 1);
        if (i == 0) {
            // GPM needs two samples; an instance that runs nothing is idle all the same.
            EXPECT_FALSE(big.util_gpu.has_value());
            EXPECT_EQ(small.util_gpu, 0);
        } else {
            EXPECT_EQ(big.util_gpu, 88);  // the instance's graphics-engine activity
            EXPECT_EQ(big.sm_active, 61);
            EXPECT_EQ(small.util_gpu, 4);
        }
        // No GPM before Hopper: a busy instance has no utilization to report, an empty one is idle.
        EXPECT_FALSE(old.util_gpu.has_value());
        EXPECT_EQ(empty.util_gpu, 0);
        EXPECT_DOUBLE_EQ(empty.mig->fraction, 1.0 / 7);
    }
}

}  // namespace
}  // namespace gpuopt::agent
