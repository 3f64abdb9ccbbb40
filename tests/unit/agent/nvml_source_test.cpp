// NvmlSource through the agent's real loader path, against the fake NVML built by the tests
// (tests/fakes/fake_nvml.cpp), as a current driver and as an old one.
#include "agent/nvml/nvml_source.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
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

}  // namespace
}  // namespace gpuopt::agent
