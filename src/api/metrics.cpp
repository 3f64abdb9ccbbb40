// GET /metrics: Prometheus text for the operator (ADMIN_TOKEN bearer, or a loopback client whose request
// carries no forwarding header): the server's request counters and latency histograms, what ingest did,
// and each GPU's latest values under dcgm-exporter's metric names and labels (gpu, UUID, pci_bus_id,
// device, modelName, Hostname, DCGM_FI_DRIVER_VERSION, and GPU_I_PROFILE / GPU_I_ID for a MIG instance),
// plus a customer label (the account id), so dashboards built for dcgm-exporter read it unchanged.
#include <boost/json/parse.hpp>

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

// One GPU's latest window, with what it said of itself beyond the analysed figures.
struct GpuView {
    const store::StoredWindow* w;
    boost::json::object telemetry;
    std::string labels;  // {gpu="0",UUID=...,customer="7"}

    std::optional<double> Number(const char* key, double scale = 1) const {
        const auto* v = telemetry.if_contains(key);
        if (v == nullptr || !v->is_number()) return std::nullopt;
        return v->to_number<double>() * scale;
    }
    std::string Text(const char* key) const {
        const auto* v = telemetry.if_contains(key);
        return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
    }
};

struct GpuMetric {
    const char* name;
    const char* help;
    std::optional<double> (*value)(const GpuView&);
};

const GpuMetric kGpuMetrics[] = {
    {"DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %), the window's average.",
     [](const GpuView& g) -> std::optional<double> { return g.w->util_avg; }},
    {"DCGM_FI_DEV_MEM_COPY_UTIL", "Memory utilization (in %).",
     [](const GpuView& g) -> std::optional<double> { return g.w->mem_util; }},
    {"DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB), the window's peak.",
     [](const GpuView& g) -> std::optional<double> { return g.w->mem_used_mib; }},
    {"DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).",
     [](const GpuView& g) -> std::optional<double> { return std::max(0.0, g.w->mem_total_mib - g.w->mem_used_mib); }},
    {"DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).",
     [](const GpuView& g) -> std::optional<double> { return g.w->temperature_c; }},
    {"DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).",
     [](const GpuView& g) -> std::optional<double> { return g.w->power_w; }},
    {"DCGM_FI_DEV_ENFORCED_POWER_LIMIT", "Enforced power limit (in W).",
     [](const GpuView& g) -> std::optional<double> { return g.w->power_limit_w; }},
    {"DCGM_FI_DEV_SM_CLOCK", "SM clock frequency (in MHz).",
     [](const GpuView& g) -> std::optional<double> { return g.w->sm_clock_mhz; }},
    {"DCGM_FI_DEV_MEM_CLOCK", "Memory clock frequency (in MHz).",
     [](const GpuView& g) { return g.Number("mem_clock_mhz"); }},
    // dcgm-exporter declares it a counter; it is a gauge here so that its name needs no _total suffix, and
    // rate() and increase() read it the same.
    {"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "Total energy consumption since the driver loaded (in mJ).",
     [](const GpuView& g) { return g.Number("energy_mj"); }},
    {"DCGM_FI_DEV_XID_ERRORS", "Value of the last XID error encountered.",
     [](const GpuView& g) { return g.Number("xid_last"); }},
    // GPM reports percent; DCGM's profiling fields are ratios.
    {"DCGM_FI_PROF_SM_ACTIVE", "The ratio of cycles an SM has at least 1 warp assigned (GPM, the window's average).",
     [](const GpuView& g) -> std::optional<double> {
         if (g.w->sm_active) return *g.w->sm_active * 0.01;
         return g.Number("sm_active", 0.01);  // a window stored before SM activity had its own column
     }},
    {"DCGM_FI_PROF_GR_ENGINE_ACTIVE", "Ratio of time the graphics engine is active (GPM, the window's average).",
     [](const GpuView& g) { return g.Number("gr_engine_active", 0.01); }},
    {"gpuopt_gpu_idle_fraction", "Share of the last window the GPU was idle.",
     [](const GpuView& g) -> std::optional<double> { return g.w->idle_fraction; }},
    {"gpuopt_gpu_xid_errors", "XID errors in the last window.",
     [](const GpuView& g) { return g.Number("xid_errors"); }},
    {"gpuopt_gpu_energy_joules", "Energy the GPU used in the last window (in J).",
     [](const GpuView& g) { return g.Number("energy_j"); }},
    {"gpuopt_gpu_cost_per_hour", "Price of the GPU per hour (USD).",
     [](const GpuView& g) -> std::optional<double> { return g.w->cost_per_hour; }},
};

std::string Labels(const GpuView& g) {
    const store::StoredWindow& w = *g.w;
    std::string out = "{gpu=\"" + std::to_string(w.gpu_index) + "\",UUID=\"";
    http::AppendLabelValue(out, w.uuid);
    out += "\",pci_bus_id=\"";
    http::AppendLabelValue(out, g.Text("pci_bus_id"));
    const auto minor = g.Number("minor_number");
    out += "\",device=\"nvidia" + std::to_string(minor ? static_cast<int>(*minor) : w.gpu_index) + "\",modelName=\"";
    http::AppendLabelValue(out, w.name);
    out += "\",Hostname=\"";
    http::AppendLabelValue(out, w.host);
    out += "\",DCGM_FI_DRIVER_VERSION=\"";
    http::AppendLabelValue(out, g.Text("driver_version"));
    out += "\"";
    if (const auto* mig = g.telemetry.if_contains("mig"); mig != nullptr && mig->is_object()) {
        const auto& m = mig->get_object();
        out += ",GPU_I_PROFILE=\"";
        if (const auto* p = m.if_contains("profile"); p != nullptr && p->is_string()) {
            http::AppendLabelValue(out, std::string(p->get_string()));
        }
        out += "\",GPU_I_ID=\"";
        if (const auto* id = m.if_contains("gpu_instance_id"); id != nullptr && id->is_number()) {
            out += std::to_string(id->to_number<int64_t>());
        }
        out += "\"";
    }
    out += ",customer=\"" + std::to_string(w.account_id) + "\"}";
    return out;
}

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
        std::vector<GpuView> views;
        views.reserve(gpus->size());
        for (const auto& w : *gpus) {
            GpuView g{&w, {}, {}};
            if (!w.telemetry_json.empty()) {
                boost::system::error_code ec;
                auto parsed = boost::json::parse(w.telemetry_json, ec);
                if (!ec && parsed.is_object()) g.telemetry = std::move(parsed.get_object());
            }
            g.labels = Labels(g);
            views.push_back(std::move(g));
        }
        for (const auto& m : kGpuMetrics) {
            bool header = false;
            for (const auto& g : views) {
                const auto v = m.value(g);
                if (!v) continue;  // never a sentinel for what a GPU did not report
                if (!header) {
                    out += std::string("# HELP ") + m.name + " " + m.help + "\n# TYPE " + m.name + " gauge\n";
                    header = true;
                }
                out += m.name;
                out += g.labels;
                out += ' ';
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
