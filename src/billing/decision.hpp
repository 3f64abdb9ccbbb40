// What to do with a payment once the gateway has spoken: a pure function of our local record and the
// gateway's verified answer. Billing asks the gateway, calls Decide, then writes what it says.
//
// The gateway is the source of truth for money. A full, verified payment completes whatever our local
// state says (pending, expired, failed, or superseded by a newer checkout); one that cannot be applied
// (too little, another currency, another gateway's reference) is held as paid_unapplied for the
// operator, never dropped. Only an explicit "no such transaction" from the gateway is final; a
// timeout, a 429 or an unreadable answer is retried.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "store/billing.hpp"

namespace gpuopt::billing {

// A gateway's status in our words.
enum class GatewayState {
    kPaid,           // Flutterwave "successful", NOWPayments "finished"
    kPending,        // Flutterwave "pending"; NOWPayments waiting, confirming, confirmed, sending
    kPartiallyPaid,  // NOWPayments partially_paid
    kFailed,         // Flutterwave failed or cancelled; NOWPayments failed
    kExpired,        // NOWPayments expired
    kRefunded,       // NOWPayments refunded
    kUnknown,        // anything else: logged, never acted on
};

GatewayState FlutterwaveState(std::string_view status);
GatewayState NowPaymentsState(std::string_view status);

// The answer of the gateway's API about one payment (Flutterwave verify, NOWPayments GET payment).
struct GatewayAnswer {
    enum class Kind {
        kFound,      // the gateway answered with the transaction
        kNotFound,   // the gateway said explicitly that it knows no such transaction: final
        kTransient,  // no answer, 408/425/429/5xx, refused key, unreadable body: ask again later
    };
    Kind kind = Kind::kTransient;
    GatewayState state = GatewayState::kUnknown;
    std::string status;      // as the gateway wrote it
    std::string gateway_id;  // its id of the transaction or payment
    std::string reference;   // our reference, as the gateway holds it
    double amount = 0;
    std::string currency;
    std::optional<std::chrono::seconds> retry_after;  // from a Retry-After header
    std::string why;                                  // for kNotFound and kTransient: what was said

    static GatewayAnswer NotFound(std::string why);
    static GatewayAnswer Transient(std::string why, std::optional<std::chrono::seconds> retry_after = std::nullopt);
};

// Our record of the payment the gateway's answer names.
struct LocalPayment {
    enum class State { kMissing, kPending, kCompleted, kFailed, kExpired, kPaidUnapplied, kRefunded };
    State state = State::kMissing;
    std::string gateway;   // "flutterwave", "nowpayments"
    double amount = 0;     // what is owed
    std::string currency;  // upper case
};

// Our record of a payment, as the decision sees it.
LocalPayment::State LocalStateOf(store::PaymentStatus status);

enum class Action {
    kComplete,         // grant the plan and extend the subscription
    kHoldUnapplied,    // paid, but not what is owed: keep as paid_unapplied and tell the operator
    kReportUnmatched,  // paid at the gateway for a reference we cannot match: tell the operator
    kFail,             // pending -> failed
    kExpire,           // pending -> expired
    kRefund,           // record the refund (access stays for the period paid)
    kNotifyPartial,    // tell the customer their payment was short
    kIgnore,           // nothing to do (already applied, still pending at the gateway, not ours)
    kRetry,            // the gateway could not answer: ask again later
};

struct Decision {
    Action action = Action::kIgnore;
    std::string reason;  // for the event's result and the log
};

// `gateway` is the gateway that answered. Total over every combination of its inputs.
Decision Decide(const LocalPayment& local, std::string_view gateway, const GatewayAnswer& answer);

// Whether `paid` in `currency` covers `owed` in `owed_currency`: same currency (any case) and an amount
// at least the price, to the cent.
bool Covers(double paid, std::string_view currency, double owed, std::string_view owed_currency);

std::string_view ActionName(Action action);

}  // namespace gpuopt::billing
