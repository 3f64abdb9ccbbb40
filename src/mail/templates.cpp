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
