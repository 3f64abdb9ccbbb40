#include "analysis/recommendations.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>

namespace gpuopt::analysis {

namespace {

double Round(double v, int digits) {
    const double scale = std::pow(10.0, digits);
    return std::round(v * scale) / scale;
}

std::string Format(const char* format, double v) {
    char text[48];
    std::snprintf(text, sizeof text, format, v);
    return text;
}

std::string Money(double v) { return Format("$%.2f", v); }
std::string Percent(double share) { return Format("%.0f%%", share * 100); }
std::string Whole(double v) { return Format("%.0f", v); }

double Weight(Confidence c) {
    switch (c) {
        case Confidence::kHigh:
            return 1.0;
        case Confidence::kMedium:
            return 0.8;
        case Confidence::kLow:
            return 0.5;
    }
    return 0.5;
}

Confidence Lower(Confidence c) { return c == Confidence::kHigh ? Confidence::kMedium : Confidence::kLow; }

// How sure the data alone makes us: enough hours of reports, and most of the range covered.
std::pair<Confidence, std::string> DataConfidence(const Totals& t, double sure_hours) {
    const std::string seen = Whole(t.reported_hours) + " h of reports cover " + Percent(t.Coverage()) + " of the range";
    if (t.reported_hours >= sure_hours && t.Coverage() >= 0.8) return {Confidence::kHigh, seen};
    if (t.reported_hours >= sure_hours / 3) {
        return {Confidence::kMedium, seen + " (" + Whole(sure_hours) + " h and 80 % would make it sure)"};
    }
    return {Confidence::kLow, seen + " (too few to be sure: " + Whole(sure_hours) + " h would be)"};
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

// The p95 load a GPU is sized by: SM activity where GPM measured it over nearly all of the reported time,
// utilization otherwise.
struct Load {
    double p95 = 0;  // percent
    bool sm = false;
};

bool SmMeasured(const Totals& t, const RecommendRules& rules) {
    return t.sm_hours > 0 && t.SmCoverage() >= rules.sm_min_coverage;
}

Load LoadOf(const Totals& t, const RecommendRules& rules) {
    if (SmMeasured(t, rules)) return {t.sm_p95, true};
    return {t.util_p95, false};
}

// What the load was read from, for the confidence reasons.
std::string LoadBasis(const Totals& t, const RecommendRules& rules) {
    if (SmMeasured(t, rules)) {
        return "load: SM activity (GPM, measured over " + Percent(t.SmCoverage()) + " of the reported time) " +
               Whole(t.sm_p95) + "% at p95, where utilization read " + Whole(t.util_p95) +
               "%: utilization counts any kernel running, SM activity how much of the GPU it kept busy";
    }
    if (t.sm_hours > 0) {
        return "load: utilization " + Whole(t.util_p95) + "% at p95; SM activity covers only " +
               Percent(t.SmCoverage()) + " of the reported time (" + Percent(rules.sm_min_coverage) +
               " would be used), and utilization can read busy while the GPU does little";
    }
    return "load: utilization " + Whole(t.util_p95) +
           "% at p95 (no SM activity: the GPU has no GPM, Hopper and later do); utilization counts any kernel "
           "running, so the real need may be lower";
}

struct Fit {
    const GpuModel* model = nullptr;
    std::vector<Evidence> evidence;
    std::vector<std::string> reasons;
    bool lower_class = false;
};

// The cheapest model of the catalog that carries the GPU's load: its memory peak with headroom, and its
// compute and memory bandwidth at the p95 utilization within the target's safe load. A model whose
// throughput or bandwidth (or the current GPU's) is not confirmed is never proposed: it cannot be checked.
std::optional<Fit> CheaperFit(const PriceCatalog& catalog, const GpuModel& current, double price, const Totals& t,
                              const RecommendRules& rules) {
    if (!current.fp16_tflops || !current.memory_bandwidth_gbs) return std::nullopt;
    const double need_mib = t.mem_used_max * rules.right_size_memory_headroom;
    const Load basis = LoadOf(t, rules);
    const double load = basis.p95 / 100;
    const double need_tflops = *current.fp16_tflops * load;
    const double need_gbs = *current.memory_bandwidth_gbs * load;
    const GpuModel* best = nullptr;
    for (const auto& m : catalog.gpu_models()) {
        if (&m == &current || m.usd_per_gpu_hour >= price) continue;
        if (m.memory_gib * 1024 < need_mib) continue;
        if (!m.fp16_tflops || !m.memory_bandwidth_gbs) continue;
        if (need_tflops > *m.fp16_tflops * rules.right_size_max_load) continue;
        if (need_gbs > *m.memory_bandwidth_gbs * rules.right_size_max_load) continue;
        if (best == nullptr || m.usd_per_gpu_hour < best->usd_per_gpu_hour) best = &m;
    }
    if (best == nullptr) return std::nullopt;
    Fit fit;
    fit.model = best;
    const double max_load = rules.right_size_max_load;
    fit.evidence = {{"mem_used_max", Round(t.mem_used_max, 0), "MiB"},
                    {"memory_needed", Round(need_mib, 0), "MiB"},
                    {"target_memory", best->memory_gib * 1024, "MiB"},
                    {"util_p95", Round(t.util_p95, 1), "%"},
                    {"compute_needed", Round(need_tflops, 1), "TFLOPS"},
                    {"target_compute", *best->fp16_tflops, "TFLOPS"},
                    {"bandwidth_needed", Round(need_gbs, 0), "GB/s"},
                    {"target_bandwidth", *best->memory_bandwidth_gbs, "GB/s"},
                    {"cost_per_hour", Round(price, 4), "USD/h"},
                    {"target_cost_per_hour", Round(best->usd_per_gpu_hour, 4), "USD/h"}};
    fit.reasons.push_back("memory: peak " + Whole(t.mem_used_max) + " MiB with " +
                          Percent(rules.right_size_memory_headroom - 1) + " headroom needs " + Whole(need_mib) +
                          " MiB; the " + best->model + " has " + Whole(best->memory_gib * 1024) + " MiB");
    if (basis.sm) {
        fit.evidence.insert(fit.evidence.begin() + 4, Evidence{"sm_active_p95", Round(t.sm_p95, 1), "%"});
    }
    fit.reasons.push_back(LoadBasis(t, rules));
    fit.reasons.push_back("compute: " + Percent(load) + " (p95) of " + Whole(*current.fp16_tflops) + " TFLOPS is " +
                          Whole(need_tflops) + ", within " + Percent(max_load) + " of its " +
                          Whole(*best->fp16_tflops));
    fit.reasons.push_back("memory bandwidth: " + Percent(load) + " (p95) of " + Whole(*current.memory_bandwidth_gbs) +
                          " GB/s is " + Whole(need_gbs) + ", within " + Percent(max_load) + " of its " +
                          Whole(*best->memory_bandwidth_gbs));
    fit.reasons.emplace_back("assumes the p95 load stays as it was; a heavier job would need the bigger GPU again");
    fit.reasons.push_back("compares the " + Money(price) + "/h this GPU is billed at with the catalog's on-demand " +
                          Money(best->usd_per_gpu_hour) + "/h for the " + best->model +
                          "; a discount or reservation on either changes the saving");
    if (current.gpu_class && best->gpu_class && *best->gpu_class < *current.gpu_class) {
        fit.lower_class = true;
        fit.reasons.push_back("moves down from the " + std::string(NameOf(*current.gpu_class)) + " class to the " +
                              std::string(NameOf(*best->gpu_class)) +
                              " class: check first that the work needs no NVLink, FP64 or multi-GPU training");
    }
    return fit;
}

std::string HolderPhrase(const HeldBy& held) {
    const Holder& h = held.processes.front();
    std::string who = (h.name.empty() ? std::string("a process") : h.name) + " (pid " + std::to_string(h.pid);
    if (!h.user.empty()) who += ", user " + h.user;
    if (!h.pod.empty()) {
        who += ", pod " + h.pod;
        if (!h.k8s_namespace.empty()) who += " in " + h.k8s_namespace;
    } else if (!h.container.empty()) {
        who += ", container " + h.container;
    }
    who += ") held " + Whole(h.used_mib) + " MiB";
    if (held.processes.size() > 1) who += " (and " + std::to_string(held.processes.size() - 1) + " more)";
    return who;
}

double HeldMib(const HeldBy& held) {
    double sum = 0;
    for (const auto& p : held.processes) sum += p.used_mib;
    return sum;
}

// Everything that could be done for one GPU on its own.
std::vector<Option> OptionsFor(const GpuInput& g, const Range& range, const RecommendRules& rules,
                               const PriceCatalog& catalog) {
    const Totals& t = g.totals;
    const std::string& key = g.history.gpu_key;
    const std::string on = g.history.name + " on " + g.history.host;
    const double idle_share = t.IdleFraction();
    const double held_share_of_idle = t.idle_hours > 0 ? t.idle_held_hours / t.idle_hours : 0;
    std::vector<Option> out;
    auto option = [&](Action a, double savings) -> Option& {
        Option& o = out.emplace_back();
        o.action = a;
        o.target = key;
        o.gpus = {key};
        o.range_savings = std::min(savings, t.cost);  // floating error aside, every rule is within the cost
        return o;
    };
    const auto [data_confidence, data_reason] = DataConfidence(t, 72);

    if (idle_share >= rules.stop_idle_share) {
        Option& o = option(Action::kStopIdleGpu, t.idle_cost);
        o.summary = on + " was idle " + Percent(idle_share) + " of the time it reported: stop it or give it back.";
        o.evidence = {{"idle_hours", Round(t.idle_hours, 2), "h"},
                      {"reported_hours", Round(t.reported_hours, 2), "h"},
                      {"util_max", Round(t.util_max, 1), "%"},
                      {"cost_per_hour", Round(t.cost_per_hour, 4), "USD/h"}};
        o.confidence = data_confidence;
        o.confidence_reasons = {data_reason, "idle " + Percent(idle_share) + " of its reported time, at most " +
                                                 Whole(t.util_max) + " % utilization"};
    }
    if (idle_share >= rules.auto_stop_idle_share && held_share_of_idle >= rules.held_share_of_idle) {
        Option& o = option(Action::kReleaseIdleMemory, t.idle_held_cost * rules.recoverable_fraction);
        o.summary = on + " sat idle for " + Whole(t.idle_held_hours) +
                    " h while a process kept its memory allocated: end the process (a forgotten notebook or "
                    "server) so the GPU can be stopped or shared.";
        o.evidence = {{"idle_held_hours", Round(t.idle_held_hours, 2), "h"},
                      {"idle_hours", Round(t.idle_hours, 2), "h"},
                      {"mem_used_max", Round(t.mem_used_max, 0), "MiB"},
                      {"idle_held_cost", Round(t.idle_held_cost, 2), "USD"}};
        o.confidence = data_confidence;
        o.confidence_reasons = {data_reason, "counts " + Percent(rules.recoverable_fraction) +
                                                 " of the idle-while-holding cost as recoverable"};
    }
    if (idle_share >= rules.auto_stop_idle_share && idle_share < rules.stop_idle_share) {
        const double long_idle =
            std::min(t.idle_hours, IdleInLongStretches(g.history.slices, range, std::chrono::minutes(30)));
        if (long_idle > 0) {
            Option& o = option(Action::kAutoStop, long_idle * t.cost_per_hour * rules.recoverable_fraction);
            o.summary = on + " was idle " + Percent(idle_share) + " of the time, " + Whole(long_idle) +
                        " h of it in stretches of 30 min or more: stop it automatically after 30 idle minutes.";
            o.evidence = {{"idle_hours", Round(t.idle_hours, 2), "h"},
                          {"idle_hours_in_long_stretches", Round(long_idle, 2), "h"},
                          {"reported_hours", Round(t.reported_hours, 2), "h"},
                          {"cost_per_hour", Round(t.cost_per_hour, 4), "USD/h"}};
            o.confidence = Lower(data_confidence);
            o.confidence_reasons = {data_reason, "depends on the work starting again cleanly after a stop"};
        }
    }
    if (rules.idle_actions_only) return out;
    if (idle_share < rules.stop_idle_share) {
        const GpuModel* current = catalog.MatchGpu(g.history.name, t.mem_total);
        if (auto fit = current ? CheaperFit(catalog, *current, t.cost_per_hour, t, rules) : std::nullopt) {
            Option& o = option(Action::kRightSize, (t.cost_per_hour - fit->model->usd_per_gpu_hour) * t.reported_hours);
            const Load basis = LoadOf(t, rules);
            o.summary = on + " peaked at " + Whole(t.mem_used_max) + " MiB and " + Whole(basis.p95) +
                        (basis.sm ? "% SM activity (p95): the " : "% utilization (p95): the ") + fit->model->model +
                        " would carry it for " + Money(fit->model->usd_per_gpu_hour) + "/h instead of " +
                        Money(t.cost_per_hour) + "/h.";
            o.evidence = std::move(fit->evidence);
            const auto [week_confidence, week_reason] = DataConfidence(t, 24 * 7);
            o.confidence = fit->lower_class ? Confidence::kLow : std::min(Confidence::kMedium, week_confidence);
            o.confidence_reasons = {week_reason};
            o.confidence_reasons.insert(o.confidence_reasons.end(), fit->reasons.begin(), fit->reasons.end());
        }
    }
    // A commitment locks in what the GPU is used for: judged by SM activity where GPM measured it (a GPU a
    // small kernel keeps at 100 % utilization is mostly waiting).
    const bool sm_measured = SmMeasured(t, rules);
    const double busy_avg = sm_measured ? t.sm_avg : t.util_avg;
    if (range.Hours() >= rules.committed_min_range_hours && t.Coverage() >= rules.committed_min_coverage &&
        1 - idle_share >= rules.committed_min_busy_share && busy_avg >= rules.committed_min_util_avg) {
        const double discount = std::clamp(rules.committed_discount, 0.0, 1.0);
        Option& o = option(Action::kCommittedUse, t.cost * discount);
        o.summary = on + " ran " + Percent(t.Coverage()) + " of the time and was busy " + Percent(1 - idle_share) +
                    " of it: committed-use pricing at " + Percent(discount) + " off.";
        o.evidence = {{"coverage", Round(t.Coverage() * 100, 1), "%"},
                      {"busy_hours", Round(t.busy_hours, 2), "h"},
                      {"util_avg", Round(t.util_avg, 1), "%"},
                      {"cost_per_hour", Round(t.cost_per_hour, 4), "USD/h"},
                      {"discount", Round(discount * 100, 1), "%"}};
        if (sm_measured) o.evidence.push_back({"sm_active_avg", Round(t.sm_avg, 1), "%"});
        o.confidence = Confidence::kMedium;
        o.confidence_reasons = {data_reason,
                                "a commitment is paid whether the GPU works or not: it saves only if "
                                "the GPU keeps running like this for the whole term"};
    }
    return out;
}

// A consolidation of one host's lightly used GPUs of one model, when fewer of them would carry the work.
struct Group {
    std::vector<size_t> members;  // into the inputs
    Option option;                // covering the freed GPUs
    std::vector<std::string> receivers;
    std::vector<size_t> freed;
};

// Money of each GPU in cents: over the range and projected to a month.
struct Costs {
    std::vector<double> range;
    std::vector<double> monthly;
};

std::optional<Group> Consolidation(const std::vector<GpuInput>& gpus, std::vector<size_t> members,
                                   const RecommendRules& rules, const Costs& costs) {
    const size_t n = members.size();
    if (n < 2) return std::nullopt;
    // One basis for the group: SM activity when every member has it, utilization otherwise.
    const bool sm =
        std::all_of(members.begin(), members.end(), [&](size_t i) { return SmMeasured(gpus[i].totals, rules); });
    double util_sum = 0, mem_sum = 0, smallest_mem = 0;
    for (size_t i : members) {
        const Totals& t = gpus[i].totals;
        util_sum += sm ? t.sm_p95 : t.util_p95;
        mem_sum += t.mem_used_max;
        if (t.mem_total > 0) smallest_mem = smallest_mem == 0 ? t.mem_total : std::min(smallest_mem, t.mem_total);
    }
    const double by_load = util_sum / (100 * rules.consolidate_max_load);
    const double by_memory =
        smallest_mem > 0 ? mem_sum / (smallest_mem * rules.consolidate_max_load) : static_cast<double>(n);
    const auto needed = static_cast<size_t>(std::max(1.0, std::ceil(std::max(by_load, by_memory) - 1e-9)));
    if (needed >= n) return std::nullopt;

    // The least loaded GPUs move their work and are given back; the busiest stay and take it.
    std::stable_sort(members.begin(), members.end(), [&](size_t a, size_t b) {
        return std::tie(gpus[a].totals.util_avg, gpus[a].totals.util_p95) <
               std::tie(gpus[b].totals.util_avg, gpus[b].totals.util_p95);
    });
    Group g;
    g.members = members;
    const std::string& host = gpus[members.front()].history.host;
    g.option.action = Action::kConsolidate;
    g.option.target = host;
    double savings = 0, monthly = 0;
    for (size_t k = 0; k < n; ++k) {
        const size_t i = members[k];
        if (k < n - needed) {
            g.freed.push_back(i);
            g.option.gpus.push_back(gpus[i].history.gpu_key);
            savings += costs.range[i];  // each freed GPU's whole cost, counted once
            monthly += costs.monthly[i];
        } else {
            g.receivers.push_back(gpus[i].history.gpu_key);
        }
    }
    g.option.range_savings = Cents(savings);
    g.option.monthly_savings = Cents(monthly);
    g.option.summary = std::to_string(n) + " lightly used " + gpus[members.front()].history.name + " GPUs on " + host +
                       (sm ? " (p95 SM activity " : " (p95 utilization ") + Whole(util_sum) + "% together) fit on " +
                       std::to_string(needed) + " with MPS, MIG or time-slicing: give back " +
                       std::to_string(n - needed) + ".";
    g.option.evidence = {{"gpus", static_cast<double>(n), "GPUs"},
                         {"gpus_needed", static_cast<double>(needed), "GPUs"},
                         {sm ? "sm_active_p95_sum" : "util_p95_sum", Round(util_sum, 1), "%"},
                         {"mem_used_max_sum", Round(mem_sum, 0), "MiB"}};
    g.option.confidence = Confidence::kLow;
    g.option.confidence_reasons = {"p95 loads add up to " + Whole(util_sum) + "% of one GPU and memory peaks to " +
                                       Whole(mem_sum) + " MiB: " + std::to_string(needed) + " GPU(s) at " +
                                       Percent(rules.consolidate_max_load) + " carry them",
                                   "peaks that coincide, or work that does not share a GPU well, would need more"};
    return g;
}

const Option* Best(const std::vector<Option>& options) {
    const Option* best = nullptr;
    for (const auto& o : options) {
        if (best == nullptr || o.range_savings * Weight(o.confidence) > best->range_savings * Weight(best->confidence))
            best = &o;
    }
    return best;
}

double Weighted(const Option* o) { return o ? o->range_savings * Weight(o->confidence) : 0; }

}  // namespace

Plan Recommend(const std::vector<GpuInput>& gpus, const Range& range, const RecommendRules& rules,
               const PriceCatalog& catalog) {
    Plan plan;
    const double scale = range.Hours() > 0 ? kHoursPerMonth / range.Hours() : 0;
    // Money in cents from here on, each figure rounded from the exact one: a figure rounded from a smaller
    // one is never larger, so every sum of savings stays within the sum of the costs it comes out of, over
    // the range and per month.
    auto finish = [scale](Option& o) {
        o.monthly_savings = Cents(o.range_savings * scale);
        o.range_savings = Cents(o.range_savings);
    };
    Costs costs{std::vector<double>(gpus.size()), std::vector<double>(gpus.size())};
    std::vector<std::vector<Option>> options(gpus.size());
    std::vector<bool> eligible(gpus.size());
    for (size_t i = 0; i < gpus.size(); ++i) {
        const Totals& t = gpus[i].totals;
        costs.range[i] = Cents(t.cost);
        costs.monthly[i] = Cents(t.cost * scale);
        plan.range_cost += costs.range[i];
        plan.monthly_cost += costs.monthly[i];
        eligible[i] = t.reported_hours >= rules.min_reported_hours && t.cost > 0;
        if (eligible[i]) options[i] = OptionsFor(gpus[i], range, rules, catalog);
        for (auto& o : options[i]) finish(o);
        // Nothing to recommend for less than a cent.
        std::erase_if(options[i], [](const Option& o) { return o.monthly_savings <= 0; });
    }

    // Consolidation groups: one host, one model, every GPU lightly used (and none idle enough to stop).
    std::map<std::pair<std::string, std::string>, std::vector<size_t>> by_host_model;
    for (size_t i = 0; i < gpus.size(); ++i) {
        const Totals& t = gpus[i].totals;
        if (eligible[i] && !rules.idle_actions_only && LoadOf(t, rules).p95 <= rules.consolidate_max_util &&
            t.IdleFraction() < rules.stop_idle_share)
            by_host_model[{gpus[i].history.host, gpus[i].history.name}].push_back(i);
    }
    std::vector<bool> covered(gpus.size());
    std::vector<std::vector<Option>> group_parts(gpus.size());  // a rejected group's share, never recommended
    for (auto& [key, members] : by_host_model) {
        auto group = Consolidation(gpus, members, rules, costs);
        if (!group) continue;
        double alone = 0;
        for (size_t i : group->members) alone += Weighted(Best(options[i]));
        if (Weighted(&group->option) > alone) {
            Recommendation r;
            static_cast<Option&>(r) = group->option;
            r.host = key.first;
            r.receivers = group->receivers;
            for (size_t i : group->members) {
                covered[i] = true;
                for (auto& o : options[i]) r.alternatives.push_back(std::move(o));
                const auto& held = gpus[i].held_by;
                if (held && !held->processes.empty() && gpus[i].totals.idle_held_hours > 0 && !r.held_by) {
                    r.held_by = held;
                    r.summary += " While " + gpus[i].history.gpu_key + " sat idle, " + HolderPhrase(*held) + ".";
                }
            }
            plan.recommendations.push_back(std::move(r));
        } else {
            for (size_t i : group->freed) {
                Option part = group->option;
                part.target = gpus[i].history.gpu_key;
                part.gpus = {gpus[i].history.gpu_key};
                part.range_savings = costs.range[i];
                part.monthly_savings = costs.monthly[i];
                part.summary +=
                    " This GPU would be one of those given back; the saving holds only for the group "
                    "as a whole, which saves less than its GPUs' own recommendations.";
                group_parts[i].push_back(std::move(part));
            }
        }
    }

    for (size_t i = 0; i < gpus.size(); ++i) {
        if (covered[i] || options[i].empty()) continue;
        const Option* best = Best(options[i]);
        Recommendation r;
        static_cast<Option&>(r) = *best;
        r.host = gpus[i].history.host;
        r.gpu_name = gpus[i].history.name;
        for (auto& o : options[i]) {
            if (&o != best) r.alternatives.push_back(std::move(o));
        }
        for (auto& o : group_parts[i]) r.alternatives.push_back(std::move(o));
        const auto& held = gpus[i].held_by;
        if (held && !held->processes.empty() && gpus[i].totals.idle_held_hours > 0) {
            r.held_by = held;
            r.summary += " While it sat idle, " + HolderPhrase(*held) + ".";
            r.evidence.push_back({"held_mib", Round(HeldMib(*held), 0), "MiB"});
            if (r.action != Action::kReleaseIdleMemory) {  // its own evidence has them
                r.evidence.push_back({"idle_held_hours", Round(gpus[i].totals.idle_held_hours, 2), "h"});
            }
        }
        plan.recommendations.push_back(std::move(r));
    }

    std::stable_sort(
        plan.recommendations.begin(), plan.recommendations.end(),
        [](const Recommendation& a, const Recommendation& b) { return a.monthly_savings > b.monthly_savings; });
    for (const auto& r : plan.recommendations) {
        plan.range_savings += r.range_savings;
        plan.monthly_savings += r.monthly_savings;
    }
    plan.range_cost = Cents(plan.range_cost);
    plan.monthly_cost = Cents(plan.monthly_cost);
    plan.range_savings = Cents(plan.range_savings);
    plan.monthly_savings = Cents(plan.monthly_savings);
    return plan;
}

}  // namespace gpuopt::analysis
