#include "mail/templates.hpp"

#include <cctype>
#include <cstdio>

namespace gpuopt::mail {

namespace {

std::string Upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

std::string Money(double amount, const std::string& currency) {
    char text[64];
    const bool fiat = currency.size() == 3 && currency == Upper(currency);  // "USD"; coins are lower case ("btc")
    std::snprintf(text, sizeof text, fiat ? "%.2f %s" : "%.8g %s", amount, currency.c_str());
    return text;
}

std::string Day(SysSeconds t) { return FormatUtc(t).substr(0, 10); }

// Text and an HTML rendering of the same paragraphs.
store::OutboxMessage Make(std::string dedup, int64_t account, const std::string& to, std::string subject,
                          std::string kind, const std::vector<std::string>& paragraphs) {
    store::OutboxMessage m;
    m.dedup_key = std::move(dedup);
    m.account_id = account;
    m.to = to;
    m.subject = std::move(subject);
    m.kind = std::move(kind);
    m.html = "<!doctype html><html><body>";
    for (const auto& p : paragraphs) {
        m.text += p + "\n\n";
        m.html += "<p>" + Html(p) + "</p>";
    }
    m.html += "</body></html>";
    return m;
}

}  // namespace

std::string Usd(double amount) {
    char text[64];
    std::snprintf(text, sizeof text, "$%.2f", amount);
    return text;
}

std::string Hours(double hours) {
    char text[64];
    std::snprintf(text, sizeof text, "%.1f", hours);
    return text;
}

std::string Html(const std::string& text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

store::OutboxMessage Welcome(const Brand& b, const store::Account& a) {
    return Make(
        "welcome:" + std::to_string(a.id), a.id, a.email, "Welcome to " + b.product, "welcome",
        {"Welcome to " + b.product + ".",
         "Your API key starts with " + a.key_prefix +
             ". It was shown once, when you signed up: we keep only a "
             "fingerprint of it, so nobody (us included) can read it back. Keep it where your GPU hosts can reach it, "
             "as GPU_OPTIMIZER_API_KEY.",
         "Next: install gpuopt-agent on a GPU host and point it at " + b.base_url +
             ". Within a minute of its first report you will see the host's GPUs, their idle time and what it costs.",
         "You are on the " + std::string(NameOf(a.tier)) + " plan."});
}

store::OutboxMessage SignInLink(const Brand& b, int64_t account_id, const std::string& email, const std::string& url,
                                const std::string& token_hash, int valid_minutes) {
    auto m = Make("signin:" + token_hash, account_id, email, "Your " + b.product + " sign-in link", "sign_in",
                  {"Open this link to sign in to " + b.product + ":", url,
                   "It works once, for the next " + std::to_string(valid_minutes) +
                       " minutes, and only the newest link you asked for works.",
                   "If you did not ask to sign in, ignore this mail: nobody can sign in without the link."});
    // The link as a link in the HTML part (the text part carries it bare).
    const std::string bare = "<p>" + Html(url) + "</p>";
    if (auto at = m.html.find(bare); at != std::string::npos) {
        m.html.replace(at, bare.size(), "<p><a href=\"" + Html(url) + "\">" + Html(url) + "</a></p>");
    }
    return m;
}

store::OutboxMessage AccountDeleted(const Brand& b, int64_t account_id, const std::string& email, Tier tier,
                                    SysSeconds at) {
    std::vector<std::string> paragraphs{
        "Your " + b.product + " account was deleted on " + Day(at) + " (UTC), as you asked.",
        "Gone with it: your GPUs' history, recommendations, alerts and their settings, webhooks, API keys and "
        "sessions. Agents still reporting with its keys are refused from now on; uninstall them, or sign up "
        "again and give them a new key.",
        "Kept: the record of your payments (amounts, dates and references, without your address), because the "
        "books must keep them."};
    if (tier != Tier::kFree) {
        paragraphs.push_back("Your " + std::string(NameOf(tier)) +
                             " plan ended with the account; no renewal will be asked for.");
    }
    paragraphs.push_back(
        "If you did not ask for this, someone who could sign in as you did: the data cannot be brought back, but "
        "this address is free to sign up again at " +
        b.base_url + ".");
    return Make("account_deleted:" + std::to_string(account_id), 0, email, "Your " + b.product + " account was deleted",
                "account_deleted", paragraphs);
}

store::OutboxMessage Receipt(const Brand& b, const std::string& email, const store::Payment& p,
                             const store::CompletionOutcome& o, double paid_amount, const std::string& paid_currency) {
    return Make("receipt:" + std::to_string(p.id), p.account_id, email, b.product + " receipt " + p.reference,
                "receipt",
                {"Thank you: we received your payment.",
                 "Amount: " + Money(paid_amount, paid_currency) + "\nPlan: " + std::string(NameOf(p.tier)) +
                     "\nPaid through: " + p.gateway + "\nReference: " + p.reference,
                 "Service period: " + Day(o.period_start) + " to " + Day(o.period_end) + " (UTC)."});
}

store::OutboxMessage UpgradeNotice(const Brand& b, const std::string& email, const store::Payment& p,
                                   const store::CompletionOutcome& o, const std::string& plan_name) {
    return Make(
        "upgrade:" + std::to_string(p.id), p.account_id, email, "Your " + b.product + " plan is now " + plan_name,
        "upgrade",
        {"Your account moved from the " + std::string(NameOf(o.previous_tier)) + " plan to the " + plan_name + " plan.",
         "It runs until " + Day(o.period_end) +
             " (UTC). We will email you a renewal link 7 days and 1 day before then."});
}

store::OutboxMessage RenewalReminder(const Brand& b, const store::Subscription& s, int days,
                                     const std::string& checkout_url, double price, const std::string& currency) {
    return Make("renewal" + std::to_string(days) + ":" + std::to_string(s.account_id) + ":" + FormatUtc(s.period_end),
                s.account_id, s.email,
                "Your " + b.product + " plan renews in " + std::to_string(days) + (days == 1 ? " day" : " days"),
                "renewal_reminder",
                {"Your " + std::string(NameOf(s.tier)) + " plan runs until " + FormatUtc(s.period_end) + ".",
                 "To keep it, pay for the next month (" + Money(price, currency) + ") here: " + checkout_url,
                 "If you do not, the account keeps its plan for 3 days of grace and then moves to the free plan. "
                 "Your history stays."});
}

store::OutboxMessage DowngradeNotice(const Brand& b, const store::Subscription& s) {
    return Make("downgrade:" + std::to_string(s.account_id) + ":" + FormatUtc(s.period_end), s.account_id, s.email,
                "Your " + b.product + " account is now on the free plan", "downgrade",
                {"Your " + std::string(NameOf(s.tier)) + " plan ended on " + Day(s.period_end) +
                     " and its grace period has passed, so the account "
                     "is now on the free plan.",
                 "Your history stays. You can upgrade again at any time from " + b.base_url + "."});
}

store::OutboxMessage PartialPaymentNotice(const Brand& b, const std::string& email, const store::Payment& p,
                                          double paid, const std::string& paid_currency) {
    return Make(
        "partial:" + std::to_string(p.id), p.account_id, email,
        b.product + ": your payment " + p.reference + " is incomplete", "partial_payment",
        {"We received " + Money(paid, paid_currency) + " for payment " + p.reference + ", less than the " +
             Money(p.amount, p.currency) + " it needs.",
         "Your plan has not changed. Please send the rest from the same payment page, or contact us to settle it."});
}

store::OutboxMessage IdleAlertMail(const Brand& b, const std::string& email, const store::Alert& alert) {
    const std::string host = alert.gpu_key.substr(0, alert.gpu_key.find('/'));
    return Make("idle-alert:" + std::to_string(alert.id), alert.account_id, email,
                b.product + ": an idle GPU on " + host, "idle_alert",
                {alert.message, "See it with its history and the savings plan at " + b.base_url + ".",
                 "You get this mail because email alerts are on for your account. Turn them off with "
                 "PUT /api/me/alerts {\"email\": false}; the alert itself closes by itself once the GPU is busy "
                 "again."});
}

std::string ReportDedupKey(const std::string& kind, int64_t account_id, SysSeconds from) {
    return "report-" + kind + ":" + std::to_string(account_id) + ":" + Day(from);
}

store::OutboxMessage ReportMail(const Brand& b, const store::Account& account, const ReportContent& r) {
    const bool weekly = r.kind == "weekly";
    const std::string span =
        weekly ? "the week of " + Day(r.from) + " to " + Day(r.to - std::chrono::days(1)) : Day(r.from);
    std::vector<std::string> p;
    p.push_back("Your " + std::string(weekly ? "weekly" : "daily") + " GPU report for " + span + " (UTC).");
    p.push_back("Spend: " + Usd(r.spend) + " on " + std::to_string(r.gpus) + (r.gpus == 1 ? " GPU" : " GPUs") + " (" +
                Hours(r.gpu_hours) + " GPU-hours reported).\nIdle: " + Hours(r.idle_hours) + " GPU-hours, costing " +
                Usd(r.idle_cost) + ".\nRecoverable with the savings plan: " + Usd(r.recoverable_monthly) + " a month.");
    if (!r.top.empty()) {
        std::string top = "Top recommendations:";
        int n = 0;
        for (const auto& line : r.top) {
            std::string gpus;
            for (const auto& g : line.gpus) gpus += (gpus.empty() ? "" : ", ") + g;
            top += "\n" + std::to_string(++n) + ". " + line.summary + " (saves " + Usd(line.monthly_savings) +
                   " a month" + (gpus.empty() ? "" : "; " + gpus) + ")";
        }
        p.push_back(top);
    } else {
        p.emplace_back("No recommendations: nothing sat idle long enough to act on.");
    }
    if (r.realized_total > 0) {
        const std::string in_period = r.realized_in_period == 0
                                          ? "none in this period"
                                          : std::to_string(r.realized_in_period) + " recommendation" +
                                                (r.realized_in_period == 1 ? "" : "s") + " acted on in this period (" +
                                                Usd(r.realized_in_period_monthly) + " a month)";
        p.push_back("Realized savings: " + in_period + "; " + std::to_string(r.realized_total) + " in all, saving " +
                    Usd(r.realized_total_monthly) + " a month.");
    }
    p.push_back("The details, GPU by GPU: " + b.base_url + "/");
    p.push_back("Turn these reports off: " + r.unsubscribe_url);
    store::OutboxMessage m = Make(ReportDedupKey(r.kind, account.id, r.from), account.id, account.email,
                                  b.product + (weekly ? " weekly" : " daily") + " report: " + Usd(r.spend) +
                                      " spent, " + Usd(r.idle_cost) + " idle",
                                  weekly ? "report_weekly" : "report_daily", p);
    m.headers["List-Unsubscribe"] = "<" + r.unsubscribe_url + ">";
    m.headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click";
    return m;
}

store::OutboxMessage OperatorNotice(const Brand& b, const std::string& to, const store::OperatorEvent& e) {
    std::vector<std::string> paragraphs{e.detail};
    if (e.payment_id) paragraphs.push_back("Payment id: " + std::to_string(*e.payment_id) + ".");
    if (e.account_id) paragraphs.push_back("Account id: " + std::to_string(*e.account_id) + ".");
    paragraphs.push_back(
        "Recorded at " + FormatUtc(e.at) + " as " + e.kind + ". Nothing more happens by itself: " +
        "settle it at the gateway's dashboard (apply the plan with `gpuopt admin set-tier`, or refund).");
    return Make("operator:" + e.dedup_key, 0, to, b.product + " needs you: " + e.kind, "operator", paragraphs);
}

}  // namespace gpuopt::mail
