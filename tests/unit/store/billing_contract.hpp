// The billing side of the store contract: payments, the gateways' inbox and subscriptions, over the same
// fixture as store_contract.hpp, so that every backend runs it (sqlite_billing_contract_test.cpp,
// pg_billing_contract_test.cpp).
//
// This header defines tests: include it from exactly one .cpp file per test binary.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "unit/store/store_fixture.hpp"

namespace gpuopt::store::contract {

template <class Backend>
class BillingContract : public StoreContract<Backend> {};

TYPED_TEST_SUITE_P(BillingContract);

// ---------------------------------------------------------------------------------------------------
// Payments

TYPED_TEST_P(BillingContract, PaymentsAreCreatedPendingFoundByReferenceAndListed) {
    auto a = this->Create("a@example.com", "h");
    ASSERT_TRUE(a.ok());
    auto p1 = this->Pay(a->id, "ref-1", kNow - hours(2));
    ASSERT_TRUE(p1.ok());
    EXPECT_GT(p1->id, 0);
    EXPECT_EQ(p1->status, PaymentStatus::kPending);
    auto p2 = this->Pay(a->id, "ref-2", kNow - hours(1));
    ASSERT_TRUE(p2.ok());
    EXPECT_NE(p2->id, p1->id);

    const Payment found = this->PaymentOf("ref-1");
    EXPECT_EQ(found.id, p1->id);
    EXPECT_EQ(found.account_id, a->id);
    EXPECT_EQ(found.reference, "ref-1");
    EXPECT_EQ(found.gateway, "flutterwave");
    EXPECT_EQ(found.tier, Tier::kProfessional);
    EXPECT_DOUBLE_EQ(found.amount, 49);
    EXPECT_EQ(found.currency, "USD");
    EXPECT_EQ(found.purpose, "upgrade");
    EXPECT_EQ(found.status, PaymentStatus::kPending);
    EXPECT_EQ(found.gateway_id, "");
    EXPECT_EQ(found.checkout_url, "");
    EXPECT_FALSE(found.paid_amount.has_value());
    EXPECT_EQ(found.created_at, kNow - hours(2));
    EXPECT_EQ(found.updated_at, kNow - hours(2));
    EXPECT_FALSE(found.completed_at.has_value());
    EXPECT_EQ(found.expires_at, kNow - hours(1));
    EXPECT_FALSE(found.renews_period_end.has_value());
    EXPECT_EQ(this->db().billing().FindPaymentByReference("ref-9").error().code, ErrorCode::kNotFound);

    ASSERT_TRUE(Wait<void>([&](Callback<void> done) {
                    this->db().billing().SetPaymentCheckout(p2->id, "flw-2", "https://checkout.example/ref-2",
                                                            std::move(done));
                }).ok());
    ASSERT_TRUE(Wait<void>([&](Callback<void> done) {
                    this->db().billing().SetGatewayPaymentId(p2->id, "5077125051", std::move(done));
                }).ok());
    const Payment started = this->PaymentOf("ref-2");
    EXPECT_EQ(started.gateway_id, "flw-2");
    EXPECT_EQ(started.checkout_url, "https://checkout.example/ref-2");
    EXPECT_EQ(started.gateway_payment_id, "5077125051");
    EXPECT_EQ(started.status, PaymentStatus::kPending);

    auto listed = this->db().billing().ListPayments(a->id, 10);
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), 2u);
    EXPECT_EQ((*listed)[0].reference, "ref-2");  // newest first
    EXPECT_EQ((*listed)[1].reference, "ref-1");
    EXPECT_EQ(this->db().billing().ListPayments(a->id, 1).value().size(), 1u);
    // Pending payments created in [from, to), oldest first.
    auto pending = this->db().billing().ListPendingPayments(kNow - hours(3), kNow, 10).value();
    ASSERT_EQ(pending.size(), 2u);
    EXPECT_EQ(pending[0].reference, "ref-1");
    EXPECT_EQ(pending[1].reference, "ref-2");
    auto early = this->db().billing().ListPendingPayments(kNow - hours(3), kNow - hours(1), 10).value();
    ASSERT_EQ(early.size(), 1u);
    EXPECT_EQ(early[0].reference, "ref-1");
    // Checkouts no longer offered: ref-1's hour is over, ref-2's is not.
    auto expiring = this->db().billing().ListExpiringPayments(kNow - minutes(30), 10).value();
    ASSERT_EQ(expiring.size(), 1u);
    EXPECT_EQ(expiring[0].reference, "ref-1");
    EXPECT_EQ(this->db().billing().ListExpiringPayments(kNow, 10).value().size(), 2u);
}

TYPED_TEST_P(BillingContract, OnlyACheckoutNeverStartedIsDiscarded) {
    auto a = this->Create("a@example.com", "h");
    ASSERT_TRUE(a.ok());
    auto refused = this->Pay(a->id, "ref-refused");
    auto started = this->Pay(a->id, "ref-started");
    ASSERT_TRUE(refused.ok() && started.ok());
    ASSERT_TRUE(Wait<void>([&](Callback<void> done) {
                    this->db().billing().SetPaymentCheckout(started->id, "flw-1", "https://checkout.example/1",
                                                            std::move(done));
                }).ok());
    auto discard = [&](int64_t id) {
        return Wait<bool>([&](Callback<bool> done) { this->db().billing().DiscardPayment(id, std::move(done)); });
    };
    auto gone = discard(refused->id);
    ASSERT_TRUE(gone.ok());
    EXPECT_TRUE(*gone);
    EXPECT_EQ(this->db().billing().FindPaymentByReference("ref-refused").error().code, ErrorCode::kNotFound);
    auto twice = discard(refused->id);
    ASSERT_TRUE(twice.ok());
    EXPECT_FALSE(*twice);
    auto kept = discard(started->id);
    ASSERT_TRUE(kept.ok());
    EXPECT_FALSE(*kept) << "a customer may have been shown this checkout";
    EXPECT_EQ(this->PaymentOf("ref-started").status, PaymentStatus::kPending);
    auto listed = this->db().billing().ListPayments(a->id, 10).value();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].reference, "ref-started");
}

TYPED_TEST_P(BillingContract, CompletingAPaymentAppliesItOnce) {
    auto a = this->Create("a@example.com", "h");
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(this->db().accounts().FindAccountByKeyHash("h")->tier, Tier::kFree);  // now cached
    auto p = this->Pay(a->id, "ref-1");
    ASSERT_TRUE(p.ok());
    const SysSeconds paid_at = kNow + minutes(5);
    auto outcome = this->Complete(p->id, paid_at, 49);
    ASSERT_TRUE(outcome.ok());
    EXPECT_TRUE(outcome->applied);
    EXPECT_EQ(outcome->previous_tier, Tier::kFree);
    EXPECT_EQ(outcome->tier, Tier::kProfessional);
    EXPECT_FALSE(outcome->renewal);
    EXPECT_EQ(FormatUtc(outcome->period_start), "2026-11-25T12:05:00Z");
    EXPECT_EQ(FormatUtc(outcome->period_end), "2026-12-25T12:05:00Z");
    // The mails were built inside the transaction, from the completed payment and the account's email.
    ASSERT_EQ(this->builds_.size(), 1u);
    EXPECT_EQ(this->builds_[0].status, PaymentStatus::kCompleted);
    EXPECT_EQ(this->builds_[0].previous_tier, Tier::kFree);
    EXPECT_EQ(this->builds_[0].tier, Tier::kProfessional);
    EXPECT_EQ(this->builds_[0].email, "a@example.com");

    const Payment completed = this->PaymentOf("ref-1");
    EXPECT_EQ(completed.status, PaymentStatus::kCompleted);
    EXPECT_EQ(completed.gateway_id, "flw-" + std::to_string(p->id));
    ASSERT_TRUE(completed.paid_amount.has_value());
    EXPECT_DOUBLE_EQ(*completed.paid_amount, 49);
    EXPECT_EQ(completed.paid_currency, "USD");
    EXPECT_EQ(completed.completed_at, paid_at);
    EXPECT_EQ(this->db().accounts().GetAccount(a->id)->tier, Tier::kProfessional);
    EXPECT_EQ(this->db().accounts().FindAccountByKeyHash("h")->tier, Tier::kProfessional) << "the cache follows";
    auto sub = this->SubscriptionOf(a->id);
    ASSERT_TRUE(sub.has_value());
    EXPECT_EQ(sub->account_id, a->id);
    EXPECT_EQ(sub->email, "a@example.com");
    EXPECT_EQ(sub->tier, Tier::kProfessional);
    EXPECT_EQ(sub->status, SubscriptionStatus::kActive);
    EXPECT_EQ(sub->period_start, outcome->period_start);
    EXPECT_EQ(sub->period_end, outcome->period_end);
    EXPECT_EQ(sub->gateway, "flutterwave");
    EXPECT_FALSE(sub->reminded_7d_for.has_value());
    EXPECT_FALSE(sub->reminded_1d_for.has_value());
    auto ledger = this->Ledger(a->id);
    ASSERT_EQ(ledger.size(), 3u);
    EXPECT_EQ(ledger[0].kind, "signup");
    EXPECT_EQ(ledger[1].kind, "payment");
    EXPECT_EQ(ledger[1].tier, Tier::kProfessional);
    EXPECT_DOUBLE_EQ(ledger[1].amount, 49);
    EXPECT_EQ(ledger[1].currency, "USD");
    EXPECT_EQ(ledger[1].payment_id, p->id);
    EXPECT_EQ(ledger[1].at, paid_at);
    EXPECT_EQ(ledger[2].kind, "upgrade");
    EXPECT_EQ(ledger[2].tier, Tier::kProfessional);
    EXPECT_EQ(ledger[2].payment_id, p->id);
    EXPECT_EQ(ledger[2].detail, "free -> professional");
    EXPECT_EQ(this->MailKeys(), (std::vector<std::string>{"receipt:ref-1", "upgrade:ref-1"}));
    auto receipt = this->db().outbox().DueMail(paid_at, 10).value();
    ASSERT_EQ(receipt.size(), 2u);
    EXPECT_EQ(receipt[0].message.to, "a@example.com");
    EXPECT_EQ(receipt[0].message.account_id, a->id);
    EXPECT_EQ(receipt[0].message.kind, "receipt");

    // The same news again (a duplicate, a retry, the reconciler): settled already, nothing more written.
    auto again = this->Complete(p->id, paid_at + hours(1), 49);
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->applied);
    EXPECT_EQ(this->builds_.size(), 1u) << "no mail is built for a payment settled already";
    EXPECT_EQ(this->Ledger(a->id).size(), 3u);
    EXPECT_EQ(this->MailKeys().size(), 2u);
    EXPECT_EQ(this->SubscriptionOf(a->id)->period_end, outcome->period_end);
    EXPECT_EQ(this->PaymentOf("ref-1").completed_at, paid_at);
}

TYPED_TEST_P(BillingContract, ARenewalExtendsFromThePeriodEnd) {
    auto a = this->Create("a@example.com", "h");
    ASSERT_TRUE(a.ok());
    auto first = this->Pay(a->id, "ref-1");
    ASSERT_TRUE(first.ok());
    auto started = this->Complete(first->id, kNow);
    ASSERT_TRUE(started.ok() && started->applied);
    const SysSeconds period_end = started->period_end;
    EXPECT_EQ(FormatUtc(period_end), "2026-12-25T12:00:00Z");

    // The renewal checkout, started a week before the period ends; found only once it has a link.
    const SysSeconds week_before = period_end - days(7);
    auto renewal = this->Pay(a->id, "ref-renew", week_before, period_end);
    ASSERT_TRUE(renewal.ok());
    EXPECT_EQ(renewal->purpose, "renewal");
    EXPECT_EQ(renewal->renews_period_end, period_end);
    EXPECT_FALSE(this->db().billing().FindRenewalPayment(a->id, period_end).value().has_value());
    ASSERT_TRUE(Wait<void>([&](Callback<void> done) {
                    this->db().billing().SetPaymentCheckout(renewal->id, "flw-r", "https://checkout.example/r",
                                                            std::move(done));
                }).ok());
    auto offered = this->db().billing().FindRenewalPayment(a->id, period_end).value();
    ASSERT_TRUE(offered.has_value());
    EXPECT_EQ(offered->reference, "ref-renew");
    EXPECT_FALSE(this->db().billing().FindRenewalPayment(a->id, period_end + days(1)).value().has_value());

    // Paid early: the new month follows on from the period end, not from the day it was paid.
    auto renewed = this->Complete(renewal->id, week_before + hours(2));
    ASSERT_TRUE(renewed.ok());
    EXPECT_TRUE(renewed->applied);
    EXPECT_TRUE(renewed->renewal);
    EXPECT_EQ(renewed->previous_tier, Tier::kProfessional);
    EXPECT_EQ(renewed->tier, Tier::kProfessional);
    EXPECT_EQ(renewed->period_start, period_end);
    EXPECT_EQ(FormatUtc(renewed->period_end), "2027-01-25T12:00:00Z");
    auto sub = this->SubscriptionOf(a->id);
    ASSERT_TRUE(sub.has_value());
    EXPECT_EQ(sub->status, SubscriptionStatus::kActive);
    EXPECT_EQ(sub->period_start, period_end);
    EXPECT_EQ(sub->period_end, renewed->period_end);
    EXPECT_EQ(this->LedgerKinds(a->id),
              (std::vector<std::string>{"signup", "payment", "upgrade", "payment", "renewal"}));
    EXPECT_EQ(this->Ledger(a->id).back().payment_id, renewal->id);
    EXPECT_EQ(this->MailKeys(), (std::vector<std::string>{"receipt:ref-1", "upgrade:ref-1", "receipt:ref-renew"}));
    EXPECT_FALSE(this->db().billing().FindRenewalPayment(a->id, period_end).value().has_value())
        << "a completed renewal is not offered again";
    // The lifecycle job, late with the old period, ends nothing: a payment extended it.
    auto ended = Wait<bool>([&](Callback<bool> done) {
        this->db().billing().EndSubscription(a->id, period_end, period_end + days(3),
                                             this->Mail("downgrade:old", a->id, "downgrade"), std::move(done));
    });
    ASSERT_TRUE(ended.ok());
    EXPECT_FALSE(*ended);
    EXPECT_EQ(this->db().accounts().GetAccount(a->id)->tier, Tier::kProfessional);
    EXPECT_EQ(this->SubscriptionOf(a->id)->status, SubscriptionStatus::kActive);
}

TYPED_TEST_P(BillingContract, EndingAPaymentMovesItFromPendingOnlyOnce) {
    auto a = this->Create("a@example.com", "h");
    ASSERT_TRUE(a.ok());
    auto p = this->Pay(a->id, "ref-1");
    ASSERT_TRUE(p.ok());
    auto end = [&](PaymentEnd how, SysSeconds at) {
        return Wait<bool>(
            [&](Callback<bool> done) { this->db().billing().EndPayment(p->id, how, at, std::move(done)); });
    };
    auto expired = end(PaymentEnd::kExpired, kNow + hours(1));
    ASSERT_TRUE(expired.ok());
    EXPECT_TRUE(*expired);
    Payment ended = this->PaymentOf("ref-1");
    EXPECT_EQ(ended.status, PaymentStatus::kExpired);
    EXPECT_EQ(ended.updated_at, kNow + hours(1));
    auto failed = end(PaymentEnd::kFailed, kNow + hours(2));
    ASSERT_TRUE(failed.ok());
    EXPECT_FALSE(*failed) << "only a pending payment ends";
    EXPECT_EQ(this->PaymentOf("ref-1").status, PaymentStatus::kExpired);
    EXPECT_TRUE(this->MailKeys().empty()) << "ending a payment sends nothing";
    EXPECT_TRUE(this->db().billing().ListExpiringPayments(kNow + days(1), 10).value().empty());
    EXPECT_TRUE(this->db().billing().ListPendingPayments(kNow - days(1), kNow + days(1), 10).value().empty());

    // The gateway is the source of truth for money: an expired checkout that was paid still completes.
    auto late = this->Complete(p->id, kNow + hours(3));
    ASSERT_TRUE(late.ok());
    EXPECT_TRUE(late->applied);
    EXPECT_EQ(this->PaymentOf("ref-1").status, PaymentStatus::kCompleted);
    EXPECT_EQ(this->db().accounts().GetAccount(a->id)->tier, Tier::kProfessional);
    auto after = end(PaymentEnd::kExpired, kNow + hours(4));
    ASSERT_TRUE(after.ok());
    EXPECT_FALSE(*after);
    EXPECT_EQ(this->PaymentOf("ref-1").status, PaymentStatus::kCompleted);
}

TYPED_TEST_P(BillingContract, MoneyThatCannotBuyThePlanIsHeldOnceAndCanBeRefunded) {
    auto a = this->Create("a@example.com", "h");
    ASSERT_TRUE(a.ok());
    auto p = this->Pay(a->id, "ref-1");
    ASSERT_TRUE(p.ok());
    auto hold = [&](const std::string& event_key, const std::string& mail_key) {
        OperatorEvent e;
        e.kind = "payment_unapplied";
        e.dedup_key = event_key;
        e.account_id = a->id;
        e.payment_id = p->id;
        e.detail = "10.00 EUR paid for 49.00 USD owed";
        e.at = kNow + minutes(1);
        return Wait<bool>([&](Callback<bool> done) {
            this->db().billing().HoldUnappliedPayment(
                p->id, "flw-77", 10, "EUR", "10.00 EUR paid for 49.00 USD owed", std::move(e),
                this->Mail(mail_key, 0, "operator", "ops@example.com"), kNow + minutes(1), std::move(done));
        });
    };
    auto held = hold("unapplied:ref-1", "operator:unapplied:ref-1");
    ASSERT_TRUE(held.ok());
    EXPECT_TRUE(*held);
    Payment payment = this->PaymentOf("ref-1");
    EXPECT_EQ(payment.status, PaymentStatus::kPaidUnapplied);
    EXPECT_EQ(payment.gateway_id, "flw-77");
    ASSERT_TRUE(payment.paid_amount.has_value());
    EXPECT_DOUBLE_EQ(*payment.paid_amount, 10);
    EXPECT_EQ(payment.paid_currency, "EUR");
    EXPECT_EQ(payment.note, "10.00 EUR paid for 49.00 USD owed");
    EXPECT_EQ(this->db().accounts().GetAccount(a->id)->tier, Tier::kFree);
    EXPECT_FALSE(this->SubscriptionOf(a->id).has_value());
    auto events = this->db().operator_events().ListOperatorEvents(10).value();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kind, "payment_unapplied");
    EXPECT_EQ(events[0].payment_id, p->id);
    EXPECT_EQ(this->MailKeys(), (std::vector<std::string>{"operator:unapplied:ref-1"}));

    // Settled: holding it again, or completing it, changes nothing.
    auto again = hold("unapplied:ref-1:again", "operator:again");
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(*again);
    EXPECT_EQ(this->db().operator_events().ListOperatorEvents(10).value().size(), 1u);
    EXPECT_EQ(this->MailKeys().size(), 1u);
    auto complete = this->Complete(p->id, kNow + minutes(2));
    ASSERT_TRUE(complete.ok());
    EXPECT_FALSE(complete->applied);
    EXPECT_EQ(this->db().accounts().GetAccount(a->id)->tier, Tier::kFree);

    // Given back: refunded, and never in the ledger (it was never revenue).
    auto refund = [&] {
        return Wait<bool>(
            [&](Callback<bool> done) { this->db().billing().RecordRefund(p->id, kNow + days(1), std::move(done)); });
    };
    auto refunded = refund();
    ASSERT_TRUE(refunded.ok());
    EXPECT_TRUE(*refunded);
    EXPECT_EQ(this->PaymentOf("ref-1").status, PaymentStatus::kRefunded);
    auto twice = refund();
    ASSERT_TRUE(twice.ok());
    EXPECT_FALSE(*twice);
    EXPECT_EQ(this->LedgerKinds(a->id), (std::vector<std::string>{"signup"}));
}

TYPED_TEST_P(BillingContract, ARefundOfACompletedPaymentIsRecordedOnce) {
    auto a = this->Create("a@example.com", "h");
    ASSERT_TRUE(a.ok());
    auto p = this->Pay(a->id, "ref-1");
    auto unpaid = this->Pay(a->id, "ref-2");
    ASSERT_TRUE(p.ok() && unpaid.ok());
    ASSERT_TRUE(this->Complete(p->id, kNow, 49).value().applied);
    auto refund = [&](int64_t id) {
        return Wait<bool>(
            [&](Callback<bool> done) { this->db().billing().RecordRefund(id, kNow + days(2), std::move(done)); });
    };
    auto first = refund(p->id);
    ASSERT_TRUE(first.ok());
    EXPECT_TRUE(*first);
    auto ledger = this->Ledger(a->id);
    ASSERT_EQ(ledger.size(), 4u);
    EXPECT_EQ(ledger[3].kind, "refund");
    EXPECT_EQ(ledger[3].tier, Tier::kProfessional);
    EXPECT_DOUBLE_EQ(ledger[3].amount, -49);
    EXPECT_EQ(ledger[3].currency, "USD");
    EXPECT_EQ(ledger[3].payment_id, p->id);
    EXPECT_EQ(ledger[3].at, kNow + days(2));
    auto second = refund(p->id);
    ASSERT_TRUE(second.ok());
    EXPECT_FALSE(*second);
    EXPECT_EQ(this->Ledger(a->id).size(), 4u);
    // Access is not taken back by a refund.
    EXPECT_EQ(this->db().accounts().GetAccount(a->id)->tier, Tier::kProfessional);
    EXPECT_EQ(this->SubscriptionOf(a->id)->status, SubscriptionStatus::kActive);
    // Nothing was paid for a pending checkout: nothing to refund.
    auto nothing = refund(unpaid->id);
    ASSERT_TRUE(nothing.ok());
    EXPECT_FALSE(*nothing);
    EXPECT_EQ(this->PaymentOf("ref-2").status, PaymentStatus::kPending);
    EXPECT_EQ(this->Ledger(a->id).size(), 4u);
}

// ---------------------------------------------------------------------------------------------------
// The gateways' inbox

TYPED_TEST_P(BillingContract, GatewayEventsAreRecordedOnceAndReArmedAfterProcessing) {
    GatewayEvent webhook;
    webhook.gateway = "flutterwave";
    webhook.dedup_key = "4837261:successful";
    webhook.reference = "ref-1";
    webhook.body = R"({"event":"charge.completed"})";
    webhook.received_at = kNow;
    EXPECT_TRUE(this->RecordEvent(webhook).value());
    EXPECT_FALSE(this->RecordEvent(webhook).value()) << "a repeat is recorded once";
    auto due = this->db().billing().DueGatewayEvents(kNow, 10);
    ASSERT_TRUE(due.ok());
    ASSERT_EQ(due->size(), 1u);
    const GatewayEvent& stored = (*due)[0];
    EXPECT_GT(stored.id, 0);
    EXPECT_EQ(stored.gateway, "flutterwave");
    EXPECT_EQ(stored.dedup_key, "4837261:successful");
    EXPECT_EQ(stored.reference, "ref-1");
    EXPECT_EQ(stored.body, R"({"event":"charge.completed"})");
    EXPECT_EQ(stored.received_at, kNow);
    EXPECT_EQ(stored.state, GatewayEventState::kPending);
    EXPECT_EQ(stored.attempts, 0);
    EXPECT_EQ(stored.next_attempt, kNow);
    // The same key from another gateway is another event.
    GatewayEvent other = webhook;
    other.gateway = "nowpayments";
    EXPECT_TRUE(this->RecordEvent(other).value());
    EXPECT_EQ(this->DueEventKeys(kNow).size(), 2u);
    // Once processed, a repeat without rearm_after stays recorded once and is not due again.
    ASSERT_TRUE(this->FinishEvent(stored.id, GatewayEventState::kApplied, "completed ref-1", 1, std::nullopt).ok());
    webhook.received_at = kNow + minutes(1);
    EXPECT_FALSE(this->RecordEvent(webhook).value());
    auto left = this->db().billing().DueGatewayEvents(kNow + hours(1), 10).value();
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0].gateway, "nowpayments");

    // With rearm_after: merged while it waits; once processed, a repeat makes it due again that long after
    // the repeat arrived.
    GatewayEvent back;
    back.gateway = "flutterwave";
    back.dedup_key = "return:ref-1:29395";
    back.reference = "ref-1";
    back.body = R"({"source":"return"})";
    back.received_at = kNow;
    back.rearm_after = seconds(10);
    EXPECT_TRUE(this->RecordEvent(back).value());
    back.received_at = kNow + seconds(5);
    EXPECT_FALSE(this->RecordEvent(back).value()) << "still pending: merged";
    auto waiting = this->db().billing().DueGatewayEvents(kNow, 10).value();
    ASSERT_EQ(waiting.size(), 2u);
    EXPECT_EQ(waiting[1].dedup_key, "return:ref-1:29395");
    ASSERT_TRUE(
        this->FinishEvent(waiting[1].id, GatewayEventState::kIgnored, "nothing paid yet", 1, std::nullopt).ok());
    EXPECT_EQ(this->DueEventKeys(kFar), (std::vector<std::string>{"4837261:successful"}));
    back.received_at = kNow + seconds(30);
    EXPECT_TRUE(this->RecordEvent(back).value()) << "re-armed";
    EXPECT_EQ(this->DueEventKeys(kNow + seconds(39)), (std::vector<std::string>{"4837261:successful"}));
    auto rearmed = this->db().billing().DueGatewayEvents(kNow + seconds(40), 10).value();
    ASSERT_EQ(rearmed.size(), 2u);
    EXPECT_EQ(rearmed[1].id, waiting[1].id) << "the same event, not a new one";
    EXPECT_EQ(rearmed[1].state, GatewayEventState::kPending);
    EXPECT_EQ(rearmed[1].next_attempt, kNow + seconds(40));
    back.received_at = kNow + seconds(35);
    EXPECT_FALSE(this->RecordEvent(back).value()) << "pending again: merged";
}

TYPED_TEST_P(BillingContract, GatewayEventsAreDueUntilFinished) {
    for (int i = 0; i < 3; ++i) {
        GatewayEvent e;
        e.gateway = "nowpayments";
        e.dedup_key = "e" + std::to_string(i) + ":finished";
        e.reference = "ref-" + std::to_string(i);
        e.body = "{}";
        e.received_at = kNow + seconds(i);
        ASSERT_TRUE(this->RecordEvent(e).value());
    }
    EXPECT_TRUE(this->DueEventKeys(kNow - seconds(1)).empty());
    EXPECT_EQ(this->DueEventKeys(kNow + seconds(1)), (std::vector<std::string>{"e0:finished", "e1:finished"}));
    EXPECT_EQ(this->DueEventKeys(kNow + seconds(5), 2), (std::vector<std::string>{"e0:finished", "e1:finished"}));
    auto due = this->db().billing().DueGatewayEvents(kNow + seconds(5), 10).value();
    ASSERT_EQ(due.size(), 3u);
    // e0: the gateway did not answer, retried in a minute; e1: not ours; e2: given up on.
    ASSERT_TRUE(
        this->FinishEvent(due[0].id, GatewayEventState::kPending, "gateway timeout", 1, kNow + minutes(1)).ok());
    ASSERT_TRUE(this->FinishEvent(due[1].id, GatewayEventState::kIgnored, "not ours", 1, std::nullopt).ok());
    ASSERT_TRUE(this->FinishEvent(due[2].id, GatewayEventState::kFailed, "gave up", 8, std::nullopt).ok());
    EXPECT_TRUE(this->DueEventKeys(kNow + seconds(59)).empty());
    auto retry = this->db().billing().DueGatewayEvents(kNow + minutes(1), 10).value();
    ASSERT_EQ(retry.size(), 1u);
    EXPECT_EQ(retry[0].dedup_key, "e0:finished");
    EXPECT_EQ(retry[0].state, GatewayEventState::kPending);
    EXPECT_EQ(retry[0].attempts, 1);
    EXPECT_EQ(retry[0].result, "gateway timeout");
    EXPECT_EQ(retry[0].next_attempt, kNow + minutes(1));
    ASSERT_TRUE(this->FinishEvent(retry[0].id, GatewayEventState::kApplied, "completed ref-0", 2, std::nullopt).ok());
    EXPECT_TRUE(this->DueEventKeys(kFar).empty());
}

// ---------------------------------------------------------------------------------------------------
// Subscriptions

TYPED_TEST_P(BillingContract, RenewalRemindersAreSentOncePerPeriod) {
    auto a = this->Create("a@example.com", "h");
    ASSERT_TRUE(a.ok());
    auto p = this->Pay(a->id, "ref-1");
    ASSERT_TRUE(p.ok());
    auto outcome = this->Complete(p->id, kNow);
    ASSERT_TRUE(outcome.ok() && outcome->applied);
    const SysSeconds period_end = outcome->period_end;
    // Ending before `before`, strictly.
    EXPECT_TRUE(this->db().billing().ListSubscriptionsEndingBefore(period_end).value().empty());
    auto ending = this->db().billing().ListSubscriptionsEndingBefore(period_end + seconds(1)).value();
    ASSERT_EQ(ending.size(), 1u);
    EXPECT_EQ(ending[0].account_id, a->id);
    EXPECT_EQ(ending[0].email, "a@example.com");
    EXPECT_EQ(ending[0].period_end, period_end);

    auto mark = [&](int days_before, SysSeconds end, const std::string& key) {
        return Wait<bool>([&](Callback<bool> done) {
            this->db().billing().MarkRenewalReminder(a->id, days_before, end,
                                                     this->Mail(key, a->id, "renewal_reminder"), std::move(done));
        });
    };
    EXPECT_TRUE(mark(7, period_end, "reminder-7").value());
    EXPECT_FALSE(mark(7, period_end, "reminder-7-again").value()) << "sent already for this period";
    EXPECT_FALSE(mark(1, period_end + days(1), "reminder-1-other").value()) << "not this subscription's period";
    EXPECT_TRUE(mark(1, period_end, "reminder-1").value());
    EXPECT_FALSE(mark(1, period_end, "reminder-1-again").value());
    auto sub = this->SubscriptionOf(a->id);
    ASSERT_TRUE(sub.has_value());
    EXPECT_EQ(sub->reminded_7d_for, period_end);
    EXPECT_EQ(sub->reminded_1d_for, period_end);
    EXPECT_EQ(this->MailKeys(),
              (std::vector<std::string>{"receipt:ref-1", "upgrade:ref-1", "reminder-7", "reminder-1"}));
}

TYPED_TEST_P(BillingContract, GraceThenEndingTheSubscriptionDowngradesToFree) {
    auto a = this->Create("a@example.com", "h");
    ASSERT_TRUE(a.ok());
    auto p = this->Pay(a->id, "ref-1");
    ASSERT_TRUE(p.ok());
    auto outcome = this->Complete(p->id, kNow);
    ASSERT_TRUE(outcome.ok() && outcome->applied);
    const SysSeconds period_end = outcome->period_end;
    auto grace = [&](SysSeconds end) {
        return Wait<bool>([&](Callback<bool> done) { this->db().billing().EnterGrace(a->id, end, std::move(done)); });
    };
    EXPECT_FALSE(grace(period_end + days(1)).value()) << "not this subscription's period";
    EXPECT_TRUE(grace(period_end).value());
    EXPECT_FALSE(grace(period_end).value()) << "in grace already";
    EXPECT_EQ(this->SubscriptionOf(a->id)->status, SubscriptionStatus::kGrace);
    EXPECT_EQ(this->db().accounts().GetAccount(a->id)->tier, Tier::kProfessional) << "grace keeps the plan";
    EXPECT_EQ(this->db().billing().ListSubscriptionsEndingBefore(kFar).value().size(), 1u);
    EXPECT_EQ(this->db().accounts().FindAccountByKeyHash("h")->tier, Tier::kProfessional);  // now cached

    auto end = [&](const std::string& key) {
        return Wait<bool>([&](Callback<bool> done) {
            this->db().billing().EndSubscription(a->id, period_end, period_end + days(3),
                                                 this->Mail(key, a->id, "downgrade"), std::move(done));
        });
    };
    EXPECT_TRUE(end("downgrade:1").value());
    EXPECT_FALSE(end("downgrade:1-again").value()) << "ended already";
    auto sub = this->SubscriptionOf(a->id);
    ASSERT_TRUE(sub.has_value());
    EXPECT_EQ(sub->status, SubscriptionStatus::kEnded);
    EXPECT_EQ(this->db().accounts().GetAccount(a->id)->tier, Tier::kFree);
    EXPECT_EQ(this->db().accounts().FindAccountByKeyHash("h")->tier, Tier::kFree) << "the cache follows";
    auto ledger = this->Ledger(a->id);
    ASSERT_EQ(ledger.size(), 4u);
    EXPECT_EQ(ledger[3].kind, "downgrade");
    EXPECT_EQ(ledger[3].tier, Tier::kFree);
    EXPECT_DOUBLE_EQ(ledger[3].amount, 0);
    EXPECT_FALSE(ledger[3].payment_id.has_value());
    EXPECT_EQ(ledger[3].at, period_end + days(3));
    EXPECT_EQ(ledger[3].detail, "professional -> free");
    EXPECT_EQ(this->MailKeys(), (std::vector<std::string>{"receipt:ref-1", "upgrade:ref-1", "downgrade:1"}));
    EXPECT_TRUE(this->db().billing().ListSubscriptionsEndingBefore(kFar).value().empty());

    // Paying again after the end starts a new period from the day it is paid.
    auto back = this->Pay(a->id, "ref-2", period_end + days(4));
    ASSERT_TRUE(back.ok());
    auto restarted = this->Complete(back->id, period_end + days(4));
    ASSERT_TRUE(restarted.ok());
    EXPECT_TRUE(restarted->applied);
    EXPECT_FALSE(restarted->renewal);
    EXPECT_EQ(restarted->previous_tier, Tier::kFree);
    EXPECT_EQ(restarted->period_start, period_end + days(4));
    EXPECT_EQ(this->SubscriptionOf(a->id)->status, SubscriptionStatus::kActive);
    EXPECT_EQ(this->db().accounts().GetAccount(a->id)->tier, Tier::kProfessional);
}

REGISTER_TYPED_TEST_SUITE_P(BillingContract, PaymentsAreCreatedPendingFoundByReferenceAndListed,
                            OnlyACheckoutNeverStartedIsDiscarded, CompletingAPaymentAppliesItOnce,
                            ARenewalExtendsFromThePeriodEnd, EndingAPaymentMovesItFromPendingOnlyOnce,
                            MoneyThatCannotBuyThePlanIsHeldOnceAndCanBeRefunded,
                            ARefundOfACompletedPaymentIsRecordedOnce,
                            GatewayEventsAreRecordedOnceAndReArmedAfterProcessing, GatewayEventsAreDueUntilFinished,
                            RenewalRemindersAreSentOncePerPeriod, GraceThenEndingTheSubscriptionDowngradesToFree);

}  // namespace gpuopt::store::contract
