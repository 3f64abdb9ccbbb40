// What one look at a GPU yields. Metrics a GPU or driver does not provide are left empty, never
// filled with a sentinel.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gpuopt::agent {

struct GpuProcess {
    uint32_t pid = 0;
    std::string name;                // from /proc/<pid>/comm; empty when not visible (containers)
    std::optional<double> used_mib;  // GPU memory the process holds
    // Who runs it (process_owner.hpp); empty when not known.
    std::optional<uint32_t> uid;
    std::string user;
    std::string container;
    std::string pod;
    std::string k8s_namespace;
    std::string cmdline;
};

struct GpuSample {
    unsigned index = 0;
    std::string uuid;
    std::string name;
    std::optional<double> util_gpu;  // percent of time a kernel ran
    std::optional<double> util_mem;  // percent of time memory was read or written
    std::optional<double> mem_used_mib;
    std::optional<double> mem_total_mib;
    std::optional<double> temperature_c;
    std::optional<double> power_w;
    std::optional<double> power_limit_w;
    std::optional<double> sm_clock_mhz;
    std::optional<std::vector<GpuProcess>> processes;  // empty optional: the list is not available
};

// A GPU that could not be read this time (lost, fallen off the bus, driver error). The others go on.
struct LostGpu {
    unsigned index = 0;
    std::string uuid;
    std::string error;
};

struct SampleSet {
    std::vector<GpuSample> gpus;
    std::vector<LostGpu> lost;
};

}  // namespace gpuopt::agent
