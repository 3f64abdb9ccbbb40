// The nvidia-smi fallback: the CSV parser on real-format output, and SmiSource running the fake
// nvidia-smi of tests/fakes found on PATH.
#include "agent/smi/smi_source.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace gpuopt::agent {
namespace {

TEST(SmiParse, ReadsEveryFieldOfARealLine) {
    auto gpus = ParseSmiGpus(
        "0, GPU-8d1c6c3a-5f2e-4b7a-9c1d-2e3f4a5b6c7d, NVIDIA A100-SXM4-40GB, 3, 1, 1200, 40960, 34, 55.12, 400.00, "
        "1410\n");
    ASSERT_EQ(gpus.size(), 1u);
    EXPECT_EQ(gpus[0].index, 0u);
    EXPECT_EQ(gpus[0].uuid, "GPU-8d1c6c3a-5f2e-4b7a-9c1d-2e3f4a5b6c7d");
    EXPECT_EQ(gpus[0].name, "NVIDIA A100-SXM4-40GB");
    EXPECT_EQ(gpus[0].util_gpu, 3);
    EXPECT_EQ(gpus[0].util_mem, 1);
    EXPECT_EQ(gpus[0].mem_used_mib, 1200);
    EXPECT_EQ(gpus[0].mem_total_mib, 40960);
    EXPECT_EQ(gpus[0].temperature_c, 34);
    EXPECT_DOUBLE_EQ(*gpus[0].power_w, 55.12);
    EXPECT_DOUBLE_EQ(*gpus[0].power_limit_w, 400);
    EXPECT_EQ(gpus[0].sm_clock_mhz, 1410);
}

TEST(SmiParse, BracketedAnswersLeaveMetricsEmpty) {
    auto gpus = ParseSmiGpus(
        "1, GPU-b, Tesla T4, [N/A], [Not Supported], 0, 15360, [Unknown Error], [N/A], "
        "[Insufficient Permissions], [N/A]\n");
    ASSERT_EQ(gpus.size(), 1u);
    EXPECT_FALSE(gpus[0].util_gpu.has_value());
    EXPECT_FALSE(gpus[0].util_mem.has_value());
    EXPECT_EQ(gpus[0].mem_used_mib, 0);
    EXPECT_FALSE(gpus[0].temperature_c.has_value());
    EXPECT_FALSE(gpus[0].power_w.has_value());
    EXPECT_FALSE(gpus[0].power_limit_w.has_value());
    EXPECT_FALSE(gpus[0].sm_clock_mhz.has_value());
}

TEST(SmiParse, NamesWithCommasAndOddWhitespaceDoNotCostTheOtherGpus) {
    auto gpus = ParseSmiGpus(
        "0, GPU-a, NVIDIA GeForce RTX 3090, Founders, Edition, 10, 5, 100, 24576, 40, 100.5, 350.0, 1695\r\n"
        "\n"
        "   1 ,GPU-b,   NVIDIA L4  ,\t99,50, 20000 , 23034, 70, 70.1, 72.0, 2040   \n");
    ASSERT_EQ(gpus.size(), 2u);
    EXPECT_EQ(gpus[0].name, "NVIDIA GeForce RTX 3090, Founders, Edition");
    EXPECT_EQ(gpus[0].util_gpu, 10);
    EXPECT_EQ(gpus[0].sm_clock_mhz, 1695);
    EXPECT_EQ(gpus[1].index, 1u);
    EXPECT_EQ(gpus[1].uuid, "GPU-b");
    EXPECT_EQ(gpus[1].name, "NVIDIA L4");
    EXPECT_EQ(gpus[1].util_gpu, 99);
    EXPECT_EQ(gpus[1].mem_used_mib, 20000);
}

TEST(SmiParse, ABrokenLineIsSkippedAndNamed) {
    std::vector<std::string> warnings;
    auto gpus = ParseSmiGpus(
        "0, GPU-a, NVIDIA L4, 1, 1, 1, 23034, 30, 20, 72, 210\n"
        "garbage without enough fields\n"
        "x, GPU-c, NVIDIA L4, 1, 1, 1, 23034, 30, 20, 72, 210\n"
        "2, GPU-d, NVIDIA L4, 7, 1, 1, 23034, 30, 20, 72, 210\n",
        &warnings);
    ASSERT_EQ(gpus.size(), 2u);
    EXPECT_EQ(gpus[0].uuid, "GPU-a");
    EXPECT_EQ(gpus[1].uuid, "GPU-d");
    EXPECT_EQ(warnings.size(), 2u);
}

TEST(SmiParse, ProcessesAttachToTheirGpuByUuid) {
    auto gpus = ParseSmiGpus(
        "0, GPU-a, NVIDIA L4, 1, 1, 1, 23034, 30, 20, 72, 210\n"
        "1, GPU-b, NVIDIA L4, 1, 1, 1, 23034, 30, 20, 72, 210\n");
    AttachSmiProcesses(
        "GPU-b, 4121, /usr/bin/python3, 1100\n"
        "GPU-b, 4122, /opt/my, app/run, [N/A]\n"
        "GPU-a, 77, jupyter, 30000\n",
        gpus);
    ASSERT_TRUE(gpus[0].processes && gpus[1].processes);
    ASSERT_EQ(gpus[0].processes->size(), 1u);
    EXPECT_EQ((*gpus[0].processes)[0].used_mib, 30000);
    ASSERT_EQ(gpus[1].processes->size(), 2u);
    EXPECT_EQ((*gpus[1].processes)[0].name, "/usr/bin/python3");
    EXPECT_EQ((*gpus[1].processes)[1].name, "/opt/my, app/run");
    EXPECT_FALSE((*gpus[1].processes)[1].used_mib.has_value());
}

class SmiSourceTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() / ("gpuopt-smi-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
        old_path_ = std::getenv("PATH") ? std::getenv("PATH") : "";
        setenv("PATH", (std::string(GPUOPT_SOURCE_DIR) + "/tests/fakes:" + old_path_).c_str(), 1);
        std::ofstream(dir_ / "gpus.csv") << "0, GPU-a, NVIDIA A10G, 12, 3, 500, 23028, 40, 60.0, 300.0, 1710\n"
                                            "1, GPU-b, NVIDIA A10G, [N/A], 3, 0, 23028, 35, 20.0, 300.0, 210\n";
        std::ofstream(dir_ / "apps.csv") << "GPU-a, 4121, python, 480\n";
        setenv("FAKE_SMI_GPUS", (dir_ / "gpus.csv").c_str(), 1);
        setenv("FAKE_SMI_APPS", (dir_ / "apps.csv").c_str(), 1);
    }
    void TearDown() override {
        setenv("PATH", old_path_.c_str(), 1);
        unsetenv("FAKE_SMI_GPUS");
        unsetenv("FAKE_SMI_APPS");
        unsetenv("FAKE_SMI_EXIT");
        std::filesystem::remove_all(dir_);
    }
    std::filesystem::path dir_;
    std::string old_path_;
};

TEST_F(SmiSourceTest, SamplesThroughTheProgramOnPath) {
    auto source = SmiSource::Open();
    ASSERT_TRUE(source.ok()) << source.error().message;
    auto set = (*source)->Sample(std::chrono::system_clock::now());
    ASSERT_TRUE(set.ok());
    ASSERT_EQ(set->gpus.size(), 2u);
    EXPECT_EQ(set->gpus[0].name, "NVIDIA A10G");
    ASSERT_EQ(set->gpus[0].processes->size(), 1u);
    EXPECT_FALSE(set->gpus[1].util_gpu.has_value());
    EXPECT_TRUE(set->gpus[1].processes->empty());
}

TEST_F(SmiSourceTest, FailsWhenTheProgramFailsOrIsMissing) {
    setenv("FAKE_SMI_EXIT", "9", 1);
    EXPECT_FALSE(SmiSource::Open().ok());
    unsetenv("FAKE_SMI_EXIT");
    EXPECT_FALSE(SmiSource::Open((dir_ / "no-such-nvidia-smi").string()).ok());
}

TEST(RunCapture, KillsAProgramThatRunsTooLong) {
    const auto start = std::chrono::steady_clock::now();
    auto r = RunCapture({"sleep", "10"}, std::chrono::milliseconds(200));
    EXPECT_FALSE(r.ok());
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace gpuopt::agent
