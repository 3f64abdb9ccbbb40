#include "acquisition/audits.hpp"

#include <spdlog/spdlog.h>

#include "store/wait.hpp"

namespace gpuopt::acquisition {

using mail::Hours;
using mail::Usd;

store::OutboxMessage AuditMail(const store::Lead& lead, const mail::ReportContent& r, const Outreach& o,
                               int data_hours) {
    std::string body = "Here is the GPU cost audit you asked for: the first " + std::to_string(data_hours) +
                       " hours of data from your agents (" + FormatUtc(r.from) + " to " + FormatUtc(r.to) + ").\n\n";
    body += "GPUs: " + std::to_string(r.gpus) + ", " + Hours(r.gpu_hours) + " GPU-hours reported, costing " +
            Usd(r.spend) + ".\n";
    body += "Idle: " + Hours(r.idle_hours) + " GPU-hours, costing " + Usd(r.idle_cost) + ".\n";
    body += "Recoverable with the savings plan: " + Usd(r.recoverable_monthly) + " a month.\n\n";
    if (r.top.empty()) {
        body += "Nothing sat idle long enough to recommend a change: your GPUs were busy.\n\n";
    } else {
        body += "What to change:\n";
        int n = 0;
        for (const auto& line : r.top) {
            body += std::to_string(++n) + ". " + line.summary + " (saves " + Usd(line.monthly_savings) + " a month)\n";
        }
        body += "\n";
    }
    body +=
        "Every figure comes from your own agents' reports and the prices your account uses. The details, GPU by "
        "GPU: " +
        o.base_url + "/dashboard/";
    const std::string why = "you asked for a GPU cost audit";
    store::OutboxMessage m;
    m.dedup_key = "audit:" + std::to_string(lead.id);
    m.account_id = lead.account_id.value_or(0);
    m.to = lead.email;
    m.kind = "audit_report";
    m.subject =
        "Your GPU cost audit: " + Usd(r.idle_cost) + " idle in your first " + std::to_string(data_hours) + " hours";
    m.text = body + MarketingFooterText(o, lead.id, why);
    m.html = TextToHtml(body) + MarketingFooterHtml(o, lead.id, why);
    m.headers = MarketingHeaders(o, lead.id);
    return m;
}

Result<AuditRun> RunAudits(store::Database& db, const PriceCatalog& catalog, const jobs::ReportRules& rules,
                           const Settings& settings, const Outreach& o, SysSeconds now) {
    AuditRun run;
    if (!SequencesOff(o).empty()) return run;
    const auto span = std::chrono::hours(settings.audit.data_hours);
    auto due = db.acquisition().DueAudits(now - span, 50);
    if (!due) return due.error();
    for (const auto& item : *due) {
        auto account = db.accounts().GetAccount(*item.lead.account_id);
        if (!account) {
            ++run.failed;
            continue;
        }
        const Plan* plan = rules.plan(account->tier);
        if (plan == nullptr) {
            ++run.failed;
            continue;
        }
        const SysSeconds from = std::chrono::floor<std::chrono::hours>(item.data_from);
        auto report = jobs::BuildReport(db, catalog, rules, *account, *plan, analysis::Range{from, from + span});
        if (!report) {
            spdlog::error("audit for lead {}: {}", item.lead.id, report.error().message);
            ++run.failed;
            continue;
        }
        auto mail = AuditMail(item.lead, *report, o, settings.audit.data_hours);
        auto sent = store::Wait<bool>([&](store::Callback<bool> done) {
            db.acquisition().MarkAuditSent(item.lead.id, std::move(mail), now, std::move(done));
        });
        if (!sent) return sent.error();
        run.sent += *sent ? 1 : 0;
    }
    return run;
}

}  // namespace gpuopt::acquisition
