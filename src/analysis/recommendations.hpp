// A savings plan from a customer's history (SPEC §6): for every GPU the one action that saves the most,
// the other actions it could take listed beside it with their own figures, and totals that add only
// the recommended actions. Pure.
//
// The actions, each priced over the range analyzed and projected to a month (× 720 h / range hours):
//
//   stop_idle_gpu        idle ≥ 95 % of its reported time: stop it or give it back (saves its idle cost)
//   release_idle_memory  idle while a process holds its memory for a large share of the idle time: end
//                        that process (a forgotten notebook) so the GPU can be stopped or shared (saves the
//                        recoverable share of the idle-while-holding cost)
//   auto_stop            idle in stretches of 30 min or more: stop it automatically after 30 idle minutes
//                        (saves the recoverable share of the cost of those stretches)
//   right_size           a cheaper model of the GPU catalog carries the load: memory peak with headroom,
//                        compute and memory bandwidth at the p95 load (a lower class of GPU is proposed at
//                        low confidence, saying what to check; saves the price difference over every
//                        reported hour)
//   consolidate          several lightly used GPUs of one model on one host (none idle enough to stop) fit
//                        on fewer (MPS, MIG, time-slicing): the GPUs left empty are given back (saves each
//                        freed GPU's cost)
//   committed_use        running around the clock and well used: committed-use pricing at the configured
//                        discount (saves that share of its cost)
//
// How the plan adds up:
//  - Every option's savings is at most the cost of the GPUs it covers over the range.
//  - A GPU gets one recommended action: the option with the highest savings once weighted by confidence
//    (high × 1, medium × 0.8, low × 0.5, so a guess does not displace a sure thing of similar size). The
//    others are its alternatives, with their own figures, never added to any total.
//  - Consolidation is decided for its whole group: it is recommended when the cost of the GPUs it frees
//    (weighted as above) is more than the group's members would save on their own. Then it is the one
//    recommendation for every GPU of the group (freed and receiving), and the members' own best options
//    are its alternatives; otherwise it is listed as an alternative of each GPU it would free.
//  - Totals are the sum of the recommended actions only, so they never exceed the fleet's cost.
//  - A GPU that sat idle while a process held its memory keeps that finding in whatever is recommended
//    for it: the process, its user and the memory held.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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
    double right_size_max_load = 0.8;  // of the smaller GPU's compute and bandwidth, at the current p95 load
    // Load is GPM SM activity when it was measured over at least this share of the reported time, else
    // utilization (which counts any kernel running: a small kernel keeps it at 100 %).
    double sm_min_coverage = 0.9;
    double consolidate_max_util = 40;   // p95 load of each GPU to consider
    double consolidate_max_load = 0.8;  // of one GPU, after consolidation
    double committed_min_coverage = 0.95;
    double committed_min_busy_share = 0.8;
    // Utilization (SM activity where measured): a commitment for a GPU that is mostly waiting locks the waste in.
    double committed_min_util_avg = 50;
    double committed_min_range_hours = 24 * 7;
    bool idle_actions_only = false;  // plans without all recommendations: stop, release memory, auto-stop
};

enum class Action { kStopIdleGpu, kReleaseIdleMemory, kAutoStop, kRightSize, kConsolidate, kCommittedUse };

constexpr std::string_view NameOf(Action a) {
    switch (a) {
        case Action::kStopIdleGpu:
            return "stop_idle_gpu";
        case Action::kReleaseIdleMemory:
            return "release_idle_memory";
        case Action::kAutoStop:
            return "auto_stop";
        case Action::kRightSize:
            return "right_size";
        case Action::kConsolidate:
            return "consolidate";
        case Action::kCommittedUse:
            return "committed_use";
    }
    return "";
}

constexpr std::optional<Action> ActionNamed(std::string_view name) {
    for (Action a : {Action::kStopIdleGpu, Action::kReleaseIdleMemory, Action::kAutoStop, Action::kRightSize,
                     Action::kConsolidate, Action::kCommittedUse}) {
        if (NameOf(a) == name) return a;
    }
    return std::nullopt;
}

// The actions every plan gets; the others need a plan with all recommendations.
constexpr bool IsIdleAction(Action a) {
    return a == Action::kStopIdleGpu || a == Action::kReleaseIdleMemory || a == Action::kAutoStop;
}

enum class Confidence { kLow, kMedium, kHigh };

constexpr std::string_view NameOf(Confidence c) {
    switch (c) {
        case Confidence::kLow:
            return "low";
        case Confidence::kMedium:
            return "medium";
        case Confidence::kHigh:
            return "high";
    }
    return "";
}

// Money as answers show it: rounded to cents, half away from zero.
inline double Cents(double usd) { return std::round(usd * 100) / 100; }

struct Evidence {
    std::string name;
    double value = 0;
    std::string unit;  // "h", "%", "MiB", "GB/s", "TFLOPS", "USD", "USD/h", "GPUs"
};

// A process that held a GPU's memory while the GPU sat idle, as its agent reported it.
struct Holder {
    uint32_t pid = 0;
    std::string name;  // command name
    std::string user;  // empty when the agent could not tell (or attribution is off)
    std::string container;
    std::string pod;
    std::string k8s_namespace;
    double used_mib = 0;
};

// The holders of a GPU in the latest window it was idle while holding memory.
struct HeldBy {
    SysSeconds seen;
    std::vector<Holder> processes;  // most memory first
};

// One thing that could be done for a GPU (or a group of GPUs, for consolidation), with its own figures.
struct Option {
    Action action = Action::kStopIdleGpu;
    std::string target;              // a GPU key, or the host for consolidation
    std::vector<std::string> gpus;   // the GPU keys whose cost the savings come out of
    std::string summary;             // one sentence for people
    std::vector<Evidence> evidence;  // the numbers it rests on
    double range_savings = 0;        // USD over the range analyzed
    double monthly_savings = 0;      // projected to a month
    Confidence confidence = Confidence::kLow;
    std::vector<std::string> confidence_reasons;  // why that confidence
};

// The recommended action for a GPU (or a consolidation group) and what else it could do.
struct Recommendation : Option {
    std::string host;
    std::string gpu_name;                // the GPU's model as reported (empty for consolidation)
    std::vector<std::string> receivers;  // consolidation: the GPUs that take the work and stay
    std::optional<HeldBy> held_by;       // idle while these processes held its memory
    std::vector<Option> alternatives;    // not added to any total
};

struct GpuInput {
    GpuHistory history;
    Totals totals;
    std::optional<HeldBy> held_by;
};

struct Plan {
    std::vector<Recommendation> recommendations;  // highest monthly savings first
    double range_cost = 0;                        // what the analyzed GPUs cost over the range
    double monthly_cost = 0;                      // projected to a month
    double range_savings = 0;                     // Σ recommended actions (never alternatives)
    double monthly_savings = 0;                   // the same, projected
};

// The plan for the GPUs over `range`. Money is rounded to cents; totals are the sums of the rounded
// figures, so they add up on the customer's screen.
Plan Recommend(const std::vector<GpuInput>& gpus, const Range& range, const RecommendRules& rules,
               const PriceCatalog& catalog);

}  // namespace gpuopt::analysis
