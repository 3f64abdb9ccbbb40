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

// A MIG instance: a monitored and priced unit of its parent GPU (the parent itself is then not reported).
struct MigInstance {
    std::string parent_uuid;
    std::string parent_name;
    double parent_mem_total_mib = 0;
    unsigned gpu_instance_id = 0;
    std::string profile;  // "1g.10gb", from the instance's name
    double fraction = 0;  // its GPU-instance slices over the parent's: the share of the parent's price
};

struct GpuSample {
    unsigned index = 0;  // a MIG instance carries its parent's
    std::string uuid;
    std::string name;
    // Percent of time a kernel ran: NVML averages its own sample buffer over the interval since the
    // previous sample when it can; a MIG instance, which has no utilization, gives its GPM
    // graphics-engine activity.
    std::optional<double> util_gpu;
    std::optional<double> util_mem;  // percent of time memory was read or written
    // GPM (Hopper and later), over the interval since the previous sample, in percent: time at least one
    // warp was active on an SM (DCGM's SM_ACTIVE), and time the graphics/compute engine was busy
    // (GR_ENGINE_ACTIVE).
    std::optional<double> sm_active;
    std::optional<double> gr_engine_active;
    std::optional<double> mem_clock_mhz;
    std::optional<double> energy_mj;       // the energy counter, since the driver loaded
    std::string pci_bus_id;                // "00000000:07:00.0"; "" when not known
    std::optional<unsigned> minor_number;  // /dev/nvidiaN
    std::vector<unsigned long long> xids;  // XID errors since the previous sample
    std::optional<MigInstance> mig;
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
