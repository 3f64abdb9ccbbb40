// GPUs through NVML, loaded at run time with dlopen. One NVML session lives as long as the source
// (init once, handles cached), versioned entry points are asked for by name (nvmlInit_v2,
// nvmlDeviceGetMemoryInfo_v2 with its struct version set, the _v3/_v2 process lists) with fallbacks to
// the older ones, and each metric is optional: NOT_SUPPORTED leaves it out (and it is not asked for
// again), a lost GPU is listed as lost while the others are read.
// Not thread-safe: one sampling thread uses it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/gpu_source.hpp"
#include "agent/nvml/nvml_api.hpp"

namespace gpuopt::agent {

class NvmlSource final : public GpuSource {
public:
    // Loads `library` (default "libnvidia-ml.so.1", found the way the dynamic loader finds it) and
    // initialises NVML. Fails, saying why, when the library is missing, lacks a required entry point,
    // or NVML will not initialise (no driver).
    static Result<std::unique_ptr<NvmlSource>> Open(const std::string& library = "libnvidia-ml.so.1");
    ~NvmlSource() override;
    NvmlSource(const NvmlSource&) = delete;
    NvmlSource& operator=(const NvmlSource&) = delete;

    Result<SampleSet> Sample(std::chrono::system_clock::time_point now) override;
    std::string Kind() const override { return "nvml"; }
    std::string Describe() const override;

    std::string DriverVersion() const override { return driver_version_; }
    unsigned device_count() const { return static_cast<unsigned>(devices_.size()); }

private:
    struct Api;
    enum Metric : unsigned {
        kUtil = 1u << 0,
        kMemory = 1u << 1,
        kTemperature = 1u << 2,
        kPower = 1u << 3,
        kPowerLimit = 1u << 4,
        kSmClock = 1u << 5,
        kProcesses = 1u << 6,
        kSamples = 1u << 7,
        kEnergy = 1u << 8,
        kMemClock = 1u << 9,
        kGpm = 1u << 10,
    };
    struct DeviceState {
        nvml::Device handle = nullptr;
        unsigned index = 0;
        std::string uuid;
        std::string name;
        std::string pci_bus_id;
        std::optional<unsigned> minor_number;
        unsigned unsupported = 0;  // Metric bits NVML answered NOT_SUPPORTED for
        bool lost = false;
        unsigned long long last_sample_us = 0;  // the newest utilization sample already averaged
        // GPM: two samples, the previous one and the one taken now; metrics need both.
        nvml::GpmSample gpm_previous = nullptr;
        nvml::GpmSample gpm_current = nullptr;
        bool gpm_primed = false;
        bool mig_enabled = false;  // a parent in MIG mode: its instances are the units reported
        std::optional<MigInstance> mig;
        nvml::Device parent = nullptr;  // a MIG instance's GPU
        std::vector<unsigned long long> xids;
    };

    NvmlSource(void* library, std::unique_ptr<Api> api);
    std::string ErrorText(nvml::Return rc) const;
    // Records a failed call: NOT_SUPPORTED is remembered, GPU_IS_LOST marks the device. Returns true
    // when the device is lost.
    bool Note(DeviceState& d, Metric metric, nvml::Return rc);
    bool ReadProcesses(DeviceState& d, GpuSample& s);  // true when the device turned out lost
    bool ReadSampleBuffer(DeviceState& d, GpuSample& s);
    bool ReadGpm(DeviceState& d, GpuSample& s);
    void FindMigInstances(size_t parent);
    void PrepareGpm(DeviceState& d, bool parent_supports);
    void DrainEvents();

    void* library_;
    std::unique_ptr<Api> api_;
    bool initialised_ = false;
    std::string driver_version_;
    std::vector<DeviceState> devices_;
    std::vector<unsigned char> process_buffer_;
    std::vector<nvml::Sample> sample_buffer_;
    std::unique_ptr<nvml::GpmMetricsGet> gpm_request_;
    nvml::EventSet events_ = nullptr;
};

}  // namespace gpuopt::agent
