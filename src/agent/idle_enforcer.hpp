// Carries out the customer's idle policy on this host (the server hands it over with each report's
// answer): a GPU idle (or idle while holding memory) for the policy's time is warned of; after the grace
// period, unless the customer snoozed it, the action runs — notify only, signal (SIGTERM to the processes
// holding it, SIGKILL after a delay if one still runs) or exec (the command the host's operator wrote in
// the agent's own configuration; the server can never name one). In dry run it records what it would have
// done and does nothing. The host's operator also decides which actions this host allows at all
// (GPU_OPTIMIZER_IDLE_ACTIONS); an action not allowed here is recorded as failed, never carried out.
// Every warning, snooze and action becomes an event the next report carries.
//
// Observe, Take and the signal/exec bookkeeping belong to the sampling thread; SetPolicy may be called from
// any thread.
#pragma once

#include <sys/types.h>

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/gpu_sample.hpp"
#include "agent/window.hpp"
#include "common/result.hpp"

namespace gpuopt::agent {

enum class HostAction { kNotify, kSignal, kExec };

struct IdleActionPolicy {
    int64_t version = 0;
    bool enabled = false;
    bool dry_run = true;
    bool holding_memory_only = true;  // trigger "idle_holding_memory"; else "idle"
    std::chrono::milliseconds idle_for{std::chrono::minutes(30)};
    std::chrono::milliseconds grace{std::chrono::minutes(15)};
    HostAction action = HostAction::kNotify;
    std::chrono::seconds kill_after{30};
    std::map<std::string, std::chrono::system_clock::time_point> snoozed;  // GPU uuid -> until
};

// The server's `idle_policy` object. Fails, saying why, on anything malformed (the old policy then stays).
Result<IdleActionPolicy> ParseIdleActionPolicy(const boost::json::object& o);

struct IdleActionEvent {
    unsigned gpu_index = 0;
    std::string uuid;
    std::string kind;    // warned, snoozed, acted, would_act, failed, cleared
    std::string action;  // notify, signal, exec; "" for a warning
    bool dry_run = true;
    std::chrono::system_clock::time_point at;
    std::string detail;
    std::vector<GpuProcess> processes;
};

struct HostActionRules {
    std::set<HostAction> allowed{HostAction::kNotify};  // GPU_OPTIMIZER_IDLE_ACTIONS
    std::string exec_command;                           // GPU_OPTIMIZER_IDLE_EXEC, run with /bin/sh -c
    std::string proc_root = "/proc";
};

class IdleEnforcer {
public:
    IdleEnforcer(WindowRules window_rules, HostActionRules host_rules);
    IdleEnforcer(const IdleEnforcer&) = delete;
    IdleEnforcer& operator=(const IdleEnforcer&) = delete;
    ~IdleEnforcer();

    void SetPolicy(IdleActionPolicy policy);
    // One sample at `now`: idle streaks, warnings, actions, and SIGKILLs and commands that fell due.
    void Observe(const SampleSet& samples, std::chrono::system_clock::time_point now);
    // The events since the last call, for the next report.
    std::vector<IdleActionEvent> Take();

private:
    struct GpuState {
        std::optional<std::chrono::system_clock::time_point> idle_since;
        std::optional<std::chrono::system_clock::time_point> warned_at;
        bool acted = false;
        bool snooze_noted = false;
    };
    struct PendingKill {
        pid_t pid = 0;
        unsigned long long start_time = 0;  // /proc/<pid>/stat field 22: the same process, not a reused pid
        std::chrono::system_clock::time_point at;
        unsigned gpu_index = 0;
        std::string uuid;
        std::string name;
    };
    struct RunningCommand {
        pid_t pid = 0;
        unsigned gpu_index = 0;
        std::string uuid;
    };

    void Act(const GpuSample& s, const IdleActionPolicy& p, std::chrono::system_clock::time_point now);
    void Signal(const GpuSample& s, const IdleActionPolicy& p, std::chrono::system_clock::time_point now,
                IdleActionEvent& e);
    void Exec(const GpuSample& s, IdleActionEvent& e);
    void FollowUp(std::chrono::system_clock::time_point now);
    std::optional<unsigned long long> StartTime(pid_t pid) const;
    IdleActionEvent EventFor(const GpuSample& s, std::string kind, std::string action, bool dry_run,
                             std::chrono::system_clock::time_point now) const;

    WindowRules window_rules_;
    HostActionRules host_rules_;
    std::mutex policy_mu_;
    IdleActionPolicy policy_;
    std::map<std::string, GpuState> gpus_;  // by GpuKey
    std::vector<PendingKill> kills_;
    std::vector<RunningCommand> commands_;
    std::vector<IdleActionEvent> events_;
};

}  // namespace gpuopt::agent
