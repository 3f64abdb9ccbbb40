// GET /metrics: Prometheus text for the operator (ADMIN_TOKEN bearer, or a loopback client whose request
// carries no forwarding header): the server's request counters and latency histograms, what ingest did,
// and each GPU's latest values under
// dcgm-exporter's metric names and labels, plus a customer label (the account id).
#include <cstdio>

#include "api/api.hpp"
#include "api/auth.hpp"
#include "http/error_response.hpp"

namespace gpuopt::api {

namespace {

bool IsLoopback(const std::string& ip) { return ip.rfind("127.", 0) == 0 || ip == "::1"; }

// A request that came through a proxy names its client in a forwarding header; behind a reverse proxy on
// the same host (without TRUSTED_PROXIES), every client arrives from loopback, so only a request without
// any of them is a local one.
bool IsForwarded(const http::Request& req) {
    return req.find("X-Forwarded-For") != req.end() || req.find("Forwarded") != req.end() ||
           req.find("X-Real-IP") != req.end();
}

void Number(std::string& out, double v) {
    char text[40];
    std::snprintf(text, sizeof text, "%.10g", v);
    out += text;
}

struct GpuMetric {
    const char* name;
    const char* help;
    std::optional<double> (*value)(const store::StoredWindow&);
};

const GpuMetric kGpuMetrics[] = {
    {"DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %), the window's average.",
     [](const store::StoredWindow& w) -> std::optional<double> { return w.util_avg; }},
    {"DCGM_FI_DEV_MEM_COPY_UTIL", "Memory utilization (in %).",
     [](const store::StoredWindow& w) -> std::optional<double> { return w.mem_util; }},
    {"DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB), the window's peak.",
     [](const store::StoredWindow& w) -> std::optional<double> { return w.mem_used_mib; }},
    {"DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).",
     [](const store::StoredWindow& w) -> std::optional<double> {
         return std::max(0.0, w.mem_total_mib - w.mem_used_mib);
     }},
    {"DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).",
     [](const store::StoredWindow& w) -> std::optional<double> { return w.temperature_c; }},
    {"DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).",
     [](const store::StoredWindow& w) -> std::optional<double> { return w.power_w; }},
    {"DCGM_FI_DEV_ENFORCED_POWER_LIMIT", "Enforced power limit (in W).",
     [](const store::StoredWindow& w) -> std::optional<double> { return w.power_limit_w; }},
    {"DCGM_FI_DEV_SM_CLOCK", "SM clock frequency (in MHz).",
     [](const store::StoredWindow& w) -> std::optional<double> { return w.sm_clock_mhz; }},
    {"gpuopt_gpu_idle_fraction", "Share of the last window the GPU was idle.",
     [](const store::StoredWindow& w) -> std::optional<double> { return w.idle_fraction; }},
    {"gpuopt_gpu_cost_per_hour", "Price of the GPU per hour (USD).",
     [](const store::StoredWindow& w) -> std::optional<double> { return w.cost_per_hour; }},
};

}  // namespace

http::Handler MakeMetricsHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        if (!HasOperatorToken(s, ctx.request) && !(IsLoopback(ctx.client_ip) && !IsForwarded(ctx.request))) {
            if (ctx.request.find(http::bhttp::field::authorization) != ctx.request.end()) {
                RecordAuthFailure(s, ctx, "wrong operator token");
            }
            co_return http::ErrorResponse(
                {ErrorCode::kForbidden, "Metrics need the operator token or a loopback client", {}}, version);
        }
        ctx.principal = "metrics";
        std::string out;
        out.reserve(16 * 1024);
        if (s.metrics != nullptr) s.metrics->Write(out);
        if (s.write_job_metrics) s.write_job_metrics(out);
        if (s.write_limit_metrics) s.write_limit_metrics(out);
        if (s.counters != nullptr) {
            for (auto [name, help, value] :
                 {std::tuple{"gpuopt_reports_stored_total", "Agent reports stored.", s.counters->reports.load()},
                  {"gpuopt_reports_duplicate_total", "Replayed reports answered without storing them again.",
                   s.counters->duplicates.load()},
                  {"gpuopt_reports_refused_total", "Reports refused (invalid, or over the plan's GPU limit).",
                   s.counters->refused.load()},
                  {"gpuopt_gpu_windows_stored_total", "GPU windows stored.", s.counters->gpu_windows.load()}}) {
                out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name + " " +
                       std::to_string(value) + "\n";
            }
        }
        if (s.security != nullptr) {
            out +=
                "# HELP gpuopt_security_events_unrecorded_total Refused deliveries over the recording cap: counted, "
                "not stored one by one.\n# TYPE gpuopt_security_events_unrecorded_total counter\n"
                "gpuopt_security_events_unrecorded_total " +
                std::to_string(s.security->unrecorded.load()) + "\n";
        }
        if (s.guard != nullptr) {
            out +=
                "# HELP gpuopt_blocked_addresses Addresses blocked now after repeated authentication failures.\n"
                "# TYPE gpuopt_blocked_addresses gauge\ngpuopt_blocked_addresses " +
                std::to_string(s.guard->Blocked()) + "\n";
        }
        auto gpus = s.store.usage().ReadRecentGpus(UtcNow() - std::chrono::minutes(10));
        if (!gpus) co_return http::ErrorResponse(gpus.error(), version);
        for (const auto& m : kGpuMetrics) {
            bool header = false;
            for (const auto& w : *gpus) {
                const auto v = m.value(w);
                if (!v) continue;  // never a sentinel for what a GPU did not report
                if (!header) {
                    out += std::string("# HELP ") + m.name + " " + m.help + "\n# TYPE " + m.name + " gauge\n";
                    header = true;
                }
                out += m.name;
                out += "{gpu=\"" + std::to_string(w.gpu_index) + "\",UUID=\"";
                http::AppendLabelValue(out, w.uuid);
                out += "\",device=\"nvidia" + std::to_string(w.gpu_index) + "\",modelName=\"";
                http::AppendLabelValue(out, w.name);
                out += "\",hostname=\"";
                http::AppendLabelValue(out, w.host);
                out += "\",customer=\"" + std::to_string(w.account_id) + "\"} ";
                Number(out, *v);
                out += "\n";
            }
        }
        http::Response res{http::bhttp::status::ok, version};
        res.set(http::bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        res.body() = std::move(out);
        co_return res;
    };
}

}  // namespace gpuopt::api
