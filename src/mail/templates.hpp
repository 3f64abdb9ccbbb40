// The transactional mails (SPEC §8), each a store::OutboxMessage with its dedup key, so that whatever
// runs twice enqueues it once. Copy is plain and honest: what happened, the figures, what to do next.
// No mail carries an API key.
#pragma once

#include <string>
#include <vector>

#include "store/accounts.hpp"
#include "store/alerts.hpp"
#include "store/billing.hpp"

namespace gpuopt::mail {

struct Brand {
    std::string product = "GPUOptimizer";
    std::string base_url = "http://127.0.0.1:5000";
};

store::OutboxMessage Welcome(const Brand& b, const store::Account& account);
store::OutboxMessage Receipt(const Brand& b, const std::string& email, const store::Payment& payment,
                             const store::CompletionOutcome& outcome, double paid_amount,
                             const std::string& paid_currency);
store::OutboxMessage UpgradeNotice(const Brand& b, const std::string& email, const store::Payment& payment,
                                   const store::CompletionOutcome& outcome, const std::string& plan_name);
store::OutboxMessage RenewalReminder(const Brand& b, const store::Subscription& sub, int days,
                                     const std::string& checkout_url, double price, const std::string& currency);
store::OutboxMessage DowngradeNotice(const Brand& b, const store::Subscription& sub);
store::OutboxMessage PartialPaymentNotice(const Brand& b, const std::string& email, const store::Payment& payment,
                                          double paid, const std::string& paid_currency);

// A one-time sign-in link for the web app (dedup: the link's token hash, so each request mails once). The
// link is short-lived; the mail says so and says what to do when it was not asked for.
store::OutboxMessage SignInLink(const Brand& b, int64_t account_id, const std::string& email, const std::string& url,
                                const std::string& token_hash, int valid_minutes);
// The account and its data were deleted, as asked; what was kept and why. Tied to no account (it is gone).
store::OutboxMessage AccountDeleted(const Brand& b, int64_t account_id, const std::string& email, Tier tier,
                                    SysSeconds at);

// To the operator (OPERATOR_EMAIL): something that needs a person, with the event's dedup key, so the
// mail goes once per event.
store::OutboxMessage OperatorNotice(const Brand& b, const std::string& to, const store::OperatorEvent& event);

// An idle alert by email (dedup: the alert), with where to turn such mails off.
store::OutboxMessage IdleAlertMail(const Brand& b, const std::string& email, const store::Alert& alert);

// A weekly or daily report: what the account's GPUs cost over the period, what sat idle, what the savings
// plan would recover, its top recommendations and what was realized; once per account and period.
struct ReportLine {
    std::string summary;
    double monthly_savings = 0;
    std::vector<std::string> gpus;  // host/uuid of each GPU it concerns
};
struct ReportContent {
    std::string kind;  // "weekly" or "daily"
    SysSeconds from;
    SysSeconds to;
    int gpus = 0;
    double gpu_hours = 0;
    double idle_hours = 0;
    double spend = 0;
    double idle_cost = 0;
    double recoverable_monthly = 0;  // the savings plan, per month
    std::vector<ReportLine> top;     // its largest recommendations (at most 3)
    int realized_in_period = 0;
    double realized_in_period_monthly = 0;
    int realized_total = 0;
    double realized_total_monthly = 0;
    std::string unsubscribe_url;  // turns report mails off (one click, RFC 8058)
};
std::string ReportDedupKey(const std::string& kind, int64_t account_id, SysSeconds from);
store::OutboxMessage ReportMail(const Brand& b, const store::Account& account, const ReportContent& report);

// Escapes text for HTML.
std::string Html(const std::string& text);

// "$12.30": an amount in USD, to the cent.
std::string Usd(double amount);
// "3.5": hours to a tenth.
std::string Hours(double hours);

}  // namespace gpuopt::mail
