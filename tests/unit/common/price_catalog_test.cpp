// The price catalog shared by the agent and the analysis: the repo's data files, matching NVML names
// to models, and the order in which the agent decides a GPU's price.
#include "common/price_catalog.hpp"

#include <gtest/gtest.h>

#include "agent/pricing.hpp"

namespace gpuopt {
namespace {

TEST(PriceCatalog, TheRepoFilesParseAndListTheReferenceInstances) {
    const auto& c = PriceCatalog::Builtin();
    for (auto [provider, type] : {std::pair{"aws", "p3.2xlarge"},
                                  {"aws", "p3.8xlarge"},
                                  {"aws", "p3.16xlarge"},
                                  {"aws", "p4d.24xlarge"},
                                  {"aws", "p4de.24xlarge"},
                                  {"aws", "p5.4xlarge"},
                                  {"aws", "p5.48xlarge"},
                                  {"aws", "p5en.48xlarge"},
                                  {"aws", "g4dn.xlarge"},
                                  {"aws", "g5.xlarge"},
                                  {"aws", "g6.xlarge"},
                                  {"aws", "g6e.2xlarge"},
                                  {"gcp", "a2-highgpu-1g"},
                                  {"gcp", "g2-standard-4"},
                                  {"gcp", "a3-highgpu-8g"},
                                  {"azure", "Standard_NC24ads_A100_v4"},
                                  {"azure", "Standard_NC48ads_A100_v4"},
                                  {"azure", "Standard_NC96ads_A100_v4"},
                                  {"azure", "Standard_NC40ads_H100_v5"},
                                  {"azure", "Standard_ND96isr_H100_v5"},
                                  {"azure", "Standard_NC6s_v3"},
                                  {"azure", "Standard_ND96asr_v4"}}) {
        const InstancePrice* p = c.FindInstance(provider, type);
        ASSERT_NE(p, nullptr) << provider << " " << type;
        EXPECT_FALSE(p->source.empty());
        EXPECT_FALSE(p->as_of.empty());
    }
    const InstancePrice* p4d = c.FindInstance("aws", "p4d.24xlarge");
    EXPECT_EQ(p4d->gpus, 8);
    EXPECT_DOUBLE_EQ(p4d->usd_per_hour, 21.957642);
    EXPECT_NEAR(p4d->UsdPerGpuHour(), 2.7447, 1e-4);
    EXPECT_EQ(c.FindInstance("aws", "P4D.24XLARGE"), nullptr);
}

TEST(PriceCatalog, MatchesNvmlNamesToModelsTellingMemorySizesApart) {
    const auto& c = PriceCatalog::Builtin();
    auto model = [&](const char* name, double mib) {
        const GpuModel* m = c.MatchGpu(name, mib);
        return m ? m->model : std::string("none");
    };
    EXPECT_EQ(model("NVIDIA A100-SXM4-40GB", 40960), "A100 40GB");
    EXPECT_EQ(model("NVIDIA A100-SXM4-80GB", 81920), "A100 80GB");
    EXPECT_EQ(model("NVIDIA A100 80GB PCIe", 81920), "A100 80GB");
    EXPECT_EQ(model("NVIDIA H100 80GB HBM3", 81559), "H100 80GB");
    EXPECT_EQ(model("NVIDIA H100 NVL", 95830), "H100 NVL 94GB");
    EXPECT_EQ(model("NVIDIA L4", 23034), "L4 24GB");
    EXPECT_EQ(model("NVIDIA L40S", 46068), "L40S 48GB");
    EXPECT_EQ(model("Tesla T4", 15360), "T4 16GB");
    EXPECT_EQ(model("Tesla V100-SXM2-16GB", 16384), "V100 16GB");
    EXPECT_EQ(model("NVIDIA A10G", 23028), "A10G 24GB");
    EXPECT_EQ(model("NVIDIA GeForce RTX 4090", 24564), "none");
    EXPECT_EQ(model("NVIDIA L40", 46068), "none");  // not L4, not L40S
}

TEST(PriceCatalog, RejectsFilesWithBadEntries) {
    const std::string gpus =
        R"({"models":[{"model":"A100 40GB","match":["A100"],"memory_gib":40,"usd_per_gpu_hour":2.7,"source":"s","as_of":"d"}]})";
    EXPECT_TRUE(PriceCatalog::Parse(R"({"instances":[]})", gpus).ok());
    auto unknown_model = PriceCatalog::Parse(
        R"({"instances":[{"provider":"aws","instance_type":"x","gpus":1,"gpu_model":"B200","usd_per_hour":1,"source":"s","as_of":"d"}]})",
        gpus);
    ASSERT_FALSE(unknown_model.ok());
    EXPECT_NE(unknown_model.error().details.begin()->second.find("B200"), std::string::npos);
    EXPECT_FALSE(
        PriceCatalog::Parse(
            R"({"instances":[{"provider":"aws","instance_type":"x","gpus":1,"gpu_model":"A100 40GB","usd_per_hour":-1,"source":"s","as_of":"d"}]})",
            gpus)
            .ok());
    EXPECT_FALSE(PriceCatalog::Parse(R"({"instances":{}})", gpus).ok());
    EXPECT_FALSE(
        PriceCatalog::Parse(
            R"({"instances":[]})",
            R"({"models":[{"model":"x","match":[],"memory_gib":1,"usd_per_gpu_hour":1,"source":"s","as_of":"d"}]})")
            .ok());
    EXPECT_FALSE(PriceCatalog::Load("/no/such/catalog.json", "").ok());
}

TEST(PriceGpu, ExplicitThenCloudInstanceThenModelThenNothing) {
    const auto& c = PriceCatalog::Builtin();
    const agent::CloudInstance p4d{"aws", "p4d.24xlarge", "us-east-1"};
    EXPECT_EQ(agent::PriceGpu(c, 1.5, p4d, "NVIDIA A100-SXM4-40GB", 40960).usd_per_hour, 1.5);
    auto cloud = agent::PriceGpu(c, std::nullopt, p4d, "NVIDIA A100-SXM4-40GB", 40960);
    EXPECT_NEAR(*cloud.usd_per_hour, 21.957642 / 8, 1e-9);
    EXPECT_NE(cloud.source.find("p4d.24xlarge"), std::string::npos);
    // An instance the catalog does not know: the GPU model's default.
    auto model =
        agent::PriceGpu(c, std::nullopt, agent::CloudInstance{"aws", "p9.huge", ""}, "NVIDIA H100 80GB HBM3", 81559);
    EXPECT_DOUBLE_EQ(*model.usd_per_hour, 6.88);
    auto none = agent::PriceGpu(c, std::nullopt, std::nullopt, "NVIDIA GeForce RTX 4090", 24564);
    EXPECT_FALSE(none.usd_per_hour.has_value());
}

}  // namespace
}  // namespace gpuopt
