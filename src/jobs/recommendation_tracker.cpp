#include "jobs/recommendation_tracker.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "store/wait.hpp"

namespace gpuopt::jobs {

namespace {

using analysis::Cents;

store::GpuCostSnapshot Snapshot(const std::string& name, const analysis::Totals& t) {
    const double scale = t.range_hours > 0 ? analysis::kHoursPerMonth / t.range_hours : 0;
    return store::GpuCostSnapshot{name,       t.cost_per_hour,       t.IdleFraction(),
                                  t.util_avg, Cents(t.cost * scale), Cents(t.idle_cost * scale)};
}

struct AccountView {
    analysis::Range range;
    std::vector<analysis::GpuHistory> histories;
    std::vector<analysis::Totals> totals;
    std::map<std::string, store::FleetGpu> fleet;

    const analysis::GpuHistory* History(const std::string& key) const {
        for (const auto& h : histories) {
            if (h.gpu_key == key) return &h;
        }
        return nullptr;
    }
};

std::string HostOf(const store::FleetGpu& g) {
    if (g.latest) return g.latest->host;
    return g.gpu_key.substr(0, g.gpu_key.find('/'));
}

// A cheaper GPU that appeared on the track's host after it was recommended, still reports, and has not
// been counted as another track's replacement.
const store::FleetGpu* Replacement(const AccountView& v, const store::TrackedRecommendation& t, SysSeconds now,
                                   const TrackerRules& rules, const std::set<std::string>& claimed) {
    const store::FleetGpu* best = nullptr;
    for (const auto& [key, g] : v.fleet) {
        if (key == t.gpu_key || claimed.contains(key) || HostOf(g) != t.host || !g.latest) continue;
        if (g.first_seen < t.first_recommended - std::chrono::hours(1) || g.last_seen < now - rules.reporting) continue;
        if (g.latest->cost_per_hour <= 0 || g.latest->cost_per_hour >= t.before.cost_per_hour) continue;
        if (best == nullptr || g.first_seen < best->first_seen) best = &g;
    }
    return best;
}

// What changed on a track's GPU, if anything did. Only changes that the recommended action explains
// count: a GPU that went quiet realizes a stop, a release of its memory, an auto-stop or a consolidation
// (its whole cost), not a commitment; a right-sizing is realized only by a cheaper GPU on its host (a GPU
// moved elsewhere cannot be told from one switched off for the night).
std::optional<store::Realization> Judge(const AccountView& v, const store::TrackedRecommendation& t, SysSeconds now,
                                        const TrackerRules& rules, std::set<std::string>& claimed) {
    if (t.first_recommended > now - rules.min_after) return std::nullopt;
    const auto action = analysis::ActionNamed(t.action);
    if (!action) return std::nullopt;
    auto at = v.fleet.find(t.gpu_key);
    const store::FleetGpu* gpu = at == v.fleet.end() ? nullptr : &at->second;
    store::Realization r;
    r.id = t.id;
    if (gpu == nullptr || gpu->last_seen < now - rules.stopped_after) {
        if (*action == analysis::Action::kRightSize) {
            const auto* next = Replacement(v, t, now, rules, claimed);
            if (next == nullptr) return std::nullopt;
            claimed.insert(next->gpu_key);
            r.change = store::GpuChange::kSmallerModel;
            r.changed_at = next->first_seen;
            r.replaced_by = next->gpu_key;
            const auto* h = v.History(next->gpu_key);
            const analysis::Range since{std::max(next->first_seen, v.range.from), now};
            r.after = h ? Snapshot(h->name, analysis::Summarize(h->slices, since, 0))
                        : store::GpuCostSnapshot{next->latest->name, next->latest->cost_per_hour, 0, 0, 0, 0};
            r.after.cost_per_hour = next->latest->cost_per_hour;
            r.realized_monthly = Cents(t.before.monthly_cost * (1 - r.after.cost_per_hour / t.before.cost_per_hour));
            return r;
        }
        if (!analysis::IsIdleAction(*action) && *action != analysis::Action::kConsolidate) return std::nullopt;
        // Recommended while it reported: a GPU gone since then no longer costs anything.
        if (gpu != nullptr && gpu->last_seen < t.first_recommended - rules.reporting) return std::nullopt;
        r.change = store::GpuChange::kStopped;
        r.changed_at = gpu ? gpu->last_seen : t.last_recommended;
        r.after = store::GpuCostSnapshot{t.before.gpu_name, 0, 0, 0, 0, 0};
        r.realized_monthly = t.before.monthly_cost;
        return r;
    }
    if (!analysis::IsIdleAction(*action)) return std::nullopt;
    const auto* h = v.History(t.gpu_key);
    if (h == nullptr) return std::nullopt;
    const analysis::Range since{std::max(t.first_recommended, v.range.from), now};
    const analysis::Totals after = analysis::Summarize(h->slices, since, 0);
    if (after.reported_hours < static_cast<double>(rules.min_after.count())) return std::nullopt;
    const double before_idle = t.before.idle_fraction, after_idle = after.IdleFraction();
    if (after_idle > before_idle / 2 || before_idle - after_idle < 0.2) return std::nullopt;
    r.change = store::GpuChange::kUtilizationUp;
    r.changed_at = since.to;
    for (const auto& s : h->slices) {  // the first busy stretch after the recommendation
        if (s.end > since.from && s.IdleShare() < 0.5) {
            r.changed_at = s.start;
            break;
        }
    }
    r.after = Snapshot(h->name, after);
    r.realized_monthly = Cents(std::max(0.0, t.before.monthly_idle_cost - r.after.monthly_idle_cost));
    return r;
}

Result<TrackerResult> TrackAccount(store::Database& db, const PriceCatalog& catalog, const TrackerRules& rules,
                                   int64_t account_id, SysSeconds now) {
    TrackerResult result;
    auto account = db.accounts().GetAccount(account_id);
    if (!account) return account.error();
    AccountView v;
    v.range = {std::chrono::floor<std::chrono::hours>(now - rules.window), std::chrono::ceil<std::chrono::hours>(now)};
    auto rolled = db.usage().ReadRolledHistory(account_id, v.range.from, v.range.to);
    if (!rolled) return rolled.error();
    v.histories = analysis::Histories(*rolled, rules.idle);
    auto fleet = db.usage().ReadFleet(account_id, now - std::chrono::days(30));
    if (!fleet) return fleet.error();
    for (auto& g : *fleet) v.fleet.emplace(g.gpu_key, std::move(g));

    std::vector<analysis::GpuInput> inputs;
    for (const auto& h : v.histories) {
        v.totals.push_back(analysis::Summarize(h.slices, v.range, rules.recommend.recoverable_fraction));
        inputs.push_back({h, v.totals.back(), std::nullopt});
    }
    auto recommend = rules.recommend;
    recommend.idle_actions_only = !rules.all_recommendations(account->tier);
    const auto plan = analysis::Recommend(inputs, v.range, recommend, catalog);

    std::vector<store::TrackedRecommendation> recorded;
    for (const auto& r : plan.recommendations) {
        for (const auto& key : r.gpus) {
            auto seen = v.fleet.find(key);
            if (seen == v.fleet.end() || seen->second.last_seen < now - rules.reporting) continue;
            size_t i = 0;
            while (i < inputs.size() && inputs[i].history.gpu_key != key) ++i;
            if (i == inputs.size()) continue;
            store::TrackedRecommendation t;
            t.account_id = account_id;
            t.gpu_key = key;
            t.host = inputs[i].history.host;
            t.action = analysis::NameOf(r.action);
            t.summary = r.summary;
            // A GPU that first reported within the range is projected from its own time, not the range's:
            // a day-old GPU idle all day costs a month of idle time, not a seventh of one.
            const SysSeconds since = std::max(seen->second.first_seen, v.range.from);
            t.before = since > v.range.from
                           ? Snapshot(inputs[i].history.name,
                                      analysis::Summarize(inputs[i].history.slices, {since, v.range.to},
                                                          rules.recommend.recoverable_fraction))
                           : Snapshot(inputs[i].history.name, v.totals[i]);
            // A consolidation frees each of its GPUs whole; any other action is the GPU's own.
            t.estimate_monthly = r.action == analysis::Action::kConsolidate ? t.before.monthly_cost : r.monthly_savings;
            recorded.push_back(std::move(t));
        }
    }
    if (!recorded.empty()) {
        result.recorded = static_cast<int>(recorded.size());
        auto done = store::Wait<void>([&](store::Callback<void> cb) {
            db.recommendations().RecordRecommended(account_id, std::move(recorded), now, std::move(cb));
        });
        if (!done) return done.error();
    }

    auto open = db.recommendations().ListTracked(account_id, store::TrackState::kOpen, 10000);
    if (!open) return open.error();
    auto done_before = db.recommendations().ListTracked(account_id, store::TrackState::kRealized, 10000);
    if (!done_before) return done_before.error();
    std::set<std::string> claimed;  // GPUs already counted as a replacement
    for (const auto& t : *done_before) {
        if (!t.replaced_by.empty()) claimed.insert(t.replaced_by);
    }
    std::vector<store::Realization> realized;
    for (const auto& t : *open) {
        if (auto r = Judge(v, t, now, rules, claimed)) realized.push_back(std::move(*r));
    }
    if (!realized.empty()) {
        result.realized = static_cast<int>(realized.size());
        auto done = store::Wait<void>(
            [&](store::Callback<void> cb) { db.recommendations().RecordRealized(std::move(realized), std::move(cb)); });
        if (!done) return done.error();
    }
    return result;
}

}  // namespace

Result<TrackerResult> RunRecommendationTracker(store::Database& db, const PriceCatalog& catalog,
                                               const TrackerRules& rules, SysSeconds now) {
    std::set<int64_t> accounts;
    auto recent = db.usage().ReadRecentGpus(now - rules.reporting);
    if (!recent) return recent.error();
    for (const auto& w : *recent) accounts.insert(w.account_id);
    auto open = db.recommendations().AccountsWithOpenTracks(100000);
    if (!open) return open.error();
    accounts.insert(open->begin(), open->end());

    // One account that cannot be followed (its data unreadable this time) does not hold up the others; the
    // run reports the first failure once it has done the rest.
    TrackerResult total;
    std::optional<Error> first_failure;
    for (int64_t id : accounts) {
        auto r = TrackAccount(db, catalog, rules, id, now);
        if (!r) {
            spdlog::warn("recommendations: account {} not followed this time: {}", id, r.error().message);
            if (!first_failure) first_failure = r.error();
            continue;
        }
        ++total.accounts;
        total.recorded += r->recorded;
        total.realized += r->realized;
    }
    if (first_failure) return *first_failure;
    return total;
}

}  // namespace gpuopt::jobs
