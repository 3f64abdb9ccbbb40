// GET /api/stats: operator statistics, behind "Authorization: Bearer <ADMIN_TOKEN>".
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cmath>

#include "api/api.hpp"
#include "api/auth.hpp"
#include "common/crypto.hpp"
#include "http/error_response.hpp"

namespace gpuopt::api {

namespace {
constexpr int kAdminFailuresPerMinute = 10;
// Rounds to 1/per_unit (100: cents). Dividing last keeps the shortest decimal form ("1101.6").
double Round(double x, double per_unit) { return std::round(x * per_unit) / per_unit; }
}  // namespace

http::Handler MakeStatsHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        if (s.config.admin_token.empty()) {
            co_return http::ErrorResponse(
                {ErrorCode::kForbidden, "The operator API is off: ADMIN_TOKEN is not set", {}}, version);
        }
        std::string_view presented;
        if (auto it = ctx.request.find(http::bhttp::field::authorization); it != ctx.request.end()) {
            std::string_view v = it->value();
            if (v.substr(0, 7) == "Bearer ") presented = v.substr(7);
        }
        if (!ConstantTimeEquals(presented, s.config.admin_token)) {
            // Guessing is slowed per address; the limiter only counts failures.
            RecordAuthFailure(s, ctx, "wrong operator token");
            auto limit = CheckIpLimit(s, "admin-fail", ctx.client_ip, kAdminFailuresPerMinute);
            if (limit && !limit->allowed) co_return RateLimitedResponse(*limit, version);
            co_return http::ErrorResponse({ErrorCode::kForbidden, "Operator token required", {}}, version);
        }
        ctx.principal = "operator";
        auto stats =
            s.store.stats().GetStats({UtcNow(), 30, s.config.idle_threshold_percent, s.config.recoverable_fraction});
        if (!stats) co_return http::ErrorResponse(stats.error(), version);

        boost::json::object by_tier;
        for (const auto& [tier, n] : stats->customers_by_tier) by_tier[tier] = n;
        // MRR: the monthly price of every paid subscription that is active or in its grace days.
        double mrr = 0;
        int64_t paying = 0;
        boost::json::object subscriptions;
        for (const auto& [tier, n] : stats->active_subscriptions_by_tier) {
            subscriptions[tier] = n;
            const auto named = TierNamed(tier);
            if (const Plan* plan = named ? s.config.FindPlan(*named) : nullptr; plan != nullptr)
                mrr += plan->price_usd * static_cast<double>(n);
            paying += n;
        }
        boost::json::array payments;
        for (const auto& p : stats->payments) {
            payments.push_back(boost::json::object{
                {"gateway", p.gateway}, {"status", p.status}, {"count", p.count}, {"amount", Round(p.amount, 100)}});
        }
        boost::json::array daily;
        for (const auto& d : stats->daily_signups) {
            daily.push_back(boost::json::object{{"date", d.date}, {"count", d.count}});
        }
        boost::json::object body;
        body["status"] = "success";
        body["customers_by_tier"] = std::move(by_tier);
        body["total_customers"] = stats->total_customers;
        body["paying_customers"] = paying;
        body["monthly_recurring_revenue"] = Round(mrr, 100);
        body["conversion_rate"] =
            stats->total_customers == 0
                ? 0.0
                : Round(static_cast<double>(paying) / static_cast<double>(stats->total_customers), 10000);
        body["active_subscriptions"] = std::move(subscriptions);
        body["revenue_this_month"] = Round(stats->revenue_this_month, 100);
        body["currency"] = s.config.billing.payment_currency;
        body["payments"] = std::move(payments);
        body["total_idle_cost"] = Round(stats->total_idle_cost, 100);
        body["total_customer_savings"] = Round(stats->total_customer_savings, 100);
        body["daily_signups"] = std::move(daily);
        body["gpus_monitored_last_24h"] = stats->gpus_last_24h;
        body["generated_at"] = FormatUtc(UtcNow());
        co_return http::JsonResponse(http::bhttp::status::ok, body, version);
    };
}

}  // namespace gpuopt::api
