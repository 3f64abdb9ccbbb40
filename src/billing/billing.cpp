#include "billing/billing.hpp"

#include <spdlog/spdlog.h>

#include <boost/json/object.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "billing/ipn_signature.hpp"
#include "common/crypto.hpp"
#include "common/json.hpp"
#include "mail/templates.hpp"
#include "store/wait.hpp"

namespace gpuopt::billing {

namespace {

constexpr auto kGrace = std::chrono::days(3);
constexpr auto kEventRetryFor = std::chrono::hours(24 * 7);
constexpr int kEventAttemptsBeforeAlert = 12;

std::string Lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

std::string NewReference() {
    std::string key = GenerateApiKey();  // "gopt_" + 23 base62: reuse the uniform generator
    return "gpo_" + key.substr(kApiKeyPrefix.size(), 20);
}

Billing::Billing(const Config& config, store::Database& db) : config_(config), db_(db) {
    const BillingSettings& g = config.billing;
    flutterwave_.secret_key = g.flutterwave_secret_key;
    flutterwave_.secret_hash = g.flutterwave_secret_hash;
    if (!g.flutterwave_base_url.empty()) flutterwave_.base_url = g.flutterwave_base_url;
    nowpayments_.api_key = g.nowpayments_api_key;
    nowpayments_.ipn_secret = g.nowpayments_ipn_secret;
    if (g.nowpayments_sandbox) nowpayments_.base_url = "https://api-sandbox.nowpayments.io";
    if (!g.nowpayments_base_url.empty()) nowpayments_.base_url = g.nowpayments_base_url;
    nowpayments_.mode = g.nowpayments_mode;
    nowpayments_.pay_currency = g.nowpayments_pay_currency;
    flutterwave_.timeout = nowpayments_.timeout = std::chrono::seconds(g.gateway_timeout_seconds);
    brand_.base_url = config.base_url;
}

bool Billing::Enabled(const std::string& gateway) const {
    if (gateway == "flutterwave") return !flutterwave_.secret_key.empty() && !flutterwave_.secret_hash.empty();
    if (gateway == "nowpayments") return !nowpayments_.api_key.empty() && !nowpayments_.ipn_secret.empty();
    return false;
}

std::vector<GatewayInfo> Billing::Gateways() const {
    return {
        {"flutterwave",
         "Card or mobile money (Flutterwave)",
         Enabled("flutterwave"),
         {config_.billing.payment_currency},
         "card"},
        {"nowpayments", "Crypto (NOWPayments)", Enabled("nowpayments"), {config_.billing.payment_currency}, "crypto"}};
}

double Billing::PriceOf(Tier tier) const {
    const Plan* plan = config_.FindPlan(tier);
    return plan == nullptr ? 0 : plan->price_usd;
}

Result<CheckoutResult> Billing::StartCheckout(const store::Account& account, Tier tier, const std::string& gateway,
                                              const std::string& purpose, SysSeconds now,
                                              std::optional<SysSeconds> renews_period_end) {
    const Plan* plan = config_.FindPlan(tier);
    if (plan == nullptr || plan->price_usd <= 0) {
        return Error::Validation("tier", "must be a paid plan: professional or enterprise");
    }
    if (gateway != "flutterwave" && gateway != "nowpayments") {
        return Error::Validation("payment_method", "must be flutterwave or nowpayments");
    }
    if (!Enabled(gateway)) return Error::Validation("payment_method", gateway + " is not configured on this server");
    const SysSeconds expires_at = renews_period_end ? *renews_period_end + kGrace
                                                    : now + std::chrono::hours(config_.billing.payment_expiry_hours);
    auto payment = store::Wait<store::Payment>([&](store::Callback<store::Payment> done) {
        db_.billing().CreatePayment({account.id, NewReference(), gateway, tier, plan->price_usd,
                                     config_.billing.payment_currency, purpose, now, expires_at, renews_period_end},
                                    std::move(done));
    });
    if (!payment) return payment.error();
    CheckoutResult out;
    std::string gateway_id;
    std::optional<Error> refused;
    if (gateway == "flutterwave") {
        FlutterwaveCheckout k;
        k.reference = payment->reference;
        k.amount = payment->amount;
        k.currency = payment->currency;
        k.redirect_url = config_.base_url + "/payment/flutterwave/callback";
        k.email = account.email;
        k.title = "GPUOptimizer";
        k.description = plan->display_name + " plan, one month";
        k.meta = {{"account_id", std::to_string(account.id)}, {"tier", std::string(NameOf(tier))}};
        auto link = FlutterwaveCreateCheckout(flutterwave_, k);
        if (link) {
            out.payment_url = *link;
        } else {
            refused = link.error();
        }
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
        if (created) {
            gateway_id = created->id;
            out.payment_url = created->checkout_url;
            out.pay_address = created->pay_address;
            out.pay_amount = created->pay_amount;
            out.pay_currency = created->pay_currency;
        } else {
            refused = created.error();
        }
    }
    if (refused) {
        // Nobody was shown a way to pay this reference: it leaves nothing behind.
        spdlog::warn("checkout {} not started: {}", payment->reference, refused->message);
        auto discarded = store::Wait<bool>(
            [&](store::Callback<bool> done) { db_.billing().DiscardPayment(payment->id, std::move(done)); });
        if (!discarded)
            spdlog::error("checkout {}: could not discard it: {}", payment->reference, discarded.error().message);
        return Error{
            ErrorCode::kPaymentFailed, "The payment gateway could not start the checkout; please try again", {}};
    }
    auto saved = store::Wait<void>([&](store::Callback<void> done) {
        db_.billing().SetPaymentCheckout(payment->id, gateway_id, out.payment_url, std::move(done));
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

Result<std::optional<store::GatewayEvent>> Billing::FlutterwaveReturnEvent(const std::string& tx_ref,
                                                                           SysSeconds now) const {
    if (tx_ref.empty() || tx_ref.size() > 64) return Error{ErrorCode::kNotFound, "no such payment", {}};
    auto payment = db_.billing().FindPaymentByReference(tx_ref);
    if (!payment) return payment.error();
    if (payment->gateway != "flutterwave") return Error{ErrorCode::kNotFound, "no such payment", {}};
    using store::PaymentStatus;
    if (payment->status == PaymentStatus::kCompleted || payment->status == PaymentStatus::kPaidUnapplied ||
        payment->status == PaymentStatus::kRefunded) {
        return std::optional<store::GatewayEvent>{};
    }
    boost::json::object body{{"source", "return"}, {"tx_ref", tx_ref}};
    store::GatewayEvent e;
    e.gateway = "flutterwave";
    // One event per reference and minute, however often the page is loaded: while it waits it merges the
    // repeats; once looked at, a repeat makes it look again 10 s later (the customer may have paid since).
    e.dedup_key = "return:" + tx_ref + ":" + std::to_string(now.time_since_epoch().count() / 60);
    e.rearm_after = std::chrono::seconds(10);
    e.reference = tx_ref;
    e.body = ToJson(body);
    e.received_at = now;
    return std::optional<store::GatewayEvent>(std::move(e));
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
    (void)store::Wait<void>([&](store::Callback<void> done) {
        db_.security().RecordSecurityEvent(kind, "gateway", detail, now, std::move(done));
    });
}

void Billing::OperatorAlert(store::OperatorEvent event) {
    spdlog::error("operator: {}: {}", event.kind, event.detail);
    std::optional<store::OutboxMessage> mail;
    if (!config_.billing.operator_email.empty())
        mail = mail::OperatorNotice(brand_, config_.billing.operator_email, event);
    auto recorded = store::Wait<bool>([&](store::Callback<bool> done) {
        db_.operator_events().RecordOperatorEvent(std::move(event), std::move(mail), std::move(done));
    });
    if (!recorded) spdlog::error("operator event not recorded: {}", recorded.error().message);
}

Billing::Applied Billing::Complete(const store::Payment& payment, const GatewayAnswer& answer, SysSeconds now) {
    const mail::Brand brand = brand_;
    const Config& config = config_;
    const double paid = answer.amount;
    const std::string currency = Lower(answer.currency) == Lower(payment.currency) ? payment.currency : answer.currency;
    store::Completion c;
    c.payment_id = payment.id;
    c.gateway_id = answer.gateway_id;
    c.paid_amount = paid;
    c.paid_currency = currency;
    c.now = now;
    c.mails = [brand, &config, paid, currency](const store::Payment& p, const store::CompletionOutcome& o,
                                               const std::string& email) {
        std::vector<store::OutboxMessage> mails{mail::Receipt(brand, email, p, o, paid, currency)};
        if (o.previous_tier != o.tier) {
            const Plan* plan = config.FindPlan(o.tier);
            mails.push_back(
                mail::UpgradeNotice(brand, email, p, o, plan ? plan->display_name : std::string(NameOf(o.tier))));
        }
        return mails;
    };
    auto outcome = store::Wait<store::CompletionOutcome>([&](store::Callback<store::CompletionOutcome> done) {
        db_.billing().CompletePayment(std::move(c), std::move(done));
    });
    if (!outcome) return {Verdict::kRetry, outcome.error().message, std::nullopt};
    if (!outcome->applied)
        return {Verdict::kIgnored, "payment " + payment.reference + " was settled already", std::nullopt};
    spdlog::info("payment {} completed{}: account {} on {} until {}", payment.reference,
                 payment.status == store::PaymentStatus::kPending
                     ? ""
                     : " (was " + std::string(store::NameOf(payment.status)) + ")",
                 payment.account_id, NameOf(outcome->tier), FormatUtc(outcome->period_end));
    return {Verdict::kApplied, "completed " + payment.reference, std::nullopt};
}

Billing::Applied Billing::HoldUnapplied(const store::Payment& payment, const GatewayAnswer& answer, SysSeconds now,
                                        std::string_view why) {
    char figures[160];
    std::snprintf(figures, sizeof figures, "%.2f %s paid for %.2f %s owed", answer.amount, answer.currency.c_str(),
                  payment.amount, payment.currency.c_str());
    std::string note = std::string(figures) + " (" + payment.gateway + " " + answer.gateway_id + ")";
    if (why.empty()) {
        SecurityEvent("payment_mismatch",
                      payment.gateway + " " + answer.gateway_id + " for " + payment.reference + ": " + note, now);
    } else {
        note = std::string(why) + "; " + note + ": refund it";
    }
    store::OperatorEvent e;
    e.kind = "payment_unapplied";
    e.dedup_key = "unapplied:" + payment.reference;
    e.account_id = payment.account_id;
    e.payment_id = payment.id;
    e.detail = "Payment " + payment.reference + " for the " + std::string(NameOf(payment.tier)) +
               " plan was taken by " + payment.gateway + " but cannot buy the plan: " + note +
               ". The customer's plan did not change.";
    e.at = now;
    spdlog::error("operator: {}: {}", e.kind, e.detail);
    std::optional<store::OutboxMessage> mail;
    if (!config_.billing.operator_email.empty()) mail = mail::OperatorNotice(brand_, config_.billing.operator_email, e);
    auto held = store::Wait<bool>([&](store::Callback<bool> done) {
        db_.billing().HoldUnappliedPayment(payment.id, answer.gateway_id, answer.amount, answer.currency, note,
                                           std::move(e), std::move(mail), now, std::move(done));
    });
    if (!held) return {Verdict::kRetry, held.error().message, std::nullopt};
    return {*held ? Verdict::kApplied : Verdict::kIgnored, "held as paid_unapplied: " + note, std::nullopt};
}

Billing::Applied Billing::ReportUnmatched(std::string_view gateway, const GatewayAnswer& answer, SysSeconds now) {
    store::OperatorEvent e;
    e.kind = "payment_unmatched";
    e.dedup_key = "unmatched:" + std::string(gateway) + ":" + answer.gateway_id;
    char figures[96];
    std::snprintf(figures, sizeof figures, "%.2f %s", answer.amount, answer.currency.c_str());
    e.detail = std::string(gateway) + " reports " + answer.gateway_id + " paid (" + figures + ") for reference '" +
               answer.reference.substr(0, 64) + "', which is not a payment of ours for that gateway.";
    e.at = now;
    OperatorAlert(std::move(e));
    return {Verdict::kIgnored, "paid, but not ours: reported to the operator", std::nullopt};
}

Billing::Applied Billing::End(const store::Payment& payment, store::PaymentEnd end, SysSeconds now) {
    auto ended = store::Wait<bool>(
        [&](store::Callback<bool> done) { db_.billing().EndPayment(payment.id, end, now, std::move(done)); });
    if (!ended) return {Verdict::kRetry, ended.error().message, std::nullopt};
    return {
        *ended ? Verdict::kApplied : Verdict::kIgnored,
        payment.reference + (*ended ? " is " + std::string(store::NameOf(store::StatusOf(end))) : " was not pending"),
        std::nullopt};
}

Billing::Applied Billing::Apply(const GatewayAnswer& answer, std::string_view gateway, const NowPaymentsPayment* np,
                                SysSeconds now) {
    // Which payment this is comes from the gateway's answer, never from what the caller said.
    LocalPayment local;
    std::optional<store::Payment> payment;
    if (answer.kind == GatewayAnswer::Kind::kFound && !answer.reference.empty()) {
        auto found = db_.billing().FindPaymentByReference(answer.reference);
        if (found) {
            payment = std::move(*found);
            local.state = LocalStateOf(payment->status);
            local.gateway = payment->gateway;
            local.amount = payment->amount;
            local.currency = payment->currency;
        } else if (found.error().code != ErrorCode::kNotFound) {
            return {Verdict::kRetry, found.error().message, std::nullopt};
        }
    }
    const Decision d = Decide(local, gateway, answer);
    if (payment && np != nullptr && !np->payment_id.empty() && payment->gateway_payment_id.empty()) {
        auto saved = store::Wait<void>([&](store::Callback<void> done) {
            db_.billing().SetGatewayPaymentId(payment->id, np->payment_id, std::move(done));
        });
        if (!saved) spdlog::warn("payment {}: {}", payment->reference, saved.error().message);
    }
    switch (d.action) {
        case Action::kRetry:
            return {Verdict::kRetry, d.reason, answer.retry_after};
        case Action::kIgnore:
            return {Verdict::kIgnored, d.reason, std::nullopt};
        case Action::kReportUnmatched:
            return ReportUnmatched(gateway, answer, now);
        case Action::kComplete: {
            // The customer deleted the account since: the money cannot buy a plan for nobody.
            auto account = db_.accounts().GetAccount(payment->account_id);
            if (!account && account.error().code == ErrorCode::kNotFound) {
                return HoldUnapplied(*payment, answer, now, "the account was deleted");
            }
            if (!account) return {Verdict::kRetry, account.error().message, std::nullopt};
            return Complete(*payment, answer, now);
        }
        case Action::kHoldUnapplied:
            return HoldUnapplied(*payment, answer, now);
        case Action::kFail:
            return End(*payment, store::PaymentEnd::kFailed, now);
        case Action::kExpire:
            return End(*payment, store::PaymentEnd::kExpired, now);
        case Action::kRefund: {
            auto r = store::Wait<bool>(
                [&](store::Callback<bool> done) { db_.billing().RecordRefund(payment->id, now, std::move(done)); });
            if (!r) return {Verdict::kRetry, r.error().message, std::nullopt};
            return {*r ? Verdict::kApplied : Verdict::kIgnored, "refund recorded; access stays", std::nullopt};
        }
        case Action::kNotifyPartial: {
            if (np == nullptr) return {Verdict::kIgnored, d.reason, std::nullopt};
            auto account = db_.accounts().GetAccount(payment->account_id);
            if (!account) return {Verdict::kRetry, account.error().message, std::nullopt};
            auto queued = store::Wait<bool>([&](store::Callback<bool> done) {
                db_.outbox().EnqueueMail(
                    mail::PartialPaymentNotice(brand_, account->email, *payment, np->actually_paid, np->pay_currency),
                    now, std::move(done));
            });
            if (!queued) return {Verdict::kRetry, queued.error().message, std::nullopt};
            return {Verdict::kApplied, "partially paid: the customer was told", std::nullopt};
        }
    }
    return {Verdict::kIgnored, d.reason, std::nullopt};
}

GatewayAnswer Billing::AskAbout(const store::Payment& p, NowPaymentsPayment* np) {
    if (p.gateway == "flutterwave") {
        if (!Enabled("flutterwave")) return GatewayAnswer::Transient("Flutterwave is not configured");
        return FlutterwaveVerifyByReference(flutterwave_, p.reference);
    }
    if (!Enabled("nowpayments")) return GatewayAnswer::Transient("NOWPayments is not configured");
    // An invoice's payment is known once an IPN named it; in payment mode the checkout's id is the payment.
    const std::string id = !p.gateway_payment_id.empty()                   ? p.gateway_payment_id
                           : config_.billing.nowpayments_mode == "payment" ? p.gateway_id
                                                                           : std::string();
    if (id.empty()) return GatewayAnswer::NotFound("NOWPayments has not named a payment for this invoice");
    auto lookup = NowPaymentsGetPayment(nowpayments_, id);
    if (np != nullptr) *np = lookup.payment;
    return lookup.answer;
}

Result<EventRun> Billing::ProcessEvents(SysSeconds now) {
    EventRun run;
    auto due = db_.billing().DueGatewayEvents(now, 50);
    if (!due) return due.error();
    for (const auto& e : *due) {
        Applied a;
        if (e.gateway == "flutterwave") {
            auto body = ParseJson(e.body, 16);
            if (body && body->is_object() && body->get_object().contains("source")) {
                a = Apply(FlutterwaveVerifyByReference(flutterwave_, e.reference), "flutterwave", nullptr, now);
            } else if (auto hook = ParseFlutterwaveWebhook(e.body)) {
                a = Apply(hook->transaction_id.empty() ? FlutterwaveVerifyByReference(flutterwave_, hook->tx_ref)
                                                       : FlutterwaveVerify(flutterwave_, hook->transaction_id),
                          "flutterwave", nullptr, now);
            } else {
                a = {Verdict::kIgnored, "unreadable webhook", std::nullopt};
            }
        } else if (e.gateway == "nowpayments") {
            if (auto ipn = ParseNowPaymentsIpn(e.body)) {
                auto lookup = NowPaymentsGetPayment(nowpayments_, ipn->payment_id);
                a = Apply(lookup.answer, "nowpayments", &lookup.payment, now);
            } else {
                a = {Verdict::kIgnored, "unreadable IPN", std::nullopt};
            }
        } else {
            a = {Verdict::kIgnored, "unknown gateway", std::nullopt};
        }
        const int attempts = e.attempts + 1;
        auto state =
            a.verdict == Verdict::kApplied ? store::GatewayEventState::kApplied : store::GatewayEventState::kIgnored;
        std::optional<SysSeconds> next;
        if (a.verdict == Verdict::kRetry) {
            // A gateway that cannot answer is asked again, with backoff (and its Retry-After), for a week:
            // the event may carry money. The operator hears of it after a dozen tries and at the end.
            if (now - e.received_at >= kEventRetryFor) {
                state = store::GatewayEventState::kFailed;
                OperatorAlert({0, "gateway_event_failed", "event-failed:" + std::to_string(e.id), std::nullopt,
                               std::nullopt,
                               e.gateway + " event " + e.dedup_key + " could not be checked with the gateway for " +
                                   std::to_string(kEventRetryFor.count() / 24) + " days: " + a.note,
                               now});
            } else {
                state = store::GatewayEventState::kPending;
                auto wait = std::chrono::seconds(std::min(3600, 5 << std::min(attempts - 1, 10)));
                if (a.retry_after && *a.retry_after > wait) wait = *a.retry_after;
                next = now + wait;
                ++run.retried;
                spdlog::warn("gateway event {} ({}): {}; again at {}", e.id, e.dedup_key, a.note, FormatUtc(*next));
                if (attempts == kEventAttemptsBeforeAlert) {
                    OperatorAlert({0, "gateway_event_stuck", "event-stuck:" + std::to_string(e.id), std::nullopt,
                                   std::nullopt,
                                   e.gateway + " event " + e.dedup_key + " has failed " + std::to_string(attempts) +
                                       " times (" + a.note + "); it is retried hourly",
                                   now});
                }
            }
        } else if (a.verdict == Verdict::kApplied) {
            ++run.applied;
        } else {
            ++run.ignored;
        }
        auto done = store::Wait<void>([&](store::Callback<void> cb) {
            db_.billing().FinishGatewayEvent(e.id, state, a.note, attempts, next, std::move(cb));
        });
        if (!done) return done.error();
    }
    return run;
}

Result<int> Billing::Reconcile(SysSeconds now) {
    int settled = 0;
    // Recent checkouts whose news has not come: asked about by reference.
    auto pending = db_.billing().ListPendingPayments(now - std::chrono::hours(config_.billing.payment_expiry_hours),
                                                     now - std::chrono::minutes(2), 100);
    if (!pending) return pending.error();
    for (const auto& p : *pending) {
        NowPaymentsPayment np;
        const GatewayAnswer answer = AskAbout(p, &np);
        if (answer.kind == GatewayAnswer::Kind::kNotFound) continue;  // not paid yet
        if (Apply(answer, p.gateway, &np, now).verdict == Verdict::kApplied) {
            ++settled;
            spdlog::info("reconciled {}", p.reference);
        }
    }
    // Checkouts no longer offered: asked once more, then expired unless the gateway has their money.
    auto expiring = db_.billing().ListExpiringPayments(now, 100);
    if (!expiring) return expiring.error();
    auto legacy = db_.billing().ListPendingPayments(
        SysSeconds{}, now - std::chrono::hours(config_.billing.payment_expiry_hours), 100);
    if (!legacy) return legacy.error();
    for (auto& p : *legacy) {
        if (!p.expires_at) expiring->push_back(std::move(p));  // made before payments had an expiry
    }
    for (const auto& p : *expiring) {
        NowPaymentsPayment np;
        const GatewayAnswer answer = AskAbout(p, &np);
        if (answer.kind == GatewayAnswer::Kind::kTransient) {
            spdlog::warn("payment {} is due to expire, but {}; asking again next run", p.reference, answer.why);
            continue;
        }
        if (answer.kind == GatewayAnswer::Kind::kFound) {
            const Applied a = Apply(answer, p.gateway, &np, now);
            if (a.verdict == Verdict::kApplied) {
                ++settled;
                continue;
            }
        }
        if (End(p, store::PaymentEnd::kExpired, now).verdict == Verdict::kApplied)
            spdlog::info("payment {} expired unpaid", p.reference);
    }
    return settled;
}

Result<VerifyOutcome> Billing::VerifyNow(const store::Payment& payment, SysSeconds now) {
    NowPaymentsPayment np;
    const GatewayAnswer answer = AskAbout(payment, &np);
    if (answer.kind == GatewayAnswer::Kind::kNotFound) {
        return VerifyOutcome{"unchanged", answer.why.empty() ? "the gateway has no payment for it yet" : answer.why};
    }
    const Applied applied = Apply(answer, payment.gateway, &np, now);
    switch (applied.verdict) {
        case Verdict::kApplied:
            return VerifyOutcome{"applied", applied.note};
        case Verdict::kIgnored:
            return VerifyOutcome{"unchanged", applied.note};
        case Verdict::kRetry:
            return VerifyOutcome{"retry", applied.note};
    }
    return VerifyOutcome{"unchanged", applied.note};
}

Result<LifecycleRun> Billing::RunLifecycle(SysSeconds now) {
    LifecycleRun run;
    // Only periods within the first reminder's reach matter now; the rest wait for a later run.
    auto subs = db_.billing().ListSubscriptionsEndingBefore(now + std::chrono::days(7) + std::chrono::seconds(1));
    if (!subs) return subs.error();
    for (const auto& s : *subs) {
        if (now >= s.period_end + kGrace) {
            auto ended = store::Wait<bool>([&](store::Callback<bool> done) {
                db_.billing().EndSubscription(s.account_id, s.period_end, now, mail::DowngradeNotice(brand_, s),
                                              std::move(done));
            });
            if (!ended) return ended.error();
            if (*ended) {
                ++run.downgraded;
                spdlog::info("account {}: {} plan ended {}; now free", s.account_id, NameOf(s.tier),
                             FormatUtc(s.period_end));
            }
            continue;
        }
        if (now >= s.period_end) {
            if (s.status == store::SubscriptionStatus::kActive) {
                auto grace = store::Wait<bool>([&](store::Callback<bool> done) {
                    db_.billing().EnterGrace(s.account_id, s.period_end, std::move(done));
                });
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
        // One renewal checkout per period, shared by both reminders and payable until the grace ends.
        auto existing = db_.billing().FindRenewalPayment(s.account_id, s.period_end);
        if (!existing) return existing.error();
        std::string url;
        double amount = 0;
        std::string currency;
        if (*existing) {
            url = (*existing)->checkout_url;
            amount = (*existing)->amount;
            currency = (*existing)->currency;
        } else {
            auto account = db_.accounts().GetAccount(s.account_id);
            if (!account) return account.error();
            const std::string gateway =
                Enabled(s.gateway) ? s.gateway : (Enabled("flutterwave") ? "flutterwave" : "nowpayments");
            auto checkout = StartCheckout(*account, s.tier, gateway, "renewal", now, s.period_end);
            if (!checkout) {
                spdlog::warn("renewal reminder for account {} waits: {}", s.account_id, checkout.error().message);
                continue;  // no link to send yet: the next run tries again
            }
            url = checkout->payment_url;
            amount = checkout->payment.amount;
            currency = checkout->payment.currency;
        }
        auto marked = store::Wait<bool>([&](store::Callback<bool> done) {
            db_.billing().MarkRenewalReminder(s.account_id, days, s.period_end,
                                              mail::RenewalReminder(brand_, s, days, url, amount, currency),
                                              std::move(done));
        });
        if (!marked) return marked.error();
        run.reminders += *marked ? 1 : 0;
    }
    return run;
}

}  // namespace gpuopt::billing
