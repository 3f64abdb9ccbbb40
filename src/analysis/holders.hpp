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

}  // namespace gpuopt::analysis
