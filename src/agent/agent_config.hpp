// gpuopt-agent's one typed configuration (SPEC §5). Values come from, lowest first: defaults, a
// --config file of KEY=VALUE lines, the environment, then flags; every setting has an environment
// name (GPU_OPTIMIZER_...). The API key comes from the environment only. A malformed value stops
// start-up with a message naming the setting.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/cloud.hpp"
#include "agent/pricing.hpp"
#include "common/result.hpp"
#include "common/time.hpp"

namespace gpuopt::agent {

struct AgentConfig {
    std::string api_key;
    std::string server_url = "http://localhost:5000";
    std::chrono::milliseconds interval{10000};
    std::chrono::milliseconds window{60000};
    std::string spool_dir;  // empty: $STATE_DIRECTORY, else $XDG_STATE_HOME or ~/.local/state, + /gpuopt-agent
    uint64_t spool_max_bytes = 64ull * 1024 * 1024;
    std::chrono::seconds spool_max_age = std::chrono::hours(24 * 7);
    std::optional<double> cost_per_hour;
    std::string source = "auto";  // auto (NVML, else nvidia-smi), nvml, nvidia-smi, simulated
    std::string nvml_library = "libnvidia-ml.so.1";
    std::string nvidia_smi = "nvidia-smi";
    std::string simulate_file;
    std::string simulate_host;
    std::optional<SysSeconds> simulate_start;  // the scenario's time zero (default: when the agent starts)
    std::string hostname;                      // empty: the machine's
    bool cloud_detect = true;
    MetadataEndpoints metadata;
    std::optional<CloudInstance> cloud_override;
    std::string price_catalog;
    std::string gpu_catalog;
    double idle_threshold_percent = 15;
    bool process_attribution = true;  // report GPU processes with their user, container and pod
    bool process_cmdline = false;     // ... and their full command lines
    std::string proc_root = "/proc";  // the host's /proc (mounted elsewhere in a container: /host/proc)
    // What the customer's idle policy may do on this host (notify is always allowed), and the command its
    // exec action runs: only the host's operator writes these.
    bool idle_allow_signal = false;
    bool idle_allow_exec = false;
    std::string idle_exec;
    std::chrono::milliseconds retry_initial{1000};
    std::chrono::milliseconds retry_max{300000};
    std::chrono::milliseconds shutdown_grace{5000};
    std::string log_level = "info";

    // Modes (flags only).
    bool once = false;
    bool dry_run = false;
    uint64_t count = 0;  // stop after this many reports; 0: run until stopped
};

// Setting names in the order `--help-settings` lists them, each with its one-line description.
const std::vector<std::pair<std::string, std::string>>& AgentSettings();

// Builds the configuration from name -> value (names as in AgentSettings). `from_file` lists the names
// that came from the --config file (the key may not). Fails naming the setting.
Result<AgentConfig> BuildAgentConfig(const std::map<std::string, std::string>& values,
                                     const std::vector<std::string>& from_file);

// "10s", "500ms", "2m", "1h", "7d", or a plain number of seconds ("0.5"). nullopt when malformed.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

// The spool directory the defaults lead to.
std::string DefaultSpoolDir();

}  // namespace gpuopt::agent
