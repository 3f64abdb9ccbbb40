// The agent's two loops: sampling on a steady schedule that does not drift (a sample every interval,
// a report every window, windows aligned to whole seconds), and delivery, which sends spooled reports
// oldest first with retries, backoff and jitter. Reports are written to the spool before they are
// sent, so a crash, a restart or a server that is away loses none of them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "agent/agent_config.hpp"
#include "agent/gpu_source.hpp"
#include "agent/idle_enforcer.hpp"
#include "agent/process_owner.hpp"
#include "agent/report.hpp"
#include "agent/spool.hpp"
#include "agent/uploader.hpp"
#include "agent/window.hpp"
#include "common/price_catalog.hpp"

namespace gpuopt::agent {

// Exit codes of gpuopt-agent.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;     // the spool cannot be written, or another run-time failure
inline constexpr int kExitBadSetting = 2;  // a setting is malformed or missing (no key)
inline constexpr int kExitNoGpu = 3;       // no GPU source could be opened, or it sees no GPU
inline constexpr int kExitRefused = 4;     // the server refused the agent (wrong key or address)

struct AgentIdentity {
    std::string agent_id;
    std::string hostname;
    std::string version;
    std::optional<CloudInstance> cloud;
};

class Agent {
public:
    // `spool` and `uploader` may be null in --dry-run mode (reports go to stdout).
    Agent(const AgentConfig& config, GpuSource& source, const PriceCatalog& catalog, AgentIdentity identity,
          Spool* spool, Uploader* uploader);

    // Runs both loops until Stop() or until config.count reports were made; returns an exit code.
    int Run();
    // Thread-safe; safe to call more than once. The current window is reported as it stands, and
    // delivery goes on for the shutdown grace period.
    void Stop();

    // One sample, as the report --once prints.
    static Result<std::string> Once(GpuSource& source, const AgentConfig& config, const PriceCatalog& catalog,
                                    const AgentIdentity& identity);

private:
    void SampleLoop();
    void DeliveryLoop();
    void DeliverSpool();
    void Emit(WindowReport window);
    // Waits until `deadline` or until Stop(); true when stopped.
    bool WaitUntil(std::chrono::steady_clock::time_point deadline);
    ReportContext Context(const WindowReport& window, const std::string& report_id);

    const AgentConfig& config_;
    GpuSource& source_;
    const PriceCatalog& catalog_;
    AgentIdentity identity_;
    Spool* spool_;
    Uploader* uploader_;
    std::map<std::string, GpuPrice> prices_;  // by GpuKey, decided the first time a GPU is seen
    ProcessAttributor attributor_;
    std::unique_ptr<IdleEnforcer> enforcer_;  // with a server only: the customer's idle policy arrives from it
    uint64_t reports_made_ = 0;
    uint64_t dry_run_sequence_ = 0;

    std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    bool sampling_done_ = false;
    bool delivery_done_ = false;
    std::chrono::steady_clock::time_point stop_deadline_{};
    std::atomic<int> exit_code_{kExitOk};
};

}  // namespace gpuopt::agent
