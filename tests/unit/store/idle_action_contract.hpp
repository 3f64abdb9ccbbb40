// Acting on idle GPUs on every store backend (store/idle_actions.hpp): a policy's versions, snoozes that
// replace each other and end, and events recorded once however often their report is replayed.
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

inline const SysSeconds kIdleDay0 = std::chrono::sys_days{std::chrono::year{2026} / 11 / 2};

template <class Backend>
class IdleActionContract : public BackendFixture<Backend> {
protected:
    void SetUp() override {
        BackendFixture<Backend>::SetUp();
        if (this->HasFatalFailure()) return;
        for (const char* email : {"i@example.com", "j@example.com"}) {
            auto account = Wait<Account>([&](Callback<Account> done) {
                this->db().accounts().CreateAccount(
                    {email, std::string("hash-") + email, "gopt_abcd", Tier::kProfessional, kIdleDay0, {}},
                    std::move(done));
            });
            ASSERT_TRUE(account.ok());
            accounts_.push_back(account->id);
        }
    }

    IdleEvent Event(int64_t account, const std::string& key, IdleEventKind kind, SysSeconds at) {
        IdleEvent e;
        e.account_id = account;
        e.event_key = key;
        e.host = "trainer-1";
        e.gpu_key = "trainer-1/GPU-a";
        e.uuid = "GPU-a";
        e.kind = kind;
        e.action = kind == IdleEventKind::kWarned ? "" : "signal";
        e.dry_run = false;
        e.detail = "SIGTERM sent to 4121 (python, alice)";
        e.processes_json = R"([{"pid":4121,"name":"python","user":"alice","used_mem":29000}])";
        e.at = at;
        e.received_at = at + std::chrono::seconds(30);
        return e;
    }

    std::vector<int64_t> accounts_;
};

TYPED_TEST_SUITE_P(IdleActionContract);

TYPED_TEST_P(IdleActionContract, APolicyIsStoredWithANewVersionAtEachChange) {
    auto& repo = this->db().idle_actions();
    auto none = repo.GetIdlePolicy(this->accounts_[0]);
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value());

    IdlePolicy p;
    p.account_id = this->accounts_[0];
    p.enabled = true;
    p.dry_run = false;
    p.trigger = IdleTrigger::kIdle;
    p.idle_minutes = 45.5;
    p.grace_minutes = 10;
    p.action = IdleAction::kExec;
    p.kill_after_seconds = 20;
    auto first =
        Wait<IdlePolicy>([&](Callback<IdlePolicy> done) { repo.SetIdlePolicy(p, kIdleDay0, std::move(done)); });
    ASSERT_TRUE(first.ok()) << first.error().message;
    EXPECT_EQ(first->version, 1);
    p.action = IdleAction::kSignal;
    auto second = Wait<IdlePolicy>(
        [&](Callback<IdlePolicy> done) { repo.SetIdlePolicy(p, kIdleDay0 + std::chrono::hours(1), std::move(done)); });
    ASSERT_TRUE(second.ok());
    EXPECT_EQ(second->version, 2);

    auto read = repo.GetIdlePolicy(this->accounts_[0]);
    ASSERT_TRUE(read.ok() && read->has_value());
    const IdlePolicy& got = **read;
    EXPECT_TRUE(got.enabled);
    EXPECT_FALSE(got.dry_run);
    EXPECT_EQ(got.trigger, IdleTrigger::kIdle);
    EXPECT_DOUBLE_EQ(got.idle_minutes, 45.5);
    EXPECT_DOUBLE_EQ(got.grace_minutes, 10);
    EXPECT_EQ(got.action, IdleAction::kSignal);
    EXPECT_EQ(got.kill_after_seconds, 20);
    EXPECT_EQ(got.version, 2);
    EXPECT_EQ(got.updated_at, kIdleDay0 + std::chrono::hours(1));
    // Another customer's is apart.
    auto other = repo.GetIdlePolicy(this->accounts_[1]);
    ASSERT_TRUE(other.ok());
    EXPECT_FALSE(other->has_value());
}

TYPED_TEST_P(IdleActionContract, ASnoozeReplacesTheLastOneAndEnds) {
    auto& repo = this->db().idle_actions();
    auto snooze = [&](const std::string& uuid, SysSeconds until) {
        IdleSnooze z{this->accounts_[0], "trainer-1/" + uuid, "trainer-1", uuid, until, kIdleDay0};
        return Wait<void>([&](Callback<void> done) { repo.SnoozeGpu(z, std::move(done)); });
    };
    ASSERT_TRUE(snooze("GPU-a", kIdleDay0 + std::chrono::hours(4)).ok());
    ASSERT_TRUE(snooze("GPU-b", kIdleDay0 + std::chrono::hours(1)).ok());
    ASSERT_TRUE(snooze("GPU-a", kIdleDay0 + std::chrono::hours(8)).ok());  // longer: replaces
    auto active = repo.ActiveSnoozes(this->accounts_[0], kIdleDay0 + std::chrono::hours(2));
    ASSERT_TRUE(active.ok());
    ASSERT_EQ(active->size(), 1u);  // GPU-b's ended
    EXPECT_EQ((*active)[0].gpu_key, "trainer-1/GPU-a");
    EXPECT_EQ((*active)[0].host, "trainer-1");
    EXPECT_EQ((*active)[0].uuid, "GPU-a");
    EXPECT_EQ((*active)[0].until, kIdleDay0 + std::chrono::hours(8));
    ASSERT_TRUE(snooze("GPU-a", kIdleDay0).ok());  // ended by the customer
    auto after = repo.ActiveSnoozes(this->accounts_[0], kIdleDay0 + std::chrono::hours(2));
    ASSERT_TRUE(after.ok());
    EXPECT_TRUE(after->empty());
    auto other = repo.ActiveSnoozes(this->accounts_[1], kIdleDay0);
    ASSERT_TRUE(other.ok());
    EXPECT_TRUE(other->empty());
}

TYPED_TEST_P(IdleActionContract, EventsAreRecordedOnceNewestFirst) {
    auto& repo = this->db().idle_actions();
    const int64_t a = this->accounts_[0];
    std::vector<IdleEvent> batch{
        this->Event(a, "h:000001#0", IdleEventKind::kWarned, kIdleDay0),
        this->Event(a, "h:000002#0", IdleEventKind::kActed, kIdleDay0 + std::chrono::minutes(15))};
    auto added = Wait<int>([&](Callback<int> done) { repo.RecordIdleEvents(batch, std::move(done)); });
    ASSERT_TRUE(added.ok()) << added.error().message;
    EXPECT_EQ(*added, 2);
    // The same report again, with one event more of another customer's that happens to share a key.
    batch.push_back(this->Event(this->accounts_[1], "h:000001#0", IdleEventKind::kWouldAct, kIdleDay0));
    auto again = Wait<int>([&](Callback<int> done) { repo.RecordIdleEvents(batch, std::move(done)); });
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, 1);

    auto list = repo.ListIdleEvents(a, 10);
    ASSERT_TRUE(list.ok());
    ASSERT_EQ(list->size(), 2u);
    const IdleEvent& acted = (*list)[0];
    EXPECT_EQ(acted.kind, IdleEventKind::kActed);
    EXPECT_EQ(acted.event_key, "h:000002#0");
    EXPECT_EQ(acted.action, "signal");
    EXPECT_FALSE(acted.dry_run);
    EXPECT_EQ(acted.gpu_key, "trainer-1/GPU-a");
    EXPECT_EQ(acted.detail, "SIGTERM sent to 4121 (python, alice)");
    EXPECT_NE(acted.processes_json.find("\"user\":\"alice\""), std::string::npos);
    EXPECT_EQ(acted.at, kIdleDay0 + std::chrono::minutes(15));
    EXPECT_EQ(acted.received_at, kIdleDay0 + std::chrono::minutes(15) + std::chrono::seconds(30));
    EXPECT_EQ((*list)[1].kind, IdleEventKind::kWarned);
    EXPECT_EQ((*list)[1].action, "");
    auto limited = repo.ListIdleEvents(a, 1);
    ASSERT_TRUE(limited.ok());
    EXPECT_EQ(limited->size(), 1u);
    auto other = repo.ListIdleEvents(this->accounts_[1], 10);
    ASSERT_TRUE(other.ok());
    ASSERT_EQ(other->size(), 1u);
    EXPECT_EQ((*other)[0].kind, IdleEventKind::kWouldAct);
}

REGISTER_TYPED_TEST_SUITE_P(IdleActionContract, APolicyIsStoredWithANewVersionAtEachChange,
                            ASnoozeReplacesTheLastOneAndEnds, EventsAreRecordedOnceNewestFirst);

}  // namespace gpuopt::store::contract
