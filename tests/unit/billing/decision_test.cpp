// The payment decision over every combination of our record's state, the gateway's answer, the amount
// and the currency: the gateway is the source of truth for money, only an explicit "not found" is final,
// and nothing settled is ever undone.
#include "billing/decision.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

namespace gpuopt::billing {
namespace {

using S = LocalPayment::State;
using G = GatewayState;
using A = Action;

constexpr std::array kLocalStates = {S::kPending, S::kCompleted,     S::kFailed,
                                     S::kExpired, S::kPaidUnapplied, S::kRefunded};
constexpr std::array kGatewayStates = {G::kPaid,    G::kPending,  G::kPartiallyPaid, G::kFailed,
                                       G::kExpired, G::kRefunded, G::kUnknown};

LocalPayment Local(S state) { return {state, "nowpayments", 49.0, "USD"}; }

GatewayAnswer Found(G state, double amount, const std::string& currency) {
    GatewayAnswer a;
    a.kind = GatewayAnswer::Kind::kFound;
    a.state = state;
    a.status = "status";
    a.gateway_id = "5077125051";
    a.reference = "gpo_ref";
    a.amount = amount;
    a.currency = currency;
    return a;
}

// One row: what happens for our state and the gateway's, when the money covers what is owed and when not.
struct Row {
    S local;
    G gateway;
    A when_covered;
    A when_short;
};

// Written out in full: every (local, gateway) pair appears once.
const std::vector<Row>& Table() {
    static const std::vector<Row> rows = {
        // pending: whatever the gateway says decides
        {S::kPending, G::kPaid, A::kComplete, A::kHoldUnapplied},
        {S::kPending, G::kPending, A::kIgnore, A::kIgnore},
        {S::kPending, G::kPartiallyPaid, A::kNotifyPartial, A::kNotifyPartial},
        {S::kPending, G::kFailed, A::kFail, A::kFail},
        {S::kPending, G::kExpired, A::kExpire, A::kExpire},
        {S::kPending, G::kRefunded, A::kFail, A::kFail},
        {S::kPending, G::kUnknown, A::kIgnore, A::kIgnore},
        // completed: applied once; only a refund is recorded
        {S::kCompleted, G::kPaid, A::kIgnore, A::kIgnore},
        {S::kCompleted, G::kPending, A::kIgnore, A::kIgnore},
        {S::kCompleted, G::kPartiallyPaid, A::kIgnore, A::kIgnore},
        {S::kCompleted, G::kFailed, A::kIgnore, A::kIgnore},
        {S::kCompleted, G::kExpired, A::kIgnore, A::kIgnore},
        {S::kCompleted, G::kRefunded, A::kRefund, A::kRefund},
        {S::kCompleted, G::kUnknown, A::kIgnore, A::kIgnore},
        // failed locally: money the gateway confirms still buys the plan
        {S::kFailed, G::kPaid, A::kComplete, A::kHoldUnapplied},
        {S::kFailed, G::kPending, A::kIgnore, A::kIgnore},
        {S::kFailed, G::kPartiallyPaid, A::kIgnore, A::kIgnore},
        {S::kFailed, G::kFailed, A::kIgnore, A::kIgnore},
        {S::kFailed, G::kExpired, A::kIgnore, A::kIgnore},
        {S::kFailed, G::kRefunded, A::kIgnore, A::kIgnore},
        {S::kFailed, G::kUnknown, A::kIgnore, A::kIgnore},
        // expired locally (a renewal paid late, a superseded checkout): the same
        {S::kExpired, G::kPaid, A::kComplete, A::kHoldUnapplied},
        {S::kExpired, G::kPending, A::kIgnore, A::kIgnore},
        {S::kExpired, G::kPartiallyPaid, A::kIgnore, A::kIgnore},
        {S::kExpired, G::kFailed, A::kIgnore, A::kIgnore},
        {S::kExpired, G::kExpired, A::kIgnore, A::kIgnore},
        {S::kExpired, G::kRefunded, A::kIgnore, A::kIgnore},
        {S::kExpired, G::kUnknown, A::kIgnore, A::kIgnore},
        // held for the operator: settled by a person, or given back
        {S::kPaidUnapplied, G::kPaid, A::kIgnore, A::kIgnore},
        {S::kPaidUnapplied, G::kPending, A::kIgnore, A::kIgnore},
        {S::kPaidUnapplied, G::kPartiallyPaid, A::kIgnore, A::kIgnore},
        {S::kPaidUnapplied, G::kFailed, A::kIgnore, A::kIgnore},
        {S::kPaidUnapplied, G::kExpired, A::kIgnore, A::kIgnore},
        {S::kPaidUnapplied, G::kRefunded, A::kRefund, A::kRefund},
        {S::kPaidUnapplied, G::kUnknown, A::kIgnore, A::kIgnore},
        // refunded: over
        {S::kRefunded, G::kPaid, A::kIgnore, A::kIgnore},
        {S::kRefunded, G::kPending, A::kIgnore, A::kIgnore},
        {S::kRefunded, G::kPartiallyPaid, A::kIgnore, A::kIgnore},
        {S::kRefunded, G::kFailed, A::kIgnore, A::kIgnore},
        {S::kRefunded, G::kExpired, A::kIgnore, A::kIgnore},
        {S::kRefunded, G::kRefunded, A::kIgnore, A::kIgnore},
        {S::kRefunded, G::kUnknown, A::kIgnore, A::kIgnore},
    };
    return rows;
}

TEST(PaymentDecision, TheTableCoversEveryPairOnce) {
    EXPECT_EQ(Table().size(), kLocalStates.size() * kGatewayStates.size());
    for (S local : kLocalStates) {
        for (G gateway : kGatewayStates) {
            int found = 0;
            for (const auto& row : Table()) found += row.local == local && row.gateway == gateway;
            EXPECT_EQ(found, 1) << static_cast<int>(local) << " " << static_cast<int>(gateway);
        }
    }
}

TEST(PaymentDecision, EveryStateGatewayAmountAndCurrency) {
    struct Money {
        double amount;
        std::string currency;
        bool covers;
    };
    const std::vector<Money> monies = {
        {49.0, "USD", true},   {49.0, "usd", true},   {49.5, "USD", true},  {49.004, "USD", true},
        {48.99, "USD", false}, {0.0, "USD", false},   {49.0, "NGN", false}, {49.0, "", false},
        {1e6, "EUR", false},   {48.996, "USD", true},  // rounds to the cent owed
    };
    int checked = 0;
    for (const auto& row : Table()) {
        for (const auto& m : monies) {
            const Decision d = Decide(Local(row.local), "nowpayments", Found(row.gateway, m.amount, m.currency));
            const A want = m.covers ? row.when_covered : row.when_short;
            EXPECT_EQ(d.action, want) << "local " << static_cast<int>(row.local) << ", gateway "
                                      << static_cast<int>(row.gateway) << ", " << m.amount << " " << m.currency
                                      << ": got " << ActionName(d.action) << " (" << d.reason << ")";
            EXPECT_FALSE(d.reason.empty());
            ++checked;
        }
    }
    EXPECT_EQ(checked, 42 * 10);
}

TEST(PaymentDecision, OnlyAnExplicitNotFoundIsFinalAndEveryOtherFailureRetries) {
    for (S local : kLocalStates) {
        const auto transient = GatewayAnswer::Transient("HTTP 429", std::chrono::seconds(30));
        const Decision retry = Decide(Local(local), "nowpayments", transient);
        EXPECT_EQ(retry.action, A::kRetry);
        const Decision gone = Decide(Local(local), "nowpayments", GatewayAnswer::NotFound("Payment not found"));
        EXPECT_EQ(gone.action, A::kIgnore);
    }
    EXPECT_EQ(Decide(LocalPayment{}, "flutterwave", GatewayAnswer::Transient("no answer")).action, A::kRetry);
}

TEST(PaymentDecision, MoneyForAReferenceWeCannotMatchGoesToTheOperator) {
    for (G gateway : kGatewayStates) {
        for (const LocalPayment& local : {LocalPayment{}, LocalPayment{S::kPending, "flutterwave", 49.0, "USD"}}) {
            // No record, or a record of the other gateway: never applied.
            const Decision d = Decide(local, "nowpayments", Found(gateway, 49.0, "USD"));
            EXPECT_EQ(d.action, gateway == G::kPaid ? A::kReportUnmatched : A::kIgnore) << static_cast<int>(gateway);
        }
    }
}

TEST(PaymentDecision, GatewayStatusesInOurWords) {
    EXPECT_EQ(FlutterwaveState("successful"), G::kPaid);
    EXPECT_EQ(FlutterwaveState("pending"), G::kPending);
    EXPECT_EQ(FlutterwaveState("failed"), G::kFailed);
    EXPECT_EQ(FlutterwaveState("cancelled"), G::kFailed);
    EXPECT_EQ(FlutterwaveState("SUCCESSFUL"), G::kUnknown);
    EXPECT_EQ(NowPaymentsState("finished"), G::kPaid);
    for (const char* s : {"waiting", "confirming", "confirmed", "sending"}) EXPECT_EQ(NowPaymentsState(s), G::kPending);
    EXPECT_EQ(NowPaymentsState("partially_paid"), G::kPartiallyPaid);
    EXPECT_EQ(NowPaymentsState("failed"), G::kFailed);
    EXPECT_EQ(NowPaymentsState("expired"), G::kExpired);
    EXPECT_EQ(NowPaymentsState("refunded"), G::kRefunded);
    EXPECT_EQ(NowPaymentsState("cancelled"), G::kUnknown);
    EXPECT_EQ(LocalStateOf(store::PaymentStatus::kPending), S::kPending);
    EXPECT_EQ(LocalStateOf(store::PaymentStatus::kCompleted), S::kCompleted);
    EXPECT_EQ(LocalStateOf(store::PaymentStatus::kFailed), S::kFailed);
    EXPECT_EQ(LocalStateOf(store::PaymentStatus::kExpired), S::kExpired);
    EXPECT_EQ(LocalStateOf(store::PaymentStatus::kPaidUnapplied), S::kPaidUnapplied);
    EXPECT_EQ(LocalStateOf(store::PaymentStatus::kRefunded), S::kRefunded);
}

}  // namespace
}  // namespace gpuopt::billing
