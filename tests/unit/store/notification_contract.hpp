// Report settings and outgoing webhooks on every store backend (store/notifications.hpp): settings that
// default on and keep their token, a link that turns reports off, endpoints limited per account and kept
// apart, one delivery per endpoint and event however often it is enqueued, and attempts recorded in the log.
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

inline const SysSeconds kNoteDay0 = std::chrono::sys_days{std::chrono::year{2026} / 11 / 9};

template <class Backend>
class NotificationContract : public BackendFixture<Backend> {
protected:
    void SetUp() override {
        BackendFixture<Backend>::SetUp();
        if (this->HasFatalFailure()) return;
        for (const char* email : {"n@example.com", "m@example.com"}) {
            auto account = Wait<Account>([&](Callback<Account> done) {
                this->db().accounts().CreateAccount(
                    {email, std::string("hash-") + email, "gopt_abcd", Tier::kEnterprise, kNoteDay0, {}},
                    std::move(done));
            });
            ASSERT_TRUE(account.ok());
            accounts_.push_back(account->id);
        }
    }

    Result<WebhookEndpoint> Add(int64_t account, const std::string& url, size_t max = 5) {
        WebhookEndpoint e;
        e.account_id = account;
        e.url = url;
        e.secret = "whsec_test";
        e.events = {"alert.fired", "payment.completed"};
        e.created_at = kNoteDay0;
        return Wait<WebhookEndpoint>([&](Callback<WebhookEndpoint> done) {
            this->db().notifications().AddWebhookEndpoint(e, max, std::move(done));
        });
    }

    Result<int> Enqueue(std::vector<WebhookEvent> events, SysSeconds mark) {
        return Wait<int>([&](Callback<int> done) {
            this->db().notifications().EnqueueWebhookEvents(std::move(events), mark, std::move(done));
        });
    }

    std::vector<int64_t> accounts_;
};

TYPED_TEST_SUITE_P(NotificationContract);

TYPED_TEST_P(NotificationContract, ReportSettingsDefaultOnKeepTheirTokenAndStopFromTheLink) {
    auto& repo = this->db().notifications();
    auto defaults = repo.GetReportSettings(this->accounts_[0]);
    ASSERT_TRUE(defaults.ok());
    EXPECT_TRUE(defaults->weekly);
    EXPECT_TRUE(defaults->daily);
    EXPECT_EQ(defaults->unsubscribe_token, "");

    auto set = [&](ReportSettings s, const std::string& token) {
        return Wait<ReportSettings>(
            [&](Callback<ReportSettings> done) { repo.SetReportSettings(s, token, std::move(done)); });
    };
    auto first = set({this->accounts_[0], true, false, ""}, "tokenAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    ASSERT_TRUE(first.ok()) << first.error().message;
    EXPECT_FALSE(first->daily);
    EXPECT_EQ(first->unsubscribe_token, "tokenAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    auto second = set({this->accounts_[0], true, true, ""}, "tokenBBBBBBBBBBBBBBBBBBBBBBBBBBBB");
    ASSERT_TRUE(second.ok());
    EXPECT_TRUE(second->daily);
    EXPECT_EQ(second->unsubscribe_token,
              "tokenAAAAAAAAAAAAAAAAAAAAAAAAAAAA");  // the first stays: old mails' links work
    ASSERT_TRUE(set({this->accounts_[1], true, true, ""}, "tokenCCCCCCCCCCCCCCCCCCCCCCCCCCCC").ok());

    auto off = Wait<ReportSettings>([&](Callback<ReportSettings> done) {
        repo.UnsubscribeReports("tokenAAAAAAAAAAAAAAAAAAAAAAAAAAAA", std::move(done));
    });
    ASSERT_TRUE(off.ok());
    EXPECT_EQ(off->account_id, this->accounts_[0]);
    EXPECT_FALSE(off->weekly);
    EXPECT_FALSE(off->daily);
    auto unknown = Wait<ReportSettings>([&](Callback<ReportSettings> done) {
        repo.UnsubscribeReports("tokenZZZZZZZZZZZZZZZZZZZZZZZZZZZZ", std::move(done));
    });
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
    auto other = repo.GetReportSettings(this->accounts_[1]);
    ASSERT_TRUE(other.ok());
    EXPECT_TRUE(other->weekly);  // another account's stays on
}

TYPED_TEST_P(NotificationContract, EndpointsAreLimitedPerAccountAndKeptApart) {
    auto& repo = this->db().notifications();
    auto a = this->Add(this->accounts_[0], "https://hooks.example.com/a", 2);
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_GT(a->id, 0);
    ASSERT_TRUE(this->Add(this->accounts_[0], "https://hooks.example.com/b", 2).ok());
    auto third = this->Add(this->accounts_[0], "https://hooks.example.com/c", 2);
    ASSERT_FALSE(third.ok());
    EXPECT_EQ(third.error().code, ErrorCode::kTierLimitExceeded);
    ASSERT_TRUE(this->Add(this->accounts_[1], "https://hooks.example.com/m", 2).ok());

    auto mine = repo.ListWebhookEndpoints(this->accounts_[0]);
    ASSERT_TRUE(mine.ok());
    ASSERT_EQ(mine->size(), 2u);
    EXPECT_EQ((*mine)[0].url, "https://hooks.example.com/a");
    EXPECT_EQ((*mine)[0].secret, "whsec_test");
    EXPECT_EQ((*mine)[0].events, (std::vector<std::string>{"alert.fired", "payment.completed"}));
    EXPECT_EQ((*mine)[0].created_at, kNoteDay0);
    auto all = repo.AllWebhookEndpoints(100);
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(all->size(), 3u);

    auto del = [&](int64_t account, int64_t id) {
        return Wait<bool>([&](Callback<bool> done) { repo.DeleteWebhookEndpoint(account, id, std::move(done)); });
    };
    auto not_theirs = del(this->accounts_[1], a->id);
    ASSERT_TRUE(not_theirs.ok());
    EXPECT_FALSE(*not_theirs);
    auto deleted = del(this->accounts_[0], a->id);
    ASSERT_TRUE(deleted.ok());
    EXPECT_TRUE(*deleted);
    EXPECT_EQ(repo.ListWebhookEndpoints(this->accounts_[0])->size(), 1u);
}

TYPED_TEST_P(NotificationContract, AnEventIsDeliveredOncePerEndpointAndEveryAttemptIsLogged) {
    auto& repo = this->db().notifications();
    auto mark = repo.WebhookScanMark();
    ASSERT_TRUE(mark.ok());
    EXPECT_FALSE(mark->has_value());
    auto a = this->Add(this->accounts_[0], "https://hooks.example.com/a");
    auto b = this->Add(this->accounts_[0], "https://hooks.example.com/b");
    ASSERT_TRUE(a.ok() && b.ok());
    const int64_t acct = this->accounts_[0];
    std::vector<WebhookEvent> events{
        {a->id, acct, "alert.fired:1", "alert.fired", R"({"id":"alert.fired:1"})", kNoteDay0},
        {b->id, acct, "alert.fired:1", "alert.fired", R"({"id":"alert.fired:1"})", kNoteDay0},
        {a->id, acct, "payment.completed:7", "payment.completed", R"({"id":"payment.completed:7"})",
         kNoteDay0 + std::chrono::minutes(1)}};
    auto added = this->Enqueue(events, kNoteDay0 + std::chrono::minutes(2));
    ASSERT_TRUE(added.ok()) << added.error().message;
    EXPECT_EQ(*added, 3);
    auto again = this->Enqueue(events, kNoteDay0 + std::chrono::minutes(3));  // a scan that overlaps the last
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, 0);
    mark = repo.WebhookScanMark();
    ASSERT_TRUE(mark.ok() && mark->has_value());
    EXPECT_EQ(**mark, kNoteDay0 + std::chrono::minutes(3));

    auto due = repo.DueWebhookDeliveries(kNoteDay0 + std::chrono::minutes(5), 10);
    ASSERT_TRUE(due.ok());
    ASSERT_EQ(due->size(), 3u);
    EXPECT_EQ((*due)[0].url, "https://hooks.example.com/a");
    EXPECT_EQ((*due)[0].secret, "whsec_test");
    EXPECT_EQ((*due)[0].payload, R"({"id":"alert.fired:1"})");
    auto record = [&](int64_t id, WebhookState state, int attempts, SysSeconds next, int status,
                      const std::string& error) {
        return Wait<void>([&](Callback<void> done) {
            repo.RecordWebhookAttempt(id, state, attempts, next, status, error, kNoteDay0 + std::chrono::minutes(5),
                                      std::move(done));
        });
    };
    const int64_t first = (*due)[0].id;
    ASSERT_TRUE(
        record(first, WebhookState::kPending, 1, kNoteDay0 + std::chrono::minutes(6), 503, "the webhook answered 503")
            .ok());
    ASSERT_TRUE(record((*due)[1].id, WebhookState::kDelivered, 1, kNoteDay0, 200, "").ok());
    ASSERT_TRUE(record((*due)[2].id, WebhookState::kFailed, 10, kNoteDay0, 0, "timeout").ok());
    // Only the retry is due, and only once its time comes.
    EXPECT_TRUE(repo.DueWebhookDeliveries(kNoteDay0 + std::chrono::minutes(5), 10)->empty());
    auto retry = repo.DueWebhookDeliveries(kNoteDay0 + std::chrono::minutes(6), 10);
    ASSERT_TRUE(retry.ok());
    ASSERT_EQ(retry->size(), 1u);
    EXPECT_EQ((*retry)[0].id, first);
    EXPECT_EQ((*retry)[0].attempts, 1);

    auto log = repo.ListWebhookDeliveries(acct, a->id, 10);
    ASSERT_TRUE(log.ok());
    ASSERT_EQ(log->size(), 2u);  // newest first
    EXPECT_EQ((*log)[0].type, "payment.completed");
    EXPECT_EQ((*log)[0].state, WebhookState::kFailed);
    EXPECT_EQ((*log)[0].attempts, 10);
    EXPECT_EQ((*log)[0].last_error, "timeout");
    ASSERT_TRUE((*log)[0].finished_at.has_value());
    EXPECT_EQ((*log)[1].state, WebhookState::kPending);
    EXPECT_EQ((*log)[1].last_status, 503);
    EXPECT_FALSE((*log)[1].finished_at.has_value());
    EXPECT_TRUE(repo.ListWebhookDeliveries(this->accounts_[1], a->id, 10)->empty());  // not another's

    // An endpoint removed takes its log with it; an event for it adds nothing.
    ASSERT_TRUE(
        Wait<bool>([&](Callback<bool> done) { repo.DeleteWebhookEndpoint(acct, a->id, std::move(done)); }).ok());
    EXPECT_TRUE(repo.ListWebhookDeliveries(acct, a->id, 10)->empty());
    auto orphan = this->Enqueue({{a->id, acct, "alert.fired:2", "alert.fired", "{}", kNoteDay0}}, kNoteDay0);
    ASSERT_TRUE(orphan.ok());
    EXPECT_EQ(*orphan, 0);
}

REGISTER_TYPED_TEST_SUITE_P(NotificationContract, ReportSettingsDefaultOnKeepTheirTokenAndStopFromTheLink,
                            EndpointsAreLimitedPerAccountAndKeptApart,
                            AnEventIsDeliveredOncePerEndpointAndEveryAttemptIsLogged);

}  // namespace gpuopt::store::contract
