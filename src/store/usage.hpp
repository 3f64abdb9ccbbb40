// What the agents report and the history built from it (SPEC §5, §6): raw windows, the hourly roll-up,
// and retention.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "common/time.hpp"
#include "store/callback.hpp"
#include "store/idle_actions.hpp"

namespace gpuopt::store {

// One GPU's window statistics inside a report, already validated.
struct GpuWindow {
    std::string gpu_key;  // identity for limits: host + uuid, or host + index without uuid
    int gpu_index = 0;
    std::string uuid;
    std::string name;
    double util_avg = 0;
    std::optional<double> util_max;
    std::optional<double> idle_fraction;
    std::optional<double> idle_held_fraction;  // idle while processes held memory
    std::optional<double> mem_util;            // percent of time memory was read or written
    double mem_used_mib = 0;                   // the window's peak in full reports
    double mem_total_mib = 0;
    std::optional<double> temperature_c;
    std::optional<double> power_w;
    std::optional<double> power_limit_w;
    std::optional<double> sm_clock_mhz;
    // GPM SM activity, percent: the share of cycles an SM had a warp resident, averaged over the SMs. It
    // reads low where utilization (any kernel running) reads high on a GPU a small kernel keeps busy.
    std::optional<double> sm_active;
    double cost_per_hour = 0;
    std::string processes_json;  // "[]" when none were reported
    // What the GPU says of itself beyond the figures analysed (graphics engine activity, energy, clocks, PCI bus id,
    // driver, XID errors, MIG): a validated JSON object, "" when the agent sent none of it.
    std::string telemetry_json;
};

struct UsageReport {
    std::optional<std::string> report_id;  // idempotency key; absent in the prototype's minimal form
    std::string agent_id;
    std::string hostname;
    std::string agent_version;
    std::string cloud_json;   // "" when absent
    SysSeconds window_start;  // whole seconds (window_*_ms hold the precision it was sent at)
    SysSeconds window_end;
    SysMillis window_start_ms;
    SysMillis window_end_ms;
    // The prototype's form: no window. It covers the time since the same GPU's previous report, up to
    // IngestRequest::implicit_window_max (the first one: ReportRules::default_window), and never more
    // than really passed.
    bool implicit_window = false;
    // No host was named (the prototype's form): `hostname` is the client's address.
    bool host_from_address = false;
    int samples = 1;
    std::vector<GpuWindow> gpus;
    // What the agent warned of and did about idle GPUs since its last report (recorded apart from the
    // windows, before them: IdleActionRepository). account_id and received_at are the caller's to set.
    std::vector<IdleEvent> idle_events;
};

struct IngestRequest {
    int64_t account_id = 0;
    UsageReport report;
    std::optional<int> gpu_limit;  // distinct GPUs allowed over limit_window; nullopt = unlimited
    std::chrono::hours limit_window{24};
    SysSeconds now;
    std::chrono::milliseconds implicit_window_max{600000};  // IMPLICIT_WINDOW_MAX_SECONDS
};

struct IngestOutcome {
    bool duplicate = false;  // the report_id was stored before; nothing was written
};

// One GPU window as stored, read back for history and roll-ups.
struct StoredWindow {
    int64_t id = 0;  // increases with every insert
    int64_t account_id = 0;
    std::string gpu_key;
    std::string host;
    std::string uuid;
    std::string name;
    int gpu_index = 0;
    SysSeconds window_end;
    int64_t window_seconds = 60;  // as sent, whole seconds (at least 1)
    // What the window counts for once merged with the same GPU's other windows: the interval
    // [window_end_ms - counted_ms, window_end_ms], to the millisecond — the window as sent, or its newest
    // stretch that earlier windows had not covered (then window_end and window_end_ms are that stretch's
    // end); zero for a window wholly covered before. window_ms is its length as sent. nullopt in rows stored
    // before these columns (window_end, window_seconds: counted as sent).
    std::optional<SysMillis> window_end_ms;
    std::optional<int64_t> window_ms;
    std::optional<int64_t> counted_ms;
    bool host_from_address = false;
    double util_avg = 0;
    std::optional<double> util_max;
    std::optional<double> idle_fraction;
    std::optional<double> idle_held_fraction;
    std::optional<double> mem_util;
    double mem_used_mib = 0;
    double mem_total_mib = 0;
    std::optional<double> temperature_c;
    std::optional<double> power_w;
    std::optional<double> power_limit_w;
    std::optional<double> sm_clock_mhz;
    std::optional<double> sm_active;  // nullopt: not measured (no GPM), or stored before the column
    double cost_per_hour = 0;
    std::string processes_json;
    std::string telemetry_json;  // "" when none
};

// One GPU-hour of the roll-up. Every figure is a sum or a maximum, so rows for the same GPU-hour
// merge by adding (late reports, replays of a spool).
struct HourlyRow {
    int64_t account_id = 0;
    std::string gpu_key;
    std::string host;
    std::string uuid;
    std::string name;
    int gpu_index = 0;
    SysSeconds hour;           // start of the hour
    int64_t windows = 0;       // raw windows merged in
    double reported_s = 0;     // seconds covered by reports
    double util_weighted = 0;  // Σ utilization × seconds
    double util_max = 0;
    double idle_s = 0;
    double idle_held_s = 0;
    double mem_used_max = 0;
    double mem_total = 0;
    double cost_usd = 0;  // Σ seconds × $/h / 3600
    double idle_cost_usd = 0;
    double idle_held_cost_usd = 0;
    double sm_s = 0;         // seconds of reported_s that carried SM activity
    double sm_weighted = 0;  // Σ SM activity × seconds over sm_s
};

// A GPU of an account as last seen.
struct FleetGpu {
    std::string gpu_key;
    SysSeconds first_seen;
    SysSeconds last_seen;
    std::optional<StoredWindow> latest;  // its latest window, when still kept
};

// The roll-up hours of a range and, from the same snapshot, the windows the roll-up has not merged yet:
// together, every report once. Compact: hours refer to their GPU by index, so a month of a large fleet
// reads without a string per row.
struct GpuIdentity {
    std::string gpu_key;
    std::string host;
    std::string uuid;
    std::string name;
    int gpu_index = 0;
};

struct HourStats {
    size_t gpu = 0;  // into RolledHistory::gpus
    SysSeconds hour;
    int64_t windows = 0;
    double reported_s = 0;
    double util_weighted = 0;
    double util_max = 0;
    double idle_s = 0;
    double idle_held_s = 0;
    double mem_used_max = 0;
    double mem_total = 0;
    double cost_usd = 0;
    double idle_cost_usd = 0;
    double idle_held_cost_usd = 0;
    double sm_s = 0;
    double sm_weighted = 0;
};

struct RolledHistory {
    std::vector<GpuIdentity> gpus;  // identity as of each GPU's latest hour
    std::vector<HourStats> hours;   // oldest first
    std::vector<StoredWindow> unmerged;
};

class UsageRepository {
public:
    virtual ~UsageRepository() = default;

    // Stores the report and its GPU windows once. A report_id already stored for the account gives
    // IngestOutcome{duplicate=true} and writes nothing. Fails with kTierLimitExceeded, writing nothing,
    // when the report would take the account over gpu_limit distinct GPUs in the window.
    virtual void IngestReport(IngestRequest request, Callback<IngestOutcome> done) = 0;

    // Raw windows of an account whose end lies in (from, to], oldest first; all GPUs or one.
    virtual Result<std::vector<StoredWindow>> ReadWindows(int64_t account_id, SysSeconds from, SysSeconds to,
                                                          const std::string& gpu_key = "") = 0;
    // The roll-up hours of [from, to) and the windows ending in (from, to] that the roll-up has not merged.
    virtual Result<RolledHistory> ReadRolledHistory(int64_t account_id, SysSeconds from, SysSeconds to,
                                                    const std::string& gpu_key = "") = 0;

    // The account's GPUs seen since `since`, with their latest window.
    virtual Result<std::vector<FleetGpu>> ReadFleet(int64_t account_id, SysSeconds since) = 0;
    // Every account's GPUs seen since `since`, each with a recent window (at most about a minute older
    // than its latest): what /metrics shows.
    virtual Result<std::vector<StoredWindow>> ReadRecentGpus(SysSeconds since) = 0;

    // Roll-up input: windows stored after `after_id` (every account), oldest first, at most `limit`.
    virtual Result<std::vector<StoredWindow>> ReadWindowsAfter(int64_t after_id, size_t limit) = 0;
    // Where the roll-up has got to: every window with an id up to it is merged into the hours.
    virtual Result<int64_t> RollupWatermark() = 0;
    // Merges `hours` (added to any existing row of the same GPU-hour) and moves the watermark from
    // `expected_watermark` to `new_watermark`, in one transaction. kAlreadyExists when the watermark
    // is not `expected_watermark` any more (another run got there first): nothing is written.
    virtual void ApplyRollup(std::vector<HourlyRow> hours, int64_t expected_watermark, int64_t new_watermark,
                             Callback<void> done) = 0;
    // Deletes at most `max_rows` raw windows that ended before `raw_before` and are rolled up (and the
    // reports left without windows), and hours before `hourly_before`. Answers how many rows went.
    virtual void PruneHistory(SysSeconds raw_before, SysSeconds hourly_before, size_t max_rows,
                              Callback<int64_t> done) = 0;
};

}  // namespace gpuopt::store
