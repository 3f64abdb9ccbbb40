// The operator's revenue and system pages (api/admin.hpp):
//   GET /api/admin/revenue?months=12   month by month from the revenue ledger (billing/revenue.hpp, decision
//                                      0028), and the figures of now as GET /api/stats counts them
//   GET /api/admin/system              version, database, each periodic job's last run and next, the features
//                                      that are on and the settings that are missing
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cmath>

#include "acquisition/outreach.hpp"
#include "api/admin.hpp"
#include "api/admin_internal.hpp"
#include "api/auth.hpp"
#include "billing/billing.hpp"
#include "billing/revenue.hpp"
#include "http/error_response.hpp"
#include "http/query.hpp"

namespace gpuopt::api {

namespace {

constexpr int kDefaultMonths = 12;
constexpr int kMaxMonths = 60;
constexpr size_t kLedgerPage = 5000;

double Cents(double v) { return std::round(v * 100) / 100; }

boost::json::object Amounts(const std::map<std::string, double>& by) {
    boost::json::object o;
    for (const auto& [name, value] : by) o[name] = Cents(value);
    return o;
}

// Written on the page, so that every figure says what it counts.
boost::json::object Definitions() {
    return boost::json::object{
        {"mrr",
         "Monthly recurring revenue: the monthly list price of every account on a paid plan at that moment, "
         "grace days included (as GET /api/stats counts it). A plan set by an operator counts at its price."},
        {"new", "MRR of accounts on a paid plan for the first time in the month."},
        {"expansion", "MRR added by moves to a dearer plan, and by accounts that come back to a paid plan."},
        {"contraction", "MRR lost by moves to a cheaper paid plan."},
        {"churned",
         "MRR lost by accounts going back to the free plan (a period not renewed, or an operator's change) or "
         "deleted. A plan change is never counted as churn plus new."},
        {"conversion",
         "Of the accounts that signed up in the month, the share on a paid plan at its end. The headline figure "
         "is paying accounts over all accounts now."},
        {"revenue",
         "Payments taken in the month in USD, refunds subtracted; amounts in another currency are not "
         "converted."}};
}

Result<std::vector<billing::LedgerEntry>> ReadLedger(store::PanelRepository& panel) {
    std::vector<billing::LedgerEntry> out;
    int64_t after = 0;
    for (;;) {
        auto page = panel.ListLedger(after, kLedgerPage);
        if (!page) return page.error();
        for (const auto& row : *page) {
            const auto& e = row.event;
            out.push_back(billing::LedgerEntry{e.account_id, e.kind, e.tier, row.gateway, e.amount, e.currency, e.at});
            after = e.id;
        }
        if (page->size() < kLedgerPage) return out;
    }
}

struct RevenueData {
    std::vector<billing::RevenueMonth> months;
    store::Stats stats;
    int64_t grace = 0;
};

}  // namespace

http::Handler MakeAdminRevenueHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        auto list = ParseListQuery(ctx.query, {"months"});
        if (!list) co_return http::ErrorResponse(list.error(), version);
        int months = kDefaultMonths;
        if (const auto& m = list->filters["months"]; !m.empty()) {
            auto n = PositiveInt(m);
            if (!n || *n > kMaxMonths) {
                co_return http::ErrorResponse(Error::Validation("months", "must be a whole number from 1 to 60"),
                                              version);
            }
            months = static_cast<int>(*n);
        }
        std::map<Tier, double> prices;
        for (Tier t : {Tier::kFree, Tier::kProfessional, Tier::kEnterprise}) {
            const Plan* plan = s.config.FindPlan(t);
            prices[t] = plan != nullptr ? plan->price_usd : 0;
        }
        const SysSeconds now = UtcNow();
        const std::function<Result<RevenueData>()> read = [&s, &prices, now, months]() -> Result<RevenueData> {
            RevenueData data;
            auto ledger = ReadLedger(s.store.panel());
            if (!ledger) return ledger.error();
            data.months = billing::RevenueByMonth(std::move(*ledger), prices, AddMonths(now, -(months - 1)), now);
            auto stats =
                s.store.stats().GetStats({now, 30, s.config.idle_threshold_percent, s.config.recoverable_fraction});
            if (!stats) return stats.error();
            data.stats = std::move(*stats);
            // In grace: the period has ended and the lifecycle job has not downgraded it yet.
            auto ended = s.store.billing().ListSubscriptionsEndingBefore(now);
            if (!ended) return ended.error();
            for (const auto& sub : *ended) data.grace += sub.status == store::SubscriptionStatus::kGrace;
            return data;
        };
        auto data = co_await OffloadRead<RevenueData>(s, read);
        if (!data) co_return http::ErrorResponse(data.error(), version);

        boost::json::array by_month;
        for (const auto& m : data->months) {
            boost::json::object o{{"month", m.month},
                                  {"mrr_start", Cents(m.mrr_start)},
                                  {"mrr_end", Cents(m.mrr_end)},
                                  {"new_mrr", Cents(m.new_mrr)},
                                  {"expansion_mrr", Cents(m.expansion_mrr)},
                                  {"contraction_mrr", Cents(m.contraction_mrr)},
                                  {"churned_mrr", Cents(m.churned_mrr)},
                                  {"signups", m.signups},
                                  {"converted", m.converted},
                                  {"new_paying", m.new_paying},
                                  {"churned_customers", m.churned_customers},
                                  {"paying_end", m.paying_end},
                                  {"revenue_usd", Cents(m.revenue_usd)},
                                  {"mrr_by_plan", Amounts(m.mrr_end_by_plan)},
                                  {"mrr_by_gateway", Amounts(m.mrr_end_by_gateway)}};
            if (m.signups > 0) {
                o["conversion_rate"] =
                    std::round(static_cast<double>(m.converted) / static_cast<double>(m.signups) * 10000) / 10000;
            } else {
                o["conversion_rate"] = nullptr;
            }
            by_month.push_back(std::move(o));
        }
        // Now, as GET /api/stats counts it: paid subscriptions active or in grace at their plan's price.
        double mrr = 0;
        int64_t paying = 0;
        for (const auto& [tier, n] : data->stats.active_subscriptions_by_tier) {
            if (auto named = TierNamed(tier)) mrr += prices[*named] * static_cast<double>(n);
            paying += n;
        }
        boost::json::object customers;
        for (const auto& [tier, n] : data->stats.customers_by_tier) customers[tier] = n;
        boost::json::object current{{"mrr", Cents(mrr)},
                                    {"arr", Cents(mrr * 12)},
                                    {"paying_customers", paying},
                                    {"active_subscriptions", paying - data->grace},
                                    {"grace_subscriptions", data->grace},
                                    {"revenue_this_month", Cents(data->stats.revenue_this_month)},
                                    {"total_customers", data->stats.total_customers},
                                    {"customers_by_plan", std::move(customers)}};
        current["conversion_rate"] =
            data->stats.total_customers == 0
                ? 0.0
                : std::round(static_cast<double>(paying) / static_cast<double>(data->stats.total_customers) * 10000) /
                      10000;
        co_return OkJson(
            boost::json::object{{"status", "success"},
                                {"currency", "USD"},
                                {"prices", boost::json::object{{"professional", prices[Tier::kProfessional]},
                                                               {"enterprise", prices[Tier::kEnterprise]}}},
                                {"months", std::move(by_month)},
                                {"current", std::move(current)},
                                {"definitions", Definitions()}},
            version, std::nullopt);
    };
}

namespace {

struct SystemData {
    std::vector<store::JobRun> runs;
    store::StorageSize size;
};

void Feature(boost::json::array& out, std::string_view name, bool on, std::string detail) {
    out.push_back(boost::json::object{{"name", name}, {"on", on}, {"detail", std::move(detail)}});
}

void Missing(boost::json::array& out, std::string_view name, std::string_view effect) {
    out.push_back(boost::json::object{{"name", name}, {"effect", effect}});
}

}  // namespace

http::Handler MakeAdminSystemHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const std::function<Result<SystemData>()> read = [&s]() -> Result<SystemData> {
            SystemData data;
            auto runs = s.store.panel().LatestJobRuns();
            if (!runs) return runs.error();
            data.runs = std::move(*runs);
            auto size = s.store.panel().GetStorageSize();
            if (!size) return size.error();
            data.size = std::move(*size);
            return data;
        };
        auto data = co_await OffloadRead<SystemData>(s, read);
        if (!data) co_return http::ErrorResponse(data.error(), version);
        const SysSeconds now = UtcNow();
        const Config& c = s.config;

        boost::json::array jobs;
        for (const auto& job : s.jobs) {
            boost::json::object o{{"name", job.name}, {"interval_seconds", job.interval.count()}};
            const store::JobRun* last = nullptr;
            for (const auto& run : data->runs) {
                if (run.job == job.name) last = &run;
            }
            if (last != nullptr) {
                o["last_started"] = FormatUtc(last->started);
                o["last_finished"] = FormatUtc(last->finished);
                o["duration_ms"] =
                    std::chrono::duration_cast<std::chrono::milliseconds>(last->finished - last->started).count();
                o["result"] = last->result.empty() ? std::string("ok") : last->result;
                o["ran_on"] = last->holder;
                // A job runs again one interval after its last run ended, where its lease is held.
                o["next_run"] = FormatUtc(std::max(now, last->finished + job.interval));
            } else {
                o["last_started"] = nullptr;
                o["last_finished"] = nullptr;
                o["duration_ms"] = nullptr;
                o["result"] = nullptr;
                o["ran_on"] = nullptr;
                o["next_run"] = nullptr;
            }
            jobs.push_back(std::move(o));
        }

        const bool flutterwave = s.billing != nullptr && s.billing->Enabled("flutterwave");
        const bool nowpayments = s.billing != nullptr && s.billing->Enabled("nowpayments");
        const std::string mail = !c.mail.sendgrid_api_key.empty() ? "SendGrid"
                                 : !c.mail.smtp_server.empty()    ? "SMTP via " + c.mail.smtp_server
                                                                  : "files in DATA_DIR/outbox (nothing is sent)";
        boost::json::array features;
        Feature(features, "Database", true, data->size.backend);
        Feature(features, "Card payments (Flutterwave)", flutterwave, flutterwave ? "configured" : "no keys");
        Feature(features, "Crypto payments (NOWPayments)", nowpayments,
                nowpayments ? c.billing.nowpayments_mode + " mode" : "no keys");
        Feature(features, "Mail", !c.mail.sendgrid_api_key.empty() || !c.mail.smtp_server.empty(), mail);
        Feature(features, "Shared rate limits and blocks (Redis)", !c.redis_url.empty(),
                c.redis_url.empty() ? "each server counts alone" : "shared by every server");
        Feature(features, "Encryption at rest", !c.encryption_key.empty(),
                c.encryption_key.empty() ? "webhook URLs, secrets and payloads stored in clear" : "ENCRYPTION_KEY");
        Feature(features, "Operator token", !c.admin_token.empty(), "read-only scripts and /metrics");
        Feature(features, "HTTPS", c.base_url.rfind("https://", 0) == 0, c.base_url);
        const auto& acq = c.acquisition;
        const bool reddit =
            !acq.reddit_client_id.empty() && !acq.reddit_client_secret.empty() && !acq.reddit_user_agent.empty();
        const std::string sequences_off = acquisition::SequencesOff(acquisition::OutreachOf(c));
        Feature(features, "Prospects from GitHub", !acq.github_token.empty(),
                acq.github_token.empty() ? "no GITHUB_TOKEN" : acq.github_api_url);
        Feature(features, "Conversations from Reddit", reddit, reddit ? "read only" : "no Reddit app credentials");
        Feature(features, "Sequences", sequences_off.empty(), sequences_off.empty() ? "sending" : sequences_off);
        Feature(features, "SendGrid events", !acq.sendgrid_webhook_public_key.empty(),
                acq.sendgrid_webhook_public_key.empty() ? "refused: no verification key" : "verified (ECDSA)");

        boost::json::array missing;
        if (c.secret_key.empty()) {
            Missing(missing, "SECRET_KEY",
                    "the audit log is chained with a key anyone can compute: rows changed "
                    "behind the program's back could be chained again unnoticed");
        }
        if (c.encryption_key.empty()) {
            Missing(missing, "ENCRYPTION_KEY",
                    "webhook URLs and secrets, TOTP secrets and gateway payloads are stored "
                    "in clear");
        }
        if (c.mail.sendgrid_api_key.empty() && c.mail.smtp_server.empty()) {
            Missing(missing, "SMTP_SERVER or SENDGRID_API_KEY",
                    "no mail leaves: sign-in links, receipts and reports "
                    "are written to files");
        }
        if (c.mail.sender_email.empty()) Missing(missing, "SENDER_EMAIL", "mails have no From address of yours");
        if (!flutterwave && !nowpayments) {
            Missing(missing, "FLUTTERWAVE_SECRET_KEY or NOWPAYMENTS_API_KEY", "no paid plan can be bought");
        }
        if (c.billing.operator_email.empty()) {
            Missing(missing, "OPERATOR_EMAIL", "payments that need a person are not mailed to anyone");
        }
        if (acq.postal_address.empty()) {
            Missing(missing, "POSTAL_ADDRESS", "sequences stay off: every marketing mail must carry a postal address");
        }
        if (acq.github_token.empty()) Missing(missing, "GITHUB_TOKEN", "no prospects are found on GitHub");
        if (acq.sendgrid_webhook_public_key.empty() && !c.mail.sendgrid_api_key.empty()) {
            Missing(missing, "SENDGRID_WEBHOOK_PUBLIC_KEY",
                    "SendGrid's bounces and complaints are refused: mark them by hand in the leads");
        }
        if (c.base_url.rfind("https://", 0) != 0) {
            Missing(missing, "BASE_URL (https)", "cookies are not Secure and links in mails use plain http");
        }

        co_return OkJson(boost::json::object{{"status", "success"},
                                             {"version", GPUOPT_VERSION},
                                             {"started_at", FormatUtc(s.started_at)},
                                             {"uptime_seconds", (now - s.started_at).count()},
                                             {"database", boost::json::object{{"backend", data->size.backend},
                                                                              {"bytes", data->size.bytes}}},
                                             {"jobs", std::move(jobs)},
                                             {"features", std::move(features)},
                                             {"settings_missing", std::move(missing)}},
                         version, std::nullopt);
    };
}

}  // namespace gpuopt::api
