// Turns samples into one report per window (SPEC §5): per GPU the average and peak utilization, the
// fraction of samples that were idle and idle while memory was held, the peak memory, and the
// latest (or average, for power and GPM activity) of the rest; the energy used; XID errors; processes
// seen during the window with the most memory each held. A sample is idle when its activity is under
// the threshold (SM activity when GPM gives it, else utilization) and its power draw does not say
// otherwise.
// Not thread-safe: the sampling thread owns it.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/gpu_sample.hpp"

namespace gpuopt::agent {

struct WindowRules {
    double idle_threshold_percent = 15;  // a sample under this utilization is idle
    double held_mib_threshold = 100;     // idle with more than this held by processes: idle but holding memory
    size_t max_processes = 64;           // per GPU per report
    // A sample drawing more than this share of its power limit is not idle whatever the activity reads
    // (a busy GPU between kernels, a utilization the driver under-reports).
    double busy_power_fraction = 0.5;
};

struct GpuWindowStats {
    unsigned index = 0;
    std::string uuid;
    std::string name;
    int samples = 0;       // samples in which the GPU was read
    int util_samples = 0;  // ... that carried a utilization
    double util_sum = 0;
    double util_max = 0;
    int idle_samples = 0;
    int idle_held_samples = 0;
    int mem_util_samples = 0;
    double mem_util_sum = 0;
    std::optional<double> mem_used_peak;
    std::optional<double> mem_total;
    std::optional<double> temperature;  // latest
    int power_samples = 0;
    double power_sum = 0;
    std::optional<double> power_limit;  // latest
    std::optional<double> sm_clock;     // latest
    std::optional<double> mem_clock;    // latest
    int sm_active_samples = 0;
    double sm_active_sum = 0;
    int gr_active_samples = 0;
    double gr_active_sum = 0;
    std::optional<double> energy_mj;         // the counter, latest
    std::optional<double> energy_window_mj;  // used during the window (counter resets left out)
    std::string pci_bus_id;
    std::optional<unsigned> minor_number;
    int xid_count = 0;
    std::optional<unsigned long long> xid_last;
    std::optional<MigInstance> mig;
    bool processes_known = false;
    std::map<uint32_t, GpuProcess> processes;  // by pid, with the most memory each held

    // Whether the report can carry this GPU (the server needs a utilization and the memory size).
    bool Reportable() const { return util_samples > 0 && mem_total && *mem_total > 0 && mem_used_peak; }
};

struct WindowReport {
    std::chrono::system_clock::time_point start;
    std::chrono::system_clock::time_point end;
    int samples = 0;
    std::vector<GpuWindowStats> gpus;  // by index
    std::vector<LostGpu> lost;         // GPUs lost during the window (latest error each)
};

// Whether one sample is idle: its activity (SM activity where GPM gives it, else utilization) under the
// threshold, and its power draw not saying otherwise. A sample without utilization is not idle.
bool IsIdleSample(const GpuSample& s, const WindowRules& rules);

class WindowAggregator {
public:
    explicit WindowAggregator(WindowRules rules) : rules_(rules) {}

    void Add(const SampleSet& samples);
    int samples() const { return samples_; }
    // The report of everything added since the last Close, then starts afresh.
    WindowReport Close(std::chrono::system_clock::time_point start, std::chrono::system_clock::time_point end);

    // Memory processes hold: their sum when the list is known, else what the GPU reports as used.
    static double HeldMib(const GpuSample& s);

private:
    WindowRules rules_;
    int samples_ = 0;
    std::map<std::pair<unsigned, std::string>, GpuWindowStats> gpus_;
    std::map<std::pair<unsigned, std::string>, LostGpu> lost_;
    // Each GPU's energy counter at its previous sample, kept across windows so no interval is dropped.
    std::map<std::pair<unsigned, std::string>, double> energy_seen_;
};

}  // namespace gpuopt::agent
