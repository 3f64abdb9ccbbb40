// Validation of agent reports (POST /api/track-usage). Pure function: JSON in, a store-ready report
// or a validation error naming the first bad field ("gpu_data[2].gpu_util") out.
#pragma once

#include <boost/json/object.hpp>

#include <chrono>

#include "common/result.hpp"
#include "common/time.hpp"
#include "store/usage.hpp"

namespace gpuopt::api {

struct ReportRules {
    size_t max_gpus = 64;
    size_t max_name_chars = 100;
    size_t max_processes = 256;
    double max_cost_per_hour = 1000;
    double default_cost_per_hour = 3.06;        // when a GPU entry carries none
    std::chrono::seconds default_window{60};    // reports without a window cover this much time
    std::chrono::seconds max_future_skew{300};  // clock skew tolerated for window.end
    std::chrono::hours max_age{24 * 7};         // oldest window.start accepted (spool replay)
    std::chrono::hours max_window{24};          // longest window
};

// Accepts the prototype's minimal form ({api_key, gpu_data:[{gpu_index, gpu_name, gpu_util, mem_used,
// mem_total, temperature?, cost_per_hour?}]}) and the full report of SPEC §5 with what gpuopt-agent adds
// (idle_held_fraction, mem_util, sm_clock_mhz, sm_active, lost_gpus). Unknown fields are
// ignored; JSON null in an optional field means "not measured". Checks types and ranges: utilization
// 0-100, memory >= 0 and used <= total, cost 0-1000, at most 64 GPUs, names <= 100 characters,
// unique GPUs, sane window timestamps relative to `now`.
//
// Window times are kept to the millisecond. A report without a window is marked implicit: the store
// decides what it covers (the time since the GPU's previous report, capped). A report that names no host
// (no agent.hostname, no agent.id: the prototype's agent) is given `client_address` as its host, so two
// such machines never share GPU keys.
Result<store::UsageReport> ParseUsageReport(const boost::json::object& body, const ReportRules& rules, SysSeconds now,
                                            std::string_view client_address = {});

}  // namespace gpuopt::api
