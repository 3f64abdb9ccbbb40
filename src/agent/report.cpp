#include "agent/report.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cmath>
#include <tuple>

#include "common/json.hpp"
#include "common/time.hpp"

namespace gpuopt::agent {

namespace {

namespace json = boost::json;

// Rounded to `digits` decimals; dividing by a power of ten gives the double nearest the decimal.
double Round(double v, int digits) {
    const double scale = std::pow(10.0, digits);
    return std::round(v * scale) / scale;
}

std::string FormatTime(std::chrono::system_clock::time_point t) {
    return FormatUtcMillis(std::chrono::floor<std::chrono::milliseconds>(t));
}

}  // namespace

std::string GpuKey(unsigned index, const std::string& uuid) {
    return uuid.empty() ? "index:" + std::to_string(index) : uuid;
}

std::string ReportId(const std::string& agent_id, uint64_t sequence) {
    std::string n = std::to_string(sequence);
    if (n.size() < 6) n.insert(0, 6 - n.size(), '0');
    return agent_id + ":" + n;
}

std::string BuildReportJson(const WindowReport& w, const ReportContext& ctx) {
    json::object agent;
    agent["id"] = ctx.agent_id;
    agent["hostname"] = ctx.hostname;
    agent["version"] = ctx.version;
    agent["source"] = ctx.source;
    if (!ctx.driver_version.empty()) agent["driver_version"] = ctx.driver_version;
    if (ctx.cloud) {
        json::object cloud;
        cloud["provider"] = ctx.cloud->provider;
        cloud["instance_type"] = ctx.cloud->instance_type;
        if (!ctx.cloud->region.empty()) cloud["region"] = ctx.cloud->region;
        agent["cloud"] = std::move(cloud);
    }

    json::object window;
    window["start"] = FormatTime(w.start);
    // Times go out to the millisecond, so a 100 ms window counts 100 ms (whole seconds when they are
    // whole, as the server has always read them). A window ends at least a millisecond after it starts.
    window["end"] = FormatTime(std::max(w.end, w.start + std::chrono::milliseconds(1)));
    window["samples"] = w.samples;

    json::array gpus;
    for (const auto& g : w.gpus) {
        if (!g.Reportable()) continue;
        json::object o;
        o["gpu_index"] = g.index;
        if (!g.uuid.empty()) o["uuid"] = g.uuid;
        o["gpu_name"] = g.name.substr(0, 100);
        o["gpu_util"] = Round(g.util_sum / g.util_samples, 2);
        o["util_max"] = Round(g.util_max, 2);
        o["idle_fraction"] = Round(static_cast<double>(g.idle_samples) / g.util_samples, 4);
        o["idle_held_fraction"] = Round(static_cast<double>(g.idle_held_samples) / g.util_samples, 4);
        if (g.mem_util_samples > 0) o["mem_util"] = Round(g.mem_util_sum / g.mem_util_samples, 2);
        o["mem_used"] = Round(std::min(*g.mem_used_peak, *g.mem_total), 2);
        o["mem_total"] = Round(*g.mem_total, 2);
        if (g.temperature) o["temperature"] = *g.temperature;
        if (g.power_samples > 0) o["power_w"] = Round(g.power_sum / g.power_samples, 2);
        if (g.power_limit) o["power_limit_w"] = *g.power_limit;
        if (g.sm_clock) o["sm_clock_mhz"] = *g.sm_clock;
        if (g.mem_clock) o["mem_clock_mhz"] = *g.mem_clock;
        if (g.sm_active_samples > 0) o["sm_active"] = Round(g.sm_active_sum / g.sm_active_samples, 2);
        if (g.gr_active_samples > 0) o["gr_engine_active"] = Round(g.gr_active_sum / g.gr_active_samples, 2);
        if (g.energy_mj) o["energy_mj"] = *g.energy_mj;
        if (g.energy_window_mj) o["energy_j"] = Round(*g.energy_window_mj / 1000.0, 3);
        if (!g.pci_bus_id.empty() && g.pci_bus_id.size() <= 32) o["pci_bus_id"] = g.pci_bus_id;
        if (g.minor_number) o["minor_number"] = *g.minor_number;
        if (g.xid_count > 0) {
            o["xid_errors"] = g.xid_count;
            o["xid_last"] = *g.xid_last;
        }
        if (g.mig) {
            json::object mig;
            mig["parent_uuid"] = g.mig->parent_uuid;
            mig["gpu_instance_id"] = g.mig->gpu_instance_id;
            if (!g.mig->profile.empty()) mig["profile"] = g.mig->profile.substr(0, 32);
            mig["fraction"] = Round(g.mig->fraction, 4);
            o["mig"] = std::move(mig);
        }
        if (auto it = ctx.prices.find(GpuKey(g.index, g.uuid)); it != ctx.prices.end() && it->second.usd_per_hour) {
            o["cost_per_hour"] = Round(*it->second.usd_per_hour, 6);
        }
        if (g.processes_known && ctx.send_processes) {
            json::array procs;
            for (const auto& [pid, p] : g.processes) {
                json::object po;
                po["pid"] = pid;
                if (!p.name.empty()) po["name"] = p.name.substr(0, 256);
                if (p.used_mib) po["used_mem"] = Round(*p.used_mib, 2);
                if (p.uid) po["uid"] = *p.uid;
                for (auto [key, value, max] : {std::tuple{"user", &p.user, 64},
                                               {"container", &p.container, 128},
                                               {"pod", &p.pod, 253},
                                               {"namespace", &p.k8s_namespace, 63},
                                               {"cmdline", &p.cmdline, 1024}}) {
                    if (!value->empty() && value->size() <= static_cast<size_t>(max)) po[key] = *value;
                }
                procs.push_back(std::move(po));
            }
            o["processes"] = std::move(procs);
        }
        gpus.push_back(std::move(o));
    }

    json::object report;
    report["report_id"] = ctx.report_id;
    report["agent"] = std::move(agent);
    report["window"] = std::move(window);
    report["gpu_data"] = std::move(gpus);
    if (!ctx.idle_events.empty()) {
        json::array events;
        for (const auto& e : ctx.idle_events) {
            if (events.size() >= 64) break;  // the server's limit per report; a storm keeps its first
            json::object o;
            o["gpu_index"] = e.gpu_index;
            if (!e.uuid.empty()) o["uuid"] = e.uuid;
            o["kind"] = e.kind;
            if (!e.action.empty()) o["action"] = e.action;
            o["dry_run"] = e.dry_run;
            o["at"] = FormatTime(e.at);
            o["detail"] = e.detail.substr(0, 500);
            json::array procs;
            if (ctx.send_processes) {
                for (const auto& p : e.processes) {
                    json::object po;
                    po["pid"] = p.pid;
                    if (!p.name.empty()) po["name"] = p.name.substr(0, 256);
                    if (!p.user.empty() && p.user.size() <= 64) po["user"] = p.user;
                    if (p.used_mib) po["used_mem"] = Round(*p.used_mib, 2);
                    procs.push_back(std::move(po));
                }
            }
            o["processes"] = std::move(procs);
            events.push_back(std::move(o));
        }
        report["idle_events"] = std::move(events);
    }
    if (!w.lost.empty()) {
        json::array lost;
        for (const auto& l : w.lost) {
            json::object o;
            o["gpu_index"] = l.index;
            if (!l.uuid.empty()) o["uuid"] = l.uuid;
            o["error"] = l.error;
            lost.push_back(std::move(o));
        }
        report["lost_gpus"] = std::move(lost);
    }
    return ToJson(report);
}

}  // namespace gpuopt::agent
