// Cost analysis over stored history (SPEC §6): pure functions from raw windows or roll-up hours to
// idle time, idle cost, recoverable savings and "idle but holding memory" periods, per GPU, host and
// fleet. Nothing here accumulates per report: every figure is derived from the history it is given.
//
// Rules:
//  - A slice is one raw window, or one hour of the roll-up. Its time is the window's counted time (what
//    is left once overlapping windows of the same GPU were merged at ingest), at the millisecond it was
//    sent. A slice straddling a range's edge counts in proportion to the part inside, so for one GPU the
//    reported time of any range never exceeds the range's length; the roll-up splits a window across
//    the hours it spans the same way, so hour-aligned ranges give the same totals from either.
//  - Idle time of a window: the agent's measured idle fraction × its length when it sent one, else the
//    whole window when its average utilization is under the idle threshold (default 15 %).
//  - Idle while holding memory: the agent's idle-held fraction when sent, else the idle time when the
//    GPU reports more than 1 GiB in use (reports without a process list).
//  - Time without reports is unknown, not idle.
//  - SM activity (GPM) is summed over the time that carried it only: sm_s of reported_s. Its averages and
//    p95 describe that time; SmCoverage() says how much of the reported time it is.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "common/time.hpp"
#include "store/usage.hpp"

namespace gpuopt::analysis {

struct IdleRules {
    double idle_threshold_percent = 15.0;
    double held_without_processes_mib = 1024;  // "holding memory", when the report has no idle-held fraction
};

struct Range {
    SysSeconds from;
    SysSeconds to;
    double Hours() const { return std::chrono::duration<double>(to - from).count() / 3600.0; }
};

struct Slice {
    SysSeconds start;
    SysSeconds end;
    double t0 = 0;  // the counted interval [t0, t1] in seconds since the epoch, to the millisecond
    double t1 = 0;
    double reported_s = 0;
    double util_weighted = 0;  // Σ utilization × seconds
    double util_max = 0;
    double idle_s = 0;
    double idle_held_s = 0;
    double mem_used_max = 0;
    double mem_total = 0;
    double cost_usd = 0;
    double idle_cost_usd = 0;
    double idle_held_cost_usd = 0;
    double sm_s = 0;         // seconds of reported_s with SM activity measured
    double sm_weighted = 0;  // Σ SM activity × seconds

    double UtilAvg() const { return reported_s > 0 ? util_weighted / reported_s : 0; }
    double IdleShare() const { return reported_s > 0 ? idle_s / reported_s : 0; }
    double SmAvg() const { return sm_s > 0 ? sm_weighted / sm_s : 0; }
};

// A GPU and its slices (oldest first).
struct GpuHistory {
    std::string gpu_key;
    std::string host;
    std::string uuid;
    std::string name;
    int gpu_index = 0;
    std::vector<Slice> slices;
};

Slice SliceOf(const store::StoredWindow& w, const IdleRules& rules);
Slice SliceOf(const store::HourlyRow& h);

// The roll-up row a raw window adds to (its hour is the one holding the window's last second).
store::HourlyRow HourOf(const store::StoredWindow& w, const IdleRules& rules);
// Adds `add` into `into` (same account, GPU and hour).
void Merge(store::HourlyRow& into, const store::HourlyRow& add);
// Adds `add` into `into` (the same GPU; the slice grows to cover both).
void Merge(Slice& into, const Slice& add);
// The part of `s` inside [from, to]: additive figures scaled by the share of its interval inside, maxima
// kept while any of it is inside.
Slice Clip(const Slice& s, double from, double to);
// Windows grouped into GPU-hours.
std::vector<store::HourlyRow> RollUp(const std::vector<store::StoredWindow>& windows, const IdleRules& rules);

// Histories per GPU, ordered by host then GPU index.
std::vector<GpuHistory> Histories(const std::vector<store::StoredWindow>& windows, const IdleRules& rules);
std::vector<GpuHistory> Histories(const std::vector<store::HourlyRow>& hours);
// A snapshot of the roll-up, with the windows it has not merged yet joined to their hours.
std::vector<GpuHistory> Histories(const store::RolledHistory& rolled, const IdleRules& rules);

struct Totals {
    double range_hours = 0;
    double reported_hours = 0;
    double unknown_hours = 0;  // range time without reports
    double idle_hours = 0;
    double idle_held_hours = 0;
    double busy_hours = 0;
    double util_avg = 0;  // weighted by reported time
    double util_p95 = 0;  // of the slices' averages
    double util_max = 0;
    double mem_used_max = 0;
    double mem_total = 0;
    double cost = 0;
    double idle_cost = 0;
    double idle_held_cost = 0;
    double recoverable_savings = 0;  // idle_cost × recoverable fraction
    double cost_per_hour = 0;        // while reported
    double sm_hours = 0;             // reported hours with SM activity measured
    double sm_avg = 0;               // weighted by those hours
    double sm_p95 = 0;               // of the averages of slices with SM activity

    double SmCoverage() const { return reported_hours > 0 ? std::min(1.0, sm_hours / reported_hours) : 0; }
    double IdleFraction() const { return reported_hours > 0 ? idle_hours / reported_hours : 0; }
    double Coverage() const { return range_hours > 0 ? reported_hours / range_hours : 0; }
};

// One GPU over `range` (each slice in proportion to its part inside it).
Totals Summarize(const std::vector<Slice>& slices, const Range& range, double recoverable_fraction);
// Several GPUs together (hosts, the fleet): sums; unknown hours are summed GPU-hours.
Totals Combine(const std::vector<Totals>& parts);

// A stretch of time a GPU sat idle while memory stayed allocated.
struct HeldPeriod {
    SysSeconds start;
    SysSeconds end;
    double held_hours = 0;
    double mem_used_max = 0;
    double cost = 0;  // idle-held cost in the period
};

// Runs of consecutive slices (no reporting gap longer than `max_gap`) in which at least `min_share` of
// the reported time was idle while holding memory.
std::vector<HeldPeriod> IdleHeldPeriods(const std::vector<Slice>& slices, const Range& range,
                                        std::chrono::seconds max_gap = std::chrono::seconds(180),
                                        double min_share = 0.5);

// Since when a GPU has been idle without a break, judged from its latest slices: nullopt when its
// latest slice is busy, or when it has not reported within `max_gap` of `now`. A reporting gap longer
// than `max_gap` ends the streak (unknown is not idle).
std::optional<SysSeconds> IdleSince(const std::vector<Slice>& slices, SysSeconds now,
                                    std::chrono::seconds max_gap = std::chrono::seconds(180), double min_share = 0.9);

inline constexpr double kHoursPerMonth = 720.0;

}  // namespace gpuopt::analysis
