// Priced recommendations from a customer's history (SPEC §6): each names what to do, to which GPU or
// host, the numbers it rests on, the monthly savings it estimates and how sure it is. Pure.
//
//   stop_idle_gpu        idle ≥ 95 % of its reported time: stop or remove it (saves its running cost)
//   release_idle_memory  idle while a process holds its memory for a large share of the idle time:
//                        end that process (a forgotten notebook) or let the GPU be reclaimed
//   auto_stop            idle a large share of the time in long stretches: stop it automatically when
//                        idle for 30 min (saves the recoverable share of the idle cost)
//   right_size           peak memory and load fit a cheaper model of the GPU catalog
//   consolidate          several lightly used GPUs of one host fit on fewer (MPS, MIG, time-slicing)
//   committed_use        busy around the clock: committed-use pricing at the configured discount
//
// Savings are monthly (720 h), scaled by the share of the range the GPU reported, and never more than
// what the GPU costs. At most one of stop_idle_gpu, release_idle_memory and auto_stop per GPU, so that
// their savings do not overlap.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "analysis/history.hpp"
#include "common/price_catalog.hpp"

namespace gpuopt::analysis {

struct RecommendRules {
    double recoverable_fraction = 0.5;
    double committed_discount = 0.3;  // discount of committed-use over on-demand pricing (an operator's figure)
    double min_reported_hours = 24;   // less data than this: no recommendation
    double stop_idle_share = 0.95;
    double auto_stop_idle_share = 0.25;
    double held_share_of_idle = 0.5;  // release_idle_memory when this much of the idle time held memory
    double right_size_memory_headroom = 1.2;
    double right_size_max_load = 0.8;   // of the smaller GPU's throughput, at the current p95 utilization
    double consolidate_max_util = 40;   // p95 utilization of each GPU to consider
    double consolidate_max_load = 0.8;  // of one GPU, after consolidation
    double committed_min_coverage = 0.95;
    double committed_min_busy_share = 0.8;
    double committed_min_range_hours = 24 * 7;
};

struct Evidence {
    std::string name;
    double value = 0;
    std::string unit;  // "h", "%", "MiB", "USD", "USD/h", "GPUs"
};

struct Recommendation {
    std::string type;
    std::string target;    // a GPU key ("host/uuid") or a host
    std::string gpu_name;  // the GPU's model as reported (empty for hosts)
    std::string summary;   // one sentence for people
    std::vector<Evidence> evidence;
    double monthly_savings = 0;
    std::string confidence;  // "high", "medium" or "low"
};

struct GpuInput {
    GpuHistory history;
    Totals totals;
};

// Recommendations for the GPUs over `range`, highest savings first.
std::vector<Recommendation> Recommend(const std::vector<GpuInput>& gpus, const Range& range,
                                      const RecommendRules& rules, const PriceCatalog& catalog);

}  // namespace gpuopt::analysis
