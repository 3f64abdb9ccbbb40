// The revenue side (SPEC §3, §7): checkout with Flutterwave or NOWPayments, gateway events recorded raw
// and applied exactly once, reconciliation of payments whose news never came, and the subscription
// lifecycle (renewal reminders 7 days and 1 day before the end, 3 days of grace, then the free plan).
//
// Exactly once: webhooks only record an event (deduplicated by the gateway's id and status) and answer;
// a worker applies events, always confirming with the gateway's API first (Flutterwave verify,
// NOWPayments GET payment) and checking our reference, the currency and that the amount covers the
// price; the store then completes the payment only from pending, in the same transaction as the tier,
// the subscription, the ledger and the mails. Whatever arrives twice, late, or at once changes nothing
// more. Thread-safe (the store is; the rest is read-only after construction).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "billing/flutterwave.hpp"
#include "billing/nowpayments.hpp"
#include "common/config.hpp"
#include "mail/templates.hpp"
#include "store/store.hpp"

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

class Billing {
public:
    Billing(const Config& config, store::Store& db);

    std::vector<GatewayInfo> Gateways() const;
    bool Enabled(const std::string& gateway) const;

    // A pending payment with a new reference, then the gateway's checkout. kValidation for a tier or
    // gateway that cannot be bought; kPaymentFailed when the gateway refuses or cannot be reached (the
    // payment stays pending: if the customer paid after all, reconciliation finds it).
    Result<CheckoutResult> StartCheckout(const store::Account& account, const std::string& tier,
                                         const std::string& gateway, const std::string& purpose, SysSeconds now);

    // Webhook intake: checks the signature and turns the body into an event to record. kForbidden when
    // the signature is missing or wrong; kValidation when the body is not one the gateway sends.
    Result<store::GatewayEvent> FlutterwaveWebhookEvent(std::string_view verif_hash, std::string_view body,
                                                        SysSeconds now) const;
    Result<store::GatewayEvent> NowPaymentsIpnEvent(std::string_view signature, std::string_view body,
                                                    SysSeconds now) const;
    // The customer's browser back from Flutterwave: never trusted, it only asks for a verification.
    Result<store::GatewayEvent> FlutterwaveReturnEvent(const std::string& transaction_id, const std::string& tx_ref,
                                                       SysSeconds now) const;

    // The worker: applies due events (confirming each with the gateway), retrying what the gateway
    // could not answer with backoff.
    Result<EventRun> ProcessEvents(SysSeconds now);
    // Pending payments older than 2 minutes: asks the gateway by reference; expires them after
    // PAYMENT_EXPIRY_HOURS.
    Result<int> Reconcile(SysSeconds now);
    Result<LifecycleRun> RunLifecycle(SysSeconds now);

    // Price of a tier per month, in the billing currency.
    double PriceOf(const std::string& tier) const;

private:
    enum class Verdict { kApplied, kIgnored, kRetry };
    struct Applied {
        Verdict verdict = Verdict::kIgnored;
        std::string note;
    };
    Applied ApplyFlutterwave(const std::string& transaction_id, const std::string& tx_ref, SysSeconds now);
    Applied ApplyNowPayments(const std::string& payment_id, SysSeconds now);
    Applied Complete(const store::Payment& payment, const std::string& gateway_id, double paid,
                     const std::string& currency, SysSeconds now);
    Applied Fail(const store::Payment& payment, const std::string& status, SysSeconds now);
    void SecurityEvent(const std::string& kind, const std::string& detail, SysSeconds now);

    const Config& config_;
    store::Store& db_;
    FlutterwaveConfig flutterwave_;
    NowPaymentsConfig nowpayments_;
    mail::Brand brand_;
};

// A new payment reference: "gpo_" + 20 random base62 characters.
std::string NewReference();

}  // namespace gpuopt::billing
