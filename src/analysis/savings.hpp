// The savings rule of SPEC §6, applied to the GPU windows of one report. Pure functions.
#pragma once

#include <vector>

#include "store/usage.hpp"

namespace gpuopt::analysis {

struct SavingsRules {
    double idle_threshold_percent = 15.0;  // a sample under this utilization is idle
    double recoverable_fraction = 0.5;     // share of idle cost a customer can realistically recover
};

struct HourlySavings {
    double idle_cost_per_hour = 0;        // Σ idle share × cost_per_hour
    double potential_hourly_savings = 0;  // idle_cost_per_hour × recoverable fraction
    double monthly_projection = 0;        // potential_hourly_savings × 720
};

// The idle share of one window: the agent's measured idle fraction when it sent one, otherwise 1 when
// the window's average utilization is under the threshold, else 0. Always in [0, 1].
double IdleShare(const store::GpuWindow& gpu, const SavingsRules& rules);

// Money figures are rounded to cents (half away from zero) so replies are stable and readable.
HourlySavings ComputeHourlySavings(const std::vector<store::GpuWindow>& gpus, const SavingsRules& rules);

inline constexpr double kHoursPerMonth = 720.0;

}  // namespace gpuopt::analysis
