// GET /api/recommendations?range=: the savings plan over the range (default 7 days): one recommended
// action per GPU (or per consolidation group), highest savings first, each with its alternatives, and
// totals that add the recommended actions only. Plans without all recommendations get the idle actions
// (stop, auto-stop, release memory), and are told what the full plan would save. Recommendations the
// customer marked done or dismissed are listed apart (`marked`, with what was realized since where known)
// and left out of the totals.
// PUT /api/recommendations/mark {"type", "target", "state": "dismissed"|"done"|"open", "note"?}: marks one
// the plan recommends now, or opens a marked one again.
#include "analysis/recommendations.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cmath>
#include <map>
#include <tuple>

#include "api/api.hpp"
#include "api/auth.hpp"
#include "api/history.hpp"
#include "common/json.hpp"
#include "http/await.hpp"
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

// What the analysis needs of each GPU: its history, its totals, who held it idle.
std::vector<analysis::GpuInput> Inputs(const LoadedHistory& history, const std::vector<analysis::Totals>& totals) {
    std::vector<analysis::GpuInput> inputs;
    inputs.reserve(history.gpus.size());
    for (size_t i = 0; i < history.gpus.size(); ++i) {
        auto held = history.held_by.find(history.gpus[i].gpu_key);
        inputs.push_back(
            {history.gpus[i], totals[i], held == history.held_by.end() ? std::nullopt : std::optional(held->second)});
    }
    return inputs;
}

using MarkKey = std::pair<std::string, std::string>;  // action, target

// A marked recommendation: the mark, what it said then, and what it says now (when it is still recommended)
// or what was realized since (when the GPU changed).
boost::json::object MarkJson(const store::RecommendationMark& m, const analysis::Recommendation* now,
                             const std::vector<store::TrackedRecommendation>& realized) {
    boost::json::object o{{"type", m.action},
                          {"target", m.target},
                          {"state", store::NameOf(m.state)},
                          {"note", m.note},
                          {"marked_at", FormatUtc(m.marked_at)},
                          {"summary", m.summary},
                          {"monthly_savings_when_marked", m.monthly_savings},
                          {"still_recommended", now != nullptr}};
    if (now != nullptr) o["monthly_savings"] = now->monthly_savings;
    for (const auto& t : realized) {
        if (t.action == m.action && t.gpu_key == m.target && t.realized_monthly) {
            o["realized_monthly_savings"] = *t.realized_monthly;
            if (t.change) o["change"] = store::NameOf(*t.change);
            break;
        }
    }
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
        struct Stored {
            Tracks open;
            Tracks realized;
            std::vector<store::RecommendationMark> marks;
        };
        const std::function<Result<Stored>()> complete = [&s, history, &totals,
                                                          id = caller.account.id]() -> Result<Stored> {
            if (auto done = CompleteHolders(s, id, *history, totals); !done) return done.error();
            auto open = s.store.recommendations().ListTracked(id, store::TrackState::kOpen, 1000);
            if (!open) return open.error();
            auto realized = s.store.recommendations().ListTracked(id, store::TrackState::kRealized, 200);
            if (!realized) return realized.error();
            auto marks = s.store.recommendations().ListRecommendationMarks(id);
            if (!marks) return marks.error();
            return Stored{std::move(*open), std::move(*realized), std::move(*marks)};
        };
        auto tracks = co_await OffloadRead<Stored>(s, complete);
        if (!tracks) co_return CallerError(tracks.error(), caller, version);
        const auto inputs = Inputs(*history, totals);
        auto rules = RecommendRulesOf(s.config);
        rules.idle_actions_only = !caller.plan->all_recommendations;
        const auto plan = analysis::Recommend(inputs, history->range, rules, s.catalog);

        std::map<MarkKey, const store::RecommendationMark*> marks;
        for (const auto& m : tracks->marks) marks.emplace(MarkKey{m.action, m.target}, &m);
        std::map<MarkKey, const analysis::Recommendation*> marked_now;
        double marked_monthly = 0;
        boost::json::array recs;
        for (const auto& r : plan.recommendations) {
            const MarkKey key{std::string(analysis::NameOf(r.action)), r.target};
            if (marks.contains(key)) {  // dismissed or done: listed with its mark, not in the totals
                marked_now.emplace(key, &r);
                marked_monthly += r.monthly_savings;
                continue;
            }
            boost::json::object o = RecommendationJson(r);
            for (const auto& t : tracks->open) {
                if (t.action == analysis::NameOf(r.action) && !r.gpus.empty() && t.gpu_key == r.gpus.front()) {
                    o["first_recommended"] = FormatUtc(t.first_recommended);
                }
            }
            recs.push_back(std::move(o));
        }
        boost::json::array realized;
        double realized_total = 0;
        boost::json::array marked;
        for (const auto& m : tracks->marks) {
            auto now = marked_now.find(MarkKey{m.action, m.target});
            marked.push_back(MarkJson(m, now == marked_now.end() ? nullptr : now->second, tracks->realized));
        }
        for (const auto& t : tracks->realized) {  // the 200 newest
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
        body["total_monthly_savings"] = analysis::Cents(plan.monthly_savings - marked_monthly);
        body["marked"] = std::move(marked);
        body["marked_monthly_savings"] = analysis::Cents(marked_monthly);
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

http::Handler MakeMarkRecommendationHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        // The body first: nothing is loaded for a request that cannot be valid.
        auto parsed = ParseJson(ctx.request.body());
        if (!parsed) co_return http::ErrorResponse(parsed.error(), version);
        const auto* body = parsed->if_object();
        if (body == nullptr) co_return http::ErrorResponse(Error::Validation("body", "must be a JSON object"), version);
        std::string type, target, state_name, note;
        for (auto [name, out, limit] : {std::tuple{"type", &type, size_t{64}},
                                        {"target", &target, size_t{400}},
                                        {"state", &state_name, size_t{16}},
                                        {"note", &note, size_t{500}}}) {
            const auto* v = body->if_contains(name);
            if (v == nullptr || v->is_null()) {
                if (std::string_view(name) == "note") continue;
                co_return http::ErrorResponse(Error::Validation(name, "is required"), version);
            }
            if (!v->is_string() || v->get_string().size() > limit) {
                co_return http::ErrorResponse(
                    Error::Validation(name, "must be a string of at most " + std::to_string(limit) + " characters"),
                    version);
            }
            *out = std::string(v->get_string());
        }
        const auto state = store::MarkStateNamed(state_name);
        if (!state && state_name != "open") {
            co_return http::ErrorResponse(Error::Validation("state", "must be dismissed, done or open"), version);
        }

        auto loaded = co_await AuthorizeAndLoadHistory(s, ctx, {.held_by = true, .who_held = false});
        if (auto* refused = std::get_if<http::Response>(&loaded)) co_return std::move(*refused);
        const Caller& caller = std::get<CallerHistory>(loaded).caller;
        LoadedHistory* history = &std::get<CallerHistory>(loaded).history;
        if (!state) {
            auto remove = [&](store::Callback<bool> done) {
                s.store.recommendations().UnmarkRecommendation(caller.account.id, type, target, std::move(done));
            };
            auto removed = co_await http::AwaitCallback<bool>(std::move(remove));
            if (!removed) co_return CallerError(removed.error(), caller, version);
            if (!*removed) {
                co_return CallerError({ErrorCode::kNotFound, "This recommendation is not marked", {}}, caller, version);
            }
            co_return OkJson(
                boost::json::object{{"status", "success"}, {"type", type}, {"target", target}, {"state", "open"}},
                version, caller.limit);
        }

        // Only what the plan recommends to this account now can be marked (so another account's GPU cannot).
        const auto totals = SummarizeAll(*history, s.config.recoverable_fraction);
        const std::function<Result<bool>()> complete = [&s, history, &totals,
                                                        id = caller.account.id]() -> Result<bool> {
            if (auto done = CompleteHolders(s, id, *history, totals); !done) return done.error();
            return true;
        };
        if (auto completed = co_await OffloadRead<bool>(s, complete); !completed) {
            co_return CallerError(completed.error(), caller, version);
        }
        auto rules = RecommendRulesOf(s.config);
        rules.idle_actions_only = !caller.plan->all_recommendations;
        const auto plan = analysis::Recommend(Inputs(*history, totals), history->range, rules, s.catalog);
        const analysis::Recommendation* found = nullptr;
        for (const auto& r : plan.recommendations) {
            if (analysis::NameOf(r.action) == type && r.target == target) found = &r;
        }
        if (found == nullptr) {
            co_return CallerError(
                {ErrorCode::kNotFound, "No such recommendation for your GPUs over the range (7 days by default)", {}},
                caller, version);
        }
        store::RecommendationMark mark{caller.account.id,      type, target,  *state, found->summary,
                                       found->monthly_savings, note, UtcNow()};
        auto write = [&](store::Callback<void> done) {
            s.store.recommendations().MarkRecommendation(mark, std::move(done));
        };
        if (auto saved = co_await http::AwaitCallback<void>(std::move(write)); !saved) {
            co_return CallerError(saved.error(), caller, version);
        }
        co_return OkJson(MarkJson(mark, found, {}), version, caller.limit);
    };
}

}  // namespace gpuopt::api
