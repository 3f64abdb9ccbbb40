// The report body sent to POST /api/track-usage (SPEC §5), built from a closed window.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "agent/idle_enforcer.hpp"
#include "agent/pricing.hpp"
#include "agent/window.hpp"

namespace gpuopt::agent {

struct ReportContext {
    std::string report_id;  // agent id + ":" + sequence
    std::string agent_id;
    std::string hostname;
    std::string version;
    std::string source;          // "nvml", "nvidia-smi", "simulated"
    std::string driver_version;  // may be empty
    std::optional<CloudInstance> cloud;
    std::map<std::string, GpuPrice> prices;      // by GPU uuid (or "index:N" without one)
    bool send_processes = true;                  // false: no process list at all (attribution turned off)
    std::vector<IdleActionEvent> idle_events{};  // what the idle policy warned of and did since the last report
};

// The key ReportContext::prices uses for a GPU.
std::string GpuKey(unsigned index, const std::string& uuid);

// Compact JSON. GPUs that carry no utilization or memory size (e.g. MIG parents) are left out of
// gpu_data; lost GPUs are listed under lost_gpus.
std::string BuildReportJson(const WindowReport& window, const ReportContext& ctx);

// "host-7f3a:000412": the sequence zero-padded to six digits (more when it needs them).
std::string ReportId(const std::string& agent_id, uint64_t sequence);

}  // namespace gpuopt::agent
