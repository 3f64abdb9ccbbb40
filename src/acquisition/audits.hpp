// The free GPU cost audit (SPEC §9): once a confirmed audit request's account has `data_hours` of data,
// a report of those first hours — spend, idle time and its cost, what to change — goes to the lead, once
// (the lead's audit_sent_at and the mail are written in one transaction).
#pragma once

#include "acquisition/outreach.hpp"
#include "acquisition/settings.hpp"
#include "jobs/reports.hpp"
#include "store/acquisition.hpp"

namespace gpuopt::acquisition {

struct AuditRun {
    int sent = 0;
    int failed = 0;
};

Result<AuditRun> RunAudits(store::Database& db, const PriceCatalog& catalog, const jobs::ReportRules& rules,
                           const Settings& settings, const Outreach& outreach, SysSeconds now);

// The audit's mail for a lead, from the report of its first hours.
store::OutboxMessage AuditMail(const store::Lead& lead, const mail::ReportContent& report, const Outreach& outreach,
                               int data_hours);

}  // namespace gpuopt::acquisition
