// The revenue side (SPEC §3, §7): checkout with Flutterwave or NOWPayments, gateway events recorded raw
// and applied exactly once, reconciliation of payments whose news never came, and the subscription
// lifecycle (renewal reminders 7 days and 1 day before the end, 3 days of grace, then the free plan).
//
// Exactly once: webhooks only record an event (deduplicated by the gateway's id and status) and answer;
// a worker applies events, always asking the gateway's API first (Flutterwave verify, NOWPayments GET
// payment). What to do is decided by billing/decision.hpp from our record and the gateway's answer; the
// store then writes it in one transaction guarded by the state it expects. Whatever arrives twice, late,
// or at once changes nothing more. The gateway is the source of truth for money: a payment it confirms
// completes even after our record expired, and one that cannot be applied is held for the operator.
// Thread-safe (the store is; the rest is read-only after construction).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "billing/decision.hpp"
#include "billing/flutterwave.hpp"
#include "billing/nowpayments.hpp"
#include "common/config.hpp"
#include "mail/templates.hpp"
#include "store/database.hpp"

namespace gpuopt::billing {

struct GatewayInfo {
    std::string name;
    std::string display_name;
    bool enabled = false;
    std::vector<std::string> currencies;  // what the customer is charged in
    std::string method;                   // "card", "crypto"
};

struct CheckoutResult {
    store::Payment payment;
    std::string payment_url;
    std::string pay_address;  // NOWPayments payment mode
    std::string pay_amount;
    std::string pay_currency;
};

struct EventRun {
    int applied = 0;
    int ignored = 0;
    int retried = 0;
};

struct LifecycleRun {
    int reminders = 0;
    int grace = 0;
    int downgraded = 0;
};

// What an operator's verification of one payment came to.
struct VerifyOutcome {
    std::string verdict;  // "applied" (the answer changed the payment), "unchanged", or "retry" (no answer)
    std::string note;     // the gateway's answer or the reason, in words
};

class Billing {
public:
    Billing(const Config& config, store::Database& db);

    std::vector<GatewayInfo> Gateways() const;
    bool Enabled(const std::string& gateway) const;

    // A pending payment with a new reference, then the gateway's checkout. kValidation for a tier or
    // gateway that cannot be bought; kPaymentFailed when the gateway refuses or cannot be reached (then no
    // payment is left behind: nobody was shown a link to pay). A renewal names the period it extends and
    // stays payable until that period's grace ends; other checkouts for PAYMENT_EXPIRY_HOURS.
    Result<CheckoutResult> StartCheckout(const store::Account& account, Tier tier, const std::string& gateway,
                                         const std::string& purpose, SysSeconds now,
                                         std::optional<SysSeconds> renews_period_end = std::nullopt);

    // Webhook intake: checks the signature and turns the body into an event to record. kForbidden when
    // the signature is missing or wrong; kValidation when the body is not one the gateway sends.
    Result<store::GatewayEvent> FlutterwaveWebhookEvent(std::string_view verif_hash, std::string_view body,
                                                        SysSeconds now) const;
    Result<store::GatewayEvent> NowPaymentsIpnEvent(std::string_view signature, std::string_view body,
                                                    SysSeconds now) const;
    // The customer's browser back from Flutterwave: never trusted, it only asks for a verification of our
    // reference `tx_ref`. kNotFound when tx_ref is not a Flutterwave payment of ours (nothing is recorded
    // or verified); nullopt when that payment is settled already (nothing to verify). Events for one
    // reference within a minute share a dedup key: merged while waiting, and once looked at, due again 10 s
    // after a repeat, so a flood costs at most one verification per 10 s and a real return is never lost.
    Result<std::optional<store::GatewayEvent>> FlutterwaveReturnEvent(const std::string& tx_ref, SysSeconds now) const;

    // The worker: applies due events (confirming each with the gateway), retrying what the gateway
    // could not answer with backoff.
    Result<EventRun> ProcessEvents(SysSeconds now);
    // Pending payments older than 2 minutes: asks the gateway by reference. Payments whose checkout is
    // due to expire are asked about once more and expire unless the gateway has their money.
    Result<int> Reconcile(SysSeconds now);
    Result<LifecycleRun> RunLifecycle(SysSeconds now);
    // An operator's "verify with the gateway now" for one payment: asks the gateway about it and applies
    // the answer as the worker would. Answers what came of it.
    Result<VerifyOutcome> VerifyNow(const store::Payment& payment, SysSeconds now);

    // Price of a tier per month, in the billing currency.
    double PriceOf(Tier tier) const;

private:
    enum class Verdict { kApplied, kIgnored, kRetry };
    struct Applied {
        Verdict verdict = Verdict::kIgnored;
        std::string note;
        std::optional<std::chrono::seconds> retry_after;
    };
    // Asks the gateway about a payment of ours (by reference, or by the gateway's payment id).
    GatewayAnswer AskAbout(const store::Payment& payment, NowPaymentsPayment* np);
    // Decides with the answer and writes the decision. `np`: NOWPayments' payment, for partial payments.
    Applied Apply(const GatewayAnswer& answer, std::string_view gateway, const NowPaymentsPayment* np, SysSeconds now);
    Applied Complete(const store::Payment& payment, const GatewayAnswer& answer, SysSeconds now);
    // `why` says why it cannot buy the plan; empty: the figures do not match.
    Applied HoldUnapplied(const store::Payment& payment, const GatewayAnswer& answer, SysSeconds now,
                          std::string_view why = {});
    Applied ReportUnmatched(std::string_view gateway, const GatewayAnswer& answer, SysSeconds now);
    Applied End(const store::Payment& payment, store::PaymentEnd end, SysSeconds now);
    void OperatorAlert(store::OperatorEvent event);
    void SecurityEvent(const std::string& kind, const std::string& detail, SysSeconds now);

    const Config& config_;
    store::Database& db_;
    FlutterwaveConfig flutterwave_;
    NowPaymentsConfig nowpayments_;
    mail::Brand brand_;
};

// A new payment reference: "gpo_" + 20 random base62 characters.
std::string NewReference();

}  // namespace gpuopt::billing
