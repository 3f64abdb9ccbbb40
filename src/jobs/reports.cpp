#include "jobs/reports.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "common/crypto.hpp"
#include "store/wait.hpp"

namespace gpuopt::jobs {

namespace {

using std::chrono::days;

// The settings with their unsubscribe token, made (and stored) the first time a report needs one.
Result<store::ReportSettings> WithToken(store::Database& db, store::ReportSettings settings) {
    if (!settings.unsubscribe_token.empty()) return settings;
    return store::Wait<store::ReportSettings>([&](store::Callback<store::ReportSettings> done) {
        db.notifications().SetReportSettings(settings, RandomBase62(32), std::move(done));
    });
}

// Enqueues one report unless it was enqueued before or there is nothing to say; answers whether it did.
Result<bool> SendReport(store::Database& db, const PriceCatalog& catalog, const ReportRules& rules,
                        const store::Account& account, const Plan& plan, const std::string& kind, analysis::Range range,
                        store::ReportSettings& settings, SysSeconds now) {
    const std::string key = mail::ReportDedupKey(kind, account.id, range.from);
    auto exists = db.outbox().MailExists(key);
    if (!exists) return exists.error();
    if (*exists) return false;
    auto report = BuildReport(db, catalog, rules, account, plan, range);
    if (!report) return report.error();
    if (report->gpus == 0) return false;  // no GPU reported in the period: nothing to tell
    auto with_token = WithToken(db, settings);
    if (!with_token) return with_token.error();
    settings = *with_token;
    report->kind = kind;
    report->unsubscribe_url = rules.brand.base_url + "/api/reports/unsubscribe?token=" + settings.unsubscribe_token;
    auto message = mail::ReportMail(rules.brand, account, *report);
    auto queued = store::Wait<bool>(
        [&](store::Callback<bool> done) { db.outbox().EnqueueMail(std::move(message), now, std::move(done)); });
    if (!queued) return queued.error();
    return *queued;
}

}  // namespace

analysis::Range LastDay(SysSeconds now) {
    const auto today = std::chrono::floor<days>(now);
    return {today - days(1), today};
}

analysis::Range LastWeek(SysSeconds now) {
    const auto today = std::chrono::floor<days>(now);
    const unsigned since_monday = (std::chrono::weekday(std::chrono::sys_days(today)).c_encoding() + 6) % 7;
    const auto monday = today - days(since_monday);
    return {monday - days(7), monday};
}

Result<mail::ReportContent> BuildReport(store::Database& db, const PriceCatalog& catalog, const ReportRules& rules,
                                        const store::Account& account, const Plan& plan, analysis::Range range) {
    mail::ReportContent r;
    r.from = range.from;
    r.to = range.to;
    auto rolled = db.usage().ReadRolledHistory(account.id, range.from, range.to);
    if (!rolled) return rolled.error();
    std::vector<analysis::GpuInput> inputs;
    std::vector<analysis::Totals> totals;
    for (auto& h : analysis::Histories(*rolled, rules.idle)) {
        auto t = analysis::Summarize(h.slices, range, rules.recommend.recoverable_fraction);
        if (t.reported_hours <= 0) continue;
        totals.push_back(t);
        inputs.push_back({std::move(h), t, std::nullopt});
    }
    const analysis::Totals all = analysis::Combine(totals);
    r.gpus = static_cast<int>(inputs.size());
    r.gpu_hours = all.reported_hours;
    r.idle_hours = all.idle_hours;
    r.spend = analysis::Cents(all.cost);
    r.idle_cost = analysis::Cents(all.idle_cost);
    auto recommend = rules.recommend;
    recommend.idle_actions_only = !plan.all_recommendations;
    const auto savings = analysis::Recommend(inputs, range, recommend, catalog);
    r.recoverable_monthly = savings.monthly_savings;
    for (const auto& rec : savings.recommendations) {
        if (r.top.size() == 3) break;
        r.top.push_back({rec.summary, rec.monthly_savings, rec.gpus});
    }
    auto realized = db.recommendations().ListTracked(account.id, store::TrackState::kRealized, 10000);
    if (!realized) return realized.error();
    for (const auto& t : *realized) {
        const double monthly = t.realized_monthly.value_or(0);
        ++r.realized_total;
        r.realized_total_monthly += monthly;
        if (t.changed_at && *t.changed_at >= range.from && *t.changed_at < range.to) {
            ++r.realized_in_period;
            r.realized_in_period_monthly += monthly;
        }
    }
    r.realized_total_monthly = analysis::Cents(r.realized_total_monthly);
    r.realized_in_period_monthly = analysis::Cents(r.realized_in_period_monthly);
    return r;
}

Result<ReportRun> RunReports(store::Database& db, const PriceCatalog& catalog, const ReportRules& rules,
                             SysSeconds now) {
    const analysis::Range week = LastWeek(now);
    const analysis::Range day = LastDay(now);
    // Accounts whose GPUs reported since the start of last week: only they have something to report.
    std::set<int64_t> accounts;
    auto recent = db.usage().ReadRecentGpus(week.from);
    if (!recent) return recent.error();
    for (const auto& w : *recent) accounts.insert(w.account_id);

    ReportRun run;
    std::optional<Error> first_failure;
    for (int64_t id : accounts) {
        auto one = [&]() -> Result<void> {
            auto account = db.accounts().GetAccount(id);
            if (!account) return account.error();
            const Plan* plan = rules.plan(account->tier);
            if (plan == nullptr) return {};
            auto settings = db.notifications().GetReportSettings(id);
            if (!settings) return settings.error();
            if (settings->weekly) {
                auto sent = SendReport(db, catalog, rules, *account, *plan, "weekly", week, *settings, now);
                if (!sent) return sent.error();
                run.weekly += *sent ? 1 : 0;
            }
            if (settings->daily && plan->daily_reports) {
                auto sent = SendReport(db, catalog, rules, *account, *plan, "daily", day, *settings, now);
                if (!sent) return sent.error();
                run.daily += *sent ? 1 : 0;
            }
            return {};
        };
        if (auto r = one(); !r) {
            spdlog::warn("reports: account {} not reported this time: {}", id, r.error().message);
            if (!first_failure) first_failure = r.error();
        }
    }
    if (run.weekly + run.daily > 0) spdlog::info("reports: {} weekly and {} daily enqueued", run.weekly, run.daily);
    if (first_failure) return *first_failure;
    return run;
}

}  // namespace gpuopt::jobs
