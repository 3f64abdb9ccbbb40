#include "analysis/recommendations.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

namespace gpuopt::analysis {

namespace {

double Round(double v, int digits) {
    const double scale = std::pow(10.0, digits);
    return std::round(v * scale) / scale;
}

std::string Money(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "$%.2f", v);
    return text;
}

std::string Percent(double share) {
    char text[32];
    std::snprintf(text, sizeof text, "%.0f%%", share * 100);
    return text;
}

// Monthly hours the GPU runs, judging from how much of the range it reported.
double MonthlyHours(const Totals& t) { return kHoursPerMonth * std::min(1.0, t.Coverage()); }

std::string ConfidenceFor(const Totals& t, double high_hours) {
    if (t.reported_hours >= high_hours && t.Coverage() >= 0.8) return "high";
    if (t.reported_hours >= high_hours / 3) return "medium";
    return "low";
}

// Idle hours that fall in stretches of at least `min` (what an auto-stop policy could recover).
double IdleInLongStretches(const std::vector<Slice>& slices, const Range& range, std::chrono::minutes min) {
    double total = 0, run_idle = 0;
    SysSeconds run_start{}, last_end{};
    bool in_run = false;
    auto close = [&] {
        if (in_run && last_end - run_start >= min) total += run_idle;
        in_run = false;
        run_idle = 0;
    };
    for (const auto& s : slices) {
        if (s.end <= range.from || s.end > range.to || s.reported_s <= 0) continue;
        const bool idle = s.IdleShare() >= 0.9;
        if (!idle || (in_run && s.start - last_end > std::chrono::minutes(3))) close();
        if (idle) {
            if (!in_run) {
                in_run = true;
                run_start = s.start;
            }
            run_idle += s.idle_s / 3600.0;
        }
        last_end = s.end;
    }
    close();
    return total;
}

const GpuModel* CheaperFit(const PriceCatalog& catalog, const GpuModel* current, double price, const Totals& t,
                           const RecommendRules& rules) {
    const double need_mib = t.mem_used_max * rules.right_size_memory_headroom;
    const GpuModel* best = nullptr;
    for (const auto& m : catalog.gpu_models()) {
        if (&m == current || m.usd_per_gpu_hour >= price) continue;
        if (m.memory_gib * 1024 < need_mib) continue;
        // The load: the current GPU's throughput times its p95 utilization must fit in the smaller one.
        if (!current->fp16_tflops || !m.fp16_tflops) continue;
        if (*current->fp16_tflops * t.util_p95 / 100 > *m.fp16_tflops * rules.right_size_max_load) continue;
        if (best == nullptr || m.usd_per_gpu_hour < best->usd_per_gpu_hour) best = &m;
    }
    return best;
}

}  // namespace

std::vector<Recommendation> Recommend(const std::vector<GpuInput>& gpus, const Range& range,
                                      const RecommendRules& rules, const PriceCatalog& catalog) {
    std::vector<Recommendation> out;
    std::map<std::string, std::vector<const GpuInput*>> consolidation_candidates;  // by host
    for (const auto& g : gpus) {
        const Totals& t = g.totals;
        if (t.reported_hours < rules.min_reported_hours || t.cost <= 0) continue;
        const double monthly_hours = MonthlyHours(t);
        const double monthly_cost = t.cost_per_hour * monthly_hours;
        const double idle_share = t.IdleFraction();
        const double held_share_of_idle = t.idle_hours > 0 ? t.idle_held_hours / t.idle_hours : 0;
        auto base = [&](std::string type) {
            Recommendation r;
            r.type = std::move(type);
            r.target = g.history.gpu_key;
            r.gpu_name = g.history.name;
            return r;
        };

        // Idle: one recommendation at most.
        if (idle_share >= rules.stop_idle_share) {
            Recommendation r = base("stop_idle_gpu");
            r.monthly_savings = monthly_cost * idle_share;
            r.summary = g.history.name + " on " + g.history.host + " was idle " + Percent(idle_share) +
                        " of the time it reported: stop it or give it back (" + Money(r.monthly_savings) + "/month).";
            r.evidence = {{"idle_hours", Round(t.idle_hours, 2), "h"},
                          {"reported_hours", Round(t.reported_hours, 2), "h"},
                          {"util_max", Round(t.util_max, 1), "%"},
                          {"cost_per_hour", Round(t.cost_per_hour, 4), "USD/h"}};
            r.confidence = ConfidenceFor(t, 72);
            out.push_back(std::move(r));
        } else if (idle_share >= rules.auto_stop_idle_share && held_share_of_idle >= rules.held_share_of_idle) {
            Recommendation r = base("release_idle_memory");
            const double scale = kHoursPerMonth / std::max(1.0, range.Hours());
            r.monthly_savings = t.idle_held_cost * scale * rules.recoverable_fraction;
            r.summary =
                g.history.name + " on " + g.history.host + " sat idle for " +
                std::to_string(static_cast<int>(t.idle_held_hours)) + " h while a process kept up to " +
                std::to_string(static_cast<int>(t.mem_used_max)) +
                " MiB allocated: end the process (a forgotten notebook or server) so the GPU can be stopped or shared.";
            r.evidence = {{"idle_held_hours", Round(t.idle_held_hours, 2), "h"},
                          {"idle_hours", Round(t.idle_hours, 2), "h"},
                          {"mem_used_max", Round(t.mem_used_max, 0), "MiB"},
                          {"idle_held_cost", Round(t.idle_held_cost, 2), "USD"}};
            r.confidence = ConfidenceFor(t, 72);
            out.push_back(std::move(r));
        } else if (idle_share >= rules.auto_stop_idle_share) {
            const double long_idle = IdleInLongStretches(g.history.slices, range, std::chrono::minutes(30));
            if (long_idle > 0) {
                Recommendation r = base("auto_stop");
                const double scale = kHoursPerMonth / std::max(1.0, range.Hours());
                r.monthly_savings = long_idle * t.cost_per_hour * scale * rules.recoverable_fraction;
                r.summary = g.history.name + " on " + g.history.host + " was idle " + Percent(idle_share) +
                            " of the time, " + std::to_string(static_cast<int>(long_idle)) +
                            " h of it in stretches of 30 min or more: stop it automatically after 30 idle minutes.";
                r.evidence = {{"idle_hours", Round(t.idle_hours, 2), "h"},
                              {"idle_hours_in_long_stretches", Round(long_idle, 2), "h"},
                              {"reported_hours", Round(t.reported_hours, 2), "h"},
                              {"cost_per_hour", Round(t.cost_per_hour, 4), "USD/h"}};
                r.confidence = ConfidenceFor(t, 72) == "high" ? "medium" : "low";
                out.push_back(std::move(r));
            }
        }

        if (idle_share < rules.stop_idle_share) {
            const GpuModel* current = catalog.MatchGpu(g.history.name, t.mem_total);
            const GpuModel* smaller = current ? CheaperFit(catalog, current, t.cost_per_hour, t, rules) : nullptr;
            if (smaller != nullptr) {
                Recommendation r = base("right_size");
                // The idle part is for the idle recommendations; right-sizing saves on the busy hours.
                r.monthly_savings = (t.cost_per_hour - smaller->usd_per_gpu_hour) * monthly_hours * (1 - idle_share);
                r.summary = g.history.name + " on " + g.history.host + " peaked at " +
                            std::to_string(static_cast<int>(t.mem_used_max)) + " MiB and " +
                            std::to_string(static_cast<int>(t.util_p95)) + "% utilization (p95): a " + smaller->model +
                            " would carry it for " + Money(smaller->usd_per_gpu_hour) + "/h instead of " +
                            Money(t.cost_per_hour) + "/h.";
                r.evidence = {{"mem_used_max", Round(t.mem_used_max, 0), "MiB"},
                              {"util_p95", Round(t.util_p95, 1), "%"},
                              {"cost_per_hour", Round(t.cost_per_hour, 4), "USD/h"},
                              {"target_cost_per_hour", Round(smaller->usd_per_gpu_hour, 4), "USD/h"},
                              {"target_memory", smaller->memory_gib * 1024, "MiB"}};
                r.confidence = ConfidenceFor(t, 24 * 7) == "high" ? "medium" : "low";  // workloads vary
                out.push_back(std::move(r));
            }
            if (t.util_p95 <= rules.consolidate_max_util) consolidation_candidates[g.history.host].push_back(&g);
        }

        if (range.Hours() >= rules.committed_min_range_hours && t.Coverage() >= rules.committed_min_coverage &&
            1 - idle_share >= rules.committed_min_busy_share) {
            Recommendation r = base("committed_use");
            r.monthly_savings = t.cost_per_hour * kHoursPerMonth * rules.committed_discount;
            r.summary = g.history.name + " on " + g.history.host + " ran " + Percent(t.Coverage()) +
                        " of the time and was busy " + Percent(1 - idle_share) + " of it: committed-use pricing at " +
                        Percent(rules.committed_discount) + " off saves " + Money(r.monthly_savings) + "/month.";
            r.evidence = {{"coverage", Round(t.Coverage() * 100, 1), "%"},
                          {"busy_hours", Round(t.busy_hours, 2), "h"},
                          {"cost_per_hour", Round(t.cost_per_hour, 4), "USD/h"},
                          {"discount", Round(rules.committed_discount * 100, 1), "%"}};
            r.confidence = "medium";
            out.push_back(std::move(r));
        }
    }

    for (const auto& [host, members] : consolidation_candidates) {
        if (members.size() < 2) continue;
        double util_sum = 0, mem_sum = 0, smallest_mem = 0, price_sum = 0, monthly = 0;
        for (const GpuInput* g : members) {
            util_sum += g->totals.util_p95;
            mem_sum += g->totals.mem_used_max;
            smallest_mem = smallest_mem == 0 ? g->totals.mem_total : std::min(smallest_mem, g->totals.mem_total);
            price_sum += g->totals.cost_per_hour;
            monthly += MonthlyHours(g->totals);
        }
        const double n = static_cast<double>(members.size());
        const double by_load = util_sum / (100 * rules.consolidate_max_load);
        const double by_memory = smallest_mem > 0 ? mem_sum / (smallest_mem * rules.consolidate_max_load) : n;
        const double needed = std::max(1.0, std::ceil(std::max(by_load, by_memory) - 1e-9));
        if (needed >= n) continue;
        Recommendation r;
        r.type = "consolidate";
        r.target = host;
        r.monthly_savings = (n - needed) * (price_sum / n) * (monthly / n);
        r.summary = std::to_string(members.size()) + " lightly used GPUs on " + host + " (p95 utilization " +
                    std::to_string(static_cast<int>(util_sum)) + "% together) fit on " +
                    std::to_string(static_cast<int>(needed)) + " with MPS, MIG or time-slicing.";
        r.evidence = {{"gpus", n, "GPUs"},
                      {"gpus_needed", needed, "GPUs"},
                      {"util_p95_sum", Round(util_sum, 1), "%"},
                      {"mem_used_max_sum", Round(mem_sum, 0), "MiB"}};
        r.confidence = "low";  // depends on the workloads sharing well
        out.push_back(std::move(r));
    }

    for (auto& r : out) r.monthly_savings = Round(std::max(0.0, r.monthly_savings), 2);
    std::stable_sort(out.begin(), out.end(), [](const Recommendation& a, const Recommendation& b) {
        return a.monthly_savings > b.monthly_savings;
    });
    return out;
}

}  // namespace gpuopt::analysis
