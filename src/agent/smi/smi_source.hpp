// GPUs through `nvidia-smi --query-gpu=... --format=csv,noheader,nounits`: the fallback for hosts
// where NVML cannot be loaded (some vGPU guests, locked-down containers). Each sample runs the tool
// (and once more for the process list), so it is never used when NVML works.
// Not thread-safe: one sampling thread uses it.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/gpu_source.hpp"

namespace gpuopt::agent {

// The --query-gpu fields, in the order ParseSmiGpus expects them.
inline constexpr std::string_view kSmiGpuFields =
    "index,uuid,name,utilization.gpu,utilization.memory,memory.used,memory.total,temperature.gpu,power.draw,"
    "power.limit,clocks.sm";
inline constexpr std::string_view kSmiProcessFields = "gpu_uuid,pid,process_name,used_gpu_memory";

// Parses --query-gpu CSV (noheader, nounits). Fields are trimmed; "[N/A]", "[Not Supported]" and the
// other bracketed answers leave a metric empty; a name containing commas is rejoined (it is the only
// free-text field). A line that cannot be read is skipped and named in `warnings`; the others are kept.
std::vector<GpuSample> ParseSmiGpus(std::string_view csv, std::vector<std::string>* warnings = nullptr);

// Parses --query-compute-apps CSV and attaches each process to the GPU with its uuid.
void AttachSmiProcesses(std::string_view csv, std::vector<GpuSample>& gpus,
                        std::vector<std::string>* warnings = nullptr);

class SmiSource final : public GpuSource {
public:
    // Runs the tool once to check that it works and sees at least one GPU.
    static Result<std::unique_ptr<SmiSource>> Open(std::string program = "nvidia-smi",
                                                   std::chrono::milliseconds timeout = std::chrono::seconds(10));

    Result<SampleSet> Sample(std::chrono::system_clock::time_point now) override;
    std::string Kind() const override { return "nvidia-smi"; }
    std::string Describe() const override;

private:
    SmiSource(std::string program, std::chrono::milliseconds timeout)
        : program_(std::move(program)), timeout_(timeout) {}

    std::string program_;
    std::chrono::milliseconds timeout_;
    size_t gpus_seen_ = 0;
};

// Runs `argv` without a shell and returns its standard output; fails on a start error, a non-zero
// exit or when it runs past `timeout` (it is then killed).
Result<std::string> RunCapture(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

}  // namespace gpuopt::agent
