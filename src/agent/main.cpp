// gpuopt-agent: samples the GPUs of this host and reports to the gpuopt server (SPEC §5).
//   gpuopt-agent [--server URL] [--interval 10s] [--window 60s] [--spool-dir DIR] [--cost-per-hour P]
//                [--simulate FILE [--simulate-host NAME]] [--once | --dry-run] [--count N] [--config FILE]
// Exit codes: 0 stopped normally, 1 run-time failure, 2 bad setting or no API key, 3 no GPU,
// 4 the server refused the agent (key or address). See deploy/gpuopt-agent.service.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "agent/agent.hpp"
#include "agent/agent_config.hpp"
#include "agent/cloud.hpp"
#include "agent/nvml/nvml_source.hpp"
#include "agent/simulated/simulated_source.hpp"
#include "agent/smi/smi_source.hpp"
#include "common/config.hpp"
#include "common/log.hpp"
#include "net/http_client.hpp"

using namespace gpuopt;
using namespace gpuopt::agent;

extern char** environ;

namespace {

int BadSetting(const Error& e) {
    std::string text = e.message;
    for (const auto& [field, what] : e.details) text = field + " " + what;
    std::cerr << "gpuopt-agent: " << text << "\n";
    return kExitBadSetting;
}

std::string MachineHostname() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "unknown-host";
    return name;
}

// A stable id: read from the spool directory, or made once from the host name and random bits.
Result<std::string> AgentId(const std::string& dir, const std::string& hostname, bool create) {
    const std::string path = dir + "/agent-id";
    {
        std::ifstream in(path);
        std::string id;
        if (in >> id && !id.empty() && id.size() <= 64) return id;
    }
    std::string base;
    for (char c : hostname) {
        if (std::isalnum(static_cast<unsigned char>(c)))
            base += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        else if ((c == '-' || c == '.' || c == '_') && !base.empty() && base.back() != '-')
            base += '-';
        if (base.size() >= 40) break;
    }
    if (base.empty()) base = "host";
    if (!create) return base;
    std::random_device rd;
    char suffix[9];
    std::snprintf(suffix, sizeof suffix, "%08x", rd());
    const std::string id = base + "-" + suffix;
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << id << "\n";
        if (!out) return Error{ErrorCode::kInternal, "cannot write " + tmp, {}};
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) return Error{ErrorCode::kInternal, "cannot write " + path, {}};
    return id;
}

Result<std::unique_ptr<GpuSource>> OpenSource(const AgentConfig& c, std::string& hostname) {
    if (c.source == "simulated") {
        auto scenario = LoadScenario(c.simulate_file);
        if (!scenario) return scenario.error();
        size_t which = 0;
        if (!c.simulate_host.empty()) {
            const SimulatedHost* h = scenario->FindHost(c.simulate_host);
            if (h == nullptr) {
                return Error::Validation("GPU_OPTIMIZER_SIMULATE_HOST",
                                         "'" + c.simulate_host + "' is not a host of " + c.simulate_file);
            }
            which = static_cast<size_t>(h - scenario->hosts.data());
        }
        if (c.hostname.empty()) hostname = scenario->hosts[which].hostname;
        const auto start = c.simulate_start ? std::chrono::system_clock::time_point(*c.simulate_start)
                                            : std::chrono::system_clock::now();
        return std::unique_ptr<GpuSource>(
            new SimulatedSource(scenario->hosts[which], static_cast<unsigned>(which), start));
    }
    std::string why;
    if (c.source == "auto" || c.source == "nvml") {
        auto nvml = NvmlSource::Open(c.nvml_library);
        if (nvml) {
            if ((*nvml)->device_count() == 0)
                return Error{ErrorCode::kNotFound, "NVML works but sees no GPU on this host", {}};
            return std::unique_ptr<GpuSource>(std::move(*nvml));
        }
        why = nvml.error().message;
        if (c.source == "nvml") return Error{ErrorCode::kNotFound, why, {}};
        spdlog::info("{}; trying {}", why, c.nvidia_smi);
    }
    auto smi = SmiSource::Open(c.nvidia_smi);
    if (smi) return std::unique_ptr<GpuSource>(std::move(*smi));
    return Error{ErrorCode::kNotFound, (why.empty() ? "" : why + "; ") + smi.error().message, {}};
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{
        "gpuopt-agent: samples this host's GPUs and reports them to a GPUOptimizer server.\n"
        "Settings also come from the environment (GPU_OPTIMIZER_*, see --help-settings)."};
    cli.set_version_flag("--version", std::string("gpuopt-agent ") + GPUOPT_VERSION);
    std::map<std::string, std::string> flags;
    auto setting = [&](const std::string& flag, const std::string& name, const std::string& help) {
        cli.add_option_function<std::string>(
            flag, [&flags, name](const std::string& v) { flags[name] = v; }, help);
    };
    std::string config_file;
    bool once = false, dry_run = false, no_cloud = false, help_settings = false;
    uint64_t count = 0;
    cli.add_option("--config", config_file, "KEY=VALUE settings file (GPU_OPTIMIZER_* names; not the key)");
    setting("--server", "GPU_OPTIMIZER_SERVER_URL", "server address (default http://localhost:5000)");
    setting("--interval", "GPU_OPTIMIZER_INTERVAL", "time between samples, e.g. 10s");
    setting("--window", "GPU_OPTIMIZER_WINDOW", "time one report covers, e.g. 60s");
    setting("--spool-dir", "GPU_OPTIMIZER_SPOOL_DIR", "where reports wait for delivery");
    setting("--cost-per-hour", "GPU_OPTIMIZER_COST_PER_HOUR", "USD per GPU-hour, overriding detection");
    setting("--simulate", "GPU_OPTIMIZER_SIMULATE", "replay this scenario file instead of real GPUs");
    setting("--simulate-host", "GPU_OPTIMIZER_SIMULATE_HOST", "which host of the scenario");
    setting("--simulate-start", "GPU_OPTIMIZER_SIMULATE_START", "the scenario's time zero (RFC 3339)");
    setting("--source", "GPU_OPTIMIZER_SOURCE", "auto, nvml, nvidia-smi or simulated");
    setting("--nvml-library", "GPU_OPTIMIZER_NVML_LIBRARY", "NVML library path (default libnvidia-ml.so.1)");
    setting("--hostname", "GPU_OPTIMIZER_HOSTNAME", "host name to report");
    setting("--log-level", "GPU_OPTIMIZER_LOG_LEVEL", "trace, debug, info, warn, error");
    cli.add_flag("--no-cloud", no_cloud, "do not ask cloud metadata services");
    cli.add_flag("--once", once, "print one report (one sample) as JSON and exit; sends nothing");
    cli.add_flag("--dry-run", dry_run, "print each report as a JSON line instead of sending it");
    cli.add_option("--count", count, "stop after this many reports");
    cli.add_flag("--help-settings", help_settings, "list every setting and exit");
    CLI11_PARSE(cli, argc, argv);

    if (help_settings) {
        for (const auto& [name, help] : AgentSettings()) std::cout << name << "\n    " << help << "\n";
        return kExitOk;
    }

    // Lowest first: the --config file, the environment, then flags.
    std::map<std::string, std::string> values;
    std::vector<std::string> from_file;
    if (!config_file.empty()) {
        std::ifstream in(config_file);
        if (!in) return BadSetting(Error::Validation("--config", "cannot read " + config_file));
        std::stringstream ss;
        ss << in.rdbuf();
        auto kv = ParseKeyValueFile(ss.str(), config_file);
        if (!kv) return BadSetting(kv.error());
        for (auto& [k, v] : *kv) {
            from_file.push_back(k);
            values[k] = v;
        }
    }
    for (const auto& [name, help] : AgentSettings()) {
        if (const char* v = std::getenv(name.c_str())) values[name] = v;
    }
    for (auto& [k, v] : flags) values[k] = v;
    if (no_cloud) values["GPU_OPTIMIZER_CLOUD_DETECT"] = "false";
    auto built = BuildAgentConfig(values, from_file);
    if (!built) return BadSetting(built.error());
    AgentConfig config = std::move(*built);
    config.once = once;
    config.dry_run = dry_run;
    config.count = count;
    if (auto r = InitLogging(config.log_level); !r)
        return BadSetting(Error::Validation("GPU_OPTIMIZER_LOG_LEVEL", r.error().message));
    if (!config.once && !config.dry_run && config.api_key.empty()) {
        std::cerr << "gpuopt-agent: GPU_OPTIMIZER_API_KEY is not set. Sign up at your server (" << config.server_url
                  << ") to get a key, then run with GPU_OPTIMIZER_API_KEY=gopt_... in the environment.\n";
        return kExitBadSetting;
    }

    // Stop signals are taken by one thread with sigwait; every other thread has them blocked.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    const net::CurlGlobal curl;  // before any thread; cleaned up after every handle is gone

    auto catalog = PriceCatalog::Load(config.price_catalog, config.gpu_catalog);
    if (!catalog) return BadSetting(catalog.error());

    std::string hostname = config.hostname.empty() ? MachineHostname() : config.hostname;
    auto source = OpenSource(config, hostname);
    if (!source) {
        if (source.error().code == ErrorCode::kValidation) return BadSetting(source.error());
        std::cerr << "gpuopt-agent: no GPU to monitor: " << source.error().message << "\n";
        return kExitNoGpu;
    }
    spdlog::info("gpuopt-agent {}: {}", GPUOPT_VERSION, (*source)->Describe());

    AgentIdentity identity;
    identity.hostname = hostname;
    identity.version = GPUOPT_VERSION;
    if (config.cloud_override) {
        identity.cloud = config.cloud_override;
    } else if (config.cloud_detect && config.source != "simulated") {
        const auto start = std::chrono::steady_clock::now();
        identity.cloud = DetectCloud(config.metadata);
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
        if (identity.cloud) {
            spdlog::info("cloud: {} {} {} (found in {} ms)", identity.cloud->provider, identity.cloud->instance_type,
                         identity.cloud->region, ms);
        } else {
            spdlog::info("cloud: none detected ({} ms)", ms);
        }
    }

    const bool keeps_state = !config.once && !config.dry_run;
    if (keeps_state) {
        std::error_code ec;
        std::filesystem::create_directories(config.spool_dir, ec);
        if (ec) {
            std::cerr << "gpuopt-agent: cannot create the spool directory " << config.spool_dir << ": " << ec.message()
                      << "\n";
            return kExitFailure;
        }
    }
    auto id = AgentId(config.spool_dir, hostname, keeps_state);
    if (!id) {
        std::cerr << "gpuopt-agent: " << id.error().message << "\n";
        return kExitFailure;
    }
    identity.agent_id = *id;

    if (config.once) {
        auto report = Agent::Once(**source, config, *catalog, identity);
        if (!report) {
            std::cerr << "gpuopt-agent: " << report.error().message << "\n";
            return kExitNoGpu;
        }
        std::cout << *report << "\n";
        return kExitOk;
    }

    std::unique_ptr<Spool> spool;
    std::unique_ptr<Uploader> uploader;
    if (!config.dry_run) {
        auto opened = Spool::Open({config.spool_dir, config.spool_max_bytes, config.spool_max_age, 1024 * 1024});
        if (!opened) {
            std::cerr << "gpuopt-agent: " << opened.error().message << "\n";
            return kExitFailure;
        }
        spool = std::move(*opened);
        if (spool->Pending() > 0) spdlog::info("{} report(s) from an earlier run wait for delivery", spool->Pending());
        uploader = std::make_unique<Uploader>(
            UploaderOptions{config.server_url, config.api_key, std::string("gpuopt-agent/") + GPUOPT_VERSION});
        spdlog::info("agent {}: reporting to {} every {} ms (samples every {} ms), spool {}", identity.agent_id,
                     uploader->endpoint(), config.window.count(), config.interval.count(), config.spool_dir);
    }

    Agent agent(config, **source, *catalog, identity, spool.get(), uploader.get());
    std::atomic<bool> finished{false};
    std::thread signals([&] {
        int sig = 0;
        sigwait(&stop_signals, &sig);
        if (!finished) {
            spdlog::info("signal {}: reporting the current window and stopping", sig);
            agent.Stop();
        }
    });
    const int code = agent.Run();
    // Wake the signal thread if no signal came (the run ended by --count or an error).
    finished = true;
    pthread_kill(signals.native_handle(), SIGTERM);
    signals.join();
    return code;
}
