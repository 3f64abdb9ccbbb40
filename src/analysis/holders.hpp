// Who held a GPU's memory while it sat idle, from the process lists agents send with their windows.
// Pure.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "analysis/history.hpp"
#include "analysis/recommendations.hpp"
#include "store/usage.hpp"

namespace gpuopt::analysis {

// The processes of one window's list (as stored: pid, name, used_mem, and user, container, pod and
// namespace when the agent attributed them), most memory first. Entries that do not parse are skipped.
std::vector<Holder> ParseHolders(std::string_view processes_json);

// For each GPU among `windows`, the processes of the latest window in which it was idle while they held
// its memory (by the same rule as the idle-held time of history.hpp). GPUs never idle while holding, or
// whose windows carry no process list, have no entry.
std::map<std::string, HeldBy> LatestHolders(const std::vector<store::StoredWindow>& windows, const IdleRules& rules);

// Who held GPUs while they sat idle, grouped one way (by user, container or Kubernetes namespace).
struct HolderGroup {
    std::string name;  // empty: processes the agent could not attribute (or, for containers and
                       // namespaces, that run on the host)
    size_t gpus = 0;   // distinct GPUs held idle
    double idle_held_hours = 0;
    double idle_held_cost = 0;
    double held_mib_max = 0;  // the most memory the group held on one GPU in one window
};

struct IdleHolders {
    std::vector<HolderGroup> users;
    std::vector<HolderGroup> containers;
    std::vector<HolderGroup> namespaces;
};

// The idle-while-holding time and cost of `windows` inside `range`, each window's shared among the
// processes it lists by the memory each held (equally when none says), grouped by user, container and
// namespace, most cost first. Windows without a process list are not attributed.
IdleHolders WhoHeldIdle(const std::vector<store::StoredWindow>& windows, const IdleRules& rules, const Range& range);

}  // namespace gpuopt::analysis
