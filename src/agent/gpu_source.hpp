// One interface over the ways the agent can look at GPUs: NVML (nvml/), nvidia-smi when NVML cannot
// be loaded (smi/), and a scenario replayed for demos and tests (simulated/).
#pragma once

#include <chrono>
#include <string>

#include "agent/gpu_sample.hpp"
#include "common/result.hpp"

namespace gpuopt::agent {

class GpuSource {
public:
    virtual ~GpuSource() = default;

    // One look at every GPU. `now` is the sample's wall-clock time (the simulated source replays its
    // scenario at that time; the others ignore it). Fails only when nothing could be read at all; a
    // single GPU that fails is listed in SampleSet::lost.
    virtual Result<SampleSet> Sample(std::chrono::system_clock::time_point now) = 0;

    // "nvml", "nvidia-smi" or "simulated", and details for the start-up log (driver version).
    virtual std::string Kind() const = 0;
    virtual std::string Describe() const = 0;
    // The NVIDIA driver's version when the source knows it, else "".
    virtual std::string DriverVersion() const { return {}; }
};

}  // namespace gpuopt::agent
