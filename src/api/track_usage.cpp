// POST /api/track-usage: an agent report (SPEC §5), answered once its data is durable.
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>

#include <array>

#include "analysis/savings.hpp"
#include "api/api.hpp"
#include "api/auth.hpp"
#include "api/idle_policy.hpp"
#include "api/report_budget.hpp"
#include "api/report_parser.hpp"
#include "common/json.hpp"
#include "http/await.hpp"
#include "http/error_response.hpp"

namespace gpuopt::api {

namespace {

// Which host a report's budget is charged to: the agent's hostname or id, else the client's address (the
// prototype's reports name no host).
std::string ReportingHost(const boost::json::object& body, const std::string& client_ip) {
    if (const auto* agent = body.if_contains("agent"); agent != nullptr && agent->is_object()) {
        for (const char* field : {"hostname", "id"}) {
            const auto* v = agent->get_object().if_contains(field);
            if (v != nullptr && v->is_string() && !v->get_string().empty())
                return "host:" + std::string(v->get_string());
        }
    }
    return "addr:" + client_ip;
}

}  // namespace

http::Handler MakeTrackUsageHandler(Services& s) {
    ReportRules rules;
    rules.default_cost_per_hour = s.config.default_cost_per_hour;
    // A report older than the raw history kept could be one whose copy was pruned: it would count twice.
    rules.max_age = std::chrono::hours(24 * s.config.raw_retention_days);
    const analysis::SavingsRules savings_rules{s.config.idle_threshold_percent, s.config.recoverable_fraction};

    return [&s, rules, savings_rules](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        std::array<unsigned char, 8192> arena_buffer;
        // The parsed report lives in one request-scoped arena instead of hundreds of small allocations.
        boost::json::monotonic_resource arena(arena_buffer.data(), arena_buffer.size());
        auto parsed = ParseJson(ctx.request.body(), kMaxJsonDepth, &arena);
        if (!parsed) co_return http::ErrorResponse(parsed.error(), version);
        if (!parsed->is_object()) {
            co_return http::ErrorResponse(Error::Validation("body", "must be a JSON object"), version);
        }
        const auto& body = parsed->get_object();

        auto account = co_await AuthenticateRequest(s, ctx, &body);
        if (!account) co_return http::ErrorResponse(account.error(), version);
        ctx.principal = account->key_prefix;
        const Plan* plan = s.config.FindPlan(account->tier);
        if (plan == nullptr)
            co_return http::ErrorResponse({ErrorCode::kInternal, "Internal server error", {}}, version);
        // Reports draw on their host's budget, not on the plan's API budget (decision 0011).
        auto limit = CheckReportBudget(s.key_limiter, *plan, account->id, ReportingHost(body, ctx.client_ip),
                                       {s.config.reports_per_host_per_hour});
        if (limit && !limit->allowed) co_return RateLimitedResponse(*limit, version);

        const auto now = UtcNow();
        auto report = ParseUsageReport(body, rules, now, ctx.client_ip);
        if (!report) {
            if (s.counters != nullptr) s.counters->refused.fetch_add(1, std::memory_order_relaxed);
            auto res = http::ErrorResponse(report.error(), version);
            ApplyRateHeaders(res, limit);
            co_return res;
        }
        const auto savings = analysis::ComputeHourlySavings(report->gpus, savings_rules);
        const size_t gpu_count = report->gpus.size();
        const std::string host = report->hostname.empty() ? report->agent_id : report->hostname;
        // What the agent did about idle GPUs goes in first, idempotently: were the server to stop between
        // the two writes, the agent sends the report again and only the windows are new.
        if (!report->idle_events.empty()) {
            std::vector<store::IdleEvent> events = std::move(report->idle_events);
            for (auto& e : events) {
                e.account_id = account->id;
                e.received_at = now;
            }
            auto record = [&](store::Callback<int> done) {
                s.store.idle_actions().RecordIdleEvents(std::move(events), std::move(done));
            };
            auto recorded = co_await http::AwaitCallback<int>(std::move(record));
            if (!recorded) {
                auto res = http::ErrorResponse(recorded.error(), version);
                ApplyRateHeaders(res, limit);
                co_return res;
            }
        }

        store::IngestRequest ingest{account->id,
                                    std::move(*report),
                                    plan != nullptr ? plan->gpu_limit : std::nullopt,
                                    std::chrono::hours(s.config.gpu_limit_window_hours),
                                    now,
                                    std::chrono::seconds(s.config.implicit_window_max_seconds)};
        auto write = [&](store::Callback<store::IngestOutcome> done) {
            s.store.usage().IngestReport(std::move(ingest), std::move(done));
        };
        auto stored = co_await http::AwaitCallback<store::IngestOutcome>(std::move(write));
        if (!stored) {
            if (s.counters != nullptr) s.counters->refused.fetch_add(1, std::memory_order_relaxed);
            auto res = http::ErrorResponse(stored.error(), version);
            ApplyRateHeaders(res, limit);
            co_return res;
        }

        if (s.counters != nullptr) {
            if (stored->duplicate) {
                s.counters->duplicates.fetch_add(1, std::memory_order_relaxed);
            } else {
                s.counters->reports.fetch_add(1, std::memory_order_relaxed);
                s.counters->gpu_windows.fetch_add(gpu_count, std::memory_order_relaxed);
            }
        }
        boost::json::object out;
        out["status"] = "success";
        out["gpus_monitored"] = gpu_count;
        out["potential_hourly_savings"] = savings.potential_hourly_savings;
        out["monthly_projection"] = savings.monthly_projection;
        out["tier"] = NameOf(account->tier);
        out["duplicate"] = stored->duplicate;
        // The account's idle policy for this host's agent, when it has one (off on a plan without it).
        if (s.idle_policies != nullptr) {
            const int64_t id = account->id;
            auto entry = s.idle_policies->Get(id, [&s, id, now]() -> Result<IdlePolicyCache::Entry> {
                IdlePolicyCache::Entry e;
                auto policy = s.store.idle_actions().GetIdlePolicy(id);
                if (!policy) return policy.error();
                e.policy = *policy;
                if (e.policy && e.policy->enabled) {
                    auto snoozes = s.store.idle_actions().ActiveSnoozes(id, now);
                    if (!snoozes) return snoozes.error();
                    e.snoozes = std::move(*snoozes);
                }
                return e;
            });
            if (entry && entry->policy) {
                store::IdlePolicy policy = *entry->policy;
                policy.enabled = policy.enabled && plan->idle_actions;
                out["idle_policy"] = AgentPolicyJson(policy, entry->snoozes, host);
            }
        }
        co_return OkJson(out, version, limit);
    };
}

}  // namespace gpuopt::api
