#include "api/history.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "analysis/holders.hpp"
#include "http/query.hpp"

namespace gpuopt::api {

std::optional<std::chrono::seconds> ParseDuration(std::string_view v, std::string_view units) {
    if (v.size() < 2 || units.find(v.back()) == std::string_view::npos) return std::nullopt;
    int64_t n = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size() - 1, n);
    if (ec != std::errc() || p != v.data() + v.size() - 1 || n <= 0 || n > 100000) return std::nullopt;
    switch (v.back()) {
        case 's':
            return std::chrono::seconds(n);
        case 'm':
            return std::chrono::minutes(n);
        case 'h':
            return std::chrono::hours(n);
        case 'd':
            return std::chrono::days(n);
        default:
            return std::nullopt;
    }
}

analysis::RecommendRules RecommendRulesOf(const Config& c) {
    analysis::RecommendRules rules;
    rules.recoverable_fraction = c.recoverable_fraction;
    rules.committed_discount = c.committed_use_discount;
    return rules;
}

analysis::IdleRules IdleRulesOf(const Config& c) { return analysis::IdleRules{c.idle_threshold_percent, 1024}; }

Result<analysis::Range> ParseRange(const std::map<std::string, std::string>& q, const Plan& plan, SysSeconds now,
                                   std::chrono::hours default_range) {
    analysis::Range r{now - default_range, now};
    const auto range = q.find("range");
    const auto from = q.find("from");
    const auto to = q.find("to");
    if (range != q.end() && (from != q.end() || to != q.end())) {
        return Error::Validation("range", "give either range or from/to, not both");
    }
    if (range != q.end()) {
        auto span = ParseDuration(range->second, "hd");
        if (!span) return Error::Validation("range", "must be a number of hours or days, such as 24h or 30d");
        r.from = now - *span;
    }
    if (from != q.end()) {
        auto t = ParseUtc(from->second);
        if (!t) return Error::Validation("from", "must be an RFC 3339 time such as 2026-11-25T10:00:00Z");
        r.from = *t;
    }
    if (to != q.end()) {
        auto t = ParseUtc(to->second);
        if (!t) return Error::Validation("to", "must be an RFC 3339 time such as 2026-11-25T10:00:00Z");
        r.to = *t;
    }
    if (r.to > now + std::chrono::minutes(5)) r.to = now;
    if (r.from >= r.to) return Error::Validation(from != q.end() ? "from" : "range", "must start before it ends");
    const auto oldest = now - std::chrono::days(plan.history_days) - std::chrono::hours(1);
    if (r.from < oldest) {
        return Error::Validation(range != q.end() ? "range" : "from",
                                 "reaches back further than the " + std::to_string(plan.history_days) +
                                     " days of history of the " + plan.display_name + " plan");
    }
    return r;
}

Result<std::string> ResolveGpu(Services& s, int64_t account_id, const std::string& gpu) {
    if (gpu.empty() || gpu.size() > 400) return Error::Validation("gpu", "must name a GPU (its key or uuid)");
    auto fleet = s.store.usage().ReadFleet(account_id, SysSeconds{});
    if (!fleet) return fleet.error();
    for (const auto& g : *fleet) {
        if (g.gpu_key == gpu) return g.gpu_key;
        const size_t slash = g.gpu_key.rfind('/');
        if (slash != std::string::npos && g.gpu_key.substr(slash + 1) == gpu) return g.gpu_key;
    }
    return Error{ErrorCode::kNotFound, "No such GPU", {}};
}

Result<LoadedHistory> LoadHistory(Services& s, int64_t account_id, analysis::Range range, const std::string& gpu_key,
                                  bool force_hourly, HistoryNeeds needs) {
    LoadedHistory out;
    const auto now = UtcNow();
    const auto rules = IdleRulesOf(s.config);
    const bool raw = !force_hourly && range.to - range.from <= std::chrono::days(7) &&
                     range.from >= now - std::chrono::days(s.config.raw_retention_days);
    if (raw) {
        auto windows = s.store.usage().ReadWindows(account_id, range.from, range.to, gpu_key);
        if (!windows) return windows.error();
        out.source = "raw";
        out.range = range;
        out.gpus = analysis::Histories(*windows, rules);
        if (needs.held_by) out.held_by = analysis::LatestHolders(*windows, rules);
        if (needs.who_held) {
            out.who_held = analysis::WhoHeldIdle(*windows, rules, range);
            out.who_held_from = range.from;
        }
        return out;
    }
    range.from = std::chrono::floor<std::chrono::hours>(range.from);
    range.to = std::chrono::ceil<std::chrono::hours>(range.to);
    // The windows the roll-up has not merged yet (its backlog, whatever their time: a back-filled spool
    // too) each join their GPU's hour, so the answer does not depend on whether the roll-up caught up.
    auto history = s.store.usage().ReadRolledHistory(account_id, range.from, range.to, gpu_key);
    if (!history) return history.error();
    out.gpus = analysis::Histories(*history, rules);
    if (needs.held_by) out.held_by = analysis::LatestHolders(history->unmerged, rules);
    out.source = "hourly";
    out.range = range;
    if (needs.who_held) {
        // The roll-up keeps no process lists: the range's last day, from raw windows.
        const analysis::Range last_day{std::max(range.from, range.to - std::chrono::hours(24)), range.to};
        auto windows = s.store.usage().ReadWindows(account_id, last_day.from, last_day.to, gpu_key);
        if (!windows) return windows.error();
        out.who_held = analysis::WhoHeldIdle(*windows, rules, last_day);
        out.who_held_from = last_day.from;
    }
    return out;
}

Result<void> CompleteHolders(Services& s, int64_t account_id, LoadedHistory& history,
                             const std::vector<analysis::Totals>& totals, size_t max_gpus) {
    if (history.source == "raw") return {};  // every window of the range was read already
    const auto rules = IdleRulesOf(s.config);
    const auto from = std::max(history.range.from, history.range.to - std::chrono::hours(24));
    size_t reads = 0;
    for (size_t i = 0; i < history.gpus.size() && reads < max_gpus; ++i) {
        const auto& key = history.gpus[i].gpu_key;
        if (totals[i].idle_held_hours <= 0 || history.held_by.contains(key)) continue;
        ++reads;
        auto windows = s.store.usage().ReadWindows(account_id, from, history.range.to, key);
        if (!windows) return windows.error();
        history.held_by.merge(analysis::LatestHolders(*windows, rules));
    }
    return {};
}

namespace {

boost::json::array GroupsJson(const std::vector<analysis::HolderGroup>& groups, const char* key) {
    boost::json::array out;
    for (const auto& g : groups) {
        boost::json::object o;
        if (g.name.empty()) {
            o[key] = nullptr;
        } else {
            o[key] = g.name;
        }
        o["gpus"] = g.gpus;
        o["idle_held_hours"] = std::round(g.idle_held_hours * 100) / 100;
        o["idle_held_cost"] = analysis::Cents(g.idle_held_cost);
        o["held_mib_max"] = g.held_mib_max;
        out.push_back(std::move(o));
    }
    return out;
}

}  // namespace

// Who held GPUs while they sat idle, by user, container and Kubernetes namespace (null: not attributed,
// or not in a container or pod).
boost::json::object IdleHoldersJson(const analysis::IdleHolders& held, SysSeconds from) {
    return boost::json::object{{"from", FormatUtc(from)},
                               {"users", GroupsJson(held.users, "user")},
                               {"containers", GroupsJson(held.containers, "container")},
                               {"namespaces", GroupsJson(held.namespaces, "namespace")}};
}

boost::json::object TotalsJson(const analysis::Totals& t, double range_hours) {
    auto r = [](double v, double scale) { return std::round(v * scale) / scale; };
    boost::json::object o;
    o["reported_hours"] = r(t.reported_hours, 100);
    o["unknown_hours"] = r(t.unknown_hours, 100);
    o["idle_hours"] = r(t.idle_hours, 100);
    o["idle_held_hours"] = r(t.idle_held_hours, 100);
    o["busy_hours"] = r(t.busy_hours, 100);
    o["idle_fraction"] = r(t.IdleFraction(), 10000);
    o["util_avg"] = r(t.util_avg, 100);
    o["util_p95"] = r(t.util_p95, 100);
    o["util_max"] = r(t.util_max, 100);
    o["sm_active_hours"] = r(t.sm_hours, 100);
    if (t.sm_hours > 0) {
        o["sm_active_avg"] = r(t.sm_avg, 100);
        o["sm_active_p95"] = r(t.sm_p95, 100);
    } else {
        o["sm_active_avg"] = nullptr;
        o["sm_active_p95"] = nullptr;
    }
    o["mem_used_max"] = r(t.mem_used_max, 10);
    o["cost"] = r(t.cost, 100);
    o["idle_cost"] = r(t.idle_cost, 100);
    o["idle_held_cost"] = r(t.idle_held_cost, 100);
    o["recoverable_savings"] = r(t.recoverable_savings, 100);
    o["projected_month"] = r(range_hours > 0 ? t.recoverable_savings * analysis::kHoursPerMonth / range_hours : 0, 100);
    return o;
}

std::vector<analysis::Totals> SummarizeAll(const LoadedHistory& h, double recoverable_fraction) {
    std::vector<analysis::Totals> out;
    out.reserve(h.gpus.size());
    for (const auto& g : h.gpus) out.push_back(analysis::Summarize(g.slices, h.range, recoverable_fraction));
    return out;
}

boost::asio::awaitable<std::variant<CallerHistory, http::Response>> AuthorizeAndLoadHistory(Services& s,
                                                                                            http::RequestContext& ctx,
                                                                                            HistoryNeeds needs) {
    const unsigned version = ctx.request.version();
    auto auth = co_await AuthorizeCustomer(s, ctx);
    if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
    Caller& caller = std::get<Caller>(auth);
    auto query = http::ParseQuery(ctx.query);
    if (!query) co_return CallerError(query.error(), caller, version);
    auto range = ParseRange(*query, *caller.plan, UtcNow(), std::chrono::hours(24 * 7));
    if (!range) co_return CallerError(range.error(), caller, version);
    const std::function<Result<LoadedHistory>()> load = [&s, id = caller.account.id, r = *range, needs] {
        return LoadHistory(s, id, r, "", false, needs);
    };
    auto history = co_await OffloadRead<LoadedHistory>(s, load);
    if (!history) co_return CallerError(history.error(), caller, version);
    co_return CallerHistory{std::move(caller), std::move(*history)};
}

}  // namespace gpuopt::api
