#include "agent/simulated/scenario.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>

#include "common/json.hpp"

namespace gpuopt::agent {

namespace {

namespace json = boost::json;

Result<double> Num(const json::object& o, std::string_view key, const std::string& where, double fallback, double lo,
                   double hi) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr) return fallback;
    if (!v->is_number()) return Error::Validation(where + std::string(key), "must be a number");
    const double d = v->to_number<double>();
    if (!(d >= lo && d <= hi)) {
        return Error::Validation(where + std::string(key),
                                 "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    }
    return d;
}

Result<std::string> Str(const json::object& o, std::string_view key, const std::string& where, std::string fallback) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr) return fallback;
    if (!v->is_string() || v->get_string().empty() || v->get_string().size() > 100) {
        return Error::Validation(where + std::string(key), "must be a string of 1 to 100 characters");
    }
    return std::string(v->get_string());
}

// splitmix64: a repeatable stream of noise from (gpu, time) without shared state.
double Noise(uint64_t key) {
    uint64_t z = key + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) / static_cast<double>(1ULL << 53) * 2.0 - 1.0;  // [-1, 1)
}

}  // namespace

const SimulatedHost* Scenario::FindHost(std::string_view hostname) const {
    for (const auto& h : hosts) {
        if (h.hostname == hostname) return &h;
    }
    return nullptr;
}

Result<Scenario> ParseScenario(std::string_view text) {
    auto doc = ParseJson(text, 8);
    if (!doc) return Error::Validation("scenario", doc.error().details.begin()->second);
    if (!doc->is_object()) return Error::Validation("scenario", "must be a JSON object");
    const json::value* hosts = doc->get_object().if_contains("hosts");
    if (hosts == nullptr || !hosts->is_array() || hosts->get_array().empty()) {
        return Error::Validation("hosts", "must be a non-empty array");
    }
    Scenario scenario;
    for (size_t h = 0; h < hosts->get_array().size(); ++h) {
        const std::string hw = "hosts[" + std::to_string(h) + "].";
        const json::value& hv = hosts->get_array()[h];
        if (!hv.is_object()) return Error::Validation(hw.substr(0, hw.size() - 1), "must be an object");
        const json::object& ho = hv.get_object();
        SimulatedHost host;
        auto hostname = Str(ho, "hostname", hw, "");
        if (!hostname) return hostname.error();
        if (hostname->empty()) return Error::Validation(hw + "hostname", "is required");
        host.hostname = *hostname;
        const json::value* gpus = ho.if_contains("gpus");
        if (gpus == nullptr || !gpus->is_array() || gpus->get_array().empty() || gpus->get_array().size() > 64) {
            return Error::Validation(hw + "gpus", "must be an array of 1 to 64 GPUs");
        }
        for (size_t g = 0; g < gpus->get_array().size(); ++g) {
            const std::string gw = hw + "gpus[" + std::to_string(g) + "].";
            const json::value& gv = gpus->get_array()[g];
            if (!gv.is_object()) return Error::Validation(gw.substr(0, gw.size() - 1), "must be an object");
            const json::object& go = gv.get_object();
            SimulatedGpu gpu;
            auto name = Str(go, "name", gw, "NVIDIA A100-SXM4-40GB");
            if (!name) return name.error();
            gpu.name = *name;
            auto uuid = Str(go, "uuid", gw, "GPU-sim-" + host.hostname + "-" + std::to_string(g));
            if (!uuid) return uuid.error();
            gpu.uuid = *uuid;
            auto pattern = Str(go, "pattern", gw, "");
            if (!pattern) return pattern.error();
            if (*pattern == "busy") {
                gpu.pattern = Pattern::kBusy;
            } else if (*pattern == "idle") {
                gpu.pattern = Pattern::kIdle;
            } else if (*pattern == "idle_holding_memory") {
                gpu.pattern = Pattern::kIdleHoldingMemory;
            } else if (*pattern == "periodic_training") {
                gpu.pattern = Pattern::kPeriodicTraining;
            } else if (*pattern == "ramp") {
                gpu.pattern = Pattern::kRamp;
            } else {
                return Error::Validation(gw + "pattern",
                                         "must be busy, idle, idle_holding_memory, periodic_training or ramp");
            }
            struct NumberField {
                double* field;
                const char* key;
                double lo, hi;
            };
            for (auto [field, key, lo, hi] : {NumberField{&gpu.memory_mib, "memory_mib", 1, 1 << 24},
                                              {&gpu.util, "util", 0, 100},
                                              {&gpu.held_mib, "held_mib", 0, 1 << 24},
                                              {&gpu.period_s, "period_s", 1, 1e7},
                                              {&gpu.busy_s, "busy_s", 0, 1e7},
                                              {&gpu.from, "from", 0, 100},
                                              {&gpu.to, "to", 0, 100},
                                              {&gpu.ramp_s, "ramp_s", 1, 1e7},
                                              {&gpu.noise, "noise", 0, 50},
                                              {&gpu.power_limit_w, "power_limit_w", 1, 5000},
                                              {&gpu.idle_power_w, "idle_power_w", 0, 5000},
                                              {&gpu.stops_after_s, "stops_after_s", 0, 1e9},
                                              {&gpu.sm_share, "sm_share", 0, 1}}) {
                auto v = Num(go, key, gw, *field, lo, hi);
                if (!v) return v.error();
                *field = *v;
            }
            if (gpu.held_mib > gpu.memory_mib) return Error::Validation(gw + "held_mib", "must not exceed memory_mib");
            if (gpu.busy_s > gpu.period_s) return Error::Validation(gw + "busy_s", "must not exceed period_s");
            if (const json::value* hb = go.if_contains("hold_between")) {
                if (!hb->is_bool()) return Error::Validation(gw + "hold_between", "must be true or false");
                gpu.hold_between = hb->get_bool();
            }
            for (auto [field, key] : {std::pair{&gpu.process, "process"},
                                      {&gpu.user, "user"},
                                      {&gpu.k8s_namespace, "namespace"},
                                      {&gpu.pod, "pod"}}) {
                auto v = Str(go, key, gw, *field);
                if (!v) return v.error();
                *field = *v;
            }
            host.gpus.push_back(std::move(gpu));
        }
        if (scenario.FindHost(host.hostname) != nullptr)
            return Error::Validation(hw + "hostname", "repeats another host");
        scenario.hosts.push_back(std::move(host));
    }
    return scenario;
}

Result<Scenario> LoadScenario(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error::Validation("--simulate", "cannot read " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    auto s = ParseScenario(ss.str());
    if (!s) {
        Error e = s.error();
        e.message =
            path + ": " + (e.details.empty() ? e.message : e.details.begin()->first + " " + e.details.begin()->second);
        return e;
    }
    return s;
}

GpuSample SimulateGpu(const SimulatedGpu& gpu, unsigned index, double t, unsigned pid_base) {
    const auto tick = static_cast<uint64_t>(std::max(0.0, t) * 1000.0);
    const double jitter = Noise((static_cast<uint64_t>(index) << 48) ^ tick) * gpu.noise;
    const double held = gpu.held_mib > 0 ? gpu.held_mib : gpu.memory_mib * 0.85;
    const double quiet =
        std::fabs(Noise((static_cast<uint64_t>(index + 77) << 48) ^ tick)) * 1.5;  // an idle GPU's 0-1.5%
    double util = 0;
    double memory = 0;  // held by the process, MiB
    switch (gpu.pattern) {
        case Pattern::kBusy:
            util = gpu.util + jitter;
            memory = held;
            break;
        case Pattern::kIdle:
            util = quiet;
            break;
        case Pattern::kIdleHoldingMemory:
            util = quiet;
            memory = gpu.held_mib > 0 ? gpu.held_mib : gpu.memory_mib * 0.6;
            break;
        case Pattern::kPeriodicTraining: {
            const bool busy = std::fmod(std::max(0.0, t), gpu.period_s) < gpu.busy_s;
            util = busy ? gpu.util + jitter : quiet;
            memory = busy || gpu.hold_between ? held : 0;
            break;
        }
        case Pattern::kRamp: {
            const double f = std::min(1.0, std::max(0.0, t) / gpu.ramp_s);
            util = gpu.from + (gpu.to - gpu.from) * f + jitter;
            memory = held * std::max(0.1, f);
            break;
        }
    }
    util = std::clamp(util, 0.0, 100.0);
    GpuSample s;
    s.index = index;
    s.uuid = gpu.uuid;
    s.name = gpu.name;
    s.util_gpu = std::round(util * 10) / 10;
    s.util_mem = std::round(util * 0.6 * 10) / 10;
    s.mem_total_mib = gpu.memory_mib;
    s.mem_used_mib = std::min(gpu.memory_mib, std::round(memory + 4));  // the context the driver keeps
    s.temperature_c = std::round(30 + util * 0.45);
    // Power follows how much of the GPU works: SM activity where GPM measures it, else utilization.
    const double activity = gpu.sm_share > 0 ? util * gpu.sm_share : util;
    s.power_w =
        std::round((gpu.idle_power_w + (gpu.power_limit_w - gpu.idle_power_w) * activity / 100 * 0.9) * 10) / 10;
    s.power_limit_w = gpu.power_limit_w;
    s.sm_clock_mhz = util > 5 ? 1410 : 210;
    if (gpu.sm_share > 0) s.sm_active = std::round(util * gpu.sm_share * 10) / 10;
    s.processes.emplace();
    if (memory > 0) {
        GpuProcess p;
        p.pid = pid_base + index;
        p.name = gpu.process;
        p.used_mib = std::round(memory);
        p.user = gpu.user;
        p.k8s_namespace = gpu.k8s_namespace;
        p.pod = gpu.pod;
        s.processes->push_back(std::move(p));
    }
    return s;
}

}  // namespace gpuopt::agent
