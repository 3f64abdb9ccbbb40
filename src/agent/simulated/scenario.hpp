// Simulated fleets for demos and tests: a scenario file (JSON) describes hosts and their GPUs, each
// following a usage pattern over time. The patterns are pure functions of the time since the scenario
// started, so a replay is repeatable.
//
//   {"hosts": [{"hostname": "trainer-1", "gpus": [
//       {"name": "NVIDIA A100-SXM4-40GB", "memory_mib": 40960, "pattern": "busy", "util": 92},
//       {"name": "NVIDIA A100-SXM4-40GB", "memory_mib": 40960, "pattern": "idle_holding_memory", "held_mib": 30720},
//       {"name": "NVIDIA L4", "memory_mib": 23034, "pattern": "periodic_training", "period_s": 600, "busy_s": 240},
//       {"name": "NVIDIA H100 80GB HBM3", "memory_mib": 81559, "pattern": "ramp", "from": 5, "to": 90, "ramp_s": 1800},
//       {"name": "Tesla T4", "memory_mib": 15360, "pattern": "idle"}]}]}
//
// Patterns: busy (util ± noise, memory held), idle (near 0%, nothing held), idle_holding_memory (near
// 0% while a process keeps held_mib allocated: the waste other tools miss), periodic_training (busy for
// busy_s of every period_s, then idle; hold_between keeps the memory), ramp (util from -> to over ramp_s).
// A GPU with stops_after_s is switched off that long after the start: the host no longer sees it.
// A GPU with sm_share has GPM (Hopper and later): its SM activity is that share of its utilization, so
// {"pattern": "busy", "util": 97, "sm_share": 0.07} is a small kernel that keeps utilization at 97 % on
// SMs 7 % busy.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/gpu_sample.hpp"
#include "common/result.hpp"

namespace gpuopt::agent {

enum class Pattern { kBusy, kIdle, kIdleHoldingMemory, kPeriodicTraining, kRamp };

struct SimulatedGpu {
    std::string name;
    std::string uuid;
    double memory_mib = 40960;
    Pattern pattern = Pattern::kIdle;
    double util = 92;           // busy level (busy, periodic_training)
    double held_mib = 0;        // memory a process holds when it holds any; 0: 85% of memory_mib
    double period_s = 3600;     // periodic_training
    double busy_s = 1800;       // periodic_training
    bool hold_between = false;  // periodic_training: memory stays allocated between runs
    double from = 5, to = 90;   // ramp, percent
    double ramp_s = 3600;       // ramp
    double noise = 3;           // ± percent around the pattern's level
    double power_limit_w = 400;
    double idle_power_w = 55;
    double stops_after_s = 0;  // > 0: gone from the host from then on
    double sm_share = 0;       // > 0: GPM reports SM activity = utilization × sm_share
    std::string process = "python";
    // Who runs the process, as the agent attributes real ones (empty: unknown, or not in a pod).
    std::string user;
    std::string k8s_namespace;
    std::string pod;
};

struct SimulatedHost {
    std::string hostname;
    std::vector<SimulatedGpu> gpus;
};

struct Scenario {
    std::vector<SimulatedHost> hosts;
    const SimulatedHost* FindHost(std::string_view hostname) const;
};

// Fails naming the first bad field ("hosts[0].gpus[2].pattern").
Result<Scenario> ParseScenario(std::string_view json);
Result<Scenario> LoadScenario(const std::string& path);

// The GPU `index` of `host` at `t_seconds` after the scenario started. `pid_base` numbers the
// simulated processes.
GpuSample SimulateGpu(const SimulatedGpu& gpu, unsigned index, double t_seconds, unsigned pid_base);

}  // namespace gpuopt::agent
