#include "analysis/history.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <string_view>
#include <unordered_map>

namespace gpuopt::analysis {

namespace {

using std::chrono::seconds;

double Clamp01(double v) { return std::clamp(v, 0.0, 1.0); }

SysSeconds HourStart(SysSeconds t) { return std::chrono::floor<std::chrono::hours>(t); }

// The nearest-rank 95th percentile; 0 of none.
double P95(std::vector<double>& values) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const size_t at = static_cast<size_t>(std::ceil(0.95 * static_cast<double>(values.size()))) - 1;
    return values[std::min(at, values.size() - 1)];
}

}  // namespace

Slice SliceOf(const store::StoredWindow& w, const IdleRules& rules) {
    Slice s;
    const int64_t counted = w.counted_ms.value_or(w.window_ms.value_or(std::max<int64_t>(1, w.window_seconds) * 1000));
    const double secs = static_cast<double>(std::max<int64_t>(0, counted)) / 1000.0;
    const SysMillis end = w.window_end_ms.value_or(SysMillis(w.window_end));
    s.t1 = static_cast<double>(end.time_since_epoch().count()) / 1000.0;
    s.t0 = s.t1 - secs;
    s.end = w.window_end;
    s.start = w.window_end - seconds(static_cast<int64_t>(std::ceil(secs)));
    s.reported_s = secs;
    s.util_weighted = w.util_avg * secs;
    s.util_max = w.util_max.value_or(w.util_avg);
    const double idle_share =
        w.idle_fraction ? Clamp01(*w.idle_fraction) : (w.util_avg < rules.idle_threshold_percent ? 1.0 : 0.0);
    double held_share = 0;
    if (w.idle_held_fraction) {
        held_share = std::min(idle_share, Clamp01(*w.idle_held_fraction));
    } else if (w.mem_used_mib > rules.held_without_processes_mib) {
        held_share = idle_share;
    }
    s.idle_s = idle_share * secs;
    s.idle_held_s = held_share * secs;
    s.mem_used_max = w.mem_used_mib;
    s.mem_total = w.mem_total_mib;
    s.cost_usd = secs * w.cost_per_hour / 3600.0;
    s.idle_cost_usd = s.idle_s * w.cost_per_hour / 3600.0;
    s.idle_held_cost_usd = s.idle_held_s * w.cost_per_hour / 3600.0;
    if (w.sm_active) {
        s.sm_s = secs;
        s.sm_weighted = std::clamp(*w.sm_active, 0.0, 100.0) * secs;
    }
    return s;
}

Slice Clip(const Slice& s, double from, double to) {
    Slice out = s;
    const double length = s.t1 - s.t0;
    const double lo = std::max(from, s.t0), hi = std::min(to, s.t1);
    double share = 0;
    if (length <= 0) {
        share = s.t1 > from && s.t1 <= to ? 1.0 : 0.0;  // nothing counted; its maxima still belong here
    } else if (hi > lo) {
        share = (hi - lo) / length;
    }
    out.t0 = std::max(s.t0, from);
    out.t1 = std::min(s.t1, to);
    out.reported_s *= share;
    out.util_weighted *= share;
    out.idle_s *= share;
    out.idle_held_s *= share;
    out.cost_usd *= share;
    out.idle_cost_usd *= share;
    out.idle_held_cost_usd *= share;
    out.sm_s *= share;
    out.sm_weighted *= share;
    if (share <= 0) {
        out.util_max = 0;
        out.mem_used_max = 0;
        out.mem_total = 0;
    }
    return out;
}

namespace {

// An hour of the roll-up as a slice, from either of the store's hour records (same field names).
template <class Hour>
Slice HourSlice(const Hour& h) {
    Slice s;
    s.start = h.hour;
    s.end = h.hour + std::chrono::hours(1);
    s.t0 = static_cast<double>(h.hour.time_since_epoch().count());
    s.t1 = s.t0 + 3600.0;
    s.reported_s = h.reported_s;
    s.util_weighted = h.util_weighted;
    s.util_max = h.util_max;
    s.idle_s = h.idle_s;
    s.idle_held_s = h.idle_held_s;
    s.mem_used_max = h.mem_used_max;
    s.mem_total = h.mem_total;
    s.cost_usd = h.cost_usd;
    s.idle_cost_usd = h.idle_cost_usd;
    s.idle_held_cost_usd = h.idle_held_cost_usd;
    s.sm_s = h.sm_s;
    s.sm_weighted = h.sm_weighted;
    return s;
}

}  // namespace

Slice SliceOf(const store::HourlyRow& h) { return HourSlice(h); }

store::HourlyRow HourOf(const store::StoredWindow& w, const IdleRules& rules) {
    const Slice s = SliceOf(w, rules);
    store::HourlyRow h;
    h.account_id = w.account_id;
    h.gpu_key = w.gpu_key;
    h.host = w.host;
    h.uuid = w.uuid;
    h.name = w.name;
    h.gpu_index = w.gpu_index;
    h.hour = HourStart(w.window_end - seconds(1));
    h.windows = 1;
    h.reported_s = s.reported_s;
    h.util_weighted = s.util_weighted;
    h.util_max = s.util_max;
    h.idle_s = s.idle_s;
    h.idle_held_s = s.idle_held_s;
    h.mem_used_max = s.mem_used_max;
    h.mem_total = s.mem_total;
    h.cost_usd = s.cost_usd;
    h.idle_cost_usd = s.idle_cost_usd;
    h.idle_held_cost_usd = s.idle_held_cost_usd;
    h.sm_s = s.sm_s;
    h.sm_weighted = s.sm_weighted;
    return h;
}

void Merge(Slice& into, const Slice& add) {
    into.start = std::min(into.start, add.start);
    into.end = std::max(into.end, add.end);
    into.t0 = std::min(into.t0, add.t0);
    into.t1 = std::max(into.t1, add.t1);
    into.reported_s += add.reported_s;
    into.util_weighted += add.util_weighted;
    into.util_max = std::max(into.util_max, add.util_max);
    into.idle_s += add.idle_s;
    into.idle_held_s += add.idle_held_s;
    into.mem_used_max = std::max(into.mem_used_max, add.mem_used_max);
    into.mem_total = std::max(into.mem_total, add.mem_total);
    into.cost_usd += add.cost_usd;
    into.idle_cost_usd += add.idle_cost_usd;
    into.idle_held_cost_usd += add.idle_held_cost_usd;
    into.sm_s += add.sm_s;
    into.sm_weighted += add.sm_weighted;
}

void Merge(store::HourlyRow& into, const store::HourlyRow& add) {
    into.windows += add.windows;
    into.reported_s += add.reported_s;
    into.util_weighted += add.util_weighted;
    into.util_max = std::max(into.util_max, add.util_max);
    into.idle_s += add.idle_s;
    into.idle_held_s += add.idle_held_s;
    into.mem_used_max = std::max(into.mem_used_max, add.mem_used_max);
    into.mem_total = std::max(into.mem_total, add.mem_total);
    into.cost_usd += add.cost_usd;
    into.idle_cost_usd += add.idle_cost_usd;
    into.idle_held_cost_usd += add.idle_held_cost_usd;
    into.sm_s += add.sm_s;
    into.sm_weighted += add.sm_weighted;
    if (!add.name.empty()) into.name = add.name;
    if (!add.uuid.empty()) into.uuid = add.uuid;
    if (!add.host.empty()) into.host = add.host;
    into.gpu_index = add.gpu_index;
}

std::vector<store::HourlyRow> RollUp(const std::vector<store::StoredWindow>& windows, const IdleRules& rules) {
    std::map<std::tuple<int64_t, std::string, SysSeconds>, store::HourlyRow> hours;
    auto add = [&](store::HourlyRow h) {
        auto key = std::make_tuple(h.account_id, h.gpu_key, h.hour);
        auto it = hours.find(key);
        if (it == hours.end()) {
            hours.emplace(std::move(key), std::move(h));
        } else {
            Merge(it->second, h);
        }
    };
    for (const auto& w : windows) {
        const store::HourlyRow whole = HourOf(w, rules);
        const Slice s = SliceOf(w, rules);
        const auto first = HourStart(SysSeconds(seconds(static_cast<int64_t>(std::floor(s.t0)))));
        if (s.reported_s <= 0 || first >= whole.hour) {
            add(whole);  // within one hour (or nothing counted)
            continue;
        }
        // A window that spans hours adds to each the part of it that lies there.
        for (SysSeconds hour = first; hour <= whole.hour; hour += std::chrono::hours(1)) {
            const double lo = static_cast<double>(hour.time_since_epoch().count());
            const Slice part = Clip(s, lo, lo + 3600.0);
            if (part.reported_s <= 0) continue;
            store::HourlyRow h = whole;
            h.hour = hour;
            h.windows = hour == whole.hour ? 1 : 0;
            h.reported_s = part.reported_s;
            h.util_weighted = part.util_weighted;
            h.idle_s = part.idle_s;
            h.idle_held_s = part.idle_held_s;
            h.cost_usd = part.cost_usd;
            h.idle_cost_usd = part.idle_cost_usd;
            h.idle_held_cost_usd = part.idle_held_cost_usd;
            h.sm_s = part.sm_s;
            h.sm_weighted = part.sm_weighted;
            add(std::move(h));
        }
    }
    std::vector<store::HourlyRow> out;
    out.reserve(hours.size());
    for (auto& [key, h] : hours) out.push_back(std::move(h));
    return out;
}

namespace {

template <class Row, class ToSlice>
std::vector<GpuHistory> Group(const std::vector<Row>& rows, ToSlice to_slice) {
    // Rows arrive in time order, GPUs interleaved; one hash lookup a row, identity taken once.
    std::unordered_map<std::string_view, size_t> index;
    std::vector<GpuHistory> out;
    std::vector<const Row*> latest;
    for (const auto& r : rows) {
        auto [it, added] = index.try_emplace(r.gpu_key, out.size());
        if (added) {
            out.emplace_back();
            latest.push_back(&r);
        }
        GpuHistory& h = out[it->second];
        latest[it->second] = &r;
        h.slices.push_back(to_slice(r));
    }
    for (size_t i = 0; i < out.size(); ++i) {
        const Row& r = *latest[i];
        GpuHistory& h = out[i];
        h.gpu_key = r.gpu_key;
        h.host = r.host;
        h.uuid = r.uuid;
        h.name = r.name;
        h.gpu_index = r.gpu_index;
        if (!std::is_sorted(h.slices.begin(), h.slices.end(),
                            [](const Slice& a, const Slice& b) { return a.end < b.end; })) {
            std::stable_sort(h.slices.begin(), h.slices.end(),
                             [](const Slice& a, const Slice& b) { return a.end < b.end; });
        }
    }
    std::sort(out.begin(), out.end(), [](const GpuHistory& a, const GpuHistory& b) {
        return std::tie(a.host, a.gpu_index, a.gpu_key) < std::tie(b.host, b.gpu_index, b.gpu_key);
    });
    return out;
}

}  // namespace

std::vector<GpuHistory> Histories(const std::vector<store::StoredWindow>& windows, const IdleRules& rules) {
    return Group(windows, [&](const store::StoredWindow& w) { return SliceOf(w, rules); });
}

std::vector<GpuHistory> Histories(const std::vector<store::HourlyRow>& hours) {
    return Group(hours, [](const store::HourlyRow& h) { return SliceOf(h); });
}

std::vector<GpuHistory> Histories(const store::RolledHistory& rolled, const IdleRules& rules) {
    std::vector<GpuHistory> out(rolled.gpus.size());
    for (size_t i = 0; i < rolled.gpus.size(); ++i) {
        const auto& id = rolled.gpus[i];
        out[i].gpu_key = id.gpu_key;
        out[i].host = id.host;
        out[i].uuid = id.uuid;
        out[i].name = id.name;
        out[i].gpu_index = id.gpu_index;
    }
    {
        std::vector<size_t> count(out.size());  // each GPU's slices reserved once: a month of a fleet is 46k
        for (const auto& h : rolled.hours) ++count[h.gpu];
        for (size_t i = 0; i < out.size(); ++i) out[i].slices.reserve(count[i]);
    }
    for (const auto& h : rolled.hours) out[h.gpu].slices.push_back(HourSlice(h));
    // The windows past the roll-up's watermark (recent, few) join their GPU's hour.
    for (auto& extra : Histories(RollUp(rolled.unmerged, rules))) {
        auto gpu =
            std::find_if(out.begin(), out.end(), [&](const GpuHistory& g) { return g.gpu_key == extra.gpu_key; });
        if (gpu == out.end()) {
            out.push_back(std::move(extra));
            continue;
        }
        for (const auto& slice : extra.slices) {
            auto at = std::lower_bound(gpu->slices.begin(), gpu->slices.end(), slice.end,
                                       [](const Slice& a, SysSeconds end) { return a.end < end; });
            if (at != gpu->slices.end() && at->end == slice.end) {
                Merge(*at, slice);
            } else {
                gpu->slices.insert(at, slice);
            }
        }
    }
    std::sort(out.begin(), out.end(), [](const GpuHistory& a, const GpuHistory& b) {
        return std::tie(a.host, a.gpu_index, a.gpu_key) < std::tie(b.host, b.gpu_index, b.gpu_key);
    });
    return out;
}

Totals Summarize(const std::vector<Slice>& slices, const Range& range, double recoverable_fraction) {
    Totals t;
    t.range_hours = range.Hours();
    double reported_s = 0, util_weighted = 0, idle_s = 0, held_s = 0, sm_s = 0, sm_weighted = 0;
    std::vector<double> averages, sm_averages;
    const double from = static_cast<double>(range.from.time_since_epoch().count());
    const double to = static_cast<double>(range.to.time_since_epoch().count());
    for (const auto& whole : slices) {
        if (whole.t1 <= from || whole.t0 > to || (whole.t0 == whole.t1 && whole.t1 == from)) continue;
        const Slice s = whole.t0 >= from && whole.t1 <= to ? whole : Clip(whole, from, to);
        if (s.reported_s <= 0 && s.util_max <= 0 && s.mem_used_max <= 0) continue;
        reported_s += s.reported_s;
        util_weighted += s.util_weighted;
        idle_s += s.idle_s;
        held_s += s.idle_held_s;
        t.util_max = std::max(t.util_max, s.util_max);
        t.mem_used_max = std::max(t.mem_used_max, s.mem_used_max);
        t.mem_total = std::max(t.mem_total, s.mem_total);
        t.cost += s.cost_usd;
        t.idle_cost += s.idle_cost_usd;
        t.idle_held_cost += s.idle_held_cost_usd;
        if (s.reported_s > 0) averages.push_back(s.UtilAvg());
        if (s.sm_s > 0) {
            sm_s += s.sm_s;
            sm_weighted += s.sm_weighted;
            sm_averages.push_back(s.SmAvg());
        }
    }
    t.reported_hours = reported_s / 3600.0;
    // Reports can overlap a little (clock skew); the range still has only so many hours.
    t.unknown_hours = std::max(0.0, t.range_hours - t.reported_hours);
    t.idle_hours = idle_s / 3600.0;
    t.idle_held_hours = held_s / 3600.0;
    t.busy_hours = std::max(0.0, t.reported_hours - t.idle_hours);
    t.util_avg = reported_s > 0 ? util_weighted / reported_s : 0;
    t.util_p95 = P95(averages);
    t.sm_hours = sm_s / 3600.0;
    t.sm_avg = sm_s > 0 ? sm_weighted / sm_s : 0;
    t.sm_p95 = P95(sm_averages);
    t.recoverable_savings = t.idle_cost * recoverable_fraction;
    t.cost_per_hour = t.reported_hours > 0 ? t.cost / t.reported_hours : 0;
    return t;
}

Totals Combine(const std::vector<Totals>& parts) {
    Totals t;
    double util_weighted = 0, sm_weighted = 0;
    for (const auto& p : parts) {
        t.range_hours += p.range_hours;
        t.reported_hours += p.reported_hours;
        t.unknown_hours += p.unknown_hours;
        t.idle_hours += p.idle_hours;
        t.idle_held_hours += p.idle_held_hours;
        t.busy_hours += p.busy_hours;
        util_weighted += p.util_avg * p.reported_hours;
        t.util_p95 = std::max(t.util_p95, p.util_p95);
        t.util_max = std::max(t.util_max, p.util_max);
        t.mem_used_max = std::max(t.mem_used_max, p.mem_used_max);
        t.mem_total += p.mem_total;
        t.cost += p.cost;
        t.idle_cost += p.idle_cost;
        t.idle_held_cost += p.idle_held_cost;
        t.recoverable_savings += p.recoverable_savings;
        t.sm_hours += p.sm_hours;
        sm_weighted += p.sm_avg * p.sm_hours;
        t.sm_p95 = std::max(t.sm_p95, p.sm_p95);
    }
    t.sm_avg = t.sm_hours > 0 ? sm_weighted / t.sm_hours : 0;
    t.util_avg = t.reported_hours > 0 ? util_weighted / t.reported_hours : 0;
    t.cost_per_hour = t.reported_hours > 0 ? t.cost / t.reported_hours : 0;
    return t;
}

std::vector<HeldPeriod> IdleHeldPeriods(const std::vector<Slice>& slices, const Range& range,
                                        std::chrono::seconds max_gap, double min_share) {
    std::vector<HeldPeriod> out;
    std::optional<HeldPeriod> current;
    SysSeconds last_end{};
    for (const auto& s : slices) {
        if (s.end <= range.from || s.end > range.to || s.reported_s <= 0) continue;
        const bool held = s.idle_held_s / s.reported_s >= min_share;
        const bool contiguous = current && s.start - last_end <= max_gap;
        if (current && (!held || !contiguous)) {
            out.push_back(*current);
            current.reset();
        }
        if (held) {
            if (!current) current = HeldPeriod{s.start, s.end, 0, 0, 0};
            current->end = s.end;
            current->held_hours += s.idle_held_s / 3600.0;
            current->mem_used_max = std::max(current->mem_used_max, s.mem_used_max);
            current->cost += s.idle_held_cost_usd;
        }
        last_end = s.end;
    }
    if (current) out.push_back(*current);
    return out;
}

std::optional<SysSeconds> IdleSince(const std::vector<Slice>& slices, SysSeconds now, std::chrono::seconds max_gap,
                                    double min_share) {
    if (slices.empty() || now - slices.back().end > max_gap) return std::nullopt;
    std::optional<SysSeconds> since;
    SysSeconds next_start = slices.back().end;
    for (auto it = slices.rbegin(); it != slices.rend(); ++it) {
        if (it->reported_s <= 0 || it->IdleShare() < min_share) break;
        if (next_start - it->end > max_gap) break;  // a gap: unknown before it
        since = it->start;
        next_start = it->start;
    }
    return since;
}

}  // namespace gpuopt::analysis
