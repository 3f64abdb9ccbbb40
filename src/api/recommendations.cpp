// GET /api/recommendations?range=: the savings plan over the range (default 7 days): one recommended
// action per GPU (or per consolidation group), highest savings first, each with its alternatives, and
// totals that add the recommended actions only. Plans without all recommendations get the idle actions
// (stop, auto-stop, release memory), and are told what the full plan would save.
#include "analysis/recommendations.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cmath>

#include "api/api.hpp"
#include "api/auth.hpp"
#include "api/history.hpp"
#include "http/error_response.hpp"

namespace gpuopt::api {

namespace {

boost::json::array Strings(const std::vector<std::string>& v) {
    boost::json::array out;
    for (const auto& s : v) out.emplace_back(s);
    return out;
}

boost::json::object OptionJson(const analysis::Option& o) {
    boost::json::object j;
    j["type"] = analysis::NameOf(o.action);
    j["target"] = o.target;
    j["gpus"] = Strings(o.gpus);
    j["summary"] = o.summary;
    boost::json::object evidence;
    for (const auto& e : o.evidence) evidence[e.name] = boost::json::object{{"value", e.value}, {"unit", e.unit}};
    j["evidence"] = std::move(evidence);
    j["monthly_savings"] = o.monthly_savings;
    j["range_savings"] = o.range_savings;
    j["confidence"] = analysis::NameOf(o.confidence);
    j["confidence_reasons"] = Strings(o.confidence_reasons);
    return j;
}

boost::json::object HeldByJson(const analysis::HeldBy& held) {
    boost::json::array processes;
    for (const auto& p : held.processes) {
        boost::json::object o;
        o["pid"] = p.pid;
        if (!p.name.empty()) o["name"] = p.name;
        if (!p.user.empty()) o["user"] = p.user;
        if (!p.container.empty()) o["container"] = p.container;
        if (!p.pod.empty()) o["pod"] = p.pod;
        if (!p.k8s_namespace.empty()) o["namespace"] = p.k8s_namespace;
        o["used_mem"] = p.used_mib;
        processes.push_back(std::move(o));
    }
    return boost::json::object{{"seen", FormatUtc(held.seen)}, {"processes", std::move(processes)}};
}

boost::json::object RecommendationJson(const analysis::Recommendation& r) {
    boost::json::object o = OptionJson(r);
    o["host"] = r.host;
    if (!r.gpu_name.empty()) o["gpu_name"] = r.gpu_name;
    if (!r.receivers.empty()) o["receivers"] = Strings(r.receivers);
    if (r.held_by) o["held_by"] = HeldByJson(*r.held_by);
    boost::json::array alternatives;
    for (const auto& a : r.alternatives) alternatives.push_back(OptionJson(a));
    o["alternatives"] = std::move(alternatives);
    return o;
}

boost::json::object SnapshotJson(const store::GpuCostSnapshot& g) {
    return boost::json::object{{"gpu_name", g.gpu_name},
                               {"cost_per_hour", g.cost_per_hour},
                               {"idle_fraction", std::round(g.idle_fraction * 10000) / 10000},
                               {"util_avg", std::round(g.util_avg * 100) / 100},
                               {"monthly_cost", g.monthly_cost},
                               {"monthly_idle_cost", g.monthly_idle_cost}};
}

// A recommendation acted on: what changed, the cost before and after, the saving next to the estimate.
boost::json::object RealizedJson(const store::TrackedRecommendation& t) {
    boost::json::object o;
    o["type"] = t.action;
    o["gpu"] = t.gpu_key;
    o["host"] = t.host;
    o["summary"] = t.summary;
    o["first_recommended"] = FormatUtc(t.first_recommended);
    if (t.change) o["change"] = store::NameOf(*t.change);
    if (t.changed_at) o["changed_at"] = FormatUtc(*t.changed_at);
    o["estimated_monthly_savings"] = t.estimate_monthly;
    o["realized_monthly_savings"] = t.realized_monthly.value_or(0);
    o["before"] = SnapshotJson(t.before);
    if (t.after) o["after"] = SnapshotJson(*t.after);
    return o;
}

}  // namespace

http::Handler MakeRecommendationsHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto loaded = co_await AuthorizeAndLoadHistory(s, ctx, {.held_by = true, .who_held = false});
        if (auto* refused = std::get_if<http::Response>(&loaded)) co_return std::move(*refused);
        const Caller& caller = std::get<CallerHistory>(loaded).caller;
        LoadedHistory* history = &std::get<CallerHistory>(loaded).history;

        const auto totals = SummarizeAll(*history, s.config.recoverable_fraction);
        using Tracks = std::vector<store::TrackedRecommendation>;
        using OpenAndRealized = std::pair<Tracks, Tracks>;
        const std::function<Result<OpenAndRealized>()> complete =
            [&s, history, &totals, id = caller.account.id]() -> Result<OpenAndRealized> {
            if (auto done = CompleteHolders(s, id, *history, totals); !done) return done.error();
            auto open = s.store.recommendations().ListTracked(id, store::TrackState::kOpen, 1000);
            if (!open) return open.error();
            auto realized = s.store.recommendations().ListTracked(id, store::TrackState::kRealized, 200);
            if (!realized) return realized.error();
            return OpenAndRealized{std::move(*open), std::move(*realized)};
        };
        auto tracks = co_await OffloadRead<OpenAndRealized>(s, complete);
        if (!tracks) co_return CallerError(tracks.error(), caller, version);
        std::vector<analysis::GpuInput> inputs;
        inputs.reserve(history->gpus.size());
        for (size_t i = 0; i < history->gpus.size(); ++i) {
            auto held = history->held_by.find(history->gpus[i].gpu_key);
            inputs.push_back({history->gpus[i], totals[i],
                              held == history->held_by.end() ? std::nullopt : std::optional(held->second)});
        }
        auto rules = RecommendRulesOf(s.config);
        rules.idle_actions_only = !caller.plan->all_recommendations;
        const auto plan = analysis::Recommend(inputs, history->range, rules, s.catalog);

        boost::json::array recs;
        for (const auto& r : plan.recommendations) {
            boost::json::object o = RecommendationJson(r);
            for (const auto& t : tracks->first) {
                if (t.action == analysis::NameOf(r.action) && !r.gpus.empty() && t.gpu_key == r.gpus.front()) {
                    o["first_recommended"] = FormatUtc(t.first_recommended);
                }
            }
            recs.push_back(std::move(o));
        }
        boost::json::array realized;
        double realized_total = 0;
        for (const auto& t : tracks->second) {  // the 200 newest
            if (!t.realized_monthly) continue;
            realized.push_back(RealizedJson(t));
            realized_total += *t.realized_monthly;
        }
        boost::json::object body;
        body["status"] = "success";
        body["from"] = FormatUtc(history->range.from);
        body["to"] = FormatUtc(history->range.to);
        body["resolution"] = history->source;
        body["currency"] = "USD";
        body["recommendations"] = std::move(recs);
        body["total_monthly_savings"] = plan.monthly_savings;
        body["total_range_savings"] = plan.range_savings;
        body["fleet_monthly_cost"] = plan.monthly_cost;
        body["fleet_range_cost"] = plan.range_cost;
        body["realized"] = std::move(realized);
        body["total_realized_monthly"] = analysis::Cents(realized_total);
        if (rules.idle_actions_only) {
            rules.idle_actions_only = false;
            const auto full = analysis::Recommend(inputs, history->range, rules, s.catalog);
            size_t more = 0;
            for (const auto& r : full.recommendations) more += analysis::IsIdleAction(r.action) ? 0 : 1;
            if (more > 0) {
                body["more_with_upgrade"] = more;  // right-sizing, consolidation, committed use
                body["total_monthly_savings_with_upgrade"] = full.monthly_savings;
            }
        }
        co_return OkJson(body, version, caller.limit);
    };
}

}  // namespace gpuopt::api
