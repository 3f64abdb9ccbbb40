// What the operator panel reads and changes, on every store backend (store/panel.hpp): customers listed,
// searched and paged, deleted ones left out; a plan change moves the subscription and writes a ledger row
// and an audit row in one transaction, or nothing; a disabled customer's keys and sign-in stop; mail is
// retried or cancelled only from the right state; blocks by hand end on time or when lifted; job runs keep
// their result.
//
// This header defines tests: include it from exactly one .cpp file per test binary.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/database.hpp"
#include "store/wait.hpp"
#include "unit/store/backend_fixture.hpp"

namespace gpuopt::store::contract {

inline const SysSeconds kPanelDay0 = std::chrono::sys_days{std::chrono::year{2026} / 12 / 2} + std::chrono::hours(9);

template <class Backend>
class PanelContract : public BackendFixture<Backend> {
protected:
    void SetUp() override {
        BackendFixture<Backend>::SetUp();
        if (this->HasFatalFailure()) return;
        this->db().admin().SetAuditKey("test audit key");
    }

    PanelRepository& panel() { return this->db().panel(); }

    static AuditEntry Audit(std::string action, std::string target = "") {
        AuditEntry e;
        e.at = kPanelDay0;
        e.actor_type = "admin";
        e.actor = "ops@example.com";
        e.action = std::move(action);
        e.target = std::move(target);
        e.ip = "192.0.2.10";
        return e;
    }
    int64_t Customer(const std::string& email, SysSeconds at = kPanelDay0) {
        auto account = Wait<Account>([&](Callback<Account> done) {
            this->db().accounts().CreateAccount(
                {email, "hash-" + email, "gopt_" + email.substr(0, 3), Tier::kFree, at, {}}, std::move(done));
        });
        EXPECT_TRUE(account.ok()) << account.error().message;
        return account.ok() ? account->id : 0;
    }
    Result<CustomerRow> Change(int64_t id, Tier tier, std::optional<SysSeconds> end, const std::string& reason) {
        return Wait<CustomerRow>([&](Callback<CustomerRow> done) {
            panel().ChangeCustomerPlan({id, tier, end, reason, kPanelDay0}, Audit("customer.plan.change"),
                                       std::move(done));
        });
    }
    size_t AuditRows(const std::string& prefix) {
        return this->db().admin().ListAudit({prefix, "", "", std::nullopt, 100}).value().size();
    }
    std::vector<std::string> Emails(const CustomerQuery& q) {
        std::vector<std::string> out;
        for (const auto& c : panel().ListCustomers(q).value()) out.push_back(c.email);
        return out;
    }
};

TYPED_TEST_SUITE_P(PanelContract);

TYPED_TEST_P(PanelContract, CustomersAreSearchedAndPagedNewestFirstAndDeletedOnesLeftOut) {
    const int64_t ada = this->Customer("ada@example.com");
    (void)this->Customer("bob@example.org", kPanelDay0 + std::chrono::minutes(1));
    const int64_t cyd = this->Customer("cyd@example.com", kPanelDay0 + std::chrono::minutes(2));
    const int64_t gone = this->Customer("gone@example.com", kPanelDay0 + std::chrono::minutes(3));
    ASSERT_TRUE(
        Wait<DeletedAccount>([&](Callback<DeletedAccount> done) {
            this->db().accounts().DeleteAccount({gone, kPanelDay0, std::nullopt, std::nullopt}, std::move(done));
        }).ok());

    EXPECT_EQ(this->Emails({}), (std::vector<std::string>{"cyd@example.com", "bob@example.org", "ada@example.com"}));
    EXPECT_EQ(this->Emails({"example.com", std::nullopt, std::nullopt, 50}),
              (std::vector<std::string>{"cyd@example.com", "ada@example.com"}));
    EXPECT_EQ(this->Emails({"", std::nullopt, cyd, 1}), (std::vector<std::string>{"bob@example.org"}));
    EXPECT_EQ(this->Emails({"%", std::nullopt, std::nullopt, 50}), std::vector<std::string>{})
        << "a search is literal text, not a pattern";
    EXPECT_FALSE(this->panel().GetCustomer(gone).value().has_value());
    auto found = this->panel().GetCustomer(ada).value();
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->email, "ada@example.com");
    EXPECT_FALSE(found->subscription.has_value());
    EXPECT_EQ(found->gpus, 0);
    ASSERT_TRUE(this->Change(ada, Tier::kProfessional, kPanelDay0 + std::chrono::days(30), "trial").ok());
    EXPECT_EQ(this->Emails({"", Tier::kProfessional, std::nullopt, 50}), (std::vector<std::string>{"ada@example.com"}));
}

TYPED_TEST_P(PanelContract, APlanChangeMovesTheSubscriptionWithItsLedgerAndAuditRowsOrChangesNothing) {
    const int64_t id = this->Customer("eve@example.com");
    const SysSeconds end = kPanelDay0 + std::chrono::days(30);
    // Refused: nothing written, not even the audit row.
    EXPECT_EQ(this->Change(id, Tier::kProfessional, std::nullopt, "no end").error().code, ErrorCode::kValidation);
    EXPECT_EQ(this->Change(id, Tier::kProfessional, kPanelDay0, "ends now").error().code, ErrorCode::kValidation);
    EXPECT_EQ(this->Change(987654, Tier::kProfessional, end, "nobody").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(this->AuditRows("customer."), 0u);
    EXPECT_EQ(this->panel().ListLedger(0, 100).value().size(), 1u) << "the sign-up only";

    auto up = this->Change(id, Tier::kProfessional, end, "trial");
    ASSERT_TRUE(up.ok()) << up.error().message;
    EXPECT_EQ(up->tier, Tier::kProfessional);
    EXPECT_EQ(up->subscription, SubscriptionStatus::kActive);
    EXPECT_EQ(up->period_end, end);
    auto sub = this->db().billing().GetSubscription(id).value();
    ASSERT_TRUE(sub.has_value());
    EXPECT_EQ(sub->gateway, "operator");
    EXPECT_EQ(sub->period_start, kPanelDay0);

    // The same plan, a later end: a renewal from the same start.
    auto longer = this->Change(id, Tier::kProfessional, end + std::chrono::days(10), "goodwill");
    ASSERT_TRUE(longer.ok());
    EXPECT_EQ(this->db().billing().GetSubscription(id).value()->period_start, kPanelDay0);
    EXPECT_EQ(longer->period_end, end + std::chrono::days(10));

    auto down = this->Change(id, Tier::kFree, std::nullopt, "trial over");
    ASSERT_TRUE(down.ok());
    EXPECT_EQ(down->tier, Tier::kFree);
    EXPECT_EQ(down->subscription, SubscriptionStatus::kEnded);

    const auto ledger = this->panel().ListLedger(0, 100).value();
    std::vector<std::string> rows;
    for (const auto& r : ledger) {
        rows.push_back(r.event.kind + " " + std::string(NameOf(r.event.tier)) + " " + r.gateway + " " + r.event.detail);
    }
    EXPECT_EQ(rows, (std::vector<std::string>{"signup free  ", "upgrade professional operator operator: trial",
                                              "renewal professional  operator: goodwill",
                                              "downgrade free  operator: trial over"}));
    EXPECT_EQ(this->panel().ListLedger(ledger[1].event.id, 1).value().at(0).event.id, ledger[2].event.id);
    EXPECT_EQ(this->AuditRows("customer.plan"), 3u);
}

TYPED_TEST_P(PanelContract, ADisabledCustomersKeysAndSignInStopUntilEnabled) {
    const int64_t id = this->Customer("fay@example.com");
    ASSERT_TRUE(this->db().accounts().FindAccountByKeyHash("hash-fay@example.com").ok());
    auto set = [&](bool disabled) {
        return Wait<CustomerRow>([&](Callback<CustomerRow> done) {
            this->panel().SetCustomerDisabled(id, disabled, "card testing", kPanelDay0,
                                              this->Audit(disabled ? "customer.disable" : "customer.enable"),
                                              std::move(done));
        });
    };
    auto off = set(true);
    ASSERT_TRUE(off.ok()) << off.error().message;
    EXPECT_EQ(off->disabled_at, kPanelDay0);
    EXPECT_EQ(off->disabled_reason, "card testing");
    EXPECT_EQ(this->db().accounts().FindAccountByKeyHash("hash-fay@example.com").error().code, ErrorCode::kNotFound);
    EXPECT_FALSE(this->db().sessions().AccountIdForEmail("fay@example.com").value().has_value());
    EXPECT_EQ(set(true).error().code, ErrorCode::kConflict);
    auto on = set(false);
    ASSERT_TRUE(on.ok());
    EXPECT_FALSE(on->disabled_at.has_value());
    EXPECT_TRUE(this->db().accounts().FindAccountByKeyHash("hash-fay@example.com").ok());
    EXPECT_EQ(this->db().sessions().AccountIdForEmail("fay@example.com").value(), id);
    EXPECT_EQ(set(false).error().code, ErrorCode::kConflict);
    EXPECT_EQ(this->AuditRows("customer."), 2u) << "refusals write no row";
}

TYPED_TEST_P(PanelContract, MailIsRetriedOrCancelledOnlyFromTheRightState) {
    OutboxMessage m;
    m.dedup_key = "note:1";
    m.to = "gus@example.com";
    m.subject = "Hello";
    m.text = "Hi";
    m.kind = "note";
    ASSERT_TRUE(Wait<bool>([&](Callback<bool> done) {
                    this->panel().EnqueueOperatorMail(m, kPanelDay0, this->Audit("customer.welcome.resend"),
                                                      std::move(done));
                }).value());
    EXPECT_FALSE(Wait<bool>([&](Callback<bool> done) {
                     this->panel().EnqueueOperatorMail(m, kPanelDay0, this->Audit("customer.welcome.resend"),
                                                       std::move(done));
                 }).value())
        << "once per dedup key";
    EXPECT_EQ(this->AuditRows("customer.welcome"), 1u);
    const auto mails = this->panel().ListMail({MailStatus::kPending, "note", std::nullopt, std::nullopt, 10}).value();
    ASSERT_EQ(mails.size(), 1u);
    const int64_t id = mails[0].id;
    auto cancel = [&] {
        return Wait<MailRow>([&](Callback<MailRow> done) {
            this->panel().CancelMail(id, "cancelled by ops@example.com", this->Audit("mail.cancel"), std::move(done));
        });
    };
    auto retry = [&] {
        return Wait<MailRow>([&](Callback<MailRow> done) {
            this->panel().RetryMail(id, kPanelDay0 + std::chrono::minutes(5), this->Audit("mail.retry"),
                                    std::move(done));
        });
    };
    auto cancelled = cancel();
    ASSERT_TRUE(cancelled.ok()) << cancelled.error().message;
    EXPECT_EQ(cancelled->status, MailStatus::kFailed);
    EXPECT_EQ(cancelled->last_error, "cancelled by ops@example.com");
    EXPECT_EQ(cancel().error().code, ErrorCode::kConflict);
    auto retried = retry();
    ASSERT_TRUE(retried.ok());
    EXPECT_EQ(retried->status, MailStatus::kPending);
    EXPECT_EQ(retried->attempts, 0);
    EXPECT_EQ(retried->last_error, "");
    EXPECT_EQ(retried->next_attempt, kPanelDay0 + std::chrono::minutes(5));
    ASSERT_TRUE(Wait<void>([&](Callback<void> done) {
                    this->db().outbox().FinishMail(id, MailStatus::kSent, 1, kPanelDay0, "", "<id@x>", std::move(done));
                }).ok());
    EXPECT_EQ(retry().error().code, ErrorCode::kConflict);
    EXPECT_EQ(Wait<MailRow>([&](Callback<MailRow> done) {
                  this->panel().RetryMail(424242, kPanelDay0, this->Audit("mail.retry"), std::move(done));
              })
                  .error()
                  .code,
              ErrorCode::kNotFound);
    EXPECT_EQ(this->AuditRows("mail."), 2u);
}

TYPED_TEST_P(PanelContract, BlocksByHandAreListedUntilTheyEndOrAreLifted) {
    auto block = [&](const std::string& ip, std::optional<SysSeconds> until) {
        return Wait<void>([&](Callback<void> done) {
            this->panel().BlockAddress({ip, "scraping", "ops@example.com", kPanelDay0, until},
                                       this->Audit("address.block", "ip:" + ip), std::move(done));
        });
    };
    ASSERT_TRUE(block("203.0.113.9", kPanelDay0 + std::chrono::hours(1)).ok());
    ASSERT_TRUE(block("2001:db8::1", std::nullopt).ok());
    ASSERT_TRUE(block("203.0.113.9", kPanelDay0 + std::chrono::hours(2)).ok()) << "a new block replaces the old";
    auto now = this->panel().ListAddressBlocks(kPanelDay0 + std::chrono::minutes(90)).value();
    ASSERT_EQ(now.size(), 2u);
    auto later = this->panel().ListAddressBlocks(kPanelDay0 + std::chrono::hours(3)).value();
    ASSERT_EQ(later.size(), 1u);
    EXPECT_EQ(later[0].ip, "2001:db8::1");
    EXPECT_FALSE(later[0].until.has_value());
    auto lift = [&](const std::string& ip) {
        return Wait<bool>([&](Callback<bool> done) {
            this->panel().UnblockAddress(ip, this->Audit("address.unblock", "ip:" + ip), std::move(done));
        });
    };
    EXPECT_TRUE(lift("2001:db8::1").value());
    EXPECT_FALSE(lift("2001:db8::1").value());
    EXPECT_TRUE(this->panel().ListAddressBlocks(kPanelDay0 + std::chrono::hours(3)).value().empty());
    EXPECT_EQ(this->AuditRows("address."), 5u);
}

TYPED_TEST_P(PanelContract, JobRunsKeepTheirResultAndTheLatestOfEachJobIsListed) {
    auto run = [&](const std::string& job, int minute, const std::string& result) {
        auto lease = Wait<std::optional<LeaseGrant>>([&](Callback<std::optional<LeaseGrant>> done) {
            this->db().leases().AcquireLease(job, "host:/data", kPanelDay0 + std::chrono::minutes(minute),
                                             std::chrono::seconds(30), std::move(done));
        });
        ASSERT_TRUE(lease.ok() && lease->has_value());
        JobRun r{0,
                 job,
                 (*lease)->token,
                 "host:/data",
                 kPanelDay0 + std::chrono::minutes(minute),
                 kPanelDay0 + std::chrono::minutes(minute) + std::chrono::seconds(2),
                 result};
        ASSERT_TRUE(
            Wait<bool>([&](Callback<bool> done) { this->db().leases().RecordJobRun(r, std::move(done)); }).ok());
    };
    run("rollup", 0, "");
    run("mail", 1, "");
    run("rollup", 2, "database is locked");
    const auto latest = this->panel().LatestJobRuns().value();
    ASSERT_EQ(latest.size(), 2u);
    EXPECT_EQ(latest[0].job, "mail");
    EXPECT_EQ(latest[0].result, "");
    EXPECT_EQ(latest[1].job, "rollup");
    EXPECT_EQ(latest[1].result, "database is locked");
    EXPECT_EQ(latest[1].started, kPanelDay0 + std::chrono::minutes(2));
    EXPECT_EQ(this->db().leases().ListJobRuns("rollup", 5).value().at(1).result, "");
    auto size = this->panel().GetStorageSize();
    ASSERT_TRUE(size.ok());
    EXPECT_GT(size->bytes, 0);
    EXPECT_FALSE(size->backend.empty());
}

REGISTER_TYPED_TEST_SUITE_P(PanelContract, CustomersAreSearchedAndPagedNewestFirstAndDeletedOnesLeftOut,
                            APlanChangeMovesTheSubscriptionWithItsLedgerAndAuditRowsOrChangesNothing,
                            ADisabledCustomersKeysAndSignInStopUntilEnabled,
                            MailIsRetriedOrCancelledOnlyFromTheRightState, BlocksByHandAreListedUntilTheyEndOrAreLifted,
                            JobRunsKeepTheirResultAndTheLatestOfEachJobIsListed);

}  // namespace gpuopt::store::contract
