#include "billing/billing.hpp"

#include <spdlog/spdlog.h>

#include <boost/json/object.hpp>

#include <algorithm>
#include <cmath>

#include "billing/ipn_signature.hpp"
#include "common/crypto.hpp"
#include "common/json.hpp"
#include "store/wait.hpp"

namespace gpuopt::billing {

namespace {

std::string Setting(const Config& c, const char* name) {
    auto it = c.integrations.find(name);
    return it == c.integrations.end() ? std::string() : it->second;
}

std::string Lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// What is owed is met: the gateway's amount at least the price (to the cent), in our currency.
bool Covers(double paid, const std::string& paid_currency, const store::Payment& p) {
    return Lower(paid_currency) == Lower(p.currency) && std::round(paid * 100) >= std::round(p.amount * 100);
}

}  // namespace

std::string NewReference() {
    std::string key = GenerateApiKey();  // "gopt_" + 23 base62: reuse the uniform generator
    return "gpo_" + key.substr(kApiKeyPrefix.size(), 20);
}

Billing::Billing(const Config& config, store::Store& db) : config_(config), db_(db) {
    flutterwave_.secret_key = Setting(config, "FLUTTERWAVE_SECRET_KEY");
    flutterwave_.secret_hash = Setting(config, "FLUTTERWAVE_SECRET_HASH");
    if (auto url = Setting(config, "FLUTTERWAVE_BASE_URL"); !url.empty()) flutterwave_.base_url = url;
    nowpayments_.api_key = Setting(config, "NOWPAYMENTS_API_KEY");
    nowpayments_.ipn_secret = Setting(config, "NOWPAYMENTS_IPN_SECRET");
    const std::string sandbox = Setting(config, "NOWPAYMENTS_SANDBOX");
    if (sandbox == "true" || sandbox == "1") nowpayments_.base_url = "https://api-sandbox.nowpayments.io";
    if (auto url = Setting(config, "NOWPAYMENTS_BASE_URL"); !url.empty()) nowpayments_.base_url = url;
    nowpayments_.mode = config.nowpayments_mode;
    nowpayments_.pay_currency = config.nowpayments_pay_currency;
    flutterwave_.timeout = nowpayments_.timeout = std::chrono::seconds(config.gateway_timeout_seconds);
    brand_.base_url = config.base_url;
}

bool Billing::Enabled(const std::string& gateway) const {
    if (gateway == "flutterwave") return !flutterwave_.secret_key.empty() && !flutterwave_.secret_hash.empty();
    if (gateway == "nowpayments") return !nowpayments_.api_key.empty() && !nowpayments_.ipn_secret.empty();
    return false;
}

std::vector<GatewayInfo> Billing::Gateways() const {
    return {{"flutterwave",
             "Card or mobile money (Flutterwave)",
             Enabled("flutterwave"),
             {config_.payment_currency},
             "card"},
            {"nowpayments", "Crypto (NOWPayments)", Enabled("nowpayments"), {config_.payment_currency}, "crypto"}};
}

double Billing::PriceOf(const std::string& tier) const {
    const Plan* plan = config_.FindPlan(tier);
    return plan == nullptr ? 0 : plan->price_usd;
}

Result<CheckoutResult> Billing::StartCheckout(const store::Account& account, const std::string& tier,
                                              const std::string& gateway, const std::string& purpose, SysSeconds now) {
    const Plan* plan = config_.FindPlan(tier);
    if (plan == nullptr || plan->price_usd <= 0)
        return Error::Validation("tier", "must be a paid plan: professional or enterprise");
    if (gateway != "flutterwave" && gateway != "nowpayments") {
        return Error::Validation("payment_method", "must be flutterwave or nowpayments");
    }
    if (!Enabled(gateway)) return Error::Validation("payment_method", gateway + " is not configured on this server");
    auto payment = store::Wait<store::Payment>([&](store::Callback<store::Payment> done) {
        db_.CreatePayment(
            {account.id, NewReference(), gateway, tier, plan->price_usd, config_.payment_currency, purpose, now},
            std::move(done));
    });
    if (!payment) return payment.error();
    CheckoutResult out;
    std::string gateway_id;
    if (gateway == "flutterwave") {
        FlutterwaveCheckout k;
        k.reference = payment->reference;
        k.amount = payment->amount;
        k.currency = payment->currency;
        k.redirect_url = config_.base_url + "/payment/flutterwave/callback";
        k.email = account.email;
        k.title = "GPUOptimizer";
        k.description = plan->display_name + " plan, one month";
        k.meta = {{"account_id", std::to_string(account.id)}, {"tier", tier}};
        auto link = FlutterwaveCreateCheckout(flutterwave_, k);
        if (!link) {
            spdlog::warn("checkout {}: {}", payment->reference, link.error().message);
            return Error{
                ErrorCode::kPaymentFailed, "The payment gateway could not start the checkout; please try again", {}};
        }
        out.payment_url = *link;
    } else {
        NowPaymentsOrder order;
        order.reference = payment->reference;
        order.amount = payment->amount;
        order.currency = Lower(payment->currency);
        order.description = "GPUOptimizer " + plan->display_name + " plan, one month";
        order.ipn_url = config_.base_url + "/payment/nowpayments/webhook";
        order.success_url = config_.base_url + "/?payment=" + payment->reference;
        order.cancel_url = config_.base_url + "/?payment=cancelled";
        auto created = NowPaymentsCreate(nowpayments_, order);
        if (!created) {
            spdlog::warn("checkout {}: {}", payment->reference, created.error().message);
            return Error{
                ErrorCode::kPaymentFailed, "The payment gateway could not start the checkout; please try again", {}};
        }
        gateway_id = created->id;
        out.payment_url = created->checkout_url;
        out.pay_address = created->pay_address;
        out.pay_amount = created->pay_amount;
        out.pay_currency = created->pay_currency;
    }
    auto saved = store::Wait<void>([&](store::Callback<void> done) {
        db_.SetPaymentCheckout(payment->id, gateway_id, out.payment_url, std::move(done));
    });
    if (!saved) return saved.error();
    payment->gateway_id = gateway_id;
    payment->checkout_url = out.payment_url;
    out.payment = std::move(*payment);
    return out;
}

Result<store::GatewayEvent> Billing::FlutterwaveWebhookEvent(std::string_view verif_hash, std::string_view body,
                                                             SysSeconds now) const {
    if (flutterwave_.secret_hash.empty() || verif_hash.empty() ||
        !ConstantTimeEquals(verif_hash, flutterwave_.secret_hash)) {
        return Error{ErrorCode::kForbidden, verif_hash.empty() ? "missing verif-hash" : "wrong verif-hash", {}};
    }
    auto hook = ParseFlutterwaveWebhook(body);
    if (!hook) return hook.error();
    store::GatewayEvent e;
    e.gateway = "flutterwave";
    e.dedup_key = (hook->transaction_id.empty() ? "ref:" + hook->tx_ref : hook->transaction_id) + ":" + hook->status;
    e.reference = hook->tx_ref;
    e.body = std::string(body);
    e.received_at = now;
    return e;
}

Result<store::GatewayEvent> Billing::FlutterwaveReturnEvent(const std::string& transaction_id,
                                                            const std::string& tx_ref, SysSeconds now) const {
    if (transaction_id.empty() || transaction_id.size() > 20 ||
        !std::all_of(transaction_id.begin(), transaction_id.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return Error::Validation("transaction_id", "must be a Flutterwave transaction id");
    }
    if (tx_ref.size() > 128) return Error::Validation("tx_ref", "is too long");
    boost::json::object body{{"source", "return"}, {"transaction_id", transaction_id}, {"tx_ref", tx_ref}};
    store::GatewayEvent e;
    e.gateway = "flutterwave";
    e.dedup_key = "return:" + transaction_id;
    e.reference = tx_ref;
    e.body = ToJson(body);
    e.received_at = now;
    return e;
}

Result<store::GatewayEvent> Billing::NowPaymentsIpnEvent(std::string_view signature, std::string_view body,
                                                         SysSeconds now) const {
    if (signature.empty()) return Error{ErrorCode::kForbidden, "missing x-nowpayments-sig", {}};
    if (!VerifyNowPaymentsSignature(body, signature, nowpayments_.ipn_secret)) {
        return Error{ErrorCode::kForbidden, "wrong x-nowpayments-sig", {}};
    }
    auto ipn = ParseNowPaymentsIpn(body);
    if (!ipn) return ipn.error();
    store::GatewayEvent e;
    e.gateway = "nowpayments";
    e.dedup_key = ipn->payment_id + ":" + ipn->status;
    e.reference = ipn->order_id;
    e.body = std::string(body);
    e.received_at = now;
    return e;
}

void Billing::SecurityEvent(const std::string& kind, const std::string& detail, SysSeconds now) {
    spdlog::warn("security: {}: {}", kind, detail);
    (void)store::Wait<void>(
        [&](store::Callback<void> done) { db_.RecordSecurityEvent(kind, "gateway", detail, now, std::move(done)); });
}

Billing::Applied Billing::Complete(const store::Payment& payment, const std::string& gateway_id, double paid,
                                   const std::string& currency, SysSeconds now) {
    const mail::Brand brand = brand_;
    const Config& config = config_;
    store::Completion c;
    c.payment_id = payment.id;
    c.gateway_id = gateway_id;
    c.paid_amount = paid;
    c.paid_currency = currency;
    c.now = now;
    c.mails = [brand, &config, paid, currency](const store::Payment& p, const store::CompletionOutcome& o,
                                               const std::string& email) {
        std::vector<store::OutboxMessage> mails{mail::Receipt(brand, email, p, o, paid, currency)};
        if (o.previous_tier != o.tier) {
            const Plan* plan = config.FindPlan(o.tier);
            mails.push_back(mail::UpgradeNotice(brand, email, p, o, plan ? plan->display_name : o.tier));
        }
        return mails;
    };
    auto outcome = store::Wait<store::CompletionOutcome>(
        [&](store::Callback<store::CompletionOutcome> done) { db_.CompletePayment(std::move(c), std::move(done)); });
    if (!outcome) return {Verdict::kRetry, outcome.error().message};
    if (!outcome->applied)
        return {Verdict::kIgnored, "payment " + payment.reference + " is " + payment.status + " already"};
    spdlog::info("payment {} completed: account {} on {} until {}", payment.reference, payment.account_id,
                 outcome->tier, FormatUtc(outcome->period_end));
    return {Verdict::kApplied, "completed " + payment.reference};
}

Billing::Applied Billing::Fail(const store::Payment& payment, const std::string& status, SysSeconds now) {
    auto ended = store::Wait<bool>(
        [&](store::Callback<bool> done) { db_.EndPayment(payment.id, status, now, std::nullopt, std::move(done)); });
    if (!ended) return {Verdict::kRetry, ended.error().message};
    return {*ended ? Verdict::kApplied : Verdict::kIgnored,
            payment.reference + (*ended ? " is " + status : " was not pending")};
}

Billing::Applied Billing::ApplyFlutterwave(const std::string& transaction_id, const std::string& tx_ref,
                                           SysSeconds now) {
    auto t = transaction_id.empty() ? FlutterwaveVerifyByReference(flutterwave_, tx_ref)
                                    : FlutterwaveVerify(flutterwave_, transaction_id);
    if (!t) {
        if (t.error().code == ErrorCode::kNotFound) return {Verdict::kIgnored, "Flutterwave knows no such transaction"};
        return {Verdict::kRetry, t.error().message};
    }
    // Which payment this is comes from the verified transaction, never from what the caller said.
    auto payment = db_.FindPaymentByReference(t->tx_ref);
    if (!payment) {
        if (payment.error().code == ErrorCode::kNotFound)
            return {Verdict::kIgnored, "transaction " + t->id + " is not one of ours"};
        return {Verdict::kRetry, payment.error().message};
    }
    if (payment->gateway != "flutterwave") return {Verdict::kIgnored, "reference belongs to another gateway"};
    if (t->status == "successful") {
        if (!Covers(t->amount, t->currency, *payment)) {
            SecurityEvent("payment_mismatch",
                          "flutterwave transaction " + t->id + " for " + payment->reference + " paid " +
                              std::to_string(t->amount) + " " + t->currency + ", owed " +
                              std::to_string(payment->amount) + " " + payment->currency,
                          now);
            return {Verdict::kIgnored, "amount or currency does not cover the payment"};
        }
        return Complete(*payment, t->id, t->amount, t->currency, now);
    }
    if (t->status == "failed" || t->status == "cancelled") return Fail(*payment, "failed", now);
    return {Verdict::kIgnored, "Flutterwave says " + t->status};  // pending: the reconciler asks again
}

Billing::Applied Billing::ApplyNowPayments(const std::string& payment_id, SysSeconds now) {
    auto np = NowPaymentsGetPayment(nowpayments_, payment_id);
    if (!np) {
        if (np.error().code == ErrorCode::kNotFound) return {Verdict::kIgnored, "NOWPayments knows no such payment"};
        return {Verdict::kRetry, np.error().message};
    }
    auto payment = db_.FindPaymentByReference(np->order_id);
    if (!payment) {
        if (payment.error().code == ErrorCode::kNotFound)
            return {Verdict::kIgnored, "payment " + payment_id + " is not one of ours"};
        return {Verdict::kRetry, payment.error().message};
    }
    if (payment->gateway != "nowpayments") return {Verdict::kIgnored, "reference belongs to another gateway"};
    const std::string& s = np->status;
    if (s == "finished") {
        if (!Covers(np->price_amount, np->price_currency, *payment)) {
            SecurityEvent("payment_mismatch",
                          "nowpayments payment " + payment_id + " for " + payment->reference + " priced " +
                              std::to_string(np->price_amount) + " " + np->price_currency,
                          now);
            return {Verdict::kIgnored, "amount or currency does not cover the payment"};
        }
        return Complete(*payment, np->payment_id, np->price_amount,
                        Lower(np->price_currency) == "usd" ? "USD" : np->price_currency, now);
    }
    if (s == "partially_paid") {
        auto account = db_.GetAccount(payment->account_id);
        if (!account) return {Verdict::kRetry, account.error().message};
        auto queued = store::Wait<bool>([&](store::Callback<bool> done) {
            db_.EnqueueMail(
                mail::PartialPaymentNotice(brand_, account->email, *payment, np->actually_paid, np->pay_currency), now,
                std::move(done));
        });
        if (!queued) return {Verdict::kRetry, queued.error().message};
        return {Verdict::kApplied, "partially paid: the customer was told"};
    }
    if (s == "failed") return Fail(*payment, "failed", now);
    if (s == "expired") return Fail(*payment, "expired", now);
    if (s == "refunded") {
        if (payment->status == "completed") {
            auto r = store::Wait<bool>(
                [&](store::Callback<bool> done) { db_.RecordRefund(payment->id, now, std::move(done)); });
            if (!r) return {Verdict::kRetry, r.error().message};
            return {Verdict::kApplied, "refund recorded; access stays"};
        }
        return Fail(*payment, "failed", now);
    }
    return {Verdict::kIgnored, "NOWPayments says " + s};  // waiting, confirming, confirmed, sending
}

Result<EventRun> Billing::ProcessEvents(SysSeconds now) {
    EventRun run;
    auto due = db_.DueGatewayEvents(now, 50);
    if (!due) return due.error();
    for (const auto& e : *due) {
        Applied a;
        auto body = ParseJson(e.body, 16);
        if (e.gateway == "flutterwave") {
            std::string id, ref;
            if (body && body->is_object() && body->get_object().contains("source")) {
                const auto& o = body->get_object();
                if (const auto* v = o.if_contains("transaction_id"); v && v->is_string())
                    id = std::string(v->get_string());
            } else if (auto hook = ParseFlutterwaveWebhook(e.body)) {
                id = hook->transaction_id;
                ref = hook->tx_ref;
            }
            a = ApplyFlutterwave(id, ref, now);
        } else if (e.gateway == "nowpayments") {
            auto ipn = ParseNowPaymentsIpn(e.body);
            a = ipn ? ApplyNowPayments(ipn->payment_id, now) : Applied{Verdict::kIgnored, "unreadable IPN"};
        } else {
            a = {Verdict::kIgnored, "unknown gateway"};
        }
        const int attempts = e.attempts + 1;
        std::string state = a.verdict == Verdict::kApplied ? "applied" : "ignored";
        std::optional<SysSeconds> next;
        if (a.verdict == Verdict::kRetry) {
            if (attempts >= 12) {
                state = "failed";
                spdlog::error("gateway event {} ({}) failed for good: {}", e.id, e.dedup_key, a.note);
            } else {
                state = "pending";
                next = now + std::chrono::seconds(std::min(3600, 5 << std::min(attempts - 1, 10)));
                ++run.retried;
                spdlog::warn("gateway event {} ({}): {}; again at {}", e.id, e.dedup_key, a.note, FormatUtc(*next));
            }
        } else if (a.verdict == Verdict::kApplied) {
            ++run.applied;
        } else {
            ++run.ignored;
        }
        auto done = store::Wait<void>([&](store::Callback<void> cb) {
            db_.FinishGatewayEvent(e.id, state, a.note, attempts, next, std::move(cb));
        });
        if (!done) return done.error();
    }
    return run;
}

Result<int> Billing::Reconcile(SysSeconds now) {
    int settled = 0;
    auto pending = db_.ListPendingPayments(now - std::chrono::hours(config_.payment_expiry_hours),
                                           now - std::chrono::minutes(2), 100);
    if (!pending) return pending.error();
    for (const auto& p : *pending) {
        Applied a;
        if (p.gateway == "flutterwave" && Enabled("flutterwave")) {
            a = ApplyFlutterwave("", p.reference, now);
        } else if (p.gateway == "nowpayments" && Enabled("nowpayments") && config_.nowpayments_mode == "payment" &&
                   !p.gateway_id.empty()) {
            a = ApplyNowPayments(p.gateway_id, now);  // an invoice's payments are known from its IPNs only
        }
        if (a.verdict == Verdict::kApplied) {
            ++settled;
            spdlog::info("reconciled {}: {}", p.reference, a.note);
        }
    }
    auto stale = db_.ListPendingPayments(SysSeconds{}, now - std::chrono::hours(config_.payment_expiry_hours), 100);
    if (!stale) return stale.error();
    for (const auto& p : *stale) {
        if (Fail(p, "expired", now).verdict == Verdict::kApplied)
            spdlog::info("payment {} expired unpaid", p.reference);
    }
    return settled;
}

Result<LifecycleRun> Billing::RunLifecycle(SysSeconds now) {
    LifecycleRun run;
    constexpr auto kGrace = std::chrono::days(3);
    // Only periods within the first reminder's reach matter now; the rest wait for a later run.
    auto subs = db_.ListSubscriptionsEndingBefore(now + std::chrono::days(7) + std::chrono::seconds(1));
    if (!subs) return subs.error();
    for (const auto& s : *subs) {
        if (now >= s.period_end + kGrace) {
            auto ended = store::Wait<bool>([&](store::Callback<bool> done) {
                db_.EndSubscription(s.account_id, s.period_end, now, mail::DowngradeNotice(brand_, s), std::move(done));
            });
            if (!ended) return ended.error();
            if (*ended) {
                ++run.downgraded;
                spdlog::info("account {}: {} plan ended {}; now free", s.account_id, s.tier, FormatUtc(s.period_end));
            }
            continue;
        }
        if (now >= s.period_end) {
            if (s.status == "active") {
                auto grace = store::Wait<bool>(
                    [&](store::Callback<bool> done) { db_.EnterGrace(s.account_id, s.period_end, std::move(done)); });
                if (!grace) return grace.error();
                run.grace += *grace ? 1 : 0;
            }
            continue;
        }
        // Reminders: 7 days before (unless already within the last day) and 1 day before, each once per period.
        int days = 0;
        if (now >= s.period_end - std::chrono::days(1)) {
            if (!s.reminded_1d_for || *s.reminded_1d_for != s.period_end) days = 1;
        } else if (now >= s.period_end - std::chrono::days(7)) {
            if (!s.reminded_7d_for || *s.reminded_7d_for != s.period_end) days = 7;
        }
        if (days == 0) continue;
        auto account = db_.GetAccount(s.account_id);
        if (!account) return account.error();
        std::string gateway = Enabled(s.gateway) ? s.gateway : (Enabled("flutterwave") ? "flutterwave" : "nowpayments");
        auto checkout = StartCheckout(*account, s.tier, gateway, "renewal", now);
        if (!checkout) {
            spdlog::warn("renewal reminder for account {} waits: {}", s.account_id, checkout.error().message);
            continue;  // no link to send yet: the next run tries again
        }
        auto marked = store::Wait<bool>([&](store::Callback<bool> done) {
            db_.MarkRenewalReminder(s.account_id, days, s.period_end,
                                    mail::RenewalReminder(brand_, s, days, checkout->payment_url,
                                                          checkout->payment.amount, checkout->payment.currency),
                                    std::move(done));
        });
        if (!marked) return marked.error();
        run.reminders += *marked ? 1 : 0;
    }
    return run;
}

}  // namespace gpuopt::billing
