#include "analysis/savings.hpp"

#include <algorithm>
#include <cmath>

namespace gpuopt::analysis {

namespace {
double Cents(double x) { return std::round(x * 100.0) / 100.0; }
}  // namespace

double IdleShare(const store::GpuWindow& gpu, const SavingsRules& rules) {
    if (gpu.idle_fraction) return std::clamp(*gpu.idle_fraction, 0.0, 1.0);
    return gpu.util_avg < rules.idle_threshold_percent ? 1.0 : 0.0;
}

HourlySavings ComputeHourlySavings(const std::vector<store::GpuWindow>& gpus, const SavingsRules& rules) {
    double idle_cost = 0;
    for (const auto& g : gpus) idle_cost += IdleShare(g, rules) * g.cost_per_hour;
    HourlySavings s;
    const double hourly = idle_cost * rules.recoverable_fraction;
    s.idle_cost_per_hour = Cents(idle_cost);
    s.potential_hourly_savings = Cents(hourly);
    s.monthly_projection = Cents(hourly * kHoursPerMonth);
    return s;
}

}  // namespace gpuopt::analysis
