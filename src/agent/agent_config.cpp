#include "agent/agent_config.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace gpuopt::agent {

namespace {

Error Bad(const std::string& name, const std::string& what) { return Error::Validation(name, what); }

std::optional<double> Number(std::string_view s) {
    double v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

std::optional<bool> Bool(std::string v) {
    std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
    if (v == "0" || v == "false" || v == "no" || v == "off") return false;
    return std::nullopt;
}

bool IsHttpUrl(const std::string& url) {
    return (url.rfind("http://", 0) == 0 && url.size() > 7) || (url.rfind("https://", 0) == 0 && url.size() > 8);
}

}  // namespace

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
    struct Unit {
        std::string_view suffix;
        double ms;
    };
    static constexpr Unit kUnits[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    for (const auto& u : kUnits) {
        if (text.size() > u.suffix.size() && text.substr(text.size() - u.suffix.size()) == u.suffix) {
            const std::string_view number = text.substr(0, text.size() - u.suffix.size());
            auto v = Number(number);
            if (!v || *v < 0) return std::nullopt;
            return std::chrono::milliseconds(static_cast<int64_t>(std::llround(*v * u.ms)));
        }
    }
    auto v = Number(text);
    if (!v || *v < 0) return std::nullopt;
    return std::chrono::milliseconds(static_cast<int64_t>(std::llround(*v * 1000)));
}

std::string DefaultSpoolDir() {
    if (const char* s = std::getenv("STATE_DIRECTORY"); s && *s) {  // systemd's StateDirectory=
        std::string dir(s);
        return dir.substr(0, dir.find(':'));
    }
    if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) return std::string(x) + "/gpuopt-agent";
    if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.local/state/gpuopt-agent";
    return "./gpuopt-agent-state";
}

const std::vector<std::pair<std::string, std::string>>& AgentSettings() {
    static const std::vector<std::pair<std::string, std::string>> settings = {
        {"GPU_OPTIMIZER_API_KEY", "API key (environment only, never in a file)"},
        {"GPU_OPTIMIZER_SERVER_URL", "server address (default http://localhost:5000)"},
        {"GPU_OPTIMIZER_INTERVAL", "time between samples (default 10s)"},
        {"GPU_OPTIMIZER_WINDOW", "time one report covers (default 60s)"},
        {"GPU_OPTIMIZER_SPOOL_DIR", "where reports wait for delivery and the agent keeps its id"},
        {"GPU_OPTIMIZER_SPOOL_MAX_MB", "spool size limit in MiB (default 64); the oldest reports go first"},
        {"GPU_OPTIMIZER_SPOOL_MAX_AGE", "reports older than this are dropped (default 7d, what the server accepts)"},
        {"GPU_OPTIMIZER_COST_PER_HOUR", "price of one GPU-hour in USD, overriding cloud and catalog prices"},
        {"GPU_OPTIMIZER_SOURCE", "auto (NVML, else nvidia-smi), nvml, nvidia-smi or simulated"},
        {"GPU_OPTIMIZER_NVML_LIBRARY", "NVML library to load (default libnvidia-ml.so.1)"},
        {"GPU_OPTIMIZER_NVIDIA_SMI", "nvidia-smi program for the fallback (default nvidia-smi on PATH)"},
        {"GPU_OPTIMIZER_SIMULATE", "scenario file to replay instead of real GPUs"},
        {"GPU_OPTIMIZER_SIMULATE_HOST", "which host of the scenario (default the first)"},
        {"GPU_OPTIMIZER_SIMULATE_START",
         "the scenario's time zero, RFC 3339 (default now): carries on after gpuopt-demo-backfill"},
        {"GPU_OPTIMIZER_HOSTNAME", "host name to report (default the machine's)"},
        {"GPU_OPTIMIZER_CLOUD_DETECT", "ask cloud metadata services for the instance type (default true)"},
        {"GPU_OPTIMIZER_CLOUD_PROVIDER", "aws, gcp or azure: skip detection and use this provider ..."},
        {"GPU_OPTIMIZER_INSTANCE_TYPE", "... with this instance type"},
        {"GPU_OPTIMIZER_REGION", "... in this region"},
        {"GPU_OPTIMIZER_METADATA_AWS", "AWS instance metadata address (default http://169.254.169.254)"},
        {"GPU_OPTIMIZER_METADATA_GCP", "GCP metadata address (default http://169.254.169.254)"},
        {"GPU_OPTIMIZER_METADATA_AZURE", "Azure instance metadata address (default http://169.254.169.254)"},
        {"GPU_OPTIMIZER_METADATA_BUDGET", "total time for cloud detection (default 300ms)"},
        {"GPU_OPTIMIZER_PRICE_CATALOG", "instance price file replacing the built-in catalog/price_catalog.json"},
        {"GPU_OPTIMIZER_GPU_CATALOG", "GPU model file replacing the built-in catalog/gpu_catalog.json"},
        {"GPU_OPTIMIZER_IDLE_THRESHOLD", "utilization percent under which a sample is idle (default 15)"},
        {"GPU_OPTIMIZER_PROCESS_ATTRIBUTION",
         "report GPU processes with their user, container and Kubernetes pod (default true; false sends none)"},
        {"GPU_OPTIMIZER_PROCESS_CMDLINE", "also report each GPU process's full command line (default false)"},
        {"GPU_OPTIMIZER_PROC_ROOT", "where the host's /proc is (default /proc; /host/proc in a container)"},
        {"GPU_OPTIMIZER_IDLE_ACTIONS",
         "what the customer's idle policy may do here besides notify: signal, exec, or both (default none)"},
        {"GPU_OPTIMIZER_IDLE_EXEC", "the command an idle policy's exec action runs (with /bin/sh -c)"},
        {"GPU_OPTIMIZER_RETRY_INITIAL", "first delay before retrying a delivery (default 1s)"},
        {"GPU_OPTIMIZER_RETRY_MAX", "longest delay between retries (default 5m)"},
        {"GPU_OPTIMIZER_SHUTDOWN_GRACE", "time to deliver pending reports when stopping (default 5s)"},
        {"GPU_OPTIMIZER_LOG_LEVEL", "trace, debug, info, warn, error (default info)"},
    };
    return settings;
}

Result<AgentConfig> BuildAgentConfig(const std::map<std::string, std::string>& values,
                                     const std::vector<std::string>& from_file) {
    AgentConfig c;
    for (const auto& name : from_file) {
        const bool known =
            std::any_of(AgentSettings().begin(), AgentSettings().end(), [&](const auto& s) { return s.first == name; });
        if (!known) return Bad(name, "is not a setting of gpuopt-agent (see --help-settings)");
        if (name == "GPU_OPTIMIZER_API_KEY") return Bad(name, "may come only from the environment, not from a file");
    }
    auto get = [&](const char* name) -> std::optional<std::string> {
        auto it = values.find(name);
        if (it == values.end() || it->second.empty()) return std::nullopt;
        return it->second;
    };
    auto duration = [&](const char* name, std::chrono::milliseconds& out, std::chrono::milliseconds lo,
                        std::chrono::milliseconds hi) -> Result<void> {
        auto v = get(name);
        if (!v) return {};
        auto d = ParseDuration(*v);
        if (!d || *d < lo || *d > hi) {
            return Bad(name, "must be a duration such as 10s, 500ms or 2m, between " + std::to_string(lo.count()) +
                                 " ms and " + std::to_string(hi.count() / 1000) + " s");
        }
        out = *d;
        return {};
    };

    if (auto v = get("GPU_OPTIMIZER_API_KEY")) c.api_key = *v;
    if (auto v = get("GPU_OPTIMIZER_SERVER_URL")) {
        if (!IsHttpUrl(*v) || v->find_first_of(" \t\r\n") != std::string::npos) {
            return Bad("GPU_OPTIMIZER_SERVER_URL", "must be an http:// or https:// address");
        }
        c.server_url = *v;
    }
    using std::chrono::milliseconds;
    if (auto r = duration("GPU_OPTIMIZER_INTERVAL", c.interval, milliseconds(1), std::chrono::hours(1)); !r)
        return r.error();
    if (auto r = duration("GPU_OPTIMIZER_WINDOW", c.window, milliseconds(1), std::chrono::hours(24)); !r)
        return r.error();
    if (c.window < c.interval) return Bad("GPU_OPTIMIZER_WINDOW", "must not be shorter than GPU_OPTIMIZER_INTERVAL");
    if (c.window.count() % c.interval.count() != 0) {
        return Bad("GPU_OPTIMIZER_WINDOW", "must be a whole multiple of GPU_OPTIMIZER_INTERVAL");
    }
    if (auto v = get("GPU_OPTIMIZER_SPOOL_DIR")) c.spool_dir = *v;
    if (auto v = get("GPU_OPTIMIZER_SPOOL_MAX_MB")) {
        auto n = Number(*v);
        if (!n || *n < 1 || *n > 1024 * 1024)
            return Bad("GPU_OPTIMIZER_SPOOL_MAX_MB", "must be a number of MiB from 1 to 1048576");
        c.spool_max_bytes = static_cast<uint64_t>(*n * 1024 * 1024);
    }
    {
        milliseconds age = std::chrono::duration_cast<milliseconds>(c.spool_max_age);
        if (auto r =
                duration("GPU_OPTIMIZER_SPOOL_MAX_AGE", age, std::chrono::minutes(1), std::chrono::hours(24 * 365));
            !r) {
            return r.error();
        }
        c.spool_max_age = std::chrono::duration_cast<std::chrono::seconds>(age);
    }
    if (auto v = get("GPU_OPTIMIZER_COST_PER_HOUR")) {
        auto n = Number(*v);
        if (!n || *n < 0 || *n > 1000)
            return Bad("GPU_OPTIMIZER_COST_PER_HOUR", "must be a price from 0 to 1000 (USD per GPU-hour)");
        c.cost_per_hour = *n;
    }
    if (auto v = get("GPU_OPTIMIZER_SOURCE")) {
        if (*v != "auto" && *v != "nvml" && *v != "nvidia-smi" && *v != "simulated") {
            return Bad("GPU_OPTIMIZER_SOURCE", "must be auto, nvml, nvidia-smi or simulated");
        }
        c.source = *v;
    }
    if (auto v = get("GPU_OPTIMIZER_NVML_LIBRARY")) c.nvml_library = *v;
    if (auto v = get("GPU_OPTIMIZER_NVIDIA_SMI")) c.nvidia_smi = *v;
    if (auto v = get("GPU_OPTIMIZER_SIMULATE")) {
        c.simulate_file = *v;
        if (c.source == "auto") c.source = "simulated";
    }
    if (c.source == "simulated" && c.simulate_file.empty()) {
        return Bad("GPU_OPTIMIZER_SIMULATE", "is required when the source is simulated (--simulate FILE)");
    }
    if (auto v = get("GPU_OPTIMIZER_SIMULATE_HOST")) c.simulate_host = *v;
    if (auto v = get("GPU_OPTIMIZER_SIMULATE_START")) {
        c.simulate_start = ParseUtc(*v);
        if (!c.simulate_start)
            return Bad("GPU_OPTIMIZER_SIMULATE_START", "must be a UTC time, e.g. 2026-11-24T09:00:00Z");
    }
    if (auto v = get("GPU_OPTIMIZER_HOSTNAME")) {
        if (v->size() > 253) return Bad("GPU_OPTIMIZER_HOSTNAME", "must be at most 253 characters");
        c.hostname = *v;
    }
    for (auto [name, field] : {std::pair{"GPU_OPTIMIZER_PROCESS_ATTRIBUTION", &c.process_attribution},
                               {"GPU_OPTIMIZER_PROCESS_CMDLINE", &c.process_cmdline}}) {
        if (auto v = get(name)) {
            auto b = Bool(*v);
            if (!b) return Bad(name, "must be true or false");
            *field = *b;
        }
    }
    if (auto v = get("GPU_OPTIMIZER_PROC_ROOT")) {
        if (v->empty() || v->front() != '/') return Bad("GPU_OPTIMIZER_PROC_ROOT", "must be an absolute path");
        c.proc_root = *v;
    }
    if (auto v = get("GPU_OPTIMIZER_IDLE_ACTIONS")) {
        std::string item;
        std::stringstream list(*v);
        while (std::getline(list, item, ',')) {
            item.erase(0, item.find_first_not_of(' '));
            item.erase(item.find_last_not_of(' ') + 1);
            if (item == "signal") {
                c.idle_allow_signal = true;
            } else if (item == "exec") {
                c.idle_allow_exec = true;
            } else if (item != "notify" && item != "none" && !item.empty()) {
                return Bad("GPU_OPTIMIZER_IDLE_ACTIONS", "must list signal, exec, notify or none");
            }
        }
    }
    if (auto v = get("GPU_OPTIMIZER_IDLE_EXEC")) {
        if (v->size() > 4096) return Bad("GPU_OPTIMIZER_IDLE_EXEC", "must be at most 4096 characters");
        c.idle_exec = *v;
    }
    if (auto v = get("GPU_OPTIMIZER_CLOUD_DETECT")) {
        auto b = Bool(*v);
        if (!b) return Bad("GPU_OPTIMIZER_CLOUD_DETECT", "must be true or false");
        c.cloud_detect = *b;
    }
    if (auto provider = get("GPU_OPTIMIZER_CLOUD_PROVIDER")) {
        auto type = get("GPU_OPTIMIZER_INSTANCE_TYPE");
        if (!type) return Bad("GPU_OPTIMIZER_INSTANCE_TYPE", "is required with GPU_OPTIMIZER_CLOUD_PROVIDER");
        c.cloud_override = CloudInstance{*provider, *type, get("GPU_OPTIMIZER_REGION").value_or("")};
    } else if (get("GPU_OPTIMIZER_INSTANCE_TYPE")) {
        return Bad("GPU_OPTIMIZER_CLOUD_PROVIDER", "is required with GPU_OPTIMIZER_INSTANCE_TYPE");
    }
    for (auto [name, field] : {std::pair{"GPU_OPTIMIZER_METADATA_AWS", &c.metadata.aws},
                               {"GPU_OPTIMIZER_METADATA_GCP", &c.metadata.gcp},
                               {"GPU_OPTIMIZER_METADATA_AZURE", &c.metadata.azure}}) {
        if (auto v = get(name)) {
            if (!IsHttpUrl(*v)) return Bad(name, "must be an http:// address");
            *field = *v;
        }
    }
    if (auto r =
            duration("GPU_OPTIMIZER_METADATA_BUDGET", c.metadata.budget, milliseconds(10), std::chrono::seconds(10));
        !r) {
        return r.error();
    }
    if (auto v = get("GPU_OPTIMIZER_PRICE_CATALOG")) c.price_catalog = *v;
    if (auto v = get("GPU_OPTIMIZER_GPU_CATALOG")) c.gpu_catalog = *v;
    if (auto v = get("GPU_OPTIMIZER_IDLE_THRESHOLD")) {
        auto n = Number(*v);
        if (!n || *n <= 0 || *n > 100)
            return Bad("GPU_OPTIMIZER_IDLE_THRESHOLD", "must be a percentage above 0, at most 100");
        c.idle_threshold_percent = *n;
    }
    if (auto r = duration("GPU_OPTIMIZER_RETRY_INITIAL", c.retry_initial, milliseconds(1), std::chrono::minutes(10));
        !r) {
        return r.error();
    }
    if (auto r = duration("GPU_OPTIMIZER_RETRY_MAX", c.retry_max, milliseconds(1), std::chrono::hours(24)); !r)
        return r.error();
    if (c.retry_max < c.retry_initial)
        return Bad("GPU_OPTIMIZER_RETRY_MAX", "must not be shorter than GPU_OPTIMIZER_RETRY_INITIAL");
    if (auto r = duration("GPU_OPTIMIZER_SHUTDOWN_GRACE", c.shutdown_grace, milliseconds(0), std::chrono::minutes(10));
        !r) {
        return r.error();
    }
    if (auto v = get("GPU_OPTIMIZER_LOG_LEVEL")) c.log_level = *v;
    if (c.spool_dir.empty()) c.spool_dir = DefaultSpoolDir();
    return c;
}

}  // namespace gpuopt::agent
