#include "agent/window.hpp"

#include <algorithm>

namespace gpuopt::agent {

bool IsIdleSample(const GpuSample& s, const WindowRules& rules) {
    if (!s.util_gpu) return false;
    const double activity = s.sm_active.value_or(*s.util_gpu);
    const bool drawing = s.power_w && s.power_limit_w && *s.power_limit_w > 0 &&
                         *s.power_w > rules.busy_power_fraction * *s.power_limit_w;
    return activity < rules.idle_threshold_percent && !drawing;
}

double WindowAggregator::HeldMib(const GpuSample& s) {
    if (s.processes) {
        double sum = 0;
        bool any_unknown = false;
        for (const auto& p : *s.processes) {
            if (p.used_mib) {
                sum += *p.used_mib;
            } else {
                any_unknown = true;
            }
        }
        // Processes whose memory NVML cannot tell (WDDM, some containers): the GPU's own figure.
        if (!any_unknown) return sum;
    }
    return s.mem_used_mib.value_or(0);
}

void WindowAggregator::Add(const SampleSet& set) {
    ++samples_;
    for (const auto& s : set.gpus) {
        auto& g = gpus_[{s.index, s.uuid}];
        g.index = s.index;
        g.uuid = s.uuid;
        g.name = s.name;
        ++g.samples;
        if (s.util_gpu) {
            ++g.util_samples;
            g.util_sum += *s.util_gpu;
            g.util_max = std::max(g.util_max, *s.util_gpu);
            if (IsIdleSample(s, rules_)) {
                ++g.idle_samples;
                if (HeldMib(s) > rules_.held_mib_threshold) ++g.idle_held_samples;
            }
        }
        if (s.sm_active) {
            ++g.sm_active_samples;
            g.sm_active_sum += *s.sm_active;
        }
        if (s.gr_engine_active) {
            ++g.gr_active_samples;
            g.gr_active_sum += *s.gr_engine_active;
        }
        if (s.mem_clock_mhz) g.mem_clock = s.mem_clock_mhz;
        if (s.energy_mj) {
            auto [seen, first] = energy_seen_.try_emplace({s.index, s.uuid}, *s.energy_mj);
            // A counter that went back was reset (driver reloaded): that interval is not known.
            const double used = first || *s.energy_mj < seen->second ? 0 : *s.energy_mj - seen->second;
            g.energy_window_mj = g.energy_window_mj.value_or(0) + used;
            seen->second = *s.energy_mj;
            g.energy_mj = s.energy_mj;
        }
        if (!s.pci_bus_id.empty()) g.pci_bus_id = s.pci_bus_id;
        if (s.minor_number) g.minor_number = s.minor_number;
        if (!s.xids.empty()) {
            g.xid_count += static_cast<int>(s.xids.size());
            g.xid_last = s.xids.back();
        }
        if (s.mig) g.mig = s.mig;
        if (s.util_mem) {
            ++g.mem_util_samples;
            g.mem_util_sum += *s.util_mem;
        }
        if (s.mem_used_mib) g.mem_used_peak = std::max(g.mem_used_peak.value_or(0), *s.mem_used_mib);
        if (s.mem_total_mib) g.mem_total = s.mem_total_mib;
        if (s.temperature_c) g.temperature = s.temperature_c;
        if (s.power_w) {
            ++g.power_samples;
            g.power_sum += *s.power_w;
        }
        if (s.power_limit_w) g.power_limit = s.power_limit_w;
        if (s.sm_clock_mhz) g.sm_clock = s.sm_clock_mhz;
        if (s.processes) {
            g.processes_known = true;
            for (const auto& p : *s.processes) {
                auto it = g.processes.find(p.pid);
                if (it == g.processes.end()) {
                    if (g.processes.size() < rules_.max_processes) g.processes.emplace(p.pid, p);
                } else if (p.used_mib && (!it->second.used_mib || *p.used_mib > *it->second.used_mib)) {
                    it->second.used_mib = p.used_mib;
                }
            }
        }
    }
    for (const auto& l : set.lost) lost_[{l.index, l.uuid}] = l;
}

WindowReport WindowAggregator::Close(std::chrono::system_clock::time_point start,
                                     std::chrono::system_clock::time_point end) {
    WindowReport r;
    r.start = start;
    r.end = end;
    r.samples = samples_;
    for (auto& [key, g] : gpus_) r.gpus.push_back(std::move(g));
    for (auto& [key, l] : lost_) {
        // A GPU read in some samples and lost in others is reported with its numbers, and as lost.
        r.lost.push_back(std::move(l));
    }
    std::sort(r.gpus.begin(), r.gpus.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
    gpus_.clear();
    lost_.clear();
    samples_ = 0;
    return r;
}

}  // namespace gpuopt::agent
