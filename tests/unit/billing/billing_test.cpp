// The billing engine against a real SQLite file and the fake gateways, with time in the test's hands:
// checkout, verification before any grant, exactly-once application under duplicates, concurrency and
// out-of-order news, reconciliation after a gateway timeout, and the subscription lifecycle.
#include "billing/billing.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <thread>

#include "common/crypto.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/wait.hpp"
#include "support/db_snapshot.hpp"
#include "support/fake_gateways.hpp"
#include "support/http_client.hpp"
#include "support/test_dir.hpp"

namespace gpuopt::billing {
namespace {

using namespace std::chrono;
using testing::FakeFlutterwave;
using testing::FakeMode;
using testing::FakeNowPayments;

const SysSeconds kT0 = sys_days{2026y / 11 / 26} + 10h;

class BillingTest : public ::testing::Test {
protected:
    void SetUp() override {
        InitCrypto();
        dir_ = testing::FreshTestDir("billing");
        auto s = store::sqlite::SqliteStore::Open({(dir_ / "gpuopt.db").string()});
        ASSERT_TRUE(s.ok());
        store_ = std::move(*s);
        Configure({});
        alice_ = NewAccount("alice@example.com");
        bob_ = NewAccount("bob@example.com");
    }
    void TearDown() override {
        billing_.reset();
        store_.reset();
        std::filesystem::remove_all(dir_);
    }

    void Configure(std::map<std::string, std::string> extra) {
        std::map<std::string, std::string> env{{"FLUTTERWAVE_SECRET_KEY", FakeFlutterwave::kSecretKey},
                                               {"FLUTTERWAVE_SECRET_HASH", FakeFlutterwave::kSecretHash},
                                               {"FLUTTERWAVE_BASE_URL", flw_.BaseUrl()},
                                               {"NOWPAYMENTS_API_KEY", FakeNowPayments::kApiKey},
                                               {"NOWPAYMENTS_IPN_SECRET", FakeNowPayments::kIpnSecret},
                                               {"NOWPAYMENTS_BASE_URL", np_.BaseUrl()},
                                               {"BASE_URL", "https://app.example.test"},
                                               {"GATEWAY_TIMEOUT_SECONDS", "1"},
                                               {"OPERATOR_EMAIL", "ops@gpuopt.example"}};
        for (auto& [k, v] : extra) env[k] = v;
        std::map<std::string, ConfigValue> values;
        for (auto& [k, v] : env) values[k] = {v, ConfigOrigin::kEnvironment, ""};
        auto c = BuildConfig(values);
        ASSERT_TRUE(c.ok()) << c.error().message;
        billing_.reset();
        config_ = std::make_unique<Config>(std::move(*c));
        billing_ = std::make_unique<Billing>(*config_, *store_);
    }

    store::Account NewAccount(const std::string& email) {
        auto a = store::Wait<store::Account>([&](store::Callback<store::Account> done) {
            store_->accounts().CreateAccount({email, "hash-" + email, "gopt_abcd", Tier::kFree, kT0 - hours(24), {}},
                                             std::move(done));
        });
        EXPECT_TRUE(a.ok());
        return *a;
    }
    store::Account Account(const store::Account& a) { return store_->accounts().GetAccount(a.id).value(); }
    store::Payment PaymentOf(const std::string& reference) {
        return store_->billing().FindPaymentByReference(reference).value();
    }
    // The security log's entries of `kind`, read from the database file.
    int64_t SecurityEvents(const std::string& kind) {
        return testing::CountRows((dir_ / "gpuopt.db").string(), "SELECT COUNT(*) FROM security_events WHERE kind = ?1",
                                  kind);
    }

    bool Record(const Result<store::GatewayEvent>& e) {
        EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().message);
        if (!e.ok()) return false;
        auto r = store::Wait<bool>(
            [&](store::Callback<bool> done) { store_->billing().RecordGatewayEvent(*e, std::move(done)); });
        EXPECT_TRUE(r.ok());
        return r.ok() && *r;
    }
    // The event the customer's browser back from Flutterwave records for `reference` (an error when it
    // records none: not ours, or settled already).
    Result<store::GatewayEvent> ReturnEvent(const std::string& reference, SysSeconds now = kT0) {
        auto e = billing_->FlutterwaveReturnEvent(reference, now);
        if (!e.ok()) return e.error();
        if (!*e) return Error{ErrorCode::kAlreadyExists, "settled already", {}};
        return **e;
    }
    bool Return(const std::string& reference, SysSeconds now = kT0) {
        auto e = ReturnEvent(reference, now);
        return e.ok() && Record(e);
    }
    std::vector<store::OperatorEvent> OperatorEvents(const std::string& kind) {
        std::vector<store::OperatorEvent> out;
        for (auto& e : store_->operator_events().ListOperatorEvents(100).value()) {
            if (e.kind == kind) out.push_back(e);
        }
        return out;
    }
    EventRun Process(SysSeconds now = kT0) {
        auto r = billing_->ProcessEvents(now);
        EXPECT_TRUE(r.ok());
        return r.ok() ? *r : EventRun{};
    }

    std::vector<store::RevenueEvent> Ledger(const store::Account& a, const std::string& kind = "") {
        std::vector<store::RevenueEvent> out;
        for (auto& e : store_->billing().ListRevenueEvents(a.id, 1000).value()) {
            if (kind.empty() || e.kind == kind) out.push_back(e);
        }
        return out;
    }
    // Mails waiting in the outbox for `a`, of `kind` ("" for all).
    std::vector<store::OutboxMessage> Mails(const store::Account& a, const std::string& kind = "") {
        std::vector<store::OutboxMessage> out;
        for (auto& item : store_->outbox().DueMail(kT0 + days(400), 1000).value()) {
            if (item.message.account_id == a.id && (kind.empty() || item.message.kind == kind))
                out.push_back(item.message);
        }
        return out;
    }

    // Upgrade through Flutterwave's hosted page; returns the payment and the transaction the page made.
    std::pair<CheckoutResult, FakeFlutterwave::Transaction> PayFlutterwave(const store::Account& a,
                                                                           Tier tier = Tier::kProfessional,
                                                                           SysSeconds now = kT0) {
        auto c = billing_->StartCheckout(a, tier, "flutterwave", "upgrade", now);
        EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
        const std::string back = flw_.PayOnHostedPage(c->payment_url);
        const std::string id = back.substr(back.find("transaction_id=") + 15);
        return {*c, flw_.FindTransaction(std::stoll(id)).value()};
    }

    // A customer on a paid plan: paid through Flutterwave, the webhook recorded and processed at kT0.
    FakeFlutterwave::Transaction Subscribe(const store::Account& a, Tier tier = Tier::kProfessional) {
        auto [c, t] = PayFlutterwave(a, tier);
        EXPECT_TRUE(Record(
            billing_->FlutterwaveWebhookEvent(FakeFlutterwave::kSecretHash, FakeFlutterwave::WebhookBody(t), kT0)));
        EXPECT_EQ(Process().applied, 1);
        return t;
    }

    std::filesystem::path dir_;
    FakeFlutterwave flw_;
    FakeNowPayments np_;
    std::unique_ptr<store::Database> store_;
    std::unique_ptr<Config> config_;
    std::unique_ptr<Billing> billing_;
    store::Account alice_, bob_;
};

// ---- Checkout ----------------------------------------------------------------------------------

TEST_F(BillingTest, FlutterwaveCheckoutSendsOurReferenceAndPriceAndTheReturnAddress) {
    auto c = billing_->StartCheckout(alice_, Tier::kProfessional, "flutterwave", "upgrade", kT0);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->payment.status, store::PaymentStatus::kPending);
    EXPECT_EQ(c->payment.reference.rfind("gpo_", 0), 0u);
    EXPECT_EQ(c->payment.reference.size(), 24u);
    auto sent = flw_.FindCheckout(c->payment.reference);
    ASSERT_TRUE(sent.has_value());
    EXPECT_DOUBLE_EQ(sent->amount, 49);
    EXPECT_EQ(sent->currency, "USD");
    EXPECT_EQ(sent->email, "alice@example.com");
    EXPECT_EQ(sent->redirect_url, "https://app.example.test/payment/flutterwave/callback");
    EXPECT_EQ(c->payment_url, sent->link);
    EXPECT_EQ(PaymentOf(c->payment.reference).checkout_url, sent->link);
    // The hosted page sends the browser back with the documented query.
    const std::string back = flw_.PayOnHostedPage(c->payment_url);
    EXPECT_EQ(back.rfind("https://app.example.test/payment/flutterwave/callback?status=successful&tx_ref=" +
                             c->payment.reference + "&transaction_id=",
                         0),
              0u)
        << back;
    // Nothing was granted by the checkout or the return itself.
    EXPECT_EQ(Account(alice_).tier, Tier::kFree);
}

TEST_F(BillingTest, EveryCheckoutHasItsOwnReference) {
    std::set<std::string> refs;
    for (int i = 0; i < 50; ++i)
        refs.insert(
            billing_->StartCheckout(alice_, Tier::kEnterprise, "flutterwave", "upgrade", kT0)->payment.reference);
    EXPECT_EQ(refs.size(), 50u);
    EXPECT_DOUBLE_EQ(flw_.FindCheckout(*refs.begin())->amount, 199);
}

TEST_F(BillingTest, CheckoutRefusesWhatCannotBeBought) {
    EXPECT_EQ(billing_->StartCheckout(alice_, Tier::kFree, "flutterwave", "upgrade", kT0).error().code,
              ErrorCode::kValidation);
    EXPECT_EQ(billing_->StartCheckout(alice_, Tier::kProfessional, "paypal", "upgrade", kT0).error().code,
              ErrorCode::kValidation);
    Configure({{"NOWPAYMENTS_API_KEY", ""}});
    EXPECT_FALSE(billing_->Enabled("nowpayments"));
    EXPECT_EQ(billing_->StartCheckout(alice_, Tier::kProfessional, "nowpayments", "upgrade", kT0).error().code,
              ErrorCode::kValidation);
    EXPECT_TRUE(store_->billing().ListPayments(alice_.id, 10).value().empty());
}

TEST_F(BillingTest, ACheckoutTheGatewayRefusesLeavesNoPaymentBehind) {
    for (FakeMode mode : {FakeMode::kUnavailable, FakeMode::kRateLimited, FakeMode::kHtml, FakeMode::kBlackHole}) {
        flw_.SetMode(mode);
        np_.SetMode(mode);
        for (const char* gateway : {"flutterwave", "nowpayments"}) {
            auto c = billing_->StartCheckout(alice_, Tier::kProfessional, gateway, "upgrade", kT0);
            ASSERT_FALSE(c.ok()) << gateway;
            EXPECT_EQ(c.error().code, ErrorCode::kPaymentFailed);
        }
    }
    // Nobody was shown a link to pay: nothing to reconcile, nothing pending.
    EXPECT_TRUE(store_->billing().ListPayments(alice_.id, 10).value().empty());
}

// ---- Flutterwave: verification before any grant -----------------------------------------------

TEST_F(BillingTest, AVerifiedFlutterwaveWebhookUpgradesOnceWithLedgerAndMails) {
    auto [c, t] = PayFlutterwave(alice_);
    EXPECT_TRUE(
        Record(billing_->FlutterwaveWebhookEvent(FakeFlutterwave::kSecretHash, FakeFlutterwave::WebhookBody(t), kT0)));
    EXPECT_EQ(Process().applied, 1);

    EXPECT_EQ(Account(alice_).tier, Tier::kProfessional);
    auto p = PaymentOf(c.payment.reference);
    EXPECT_EQ(p.status, store::PaymentStatus::kCompleted);
    EXPECT_EQ(p.gateway_id, std::to_string(t.id));
    EXPECT_DOUBLE_EQ(p.paid_amount.value(), 49);
    auto sub = store_->billing().GetSubscription(alice_.id).value();
    ASSERT_TRUE(sub.has_value());
    EXPECT_EQ(sub->status, store::SubscriptionStatus::kActive);
    EXPECT_EQ(sub->tier, Tier::kProfessional);
    EXPECT_EQ(sub->period_start, kT0);
    EXPECT_EQ(sub->period_end, sys_days{2026y / 12 / 26} + 10h);
    EXPECT_EQ(Ledger(alice_, "payment").size(), 1u);
    EXPECT_EQ(Ledger(alice_, "upgrade").size(), 1u);
    EXPECT_EQ(Mails(alice_, "receipt").size(), 1u);
    EXPECT_EQ(Mails(alice_, "upgrade").size(), 1u);
    EXPECT_GE(flw_.VerifyCalls(), 1);

    // The same news again, in the older flat shape, and from the customer's browser: nothing more.
    EXPECT_FALSE(
        Record(billing_->FlutterwaveWebhookEvent(FakeFlutterwave::kSecretHash, FakeFlutterwave::WebhookBody(t), kT0)));
    EXPECT_FALSE(Record(
        billing_->FlutterwaveWebhookEvent(FakeFlutterwave::kSecretHash, FakeFlutterwave::WebhookBody(t, true), kT0)));
    EXPECT_FALSE(Return(c.payment.reference));  // settled: nothing left to verify
    auto run = Process();
    EXPECT_EQ(run.applied, 0);
    EXPECT_EQ(run.ignored, 0);
    EXPECT_EQ(Ledger(alice_, "payment").size(), 1u);
    EXPECT_EQ(Mails(alice_, "receipt").size(), 1u);
    EXPECT_EQ(store_->billing().GetSubscription(alice_.id).value()->period_end, sys_days{2026y / 12 / 26} + 10h);
}

TEST_F(BillingTest, TheOlderFlatWebhookShapeIsReadToo) {
    auto [c, t] = PayFlutterwave(alice_);
    EXPECT_TRUE(Record(
        billing_->FlutterwaveWebhookEvent(FakeFlutterwave::kSecretHash, FakeFlutterwave::WebhookBody(t, true), kT0)));
    EXPECT_EQ(Process().applied, 1);
    EXPECT_EQ(Account(alice_).tier, Tier::kProfessional);
}

TEST_F(BillingTest, AWrongOrMissingVerifHashIsForbidden) {
    auto [c, t] = PayFlutterwave(alice_);
    const std::string body = FakeFlutterwave::WebhookBody(t);
    for (std::string hash : {std::string(), std::string("wrong"), std::string(FakeFlutterwave::kSecretHash) + "x",
                             std::string(FakeFlutterwave::kSecretHash).substr(1)}) {
        auto e = billing_->FlutterwaveWebhookEvent(hash, body, kT0);
        ASSERT_FALSE(e.ok()) << hash;
        EXPECT_EQ(e.error().code, ErrorCode::kForbidden);
    }
}

TEST_F(BillingTest, AWebhookThatLiesAboutTheStatusGrantsNothing) {
    // A body saying "successful" for a transaction the gateway says failed: verification decides.
    auto c = billing_->StartCheckout(alice_, Tier::kProfessional, "flutterwave", "upgrade", kT0).value();
    flw_.SetOutcome(c.payment.reference, "failed");
    const std::string back = flw_.PayOnHostedPage(c.payment_url);
    auto t = flw_.FindTransaction(std::stoll(back.substr(back.find("transaction_id=") + 15))).value();
    auto lie = t;
    lie.status = "successful";
    EXPECT_TRUE(Record(
        billing_->FlutterwaveWebhookEvent(FakeFlutterwave::kSecretHash, FakeFlutterwave::WebhookBody(lie), kT0)));
    Process();
    EXPECT_EQ(Account(alice_).tier, Tier::kFree);
    EXPECT_EQ(PaymentOf(c.payment.reference).status, store::PaymentStatus::kFailed);
    EXPECT_TRUE(Ledger(alice_, "payment").empty());
}

TEST_F(BillingTest, MoneyThatCannotBuyThePlanIsHeldForTheOperatorNeverDropped) {
    std::vector<std::string> held;
    for (auto [amount, currency] : {std::pair{1.0, std::string("USD")}, {48.99, "USD"}, {49.0, "NGN"}}) {
        auto c = billing_->StartCheckout(alice_, Tier::kProfessional, "flutterwave", "upgrade", kT0).value();
        flw_.SetOutcome(c.payment.reference, "successful", amount, currency);
        (void)flw_.PayOnHostedPage(c.payment_url);
        EXPECT_TRUE(Return(c.payment.reference));
        Process();
        auto p = PaymentOf(c.payment.reference);
        EXPECT_EQ(p.status, store::PaymentStatus::kPaidUnapplied) << amount << " " << currency;
        EXPECT_DOUBLE_EQ(p.paid_amount.value_or(-1), amount);
        EXPECT_NE(p.note.find("owed"), std::string::npos) << p.note;
        held.push_back(c.payment.reference);
    }
    EXPECT_EQ(Account(alice_).tier, Tier::kFree);
    EXPECT_EQ(SecurityEvents("payment_mismatch"), 3);
    auto events = OperatorEvents("payment_unapplied");
    ASSERT_EQ(events.size(), 3u);
    for (const auto& e : events) EXPECT_EQ(e.account_id.value_or(0), alice_.id);
    // The operator hears of each once, by mail, whatever runs again.
    size_t operator_mails = 0;
    for (auto& item : store_->outbox().DueMail(kT0 + days(1), 100).value()) {
        if (item.message.kind == "operator") {
            ++operator_mails;
            EXPECT_EQ(item.message.to, "ops@gpuopt.example");
        }
    }
    EXPECT_EQ(operator_mails, 3u);
    EXPECT_EQ(billing_->Reconcile(kT0 + hours(60)).value(), 0);
    EXPECT_EQ(PaymentOf(held[0]).status, store::PaymentStatus::kPaidUnapplied);  // never expired away
    EXPECT_EQ(OperatorEvents("payment_unapplied").size(), 3u);
    // More than the price is fine (a customer who paid fees on top).
    auto c = billing_->StartCheckout(alice_, Tier::kProfessional, "flutterwave", "upgrade", kT0).value();
    flw_.SetOutcome(c.payment.reference, "successful", 49.5, "USD");
    (void)flw_.PayOnHostedPage(c.payment_url);
    EXPECT_TRUE(Return(c.payment.reference));
    Process();
    EXPECT_EQ(Account(alice_).tier, Tier::kProfessional);
}

TEST_F(BillingTest, ReturnQueriesOnlyNameOurPaymentsAndAreVerifiedOncePerMinute) {
    auto alice = billing_->StartCheckout(alice_, Tier::kEnterprise, "flutterwave", "upgrade", kT0).value();
    auto bob_np = billing_->StartCheckout(bob_, Tier::kProfessional, "nowpayments", "upgrade", kT0).value();
    // References that are not our Flutterwave payments are refused before anything is recorded or verified.
    for (const std::string& ref : {std::string("not-ours-77"), std::string(), std::string("gpo_' OR 1=1 --"),
                                   std::string(300, 'a'), bob_np.payment.reference}) {
        auto e = billing_->FlutterwaveReturnEvent(ref, kT0);
        ASSERT_FALSE(e.ok()) << ref;
        EXPECT_EQ(e.error().code, ErrorCode::kNotFound);
    }
    // Alice's own reference, unpaid: recorded once a minute however often the page loads, and verified by
    // our reference, so a transaction id in the query changes nothing.
    EXPECT_TRUE(Return(alice.payment.reference, kT0));
    EXPECT_FALSE(Return(alice.payment.reference, kT0 + seconds(30)));
    const int before = flw_.VerifyCalls();
    Process(kT0 + seconds(30));
    EXPECT_EQ(flw_.VerifyCalls(), before + 1);
    EXPECT_EQ(Account(alice_).tier, Tier::kFree);
    EXPECT_EQ(PaymentOf(alice.payment.reference).status, store::PaymentStatus::kPending);
    // Back after paying, within the same minute: the event is looked at again 10 s later, not lost.
    (void)flw_.PayOnHostedPage(alice.payment_url);
    EXPECT_TRUE(Return(alice.payment.reference, kT0 + seconds(40)));
    EXPECT_EQ(Process(kT0 + seconds(45)).applied, 0);  // not before 10 s
    EXPECT_EQ(Process(kT0 + seconds(50)).applied, 1);
    EXPECT_EQ(Account(alice_).tier, Tier::kEnterprise);
    EXPECT_FALSE(Return(alice.payment.reference, kT0 + seconds(61)));  // settled: nothing more to look at
}

TEST_F(BillingTest, FailedAfterCompletedChangesNothing) {
    const auto t = Subscribe(alice_);
    flw_.SetTransactionStatus(t.id, "failed");
    auto failed = t;
    failed.status = "failed";
    EXPECT_TRUE(Record(
        billing_->FlutterwaveWebhookEvent(FakeFlutterwave::kSecretHash, FakeFlutterwave::WebhookBody(failed), kT0)));
    Process(kT0 + minutes(5));
    EXPECT_EQ(PaymentOf(t.tx_ref).status, store::PaymentStatus::kCompleted);
    EXPECT_EQ(Account(alice_).tier, Tier::kProfessional);
    EXPECT_EQ(Ledger(alice_, "payment").size(), 1u);
}

TEST_F(BillingTest, OutOfOrderNewsEndsTheSameWay) {
    // The failure of a first attempt arrives after the success of the second: the payment stays completed.
    auto c = billing_->StartCheckout(alice_, Tier::kProfessional, "flutterwave", "upgrade", kT0).value();
    flw_.SetOutcome(c.payment.reference, "failed");
    std::string back = flw_.PayOnHostedPage(c.payment_url);
    auto first = flw_.FindTransaction(std::stoll(back.substr(back.find("transaction_id=") + 15))).value();
    flw_.SetOutcome(c.payment.reference, "successful");
    back = flw_.PayOnHostedPage(c.payment_url);
    auto second = flw_.FindTransaction(std::stoll(back.substr(back.find("transaction_id=") + 15))).value();
    EXPECT_TRUE(Record(
        billing_->FlutterwaveWebhookEvent(FakeFlutterwave::kSecretHash, FakeFlutterwave::WebhookBody(second), kT0)));
    Process();
    EXPECT_TRUE(Record(
        billing_->FlutterwaveWebhookEvent(FakeFlutterwave::kSecretHash, FakeFlutterwave::WebhookBody(first), kT0)));
    Process();
    EXPECT_EQ(PaymentOf(c.payment.reference).status, store::PaymentStatus::kCompleted);
    EXPECT_EQ(Account(alice_).tier, Tier::kProfessional);
}

TEST_F(BillingTest, TwentyConcurrentCopiesApplyOnce) {
    auto [c, t] = PayFlutterwave(alice_);
    const std::string body = FakeFlutterwave::WebhookBody(t);
    std::atomic<int> recorded{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 20; ++i) {
        threads.emplace_back([&] {
            auto e = billing_->FlutterwaveWebhookEvent(FakeFlutterwave::kSecretHash, body, kT0);
            auto r = store::Wait<bool>(
                [&](store::Callback<bool> done) { store_->billing().RecordGatewayEvent(*e, std::move(done)); });
            if (r.ok() && *r) ++recorded;
            (void)billing_->ProcessEvents(kT0);  // workers racing each other too
        });
    }
    for (auto& th : threads) th.join();
    Process();
    EXPECT_EQ(recorded.load(), 1);
    EXPECT_EQ(Account(alice_).tier, Tier::kProfessional);
    EXPECT_EQ(Ledger(alice_, "payment").size(), 1u);
    EXPECT_EQ(Ledger(alice_, "upgrade").size(), 1u);
    EXPECT_EQ(Mails(alice_, "receipt").size(), 1u);
}

TEST_F(BillingTest, DistinctEventsForOnePaymentRacingStillCompleteItOnce) {
    auto [c, t] = PayFlutterwave(alice_);
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&, i] {
            Result<store::GatewayEvent> e =
                i % 2 ? ReturnEvent(c.payment.reference, kT0)
                      : billing_->FlutterwaveWebhookEvent(FakeFlutterwave::kSecretHash,
                                                          FakeFlutterwave::WebhookBody(t, i % 4 == 0), kT0);
            if (e.ok()) {
                (void)store::Wait<bool>(
                    [&](store::Callback<bool> done) { store_->billing().RecordGatewayEvent(*e, std::move(done)); });
            }
            (void)billing_->ProcessEvents(kT0);
            (void)billing_->Reconcile(kT0 + minutes(3));
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(Ledger(alice_, "payment").size(), 1u);
    EXPECT_EQ(Mails(alice_, "receipt").size(), 1u);
    EXPECT_EQ(store_->billing().GetSubscription(alice_.id).value()->period_end, sys_days{2026y / 12 / 26} + 10h);
}

// ---- Gateway timeouts and reconciliation ------------------------------------------------------

TEST_F(BillingTest, AGatewayTimeoutLeavesThePaymentPendingAndTheReconcilerCompletesIt) {
    auto [c, t] = PayFlutterwave(alice_);
    flw_.SetMode(FakeMode::kBlackHole);  // verification never answers (GATEWAY_TIMEOUT_SECONDS=1)
    EXPECT_TRUE(
        Record(billing_->FlutterwaveWebhookEvent(FakeFlutterwave::kSecretHash, FakeFlutterwave::WebhookBody(t), kT0)));
    auto run = Process();
    EXPECT_EQ(run.retried, 1);
    EXPECT_EQ(PaymentOf(c.payment.reference).status, store::PaymentStatus::kPending);
    EXPECT_EQ(Account(alice_).tier, Tier::kFree);
    // Not due again yet: backoff.
    EXPECT_EQ(Process(kT0 + seconds(1)).retried, 0);

    flw_.SetMode(FakeMode::kUnavailable);  // 503 now: still nothing granted
    EXPECT_EQ(billing_->Reconcile(kT0 + minutes(3)).value(), 0);
    EXPECT_EQ(PaymentOf(c.payment.reference).status, store::PaymentStatus::kPending);

    flw_.SetMode(FakeMode::kNormal);  // the reconciler asks by reference and completes it
    EXPECT_EQ(billing_->Reconcile(kT0 + minutes(3)).value(), 1);
    EXPECT_EQ(PaymentOf(c.payment.reference).status, store::PaymentStatus::kCompleted);
    EXPECT_EQ(Account(alice_).tier, Tier::kProfessional);
    // The webhook's retry then finds it done.
    EXPECT_EQ(Process(kT0 + hours(1)).ignored, 1);
    EXPECT_EQ(Ledger(alice_, "payment").size(), 1u);
}

TEST_F(BillingTest, ReconcilerLeavesUnpaidCheckoutsAloneThenExpiresThemAndLatePaymentStillCounts) {
    auto c = billing_->StartCheckout(alice_, Tier::kProfessional, "flutterwave", "upgrade", kT0).value();
    EXPECT_EQ(c.payment.expires_at, kT0 + hours(48));
    EXPECT_EQ(billing_->Reconcile(kT0 + minutes(3)).value(), 0);
    EXPECT_EQ(PaymentOf(c.payment.reference).status, store::PaymentStatus::kPending);
    // Due to expire while the gateway cannot answer: asked again next run, not expired blind.
    flw_.SetMode(FakeMode::kRateLimited);
    (void)billing_->Reconcile(kT0 + hours(49));
    EXPECT_EQ(PaymentOf(c.payment.reference).status, store::PaymentStatus::kPending);
    flw_.SetMode(FakeMode::kNormal);
    (void)billing_->Reconcile(kT0 + hours(49));
    EXPECT_EQ(PaymentOf(c.payment.reference).status, store::PaymentStatus::kExpired);
    // The customer pays the old link after all: the gateway took the money, so the plan is theirs.
    (void)flw_.PayOnHostedPage(c.payment_url);
    EXPECT_TRUE(Return(c.payment.reference, kT0 + hours(50)));
    EXPECT_EQ(Process(kT0 + hours(50)).applied, 1);
    EXPECT_EQ(PaymentOf(c.payment.reference).status, store::PaymentStatus::kCompleted);
    EXPECT_EQ(Account(alice_).tier, Tier::kProfessional);
    EXPECT_EQ(store_->billing().GetSubscription(alice_.id).value()->period_start, kT0 + hours(50));
    EXPECT_EQ(Ledger(alice_, "payment").size(), 1u);
}

TEST_F(BillingTest, ADueCheckoutTheGatewayHasMoneyForCompletesInsteadOfExpiring) {
    auto c = billing_->StartCheckout(alice_, Tier::kProfessional, "flutterwave", "upgrade", kT0).value();
    (void)flw_.PayOnHostedPage(c.payment_url);  // paid, but no webhook ever came and no one looked
    EXPECT_EQ(billing_->Reconcile(kT0 + hours(48)).value(), 1);
    EXPECT_EQ(PaymentOf(c.payment.reference).status, store::PaymentStatus::kCompleted);
    EXPECT_EQ(Account(alice_).tier, Tier::kProfessional);
}

TEST_F(BillingTest, ASupersededCheckoutThatIsPaidStillCompletes) {
    auto first = billing_->StartCheckout(alice_, Tier::kProfessional, "flutterwave", "upgrade", kT0).value();
    auto second =
        billing_->StartCheckout(alice_, Tier::kProfessional, "flutterwave", "upgrade", kT0 + minutes(5)).value();
    (void)flw_.PayOnHostedPage(first.payment_url);  // the older tab
    EXPECT_TRUE(Return(first.payment.reference, kT0 + minutes(6)));
    EXPECT_EQ(Process(kT0 + minutes(6)).applied, 1);
    EXPECT_EQ(PaymentOf(first.payment.reference).status, store::PaymentStatus::kCompleted);
    EXPECT_EQ(PaymentOf(second.payment.reference).status, store::PaymentStatus::kPending);
    EXPECT_EQ(Account(alice_).tier, Tier::kProfessional);
}

TEST_F(BillingTest, TransientGatewayAnswersAreRetriedHonouringRetryAfterNeverIgnored) {
    for (FakeMode mode :
         {FakeMode::kRateLimited, FakeMode::kTimeout, FakeMode::kTooEarly, FakeMode::kHtml, FakeMode::kUnavailable}) {
        auto [c, t] = PayFlutterwave(alice_, Tier::kProfessional, kT0);
        flw_.SetMode(mode);
        EXPECT_TRUE(Record(
            billing_->FlutterwaveWebhookEvent(FakeFlutterwave::kSecretHash, FakeFlutterwave::WebhookBody(t), kT0)));
        auto run = Process(kT0);
        EXPECT_EQ(run.retried, 1) << static_cast<int>(mode);
        EXPECT_EQ(run.ignored, 0);
        EXPECT_EQ(PaymentOf(c.payment.reference).status, store::PaymentStatus::kPending);
        if (mode == FakeMode::kRateLimited) {
            // Retry-After: 120 is longer than the first backoff (5 s): not due before it.
            EXPECT_EQ(Process(kT0 + seconds(60)).retried, 0);
            EXPECT_EQ(Process(kT0 + seconds(120)).retried, 1);
        }
        flw_.SetMode(FakeMode::kNormal);
        EXPECT_EQ(Process(kT0 + hours(2)).applied, 1);
        EXPECT_EQ(PaymentOf(c.payment.reference).status, store::PaymentStatus::kCompleted);
    }
    EXPECT_EQ(Ledger(alice_, "payment").size(), 5u);
}

TEST_F(BillingTest, AGatewayThatKeepsFailingIsReportedToTheOperatorAndStillRetried) {
    auto [c, t] = PayFlutterwave(alice_);
    flw_.SetMode(FakeMode::kUnavailable);
    EXPECT_TRUE(
        Record(billing_->FlutterwaveWebhookEvent(FakeFlutterwave::kSecretHash, FakeFlutterwave::WebhookBody(t), kT0)));
    SysSeconds now = kT0;
    for (int i = 0; i < 14; ++i) {
        now += hours(1);
        EXPECT_EQ(Process(now).retried, 1) << i;
    }
    EXPECT_EQ(OperatorEvents("gateway_event_stuck").size(), 1u);
    flw_.SetMode(FakeMode::kNormal);
    EXPECT_EQ(Process(now + hours(1)).applied, 1);
    EXPECT_EQ(Account(alice_).tier, Tier::kProfessional);
}

TEST_F(BillingTest, MoneyForAReferenceThatIsNotOursGoesToTheOperator) {
    auto stranger = flw_.AddTransaction("someone-elses-ref", "successful", 49, "USD");
    EXPECT_TRUE(Record(
        billing_->FlutterwaveWebhookEvent(FakeFlutterwave::kSecretHash, FakeFlutterwave::WebhookBody(stranger), kT0)));
    EXPECT_EQ(Process().ignored, 1);
    auto events = OperatorEvents("payment_unmatched");
    ASSERT_EQ(events.size(), 1u);
    EXPECT_NE(events[0].detail.find(std::to_string(stranger.id)), std::string::npos);
    EXPECT_EQ(Account(alice_).tier, Tier::kFree);
}

// ---- NOWPayments ------------------------------------------------------------------------------

class NowPaymentsBilling : public BillingTest {
protected:
    // Records the IPN NOWPayments would send for `p`, signed the real way.
    bool Ipn(const FakeNowPayments::Payment& p, SysSeconds now = kT0) {
        return Record(billing_->NowPaymentsIpnEvent(np_.IpnSignature(p), np_.IpnBody(p), now));
    }
};

TEST_F(NowPaymentsBilling, InvoiceThenFinishedIpnUpgrades) {
    auto c = billing_->StartCheckout(alice_, Tier::kProfessional, "nowpayments", "upgrade", kT0);
    ASSERT_TRUE(c.ok()) << c.error().message;
    auto order = np_.FindOrder(c->payment.reference).value();
    EXPECT_TRUE(order.invoice);
    EXPECT_DOUBLE_EQ(order.price_amount, 49);
    EXPECT_EQ(order.price_currency, "usd");
    EXPECT_EQ(order.ipn_callback_url, "https://app.example.test/payment/nowpayments/webhook");
    EXPECT_EQ(c->payment_url, np_.BaseUrl() + "/payment/?iid=" + order.id);

    auto waiting = np_.Pay(c->payment.reference, "waiting");
    EXPECT_TRUE(Ipn(waiting));
    np_.SetStatus(waiting.payment_id, "confirming");
    auto confirming = waiting;
    confirming.status = "confirming";
    EXPECT_TRUE(Ipn(confirming));
    Process();
    EXPECT_EQ(Account(alice_).tier, Tier::kFree);  // confirming waits
    EXPECT_EQ(PaymentOf(c->payment.reference).status, store::PaymentStatus::kPending);

    np_.SetStatus(waiting.payment_id, "finished");
    auto finished = waiting;
    finished.status = "finished";
    EXPECT_TRUE(Ipn(finished));
    EXPECT_FALSE(Ipn(finished));  // a repeat is recorded once
    EXPECT_EQ(Process().applied, 1);
    EXPECT_EQ(Account(alice_).tier, Tier::kProfessional);
    EXPECT_EQ(PaymentOf(c->payment.reference).gateway_id, waiting.payment_id);
    EXPECT_EQ(Mails(alice_, "receipt").size(), 1u);
}

TEST_F(NowPaymentsBilling, AnInvoiceWhoseFinishedIpnIsLostIsReconciledThroughThePaymentItNamed) {
    auto c = billing_->StartCheckout(alice_, Tier::kProfessional, "nowpayments", "upgrade", kT0).value();
    auto waiting = np_.Pay(c.payment.reference, "waiting");
    EXPECT_TRUE(Ipn(waiting));
    Process();
    EXPECT_EQ(PaymentOf(c.payment.reference).gateway_payment_id, waiting.payment_id);
    np_.SetStatus(waiting.payment_id, "finished");  // its IPN never arrives
    EXPECT_EQ(billing_->Reconcile(kT0 + minutes(10)).value(), 1);
    EXPECT_EQ(Account(alice_).tier, Tier::kProfessional);
}

TEST_F(NowPaymentsBilling, OneRateLimitedLookupDoesNotLoseAPaidUpgrade) {
    auto c = billing_->StartCheckout(alice_, Tier::kProfessional, "nowpayments", "upgrade", kT0).value();
    auto p = np_.Pay(c.payment.reference, "finished");
    np_.SetMode(FakeMode::kRateLimited);
    EXPECT_TRUE(Ipn(p));
    EXPECT_EQ(Process().retried, 1);
    EXPECT_EQ(Account(alice_).tier, Tier::kFree);
    np_.SetMode(FakeMode::kNormal);
    EXPECT_EQ(Process(kT0 + minutes(5)).applied, 1);
    EXPECT_EQ(Account(alice_).tier, Tier::kProfessional);
}

TEST_F(NowPaymentsBilling, PaymentModeReturnsADepositAddress) {
    Configure({{"NOWPAYMENTS_MODE", "payment"}, {"NOWPAYMENTS_PAY_CURRENCY", "usdttrc20"}});
    auto c = billing_->StartCheckout(alice_, Tier::kEnterprise, "nowpayments", "upgrade", kT0);
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_FALSE(c->pay_address.empty());
    EXPECT_EQ(c->pay_currency, "btc");  // what the gateway answered
    EXPECT_FALSE(np_.FindOrder(c->payment.reference)->invoice);
    // The IPN never comes; the reconciler asks for the payment by id.
    np_.Pay(c->payment.reference, "finished");
    EXPECT_EQ(billing_->Reconcile(kT0 + minutes(3)).value(), 1);
    EXPECT_EQ(Account(alice_).tier, Tier::kEnterprise);
}

TEST_F(NowPaymentsBilling, PartiallyPaidTellsTheCustomerAndGrantsNothing) {
    auto c = billing_->StartCheckout(alice_, Tier::kProfessional, "nowpayments", "upgrade", kT0).value();
    auto p = np_.Pay(c.payment.reference, "partially_paid");
    EXPECT_TRUE(Ipn(p));
    Process();
    EXPECT_EQ(Account(alice_).tier, Tier::kFree);
    EXPECT_EQ(PaymentOf(c.payment.reference).status, store::PaymentStatus::kPending);
    auto mails = Mails(alice_, "partial_payment");
    ASSERT_EQ(mails.size(), 1u);
    EXPECT_NE(mails[0].text.find("0.00025617 btc"), std::string::npos) << mails[0].text;
}

TEST_F(NowPaymentsBilling, FailedExpiredAndRefundedNeverUndoACompletedPayment) {
    auto c = billing_->StartCheckout(alice_, Tier::kProfessional, "nowpayments", "upgrade", kT0).value();
    auto p = np_.Pay(c.payment.reference, "finished");
    EXPECT_TRUE(Ipn(p));
    Process();
    for (const char* status : {"failed", "expired", "refunded"}) {
        np_.SetStatus(p.payment_id, status);
        auto later = p;
        later.status = status;
        EXPECT_TRUE(Ipn(later));
        Process();
        EXPECT_EQ(PaymentOf(c.payment.reference).status, store::PaymentStatus::kCompleted) << status;
        EXPECT_EQ(Account(alice_).tier, Tier::kProfessional) << status;
    }
    EXPECT_EQ(Ledger(alice_, "refund").size(), 1u);  // the refund is on the books; access stays
    EXPECT_EQ(Ledger(alice_, "payment").size(), 1u);
}

TEST_F(NowPaymentsBilling, FailedOrExpiredBeforePaymentEndsIt) {
    auto c1 = billing_->StartCheckout(alice_, Tier::kProfessional, "nowpayments", "upgrade", kT0).value();
    auto c2 = billing_->StartCheckout(bob_, Tier::kProfessional, "nowpayments", "upgrade", kT0).value();
    EXPECT_TRUE(Ipn(np_.Pay(c1.payment.reference, "failed")));
    EXPECT_TRUE(Ipn(np_.Pay(c2.payment.reference, "expired")));
    Process();
    EXPECT_EQ(PaymentOf(c1.payment.reference).status, store::PaymentStatus::kFailed);
    EXPECT_EQ(PaymentOf(c2.payment.reference).status, store::PaymentStatus::kExpired);
    EXPECT_EQ(Account(alice_).tier, Tier::kFree);
}

TEST_F(NowPaymentsBilling, AFinishedPaymentForTooLittleGrantsNothing) {
    auto c = billing_->StartCheckout(alice_, Tier::kEnterprise, "nowpayments", "upgrade", kT0).value();
    EXPECT_TRUE(Ipn(np_.Pay(c.payment.reference, "finished", 49.0)));
    auto d = billing_->StartCheckout(bob_, Tier::kProfessional, "nowpayments", "upgrade", kT0).value();
    EXPECT_TRUE(Ipn(np_.Pay(d.payment.reference, "finished", 49.0, std::string("eur"))));
    Process();
    EXPECT_EQ(Account(alice_).tier, Tier::kFree);
    EXPECT_EQ(Account(bob_).tier, Tier::kFree);
    EXPECT_EQ(SecurityEvents("payment_mismatch"), 2);
}

TEST_F(NowPaymentsBilling, AnIpnThatLiesIsCheckedAgainstTheGateway) {
    // A correctly signed IPN claiming finished while the gateway says waiting grants nothing (the secret
    // may have leaked; the API key is a second, separate credential).
    auto c = billing_->StartCheckout(alice_, Tier::kProfessional, "nowpayments", "upgrade", kT0).value();
    auto p = np_.Pay(c.payment.reference, "waiting");
    auto lie = p;
    lie.status = "finished";
    EXPECT_TRUE(Ipn(lie));
    Process();
    EXPECT_EQ(Account(alice_).tier, Tier::kFree);
    EXPECT_GE(np_.GetCalls(), 1);
}

TEST_F(NowPaymentsBilling, ForgedMissingAndStaleSignaturesAreForbidden) {
    auto c = billing_->StartCheckout(alice_, Tier::kProfessional, "nowpayments", "upgrade", kT0).value();
    auto waiting = np_.Pay(c.payment.reference, "waiting");
    auto finished = waiting;
    finished.status = "finished";
    const std::string body = np_.IpnBody(finished);
    // Missing, forged with another secret, and stale: the signature of an earlier IPN for the same payment.
    for (const std::string& sig :
         {std::string(), testing::HmacSha512HexForTests("guess", body), np_.IpnSignature(waiting)}) {
        auto e = billing_->NowPaymentsIpnEvent(sig, body, kT0);
        ASSERT_FALSE(e.ok());
        EXPECT_EQ(e.error().code, ErrorCode::kForbidden);
    }
    // Signed over the raw bytes instead of the sorted form: also refused.
    EXPECT_FALSE(
        billing_->NowPaymentsIpnEvent(testing::HmacSha512HexForTests(FakeNowPayments::kIpnSecret, body), body, kT0)
            .ok());
}

// ---- Subscription lifecycle with a controllable clock -----------------------------------------

TEST_F(BillingTest, RemindersAtSevenAndOneDaysOnceEachThenGraceThenDowngrade) {
    Subscribe(alice_);
    const SysSeconds end = sys_days{2026y / 12 / 26} + 10h;
    auto run = [&](SysSeconds now) { return billing_->RunLifecycle(now).value(); };

    EXPECT_EQ(run(end - days(8)).reminders, 0);
    EXPECT_EQ(run(end - days(7)).reminders, 1);
    EXPECT_EQ(run(end - days(7) + hours(1)).reminders, 0);  // safe to run twice
    EXPECT_EQ(run(end - days(3)).reminders, 0);
    EXPECT_EQ(run(end - days(1)).reminders, 1);
    EXPECT_EQ(run(end - hours(2)).reminders, 0);
    auto reminders = Mails(alice_, "renewal_reminder");
    ASSERT_EQ(reminders.size(), 2u);
    for (const auto& m : reminders) {
        // Each carries a fresh checkout link for next month.
        const size_t at = m.text.find(flw_.BaseUrl() + "/pay/");
        EXPECT_NE(at, std::string::npos) << m.text;
    }
    EXPECT_NE(reminders[0].subject, reminders[1].subject);
    // One renewal checkout for the period, in both reminders, payable until the grace ends.
    auto payments = store_->billing().ListPayments(alice_.id, 10).value();
    ASSERT_EQ(payments.size(), 2u);
    const auto& renewal = payments[0];
    EXPECT_EQ(renewal.purpose, "renewal");
    EXPECT_EQ(renewal.renews_period_end, end);
    EXPECT_EQ(renewal.expires_at, end + days(3));
    for (const auto& m : reminders) EXPECT_NE(m.text.find(renewal.checkout_url), std::string::npos);

    auto grace = run(end + hours(1));
    EXPECT_EQ(grace.grace, 1);
    EXPECT_EQ(store_->billing().GetSubscription(alice_.id).value()->status, store::SubscriptionStatus::kGrace);
    EXPECT_EQ(Account(alice_).tier, Tier::kProfessional);  // 3 days of grace
    EXPECT_EQ(run(end + days(2)).downgraded, 0);

    auto down = run(end + days(3));
    EXPECT_EQ(down.downgraded, 1);
    EXPECT_EQ(Account(alice_).tier, Tier::kFree);
    EXPECT_EQ(store_->billing().GetSubscription(alice_.id).value()->status, store::SubscriptionStatus::kEnded);
    EXPECT_EQ(Ledger(alice_, "downgrade").size(), 1u);
    EXPECT_EQ(Mails(alice_, "downgrade").size(), 1u);
    auto again = run(end + days(4));
    EXPECT_EQ(again.downgraded + again.reminders + again.grace, 0);
    EXPECT_EQ(Ledger(alice_, "downgrade").size(), 1u);
}

TEST_F(BillingTest, PayingTheRenewalLinkExtendsTheSubscriptionFromItsEnd) {
    Subscribe(alice_);
    const SysSeconds end = sys_days{2026y / 12 / 26} + 10h;
    ASSERT_EQ(billing_->RunLifecycle(end - days(7)).value().reminders, 1);
    // Pay the link from the reminder.
    auto reminder = Mails(alice_, "renewal_reminder").at(0);
    const size_t at = reminder.text.find(flw_.BaseUrl() + "/pay/");
    const std::string link = reminder.text.substr(at, reminder.text.find_first_of(" \n", at) - at);
    const std::string back = flw_.PayOnHostedPage(link);
    ASSERT_FALSE(back.empty()) << link;
    EXPECT_TRUE(Return(store_->billing().FindRenewalPayment(alice_.id, end).value()->reference, end - days(6)));
    EXPECT_EQ(Process(end - days(6)).applied, 1);
    auto sub = store_->billing().GetSubscription(alice_.id).value();
    EXPECT_EQ(sub->period_start, end);
    EXPECT_EQ(sub->period_end, sys_days{2027y / 1 / 26} + 10h);
    EXPECT_EQ(Ledger(alice_, "renewal").size(), 1u);
    EXPECT_TRUE(Mails(alice_, "upgrade").size() == 1u);  // no second upgrade notice for a renewal
    // The 1-day reminder is for the old end: none goes out now, and no downgrade follows.
    auto run = billing_->RunLifecycle(end - days(1)).value();
    EXPECT_EQ(run.reminders, 0);
    EXPECT_EQ(billing_->RunLifecycle(end + days(4)).value().downgraded, 0);
    EXPECT_EQ(Account(alice_).tier, Tier::kProfessional);
}

TEST_F(BillingTest, ARenewalLinkPaidDaysLaterOrInGraceStillRenews) {
    Subscribe(alice_);
    const SysSeconds end = sys_days{2026y / 12 / 26} + 10h;
    ASSERT_EQ(billing_->RunLifecycle(end - days(7)).value().reminders, 1);
    // Well past PAYMENT_EXPIRY_HOURS, and after the reconciler ran: the link still works.
    (void)billing_->Reconcile(end - days(3));
    auto renewal = store_->billing().FindRenewalPayment(alice_.id, end).value();
    ASSERT_TRUE(renewal.has_value());
    EXPECT_EQ(renewal->status, store::PaymentStatus::kPending);
    // The 1-day reminder sends the same link.
    ASSERT_EQ(billing_->RunLifecycle(end - days(1)).value().reminders, 1);
    EXPECT_EQ(store_->billing().ListPayments(alice_.id, 10).value().size(), 2u);
    // Paid in grace: a new month from now (the later of now and the period end).
    ASSERT_EQ(billing_->RunLifecycle(end + hours(1)).value().grace, 1);
    (void)flw_.PayOnHostedPage(renewal->checkout_url);
    EXPECT_TRUE(Return(renewal->reference, end + days(2)));
    EXPECT_EQ(Process(end + days(2)).applied, 1);
    auto sub = store_->billing().GetSubscription(alice_.id).value();
    EXPECT_EQ(sub->status, store::SubscriptionStatus::kActive);
    EXPECT_EQ(sub->period_start, end + days(2));
    EXPECT_EQ(billing_->RunLifecycle(end + days(4)).value().downgraded, 0);
    EXPECT_EQ(Account(alice_).tier, Tier::kProfessional);
}

TEST_F(BillingTest, RemindersWhileTheGatewayIsDownLeaveNoPaymentsBehind) {
    Subscribe(alice_);
    const SysSeconds end = sys_days{2026y / 12 / 26} + 10h;
    flw_.SetMode(FakeMode::kUnavailable);
    for (int i = 0; i < 50; ++i)
        EXPECT_EQ(billing_->RunLifecycle(end - days(7) + minutes(15 * i)).value().reminders, 0);
    EXPECT_EQ(store_->billing().ListPayments(alice_.id, 100).value().size(), 1u);  // the upgrade only
    flw_.SetMode(FakeMode::kNormal);
    EXPECT_EQ(billing_->RunLifecycle(end - days(6)).value().reminders, 1);
    EXPECT_EQ(store_->billing().ListPayments(alice_.id, 100).value().size(), 2u);
}

TEST_F(BillingTest, StatsCountActiveSubscriptionsRevenueAndPayments) {
    Subscribe(alice_, Tier::kEnterprise);
    (void)billing_->StartCheckout(bob_, Tier::kProfessional, "flutterwave", "upgrade", kT0);
    auto stats = store_->stats().GetStats({kT0}).value();
    EXPECT_EQ(stats.active_subscriptions_by_tier["enterprise"], 1);
    EXPECT_EQ(stats.active_subscriptions_by_tier["professional"], 0);
    EXPECT_DOUBLE_EQ(stats.revenue_this_month, 199);
    int64_t completed = 0, pending = 0;
    for (const auto& p : stats.payments) {
        if (p.gateway == "flutterwave" && p.status == "completed") completed = p.count;
        if (p.gateway == "flutterwave" && p.status == "pending") pending = p.count;
    }
    EXPECT_EQ(completed, 1);
    EXPECT_EQ(pending, 1);
}

}  // namespace
}  // namespace gpuopt::billing
