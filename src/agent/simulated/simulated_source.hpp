// A GpuSource that replays one host of a scenario (scenario.hpp) from `start`: the moment it is created,
// or an earlier one so that it carries on where a back-fill of the same scenario stopped.
#pragma once

#include <memory>

#include "agent/gpu_source.hpp"
#include "agent/simulated/scenario.hpp"

namespace gpuopt::agent {

class SimulatedSource final : public GpuSource {
public:
    SimulatedSource(SimulatedHost host, unsigned host_number, std::chrono::system_clock::time_point start)
        : host_(std::move(host)), pid_base_(10000 + host_number * 100), start_(start) {}

    Result<SampleSet> Sample(std::chrono::system_clock::time_point now) override {
        SampleSet set;
        const double t = std::chrono::duration<double>(now - start_).count();
        for (unsigned i = 0; i < host_.gpus.size(); ++i) {
            const SimulatedGpu& gpu = host_.gpus[i];
            if (gpu.stops_after_s > 0 && t >= gpu.stops_after_s) continue;  // switched off
            set.gpus.push_back(SimulateGpu(gpu, i, t, pid_base_));
        }
        return set;
    }
    std::string Kind() const override { return "simulated"; }
    std::string Describe() const override {
        return "simulated host " + host_.hostname + ", " + std::to_string(host_.gpus.size()) + " GPU(s)";
    }
    const std::string& hostname() const { return host_.hostname; }

private:
    SimulatedHost host_;
    unsigned pid_base_;
    std::chrono::system_clock::time_point start_;
};

}  // namespace gpuopt::agent
