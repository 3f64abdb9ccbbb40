// The price catalog shared by the agent (pricing its GPUs) and the server's analysis (pricing waste and
// right-sizing): on-demand prices of cloud GPU instances, and GPU models with their memory and a
// default price per GPU-hour. The defaults are the repo's catalog/price_catalog.json and
// catalog/gpu_catalog.json, compiled in; an operator can load other files with the same layout.
// Immutable once built; safe to share between threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace gpuopt {

struct InstancePrice {
    std::string provider;       // "aws", "gcp", "azure"
    std::string instance_type;  // "p4d.24xlarge", "a2-highgpu-1g", "Standard_NC24ads_A100_v4"
    std::string region;
    int gpus = 1;
    std::string gpu_model;    // a GpuModel::model
    double usd_per_hour = 0;  // the whole instance
    std::string source;
    std::string as_of;
    std::string note;  // e.g. "unconfirmed"

    double UsdPerGpuHour() const { return usd_per_hour / gpus; }
};

// What a GPU is built for, in the order right-sizing steps down: a data-centre training GPU (HBM, NVLink,
// FP64), a universal one (large GDDR, no NVLink), an inference one (small, low power).
enum class GpuClass { kInference, kUniversal, kDatacenter };

constexpr std::string_view NameOf(GpuClass c) {
    switch (c) {
        case GpuClass::kInference:
            return "inference";
        case GpuClass::kUniversal:
            return "universal";
        case GpuClass::kDatacenter:
            return "datacenter";
    }
    return "";
}

constexpr std::optional<GpuClass> GpuClassNamed(std::string_view name) {
    for (GpuClass c : {GpuClass::kInference, GpuClass::kUniversal, GpuClass::kDatacenter}) {
        if (NameOf(c) == name) return c;
    }
    return std::nullopt;
}

struct GpuModel {
    std::string model;               // "A100 40GB"
    std::vector<std::string> match;  // tokens that must all appear in the NVML name ("A100")
    double memory_gib = 0;
    std::optional<double> fp16_tflops;           // dense FP16 Tensor throughput; empty when not confirmed
    std::optional<double> memory_bandwidth_gbs;  // GB/s from the datasheet; empty when not confirmed
    std::optional<GpuClass> gpu_class;           // empty in catalogs that do not say
    double usd_per_gpu_hour = 0;
    std::string source;
    std::string as_of;
};

class PriceCatalog {
public:
    // Parses the two documents; fails naming the first bad entry.
    static Result<PriceCatalog> Parse(std::string_view instances_json, std::string_view gpus_json);
    // The compiled-in copies of catalog/price_catalog.json and catalog/gpu_catalog.json.
    static const PriceCatalog& Builtin();
    // Reads either file from disk when a path is given, the built-in copy otherwise.
    static Result<PriceCatalog> Load(const std::string& instances_path, const std::string& gpus_path);

    // Exact instance type (case-sensitive, as clouds report them) of a provider.
    const InstancePrice* FindInstance(std::string_view provider, std::string_view instance_type) const;

    // The model an NVML name denotes ("NVIDIA A100-SXM4-40GB", "Tesla T4"): every token of the model's
    // match list must appear among the name's tokens (split on spaces and '-', case-insensitive); the
    // model with the most tokens wins, then the one whose memory is closest to mem_total_mib (so that
    // 40 GB and 80 GB A100s are told apart). nullptr when no model matches.
    const GpuModel* MatchGpu(std::string_view name, double mem_total_mib) const;
    const GpuModel* FindModel(std::string_view model) const;

    const std::vector<InstancePrice>& instances() const { return instances_; }
    const std::vector<GpuModel>& gpu_models() const { return models_; }

private:
    std::vector<InstancePrice> instances_;
    std::vector<GpuModel> models_;
};

}  // namespace gpuopt
