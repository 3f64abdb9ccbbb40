// Money (SPEC §7): payments and their checkouts, the gateways' deliveries (the inbox), subscriptions and
// the revenue ledger. A confirmed payment is applied in one transaction across payment, account,
// subscription, ledger and mails.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "common/tier.hpp"
#include "common/time.hpp"
#include "store/callback.hpp"
#include "store/operator_events.hpp"
#include "store/outbox.hpp"

namespace gpuopt::store {

// A payment moves pending -> completed | failed | expired | paid_unapplied. The gateway is the source of
// truth for money: expired and failed still complete when it confirms the payment (decision 0010), and
// paid_unapplied (money that cannot buy the plan) may become refunded. Nothing returns to pending.
enum class PaymentStatus { kPending, kCompleted, kFailed, kExpired, kPaidUnapplied, kRefunded };

// The name a status is stored and shown under: "pending", "completed", "failed", "expired",
// "paid_unapplied", "refunded".
constexpr std::string_view NameOf(PaymentStatus s) {
    switch (s) {
        case PaymentStatus::kPending:
            return "pending";
        case PaymentStatus::kCompleted:
            return "completed";
        case PaymentStatus::kFailed:
            return "failed";
        case PaymentStatus::kExpired:
            return "expired";
        case PaymentStatus::kPaidUnapplied:
            return "paid_unapplied";
        case PaymentStatus::kRefunded:
            return "refunded";
    }
    return "pending";
}

// The status a stored name stands for; nullopt for any other text (the tables' CHECKs admit none).
constexpr std::optional<PaymentStatus> PaymentStatusNamed(std::string_view name) {
    for (auto s : {PaymentStatus::kPending, PaymentStatus::kCompleted, PaymentStatus::kFailed, PaymentStatus::kExpired,
                   PaymentStatus::kPaidUnapplied, PaymentStatus::kRefunded}) {
        if (NameOf(s) == name) return s;
    }
    return std::nullopt;
}

// The two ways a pending payment ends without money, as EndPayment takes them.
enum class PaymentEnd { kFailed, kExpired };
constexpr PaymentStatus StatusOf(PaymentEnd end) {
    return end == PaymentEnd::kFailed ? PaymentStatus::kFailed : PaymentStatus::kExpired;
}

// A subscription is active until its period ends, then in grace for a few days, then ended (SPEC §7).
enum class SubscriptionStatus { kActive, kGrace, kEnded };

// "active", "grace", "ended".
constexpr std::string_view NameOf(SubscriptionStatus s) {
    switch (s) {
        case SubscriptionStatus::kActive:
            return "active";
        case SubscriptionStatus::kGrace:
            return "grace";
        case SubscriptionStatus::kEnded:
            return "ended";
    }
    return "ended";
}

constexpr std::optional<SubscriptionStatus> SubscriptionStatusNamed(std::string_view name) {
    for (auto s : {SubscriptionStatus::kActive, SubscriptionStatus::kGrace, SubscriptionStatus::kEnded}) {
        if (NameOf(s) == name) return s;
    }
    return std::nullopt;
}

struct Payment {
    int64_t id = 0;
    int64_t account_id = 0;
    std::string reference;  // ours: tx_ref (Flutterwave), order_id (NowPayments)
    std::string gateway;    // "flutterwave", "nowpayments"
    Tier tier = Tier::kFree;
    double amount = 0;     // expected
    std::string currency;  // expected, upper case ("USD")
    std::string purpose;   // "upgrade", "renewal", "signup"
    PaymentStatus status = PaymentStatus::kPending;
    std::string gateway_id;  // the gateway's id for it (transaction, invoice or payment id)
    std::string checkout_url;
    std::optional<double> paid_amount;  // as the gateway confirmed it
    std::string paid_currency;
    SysSeconds created_at;
    SysSeconds updated_at;
    std::optional<SysSeconds> completed_at;
    std::optional<SysSeconds> expires_at;         // an unpaid checkout is not offered after this
    std::optional<SysSeconds> renews_period_end;  // a renewal: the period it extends
    std::string gateway_payment_id;               // NOWPayments: the payment made for an invoice
    std::string note;                             // why it is paid_unapplied, and the like
};

struct NewPayment {
    int64_t account_id = 0;
    std::string reference;
    std::string gateway;
    Tier tier = Tier::kFree;
    double amount = 0;
    std::string currency;
    std::string purpose;
    SysSeconds now;
    SysSeconds expires_at;
    std::optional<SysSeconds> renews_period_end;
};

// What a confirmed payment does, all in one transaction: the payment completes (only if pending),
// the account moves to the tier, the subscription starts or extends by a month, the ledger records
// the payment and the upgrade or renewal, and the mails are enqueued.
struct CompletionOutcome;
struct Completion {
    int64_t payment_id = 0;
    std::string gateway_id;
    double paid_amount = 0;
    std::string paid_currency;
    SysSeconds now;
    // Builds the mails (receipt, upgrade) from what the transaction found; runs inside it, so keep it quick.
    std::function<std::vector<OutboxMessage>(const Payment&, const CompletionOutcome&, const std::string& email)> mails;
};

struct CompletionOutcome {
    bool applied = false;  // false: the payment was settled already (completed, unapplied or refunded)
    Tier previous_tier = Tier::kFree;
    Tier tier = Tier::kFree;
    SysSeconds period_start;
    SysSeconds period_end;
    bool renewal = false;  // extended a running subscription of the same tier
};

struct Subscription {
    int64_t account_id = 0;
    std::string email;
    Tier tier = Tier::kFree;
    SubscriptionStatus status = SubscriptionStatus::kActive;
    SysSeconds period_start;
    SysSeconds period_end;
    std::string gateway;                        // of the last payment
    std::optional<SysSeconds> reminded_7d_for;  // the period_end a reminder was sent for
    std::optional<SysSeconds> reminded_1d_for;
};

// A gateway event is pending until billing has acted on it: applied (it changed a payment), ignored
// (nothing to do) or failed (given up after its attempts). A repeat delivery may make it pending again.
enum class GatewayEventState { kPending, kApplied, kIgnored, kFailed };

// "pending", "applied", "ignored", "failed".
constexpr std::string_view NameOf(GatewayEventState s) {
    switch (s) {
        case GatewayEventState::kPending:
            return "pending";
        case GatewayEventState::kApplied:
            return "applied";
        case GatewayEventState::kIgnored:
            return "ignored";
        case GatewayEventState::kFailed:
            return "failed";
    }
    return "pending";
}

constexpr std::optional<GatewayEventState> GatewayEventStateNamed(std::string_view name) {
    for (auto s : {GatewayEventState::kPending, GatewayEventState::kApplied, GatewayEventState::kIgnored,
                   GatewayEventState::kFailed}) {
        if (NameOf(s) == name) return s;
    }
    return std::nullopt;
}

// A delivery from a gateway, recorded raw before anything is done with it (the inbox).
struct GatewayEvent {
    int64_t id = 0;
    std::string gateway;
    std::string dedup_key;  // "<gateway id>:<status>": a repeat is recorded once
    std::string reference;  // our reference when the payload names it
    std::string body;
    SysSeconds received_at;
    GatewayEventState state = GatewayEventState::kPending;
    int attempts = 0;
    std::optional<SysSeconds> next_attempt;
    std::string result;
    // When set, recording it again after it was processed makes it due again this long after received_at
    // (a customer back from paying after an earlier look found nothing); while pending, a repeat is merged.
    std::optional<std::chrono::seconds> rearm_after;
};

struct RevenueEvent {
    int64_t id = 0;
    int64_t account_id = 0;
    std::string kind;  // signup, payment, upgrade, renewal, downgrade, refund
    Tier tier = Tier::kFree;
    double amount = 0;
    std::string currency;
    std::optional<int64_t> payment_id;
    SysSeconds at;
    std::string detail;
};

class BillingRepository {
public:
    virtual ~BillingRepository() = default;

    // ---- Payments ----
    virtual void CreatePayment(NewPayment payment, Callback<Payment> done) = 0;
    // Records the gateway's id and checkout link of a pending payment.
    virtual void SetPaymentCheckout(int64_t payment_id, std::string gateway_id, std::string checkout_url,
                                    Callback<void> done) = 0;
    virtual Result<Payment> FindPaymentByReference(const std::string& reference) = 0;
    virtual Result<std::vector<Payment>> ListPayments(int64_t account_id, size_t limit) = 0;
    // Pending payments created in [from, to), oldest first (the reconciler's work).
    virtual Result<std::vector<Payment>> ListPendingPayments(SysSeconds from, SysSeconds to, size_t limit) = 0;
    // Pending payments whose checkout is no longer offered (expires_at reached), oldest first.
    virtual Result<std::vector<Payment>> ListExpiringPayments(SysSeconds now, size_t limit) = 0;
    // The pending renewal checkout of an account's period ending at `period_end`, if one was started.
    virtual Result<std::optional<Payment>> FindRenewalPayment(int64_t account_id, SysSeconds period_end) = 0;
    // Removes a pending payment whose checkout never started (no gateway id, no link): a checkout the
    // gateway refused leaves nothing behind. Answers whether it was removed.
    virtual void DiscardPayment(int64_t payment_id, Callback<bool> done) = 0;
    // NOWPayments names the payment made for one of our invoices: kept so the reconciler can ask about it.
    virtual void SetGatewayPaymentId(int64_t payment_id, std::string gateway_payment_id, Callback<void> done) = 0;
    // The gateway confirmed the payment: it completes from pending, expired or failed (the gateway is the
    // source of truth for money), once. A subscription of the same tier that has not ended extends from
    // the later of now and its period end; otherwise a period starts now.
    virtual void CompletePayment(Completion completion, Callback<CompletionOutcome> done) = 0;
    // pending -> failed or expired; anything else is left alone (answers false).
    virtual void EndPayment(int64_t payment_id, PaymentEnd end, SysSeconds now, Callback<bool> done) = 0;
    // The gateway took money that cannot buy the plan (too little, another currency): pending, expired or
    // failed -> paid_unapplied with `note`, the operator event and its mail, in one transaction. False when
    // the payment was settled already.
    virtual void HoldUnappliedPayment(int64_t payment_id, std::string gateway_id, double paid_amount,
                                      std::string paid_currency, std::string note, OperatorEvent event,
                                      std::optional<OutboxMessage> mail, SysSeconds now, Callback<bool> done) = 0;
    // A refund: after completion it is recorded in the ledger (once per payment) and access is not taken
    // back; a paid_unapplied payment becomes refunded.
    virtual void RecordRefund(int64_t payment_id, SysSeconds now, Callback<bool> done) = 0;

    // Inbox. Answers whether the event is new, or was re-armed (false: the same event was recorded before
    // and is still pending, or cannot be re-armed).
    virtual void RecordGatewayEvent(GatewayEvent event, Callback<bool> done) = 0;
    virtual Result<std::vector<GatewayEvent>> DueGatewayEvents(SysSeconds now, size_t limit) = 0;
    virtual void FinishGatewayEvent(int64_t id, GatewayEventState state, std::string result, int attempts,
                                    std::optional<SysSeconds> next_attempt, Callback<void> done) = 0;

    // Subscriptions not yet ended whose period ends before `before` (the lifecycle job's look-ahead),
    // soonest first.
    virtual Result<std::vector<Subscription>> ListSubscriptionsEndingBefore(SysSeconds before) = 0;
    virtual Result<std::optional<Subscription>> GetSubscription(int64_t account_id) = 0;
    // Marks the 7-day (days = 7) or 1-day reminder for the subscription's current period as sent and
    // enqueues `mail`, once: false when it was sent already (whatever ran first).
    virtual void MarkRenewalReminder(int64_t account_id, int days, SysSeconds period_end, OutboxMessage mail,
                                     Callback<bool> done) = 0;
    virtual void EnterGrace(int64_t account_id, SysSeconds period_end, Callback<bool> done) = 0;
    // Ends the subscription of that period (when still active or in grace), moves the account to free,
    // records the downgrade and enqueues `mail`. False when it had ended, or a payment extended it.
    virtual void EndSubscription(int64_t account_id, SysSeconds period_end, SysSeconds now, OutboxMessage mail,
                                 Callback<bool> done) = 0;
    virtual Result<std::vector<RevenueEvent>> ListRevenueEvents(int64_t account_id, size_t limit) = 0;
};

}  // namespace gpuopt::store
