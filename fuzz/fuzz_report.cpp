// Agent reports: any bytes either fail validation or give a report within the documented ranges.
#include <boost/json/object.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/report_parser.hpp"
#include "common/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto parsed = gpuopt::ParseJson(std::string_view(reinterpret_cast<const char*>(data), size));
    if (!parsed.ok() || !parsed->is_object()) return 0;
    const gpuopt::api::ReportRules rules;
    const auto now = gpuopt::UtcNow();
    auto report = gpuopt::api::ParseUsageReport(parsed->get_object(), rules, now);
    if (!report.ok()) {
        if (report.error().details.empty()) std::abort();  // validation errors always name a field
        return 0;
    }
    if (report->gpus.empty() || report->gpus.size() > rules.max_gpus) std::abort();
    if (report->window_end <= report->window_start) std::abort();
    for (const auto& g : report->gpus) {
        if (g.util_avg < 0 || g.util_avg > 100 || g.mem_used_mib < 0 || g.mem_used_mib > g.mem_total_mib ||
            g.cost_per_hour < 0 || g.cost_per_hour > rules.max_cost_per_hour || g.gpu_key.empty()) {
            std::abort();
        }
    }
    return 0;
}
