// The GpuSource contract, one typed suite over every implementation: NVML (through the fake library),
// nvidia-smi (the fake program) and the simulated scenario.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "agent/nvml/nvml_source.hpp"
#include "agent/simulated/simulated_source.hpp"
#include "agent/smi/smi_source.hpp"

namespace gpuopt::agent {
namespace {

std::filesystem::path ScratchDir() {
    auto dir = std::filesystem::temp_directory_path() / ("gpuopt-contract-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir;
}

struct NvmlMaker {
    static std::unique_ptr<GpuSource> Make() {
        const auto dir = ScratchDir();
        std::ofstream(dir / "script")
            << "gpu name=\"NVIDIA A100-SXM4-40GB\" util=3,60 total_mib=40960 used_mib=1200 procs=11:1100\n"
               "gpu name=\"NVIDIA A100-SXM4-40GB\" util=0 total_mib=40960 used_mib=0\n";
        setenv("FAKE_NVML_SCRIPT", (dir / "script").c_str(), 1);
        auto s = NvmlSource::Open(std::string(GPUOPT_FAKES_DIR) + "/nvml-current/libnvidia-ml.so.1");
        return s.ok() ? std::unique_ptr<GpuSource>(std::move(*s)) : nullptr;
    }
};

struct SmiMaker {
    static std::unique_ptr<GpuSource> Make() {
        const auto dir = ScratchDir();
        std::ofstream(dir / "gpus.csv") << "0, GPU-a, NVIDIA A100-SXM4-40GB, 3, 1, 1200, 40960, 34, 55.1, 400, 1410\n"
                                           "1, GPU-b, NVIDIA A100-SXM4-40GB, 0, 0, 0, 40960, 30, 50.0, 400, 210\n";
        std::ofstream(dir / "apps.csv") << "GPU-a, 11, python, 1100\n";
        setenv("FAKE_SMI_GPUS", (dir / "gpus.csv").c_str(), 1);
        setenv("FAKE_SMI_APPS", (dir / "apps.csv").c_str(), 1);
        auto s = SmiSource::Open(std::string(GPUOPT_SOURCE_DIR) + "/tests/fakes/nvidia-smi");
        return s.ok() ? std::unique_ptr<GpuSource>(std::move(*s)) : nullptr;
    }
};

struct SimulatedMaker {
    static std::unique_ptr<GpuSource> Make() {
        auto scenario = LoadScenario(std::string(GPUOPT_SOURCE_DIR) + "/scenarios/demo.json");
        if (!scenario) return nullptr;
        return std::make_unique<SimulatedSource>(scenario->hosts[0], 0, std::chrono::system_clock::now());
    }
};

template <class Maker>
class GpuSourceContract : public ::testing::Test {
protected:
    void SetUp() override {
        source_ = Maker::Make();
        ASSERT_NE(source_, nullptr);
    }
    void TearDown() override { std::filesystem::remove_all(ScratchDir()); }
    std::unique_ptr<GpuSource> source_;
};

using Sources = ::testing::Types<NvmlMaker, SmiMaker, SimulatedMaker>;
TYPED_TEST_SUITE(GpuSourceContract, Sources);

TYPED_TEST(GpuSourceContract, EverySampleListsEachGpuOnceWithValuesInRange) {
    auto now = std::chrono::system_clock::now();
    for (int i = 0; i < 5; ++i) {
        auto set = this->source_->Sample(now + std::chrono::seconds(10 * i));
        ASSERT_TRUE(set.ok());
        ASSERT_GE(set->gpus.size(), 2u);
        std::set<unsigned> indices;
        for (const auto& g : set->gpus) {
            EXPECT_TRUE(indices.insert(g.index).second);
            EXPECT_FALSE(g.name.empty());
            ASSERT_TRUE(g.util_gpu.has_value());
            EXPECT_GE(*g.util_gpu, 0);
            EXPECT_LE(*g.util_gpu, 100);
            ASSERT_TRUE(g.mem_total_mib && g.mem_used_mib);
            EXPECT_GT(*g.mem_total_mib, 0);
            EXPECT_GE(*g.mem_used_mib, 0);
            EXPECT_LE(*g.mem_used_mib, *g.mem_total_mib);
            if (g.processes) {
                for (const auto& p : *g.processes) EXPECT_GT(p.pid, 0u);
            }
        }
        EXPECT_TRUE(set->lost.empty());
    }
}

TYPED_TEST(GpuSourceContract, GpusKeepTheirIdentityFromSampleToSample) {
    auto a = this->source_->Sample(std::chrono::system_clock::now());
    auto b = this->source_->Sample(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->gpus.size(), b->gpus.size());
    for (size_t i = 0; i < a->gpus.size(); ++i) {
        EXPECT_EQ(a->gpus[i].index, b->gpus[i].index);
        EXPECT_EQ(a->gpus[i].uuid, b->gpus[i].uuid);
        EXPECT_FALSE(a->gpus[i].uuid.empty());
    }
    EXPECT_FALSE(this->source_->Kind().empty());
    EXPECT_FALSE(this->source_->Describe().empty());
}

}  // namespace
}  // namespace gpuopt::agent
