// The store contract (store/database.hpp and the repositories it joins), as one typed suite that every
// backend runs: sqlite_contract_test.cpp instantiates it over SqliteStore, pg_contract_test.cpp over
// PgStore. Everything is read back through the repositories themselves, never through a backend's tables.
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

#include "store/database.hpp"
#include "store/wait.hpp"
#include "support/db_snapshot.hpp"
#include "unit/store/backend_fixture.hpp"

namespace gpuopt::store::contract {

using namespace std::chrono;

inline const SysSeconds kNow = sys_days{2026y / 11 / 25} + 12h;
// Later than anything a test writes, UtcNow() included: DueMail(kFar) is every mail still pending.
inline const SysSeconds kFar = sys_days{2100y / 1 / 1};

template <class Backend>
class StoreContract : public BackendFixture<Backend> {
protected:
    Result<Account> Create(const std::string& email, const std::string& key_hash, SysSeconds now = kNow,
                           std::optional<OutboxMessage> welcome = std::nullopt) {
        return Wait<Account>([&](Callback<Account> done) {
            this->db().accounts().CreateAccount({email, key_hash, "gopt_abcd", Tier::kFree, now, std::move(welcome)},
                                                std::move(done));
        });
    }

    static UsageReport Report(std::optional<std::string> id, const std::vector<std::string>& uuids, double util = 5) {
        UsageReport r;
        r.report_id = std::move(id);
        r.agent_id = "agent";
        r.hostname = "host";
        r.window_start = kNow - seconds(60);
        r.window_end = kNow;
        r.samples = 6;
        int i = 0;
        for (const auto& u : uuids) {
            GpuWindow g;
            g.gpu_index = i++;
            g.uuid = u;
            g.gpu_key = "host/" + u;
            g.name = "A100";
            g.util_avg = util;
            g.mem_used_mib = 1;
            g.mem_total_mib = 2;
            g.cost_per_hour = 3.6;
            g.processes_json = "[]";
            r.gpus.push_back(std::move(g));
        }
        return r;
    }

    Result<IngestOutcome> Ingest(int64_t account, UsageReport report, std::optional<int> limit = std::nullopt,
                                 SysSeconds now = kNow) {
        return Wait<IngestOutcome>([&](Callback<IngestOutcome> done) {
            this->db().usage().IngestReport({account, std::move(report), limit, hours(24), now}, std::move(done));
        });
    }

    // Raw windows the account has stored, whatever their GPU, within a month of kNow.
    size_t WindowCount(int64_t account) {
        return this->db().usage().ReadWindows(account, kNow - days(30), kNow + days(30)).value().size();
    }

    int64_t Customers() { return this->db().stats().GetStats({kNow, 30, 15, 0.5}).value().total_customers; }

    static OutboxMessage Mail(const std::string& key, int64_t account, const std::string& kind = "notice",
                              const std::string& to = "a@example.com") {
        OutboxMessage m;
        m.dedup_key = key;
        m.account_id = account;
        m.to = to;
        m.subject = "Subject of " + key;
        m.text = "Text of " + key;
        m.html = "<p>" + key + "</p>";
        m.kind = kind;
        return m;
    }

    // The dedup keys of every mail still pending, in the order they were enqueued.
    std::vector<std::string> MailKeys() {
        std::vector<std::string> keys;
        for (const auto& item : this->db().outbox().DueMail(kFar, 1000).value()) keys.push_back(item.message.dedup_key);
        return keys;
    }

    std::vector<RevenueEvent> Ledger(int64_t account) {
        return this->db().billing().ListRevenueEvents(account, 100).value();
    }
    std::vector<std::string> LedgerKinds(int64_t account) {
        std::vector<std::string> kinds;
        for (const auto& e : Ledger(account)) kinds.push_back(e.kind);
        return kinds;
    }

    // A checkout for the professional plan at 49 USD through Flutterwave, offered for an hour; a renewal
    // when it names the period it extends.
    Result<Payment> Pay(int64_t account, const std::string& reference, SysSeconds now = kNow,
                        std::optional<SysSeconds> renews_period_end = std::nullopt) {
        NewPayment p;
        p.account_id = account;
        p.reference = reference;
        p.gateway = "flutterwave";
        p.tier = Tier::kProfessional;
        p.amount = 49;
        p.currency = "USD";
        p.purpose = renews_period_end ? "renewal" : "upgrade";
        p.now = now;
        p.expires_at = now + hours(1);
        p.renews_period_end = renews_period_end;
        return Wait<Payment>(
            [&](Callback<Payment> done) { this->db().billing().CreatePayment(std::move(p), std::move(done)); });
    }
    Payment PaymentOf(const std::string& reference) {
        return this->db().billing().FindPaymentByReference(reference).value();
    }

    // What the store showed the mail builder of a completion.
    struct MailBuild {
        PaymentStatus status = PaymentStatus::kPending;
        Tier previous_tier = Tier::kFree;
        Tier tier = Tier::kFree;
        std::string email;
    };

    // Confirms a payment the way billing does: a receipt, and an upgrade notice when the plan changes.
    Result<CompletionOutcome> Complete(int64_t payment_id, SysSeconds now, double paid = 49) {
        Completion c;
        c.payment_id = payment_id;
        c.gateway_id = "flw-" + std::to_string(payment_id);
        c.paid_amount = paid;
        c.paid_currency = "USD";
        c.now = now;
        c.mails = [this](const Payment& p, const CompletionOutcome& o, const std::string& email) {
            builds_.push_back({p.status, o.previous_tier, o.tier, email});  // the caller waits meanwhile
            std::vector<OutboxMessage> mails{Mail("receipt:" + p.reference, p.account_id, "receipt", email)};
            if (o.previous_tier != o.tier)
                mails.push_back(Mail("upgrade:" + p.reference, p.account_id, "upgrade", email));
            return mails;
        };
        return Wait<CompletionOutcome>([&](Callback<CompletionOutcome> done) {
            this->db().billing().CompletePayment(std::move(c), std::move(done));
        });
    }

    std::optional<Subscription> SubscriptionOf(int64_t account) {
        return this->db().billing().GetSubscription(account).value();
    }

    Result<bool> RecordEvent(GatewayEvent e) {
        return Wait<bool>(
            [&](Callback<bool> done) { this->db().billing().RecordGatewayEvent(std::move(e), std::move(done)); });
    }
    Result<void> FinishEvent(int64_t id, GatewayEventState state, const std::string& result, int attempts,
                             std::optional<SysSeconds> next_attempt) {
        return Wait<void>([&](Callback<void> done) {
            this->db().billing().FinishGatewayEvent(id, state, result, attempts, next_attempt, std::move(done));
        });
    }
    std::vector<std::string> DueEventKeys(SysSeconds now, size_t limit = 100) {
        std::vector<std::string> keys;
        for (const auto& e : this->db().billing().DueGatewayEvents(now, limit).value()) keys.push_back(e.dedup_key);
        return keys;
    }

    std::vector<MailBuild> builds_;
};

TYPED_TEST_SUITE_P(StoreContract);

// ---------------------------------------------------------------------------------------------------
// Accounts

TYPED_TEST_P(StoreContract, CreatesAndFindsAccountsByKeyHash) {
    auto a = this->Create("a@example.com", "hash-a");
    ASSERT_TRUE(a.ok());
    EXPECT_GT(a->id, 0);
    EXPECT_EQ(a->email, "a@example.com");
    EXPECT_EQ(a->tier, Tier::kFree);
    EXPECT_EQ(a->key_prefix, "gopt_abcd");
    EXPECT_EQ(a->created_at, "2026-11-25T12:00:00Z");
    auto found = this->db().accounts().FindAccountByKeyHash("hash-a");
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(found->id, a->id);
    EXPECT_EQ(found->email, "a@example.com");
    EXPECT_EQ(found->tier, Tier::kFree);
    EXPECT_EQ(found->key_prefix, "gopt_abcd");
    EXPECT_EQ(found->created_at, "2026-11-25T12:00:00Z");
    auto by_id = this->db().accounts().GetAccount(a->id);
    ASSERT_TRUE(by_id.ok());
    EXPECT_EQ(by_id->email, "a@example.com");
    EXPECT_EQ(this->db().accounts().FindAccountByKeyHash("nope").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(this->db().accounts().GetAccount(a->id + 1000).error().code, ErrorCode::kNotFound);
}

TYPED_TEST_P(StoreContract, ASignupWritesItsLedgerRowAndWelcomeMailWithTheAccount) {
    auto welcome = this->Mail("welcome:a@example.com", 0, "welcome");
    welcome.headers["List-Unsubscribe"] = "<https://app.example.test/unsubscribe>";
    auto a = this->Create("a@example.com", "h", kNow, welcome);
    ASSERT_TRUE(a.ok());
    auto ledger = this->Ledger(a->id);
    ASSERT_EQ(ledger.size(), 1u);
    EXPECT_EQ(ledger[0].account_id, a->id);
    EXPECT_EQ(ledger[0].kind, "signup");
    EXPECT_EQ(ledger[0].tier, Tier::kFree);
    EXPECT_DOUBLE_EQ(ledger[0].amount, 0);
    EXPECT_FALSE(ledger[0].payment_id.has_value());
    EXPECT_EQ(ledger[0].at, kNow);
    auto mail = this->db().outbox().DueMail(kNow, 10);
    ASSERT_TRUE(mail.ok());
    ASSERT_EQ(mail->size(), 1u);
    EXPECT_EQ((*mail)[0].message.dedup_key, "welcome:a@example.com");
    EXPECT_EQ((*mail)[0].message.account_id, a->id) << "the welcome mail belongs to the new account";
    EXPECT_EQ((*mail)[0].message.kind, "welcome");
    EXPECT_EQ((*mail)[0].message.headers, welcome.headers);
    EXPECT_EQ((*mail)[0].next_attempt, kNow);
}

TYPED_TEST_P(StoreContract, DuplicateEmailIsAlreadyExists) {
    ASSERT_TRUE(this->Create("a@example.com", "h1").ok());
    auto again = this->Create("a@example.com", "h2", kNow, this->Mail("welcome:again", 0, "welcome"));
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
    // Nothing of the refused signup is written: not the account, not its welcome mail.
    EXPECT_EQ(this->db().accounts().FindAccountByKeyHash("h2").error().code, ErrorCode::kNotFound);
    EXPECT_TRUE(this->MailKeys().empty());
    EXPECT_EQ(this->Customers(), 1);
}

TYPED_TEST_P(StoreContract, AFailingWriteLeavesItsBatchNeighboursIntact) {
    // Queue many writes at once so they share transactions; half of them collide.
    std::vector<std::future<Result<Account>>> futures;
    for (int i = 0; i < 200; ++i) {
        auto p = std::make_shared<std::promise<Result<Account>>>();
        futures.push_back(p->get_future());
        const std::string email = "u" + std::to_string(i % 100) + "@example.com";
        this->db().accounts().CreateAccount({email, "hash" + std::to_string(i), "gopt_x", Tier::kFree, kNow, {}},
                                            [p](Result<Account> r) { p->set_value(std::move(r)); });
    }
    int ok = 0, conflict = 0;
    for (auto& f : futures) {
        auto r = f.get();
        if (r.ok())
            ++ok;
        else if (r.error().code == ErrorCode::kAlreadyExists)
            ++conflict;
    }
    EXPECT_EQ(ok, 100);
    EXPECT_EQ(conflict, 100);
    EXPECT_EQ(this->Customers(), 100);
    int found = 0;
    for (int i = 0; i < 200; ++i) found += this->db().accounts().FindAccountByKeyHash("hash" + std::to_string(i)).ok();
    EXPECT_EQ(found, 100);
    EXPECT_LT(this->CommittedTransactions(), 200u) << "concurrent writes share commits";
    EXPECT_TRUE(this->db().Ping().ok()) << "a failed write is not a broken store";
}

TYPED_TEST_P(StoreContract, SetTierChangesThePlan) {
    auto a = this->Create("a@example.com", "h");
    ASSERT_TRUE(a.ok());
    auto r = Wait<Account>([&](Callback<Account> done) {
        this->db().accounts().SetTier("a@example.com", Tier::kEnterprise, std::move(done));
    });
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->id, a->id);
    EXPECT_EQ(r->tier, Tier::kEnterprise);
    EXPECT_EQ(this->db().accounts().FindAccountByKeyHash("h")->tier, Tier::kEnterprise);
    EXPECT_EQ(this->db().accounts().GetAccount(a->id)->tier, Tier::kEnterprise);
    auto missing = Wait<Account>(
        [&](Callback<Account> done) { this->db().accounts().SetTier("x@example.com", Tier::kFree, std::move(done)); });
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TYPED_TEST_P(StoreContract, CachedAccountsFollowChangesMadeThroughTheStore) {
    ASSERT_TRUE(this->Create("a@example.com", "h").ok());
    EXPECT_EQ(this->db().accounts().FindAccountByKeyHash("h")->tier, Tier::kFree);  // now cached
    ASSERT_TRUE(Wait<Account>([&](Callback<Account> done) {
                    this->db().accounts().SetTier("a@example.com", Tier::kProfessional, std::move(done));
                }).ok());
    EXPECT_EQ(this->db().accounts().FindAccountByKeyHash("h")->tier, Tier::kProfessional);
}

// ---------------------------------------------------------------------------------------------------
// Usage and history

TYPED_TEST_P(StoreContract, StoresAReportOncePerReportId) {
    auto a = this->Create("a@example.com", "h");
    ASSERT_TRUE(a.ok());
    auto first = this->Ingest(a->id, this->Report("r:1", {"GPU-1", "GPU-2"}));
    ASSERT_TRUE(first.ok());
    EXPECT_FALSE(first->duplicate);
    EXPECT_EQ(this->WindowCount(a->id), 2u);
    auto second = this->Ingest(a->id, this->Report("r:1", {"GPU-1", "GPU-2"}));
    ASSERT_TRUE(second.ok());
    EXPECT_TRUE(second->duplicate);
    EXPECT_EQ(this->WindowCount(a->id), 2u) << "a duplicate writes nothing";
    // Reports without an id are all kept.
    ASSERT_TRUE(this->Ingest(a->id, this->Report(std::nullopt, {"GPU-1"})).ok());
    ASSERT_TRUE(this->Ingest(a->id, this->Report(std::nullopt, {"GPU-1"})).ok());
    EXPECT_EQ(this->WindowCount(a->id), 4u);
    // The same report id belongs to each account separately.
    auto b = this->Create("b@example.com", "hb");
    ASSERT_TRUE(b.ok());
    auto other = this->Ingest(b->id, this->Report("r:1", {"GPU-9"}));
    ASSERT_TRUE(other.ok());
    EXPECT_FALSE(other->duplicate);
    EXPECT_EQ(this->WindowCount(b->id), 1u);
}

TYPED_TEST_P(StoreContract, GpuLimitCountsDistinctGpusInTheWindow) {
    auto a = this->Create("a@example.com", "h");
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(this->Ingest(a->id, this->Report(std::nullopt, {"GPU-1", "GPU-2"}), 2).ok());
    ASSERT_TRUE(this->Ingest(a->id, this->Report(std::nullopt, {"GPU-2"}), 2).ok());
    auto over = this->Ingest(a->id, this->Report(std::nullopt, {"GPU-3"}), 2);
    ASSERT_FALSE(over.ok());
    EXPECT_EQ(over.error().code, ErrorCode::kTierLimitExceeded);
    EXPECT_EQ(this->WindowCount(a->id), 3u) << "a refused report writes nothing";
    EXPECT_EQ(this->db().usage().ReadFleet(a->id, kNow - hours(1)).value().size(), 2u);
    // 25 hours later the old GPUs have left the window.
    EXPECT_TRUE(this->Ingest(a->id, this->Report(std::nullopt, {"GPU-3", "GPU-4"}), 2, kNow + hours(25)).ok());
    // An unlimited plan is not counted.
    EXPECT_TRUE(this->Ingest(a->id, this->Report(std::nullopt, {"GPU-5", "GPU-6", "GPU-7"})).ok());
    EXPECT_EQ(this->WindowCount(a->id), 8u);
}

TYPED_TEST_P(StoreContract, DataSurvivesReopening) {
    auto a = this->Create("a@example.com", "h");
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(this->Ingest(a->id, this->Report("r:1", {"GPU-1"})).ok());
    ASSERT_NO_FATAL_FAILURE(this->Reopen());
    auto found = this->db().accounts().FindAccountByKeyHash("h");
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(found->id, a->id);
    EXPECT_EQ(found->email, "a@example.com");
    auto again = this->Ingest(a->id, this->Report("r:1", {"GPU-1"}));
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(again->duplicate);
    EXPECT_EQ(this->WindowCount(a->id), 1u);
}

TYPED_TEST_P(StoreContract, ReadsWindowsBackByAccountRangeAndGpu) {
    auto a = this->Create("a@example.com", "h");
    auto b = this->Create("b@example.com", "h2");
    ASSERT_TRUE(a.ok() && b.ok());
    for (int i = 0; i < 3; ++i) {
        UsageReport r = this->Report("a" + std::to_string(i), {"GPU-1", "GPU-2"});
        r.window_end = kNow - minutes(10 - i);
        r.window_start = r.window_end - seconds(60);
        ASSERT_TRUE(this->Ingest(a->id, r).ok());
    }
    ASSERT_TRUE(this->Ingest(b->id, this->Report("b0", {"GPU-9"})).ok());
    UsageRepository& usage = this->db().usage();
    auto all = usage.ReadWindows(a->id, kNow - hours(1), kNow);
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(all->size(), 6u);
    for (const auto& w : *all) EXPECT_EQ(w.account_id, a->id);
    auto one = usage.ReadWindows(a->id, kNow - hours(1), kNow, "host/GPU-2");
    ASSERT_TRUE(one.ok());
    ASSERT_EQ(one->size(), 3u);
    EXPECT_EQ((*one)[0].gpu_key, "host/GPU-2");
    EXPECT_EQ((*one)[0].uuid, "GPU-2");
    EXPECT_EQ((*one)[0].gpu_index, 1);
    EXPECT_EQ((*one)[0].window_end, kNow - minutes(10));
    EXPECT_EQ((*one)[2].window_end, kNow - minutes(8));  // oldest first
    EXPECT_EQ((*one)[0].window_seconds, 60);
    EXPECT_DOUBLE_EQ((*one)[0].cost_per_hour, 3.6);
    // (from, to]: a window ending exactly at `from` is outside.
    EXPECT_EQ(usage.ReadWindows(a->id, kNow - minutes(10), kNow).value().size(), 4u);
    auto fleet = usage.ReadFleet(a->id, kNow - hours(1));
    ASSERT_TRUE(fleet.ok());
    ASSERT_EQ(fleet->size(), 2u);
    ASSERT_TRUE((*fleet)[0].latest.has_value());
    EXPECT_EQ((*fleet)[0].latest->window_end, kNow - minutes(8));  // the newest window, not the first
}

TYPED_TEST_P(StoreContract, RollUpMergesOnceAndRetentionKeepsWhatIsYoung) {
    auto a = this->Create("a@example.com", "h");
    ASSERT_TRUE(a.ok());
    for (int i = 0; i < 120; ++i) {
        UsageReport r = this->Report("r" + std::to_string(i), {"GPU-1"}, i < 60 ? 2 : 80);
        r.window_end = kNow - hours(24 * 10) + minutes(i + 1);  // ten days ago, two hours of windows
        r.window_start = r.window_end - seconds(60);
        ASSERT_TRUE(this->Ingest(a->id, r, std::nullopt, r.window_end).ok());
    }
    UsageRepository& usage = this->db().usage();
    auto windows = usage.ReadWindowsAfter(0, 1000);
    ASSERT_TRUE(windows.ok());
    ASSERT_EQ(windows->size(), 120u);
    std::vector<HourlyRow> rolled;
    for (const auto& w : *windows) {
        HourlyRow h;
        h.account_id = w.account_id;
        h.gpu_key = w.gpu_key;
        h.hour = std::chrono::floor<std::chrono::hours>(w.window_end - seconds(1));
        h.windows = 1;
        h.reported_s = 60;
        h.cost_usd = 0.06;
        rolled.push_back(h);
    }
    auto apply = [&](std::vector<HourlyRow> rows, int64_t expected, int64_t to) {
        return Wait<void>(
            [&](Callback<void> done) { usage.ApplyRollup(std::move(rows), expected, to, std::move(done)); });
    };
    EXPECT_EQ(usage.RollupWatermark().value(), 0);
    ASSERT_TRUE(apply(rolled, 0, windows->back().id).ok());
    EXPECT_EQ(usage.RollupWatermark().value(), windows->back().id);
    // A second run with the old watermark writes nothing: the hours are not counted twice.
    auto twice = apply(rolled, 0, windows->back().id);
    ASSERT_FALSE(twice.ok());
    EXPECT_EQ(twice.error().code, ErrorCode::kAlreadyExists);
    auto read = usage.ReadRolledHistory(a->id, kNow - hours(24 * 30), kNow, "");
    ASSERT_TRUE(read.ok());
    EXPECT_TRUE(read->unmerged.empty());
    const std::vector<HourStats>& rows = read->hours;
    ASSERT_EQ(rows.size(), 2u);  // 12:00 and 13:00, ten days ago
    for (const auto& h : rows) {
        EXPECT_EQ(h.windows, 60);
        EXPECT_NEAR(h.reported_s, 3600, 1e-6);
        EXPECT_NEAR(h.cost_usd, 3.6, 1e-6);
    }
    EXPECT_EQ(rows[0].hour, kNow - hours(24 * 10));
    // A young report after the roll-up: not rolled up, so retention keeps it even if it were old.
    ASSERT_TRUE(this->Ingest(a->id, this->Report("young", {"GPU-1"})).ok());
    auto pruned = Wait<int64_t>([&](Callback<int64_t> done) {
        usage.PruneHistory(kNow - hours(24 * 7), kNow - hours(24 * 395), 10000, std::move(done));
    });
    ASSERT_TRUE(pruned.ok());
    EXPECT_EQ(*pruned, 240);  // 120 windows and their 120 reports
    EXPECT_EQ(this->WindowCount(a->id), 1u);
    EXPECT_EQ(usage.ReadWindowsAfter(0, 1000).value().size(), 1u);
    int64_t merged = 0;
    for (const auto& h : usage.ReadRolledHistory(a->id, kNow - hours(24 * 30), kNow, "").value().hours) {
        merged += h.windows;
    }
    EXPECT_EQ(merged, 120) << "the roll-up outlives the raw windows";
}

// The roll-up is stored a day per row (store/packed_day.hpp): hours on either side of midnight, hours
// merged into a day already stored, a range that starts and ends inside days, and retention by whole days.
TYPED_TEST_P(StoreContract, RolledHoursAreKeptByDayAndReadBackByHour) {
    auto a = this->Create("a@example.com", "h");
    ASSERT_TRUE(a.ok());
    UsageRepository& usage = this->db().usage();
    const SysSeconds midnight = std::chrono::floor<days>(kNow) - days(3);  // 2026-11-22T00:00:00Z
    auto hour = [&](std::string gpu, SysSeconds at, int64_t windows, double util_max, double cost) {
        HourlyRow h;
        h.account_id = a->id;
        h.gpu_key = "host/" + gpu;
        h.host = "host";
        h.uuid = gpu;
        h.name = "A100";
        h.hour = at;
        h.windows = windows;
        h.reported_s = 60.0 * static_cast<double>(windows);
        h.util_weighted = 10.0 * h.reported_s;
        h.util_max = util_max;
        h.mem_total = 81920;
        h.cost_usd = cost;
        h.idle_cost_usd = cost / 2;
        return h;
    };
    int64_t watermark = 0;
    auto apply = [&](std::vector<HourlyRow> rows) {
        auto r = Wait<void>([&](Callback<void> done) {
            usage.ApplyRollup(std::move(rows), watermark, watermark + 1, std::move(done));
        });
        ++watermark;
        return r;
    };
    // 22:00 and 23:00 of one day, 00:00 and 01:00 of the next, for two GPUs.
    std::vector<HourlyRow> first;
    for (const char* gpu : {"GPU-1", "GPU-2"}) {
        for (int h = -2; h < 2; ++h) first.push_back(hour(gpu, midnight + hours(h), 60, 40, 1.0));
    }
    ASSERT_TRUE(apply(first).ok());
    // Later: more of 23:00 for GPU-1 (a late report), with a higher maximum and a new host name.
    HourlyRow late = hour("GPU-1", midnight - hours(1), 5, 90, 0.25);
    late.host = "host-renamed";
    ASSERT_TRUE(apply({late}).ok());
    EXPECT_EQ(testing::CountRows(this->backend_.Location(), "SELECT COUNT(*) FROM gpu_days"), 4);  // 2 GPUs x 2 days

    auto read = usage.ReadRolledHistory(a->id, midnight - hours(2), midnight + hours(2), "");
    ASSERT_TRUE(read.ok()) << read.error().message;
    ASSERT_EQ(read->gpus.size(), 2u);
    ASSERT_EQ(read->hours.size(), 8u);
    for (size_t i = 1; i < read->hours.size(); ++i) {
        EXPECT_LE(read->hours[i - 1].hour, read->hours[i].hour) << "oldest first";
    }
    const HourStats* merged = nullptr;
    for (const auto& h : read->hours) {
        if (read->gpus[h.gpu].gpu_key == "host/GPU-1" && h.hour == midnight - hours(1)) merged = &h;
    }
    ASSERT_NE(merged, nullptr);
    EXPECT_EQ(merged->windows, 65);
    EXPECT_DOUBLE_EQ(merged->reported_s, 3900);
    EXPECT_DOUBLE_EQ(merged->util_max, 90);
    EXPECT_DOUBLE_EQ(merged->cost_usd, 1.25);
    EXPECT_DOUBLE_EQ(merged->idle_cost_usd, 0.625);
    EXPECT_DOUBLE_EQ(merged->mem_total, 81920);
    // A range that starts and ends inside days: only its hours.
    auto inner = usage.ReadRolledHistory(a->id, midnight - hours(1), midnight + hours(1), "host/GPU-2");
    ASSERT_TRUE(inner.ok());
    ASSERT_EQ(inner->hours.size(), 2u);
    EXPECT_EQ(inner->hours[0].hour, midnight - hours(1));
    EXPECT_EQ(inner->hours[1].hour, midnight);
    ASSERT_EQ(inner->gpus.size(), 1u);
    EXPECT_EQ(inner->gpus[0].gpu_key, "host/GPU-2");
    // The day totals SQL reads: the idle cost of every hour.
    auto stats = this->db().stats().GetStats({kNow, 30, 15, 0.5});
    ASSERT_TRUE(stats.ok());
    EXPECT_NEAR(stats->total_idle_cost, 8 * 0.5 + 0.125, 1e-9);

    // Retention keeps a day while any of its hours is at or after the cut: a cut at 01:00 of the second day
    // drops the first day only.
    auto prune = [&](SysSeconds cut) {
        return Wait<int64_t>([&](Callback<int64_t> done) { usage.PruneHistory(cut, cut, 10000, std::move(done)); });
    };
    auto kept = prune(midnight + hours(1));
    ASSERT_TRUE(kept.ok());
    EXPECT_EQ(testing::CountRows(this->backend_.Location(), "SELECT COUNT(*) FROM gpu_days"), 2);
    auto after = usage.ReadRolledHistory(a->id, midnight - days(1), midnight + days(1), "");
    ASSERT_TRUE(after.ok());
    ASSERT_EQ(after->hours.size(), 4u);
    EXPECT_EQ(after->hours.front().hour, midnight);
    ASSERT_TRUE(prune(midnight + hours(24)).ok());
    EXPECT_EQ(testing::CountRows(this->backend_.Location(), "SELECT COUNT(*) FROM gpu_days"), 0);
}

TYPED_TEST_P(StoreContract, OneOpenAlertPerGpuUntilItCloses) {
    auto a = this->Create("a@example.com", "h");
    ASSERT_TRUE(a.ok());
    AlertRepository& alerts = this->db().alerts();
    EXPECT_FALSE(alerts.GetAlertSettings(a->id).value().has_value());
    auto saved = Wait<AlertSettings>([&](Callback<AlertSettings> done) {
        alerts.SetAlertSettings({a->id, "https://hooks.example.com/T/B/x", 30, {}}, std::move(done));
    });
    ASSERT_TRUE(saved.ok());
    auto settings = alerts.GetAlertSettings(a->id).value();
    ASSERT_TRUE(settings.has_value());
    EXPECT_EQ(settings->webhook_url, "https://hooks.example.com/T/B/x");
    EXPECT_EQ(settings->idle_minutes, 30);
    auto listed = alerts.ListAlertSettings();
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0].account_id, a->id);
    EXPECT_EQ((*listed)[0].tier, Tier::kFree);
    auto open = [&] {
        return Wait<Alert>([&](Callback<Alert> done) {
            alerts.OpenAlert(
                {0, a->id, "host/GPU-1", kNow - minutes(40), kNow, std::nullopt, "idle", {}, 0, std::nullopt},
                std::move(done));
        });
    };
    auto first = open();
    ASSERT_TRUE(first.ok());
    EXPECT_GT(first->id, 0);
    EXPECT_EQ(first->delivery, AlertDelivery::kPending);
    auto second = open();
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().code, ErrorCode::kAlreadyExists);
    ASSERT_EQ(alerts.OpenAlerts(a->id).value().size(), 1u);
    auto due = alerts.DueAlertDeliveries(kNow, 10);
    ASSERT_TRUE(due.ok());
    ASSERT_EQ(due->size(), 1u);
    EXPECT_EQ((*due)[0].id, first->id);
    EXPECT_EQ((*due)[0].message, "idle");
    ASSERT_TRUE(Wait<void>([&](Callback<void> done) {
                    alerts.RecordAlertDelivery(first->id, AlertDelivery::kDelivered, 1, std::nullopt, std::move(done));
                }).ok());
    EXPECT_TRUE(alerts.DueAlertDeliveries(kNow, 10).value().empty());
    ASSERT_TRUE(Wait<void>([&](Callback<void> done) { alerts.CloseAlert(first->id, kNow, std::move(done)); }).ok());
    EXPECT_TRUE(alerts.OpenAlerts(a->id).value().empty());
    EXPECT_TRUE(open().ok());  // busy in between: the next idle stretch alerts again
    EXPECT_EQ(alerts.ListAlerts(a->id, 10).value().size(), 2u);
}

TYPED_TEST_P(StoreContract, StatsAreDerivedFromHistory) {
    auto a = this->Create("a@example.com", "h", kNow - hours(24 * 3));
    auto b = this->Create("b@example.com", "h2");
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_TRUE(Wait<Account>([&](Callback<Account> done) {
                    this->db().accounts().SetTier("b@example.com", Tier::kProfessional, std::move(done));
                }).ok());
    // Two idle 60 s windows at $3.60/h: 2 × 60 s × 3.6 / 3600 = $0.12 idle.
    for (int i = 0; i < 3; ++i) {
        UsageReport r = this->Report(std::to_string(i + 1), {"GPU-1"}, i < 2 ? 5 : 95);  // the third busy: no idle
        r.window_end = kNow - minutes(2 - i);
        r.window_start = r.window_end - seconds(60);
        ASSERT_TRUE(this->Ingest(a->id, r).ok());
    }
    // The same window again counts nothing more: time is never counted twice.
    ASSERT_TRUE(this->Ingest(a->id, this->Report("again", {"GPU-1"}, 5)).ok());
    auto s = this->db().stats().GetStats({kNow, 30, 15, 0.5});
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->total_customers, 2);
    EXPECT_EQ(s->customers_by_tier.at("free"), 1);
    EXPECT_EQ(s->customers_by_tier.at("professional"), 1);
    EXPECT_EQ(s->customers_by_tier.at("enterprise"), 0);
    EXPECT_NEAR(s->total_idle_cost, 0.12, 1e-9);
    EXPECT_NEAR(s->total_customer_savings, 0.06, 1e-9);
    EXPECT_EQ(s->gpus_last_24h, 1);
    ASSERT_EQ(s->daily_signups.size(), 30u);
    EXPECT_EQ(s->daily_signups.back().date, "2026-11-25");
    EXPECT_EQ(s->daily_signups.back().count, 1);
    EXPECT_EQ(s->daily_signups[26].date, "2026-11-22");
    EXPECT_EQ(s->daily_signups[26].count, 1);
}

// ---------------------------------------------------------------------------------------------------
// Closing

TYPED_TEST_P(StoreContract, ClosedStoreRefusesWork) {
    ASSERT_TRUE(this->db().Ping().ok());
    this->db().Close();
    auto create = this->Create("a@example.com", "h");
    ASSERT_FALSE(create.ok());
    EXPECT_EQ(create.error().code, ErrorCode::kUnavailable);
    EXPECT_FALSE(this->db().Ping().ok());
    EXPECT_EQ(this->db().accounts().FindAccountByKeyHash("h").error().code, ErrorCode::kUnavailable);
    // A write given to a closed store is refused at once, on the caller's thread.
    bool answered = false;
    std::optional<ErrorCode> code;
    this->db().outbox().EnqueueMail(this->Mail("late", 0), kNow, [&](Result<bool> r) {
        answered = true;
        if (!r.ok()) code = r.error().code;
    });
    EXPECT_TRUE(answered);
    EXPECT_EQ(code, ErrorCode::kUnavailable);
}

TYPED_TEST_P(StoreContract, CloseFinishesQueuedWrites) {
    std::atomic<int> written{0};
    for (int i = 0; i < 50; ++i) {
        this->db().accounts().CreateAccount(
            {"q" + std::to_string(i) + "@example.com", "qh" + std::to_string(i), "gopt_x", Tier::kFree, kNow, {}},
            [&written](Result<Account> r) { written += r.ok(); });
    }
    this->db().Close();
    EXPECT_EQ(written.load(), 50) << "every callback has run when Close returns";
    ASSERT_NO_FATAL_FAILURE(this->Reopen());
    EXPECT_EQ(this->Customers(), 50);
}

TYPED_TEST_P(StoreContract, ReadsRunWhileWritesAreQueued) {
    auto a = this->Create("a@example.com", "h");
    ASSERT_TRUE(a.ok());
    std::vector<std::thread> readers;
    std::atomic<int> found{0};
    for (int t = 0; t < 4; ++t) {
        readers.emplace_back([&] {
            for (int i = 0; i < 200; ++i) found += this->db().accounts().FindAccountByKeyHash("h").ok();
        });
    }
    int stored = 0;
    for (int i = 0; i < 200; ++i) stored += this->Ingest(a->id, this->Report("x" + std::to_string(i), {"GPU-1"})).ok();
    for (auto& r : readers) r.join();
    EXPECT_EQ(found.load(), 800);
    EXPECT_EQ(stored, 200);
    EXPECT_EQ(this->WindowCount(a->id), 200u);
}

// ---------------------------------------------------------------------------------------------------
// Payments

TYPED_TEST_P(StoreContract, PaymentsAreCreatedPendingFoundByReferenceAndListed) {
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

TYPED_TEST_P(StoreContract, OnlyACheckoutNeverStartedIsDiscarded) {
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

TYPED_TEST_P(StoreContract, CompletingAPaymentAppliesItOnce) {
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

TYPED_TEST_P(StoreContract, ARenewalExtendsFromThePeriodEnd) {
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

TYPED_TEST_P(StoreContract, EndingAPaymentMovesItFromPendingOnlyOnce) {
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

TYPED_TEST_P(StoreContract, MoneyThatCannotBuyThePlanIsHeldOnceAndCanBeRefunded) {
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

TYPED_TEST_P(StoreContract, ARefundOfACompletedPaymentIsRecordedOnce) {
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

TYPED_TEST_P(StoreContract, GatewayEventsAreRecordedOnceAndReArmedAfterProcessing) {
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

TYPED_TEST_P(StoreContract, GatewayEventsAreDueUntilFinished) {
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

TYPED_TEST_P(StoreContract, RenewalRemindersAreSentOncePerPeriod) {
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

TYPED_TEST_P(StoreContract, GraceThenEndingTheSubscriptionDowngradesToFree) {
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

// ---------------------------------------------------------------------------------------------------
// Outbox, operator events, security log

TYPED_TEST_P(StoreContract, MailIsEnqueuedOncePerDedupKeyAndFinished) {
    auto enqueue = [&](OutboxMessage m, SysSeconds now) {
        return Wait<bool>(
            [&](Callback<bool> done) { this->db().outbox().EnqueueMail(std::move(m), now, std::move(done)); });
    };
    auto first = this->Mail("welcome:1", 0, "welcome", "a@example.com");
    first.headers["List-Unsubscribe"] = "<https://app.example.test/unsubscribe>";
    first.headers["X-Entity-Ref-ID"] = "welcome:1";
    EXPECT_TRUE(enqueue(first, kNow).value());
    auto changed = first;
    changed.subject = "Another subject";
    EXPECT_FALSE(enqueue(changed, kNow).value()) << "the same dedup key is enqueued once";
    EXPECT_TRUE(enqueue(this->Mail("receipt:7", 0, "receipt", "b@example.com"), kNow + minutes(1)).value());

    auto due = this->db().outbox().DueMail(kNow, 10);
    ASSERT_TRUE(due.ok());
    ASSERT_EQ(due->size(), 1u);
    const OutboxItem& item = (*due)[0];
    EXPECT_GT(item.id, 0);
    EXPECT_EQ(item.message.dedup_key, "welcome:1");
    EXPECT_EQ(item.message.account_id, 0);
    EXPECT_EQ(item.message.to, "a@example.com");
    EXPECT_EQ(item.message.subject, "Subject of welcome:1");
    EXPECT_EQ(item.message.text, "Text of welcome:1");
    EXPECT_EQ(item.message.html, "<p>welcome:1</p>");
    EXPECT_EQ(item.message.kind, "welcome");
    EXPECT_EQ(item.message.headers, first.headers);
    EXPECT_EQ(item.status, MailStatus::kPending);
    EXPECT_EQ(item.attempts, 0);
    EXPECT_EQ(item.next_attempt, kNow);
    EXPECT_EQ(item.last_error, "");
    auto both = this->db().outbox().DueMail(kNow + minutes(1), 10).value();
    ASSERT_EQ(both.size(), 2u);
    EXPECT_EQ(both[1].message.dedup_key, "receipt:7");
    EXPECT_EQ(this->db().outbox().DueMail(kNow + minutes(1), 1).value().size(), 1u);

    auto finish = [&](int64_t id, MailStatus status, int attempts, SysSeconds next, const std::string& error,
                      const std::string& message_id) {
        return Wait<void>([&](Callback<void> done) {
            this->db().outbox().FinishMail(id, status, attempts, next, error, message_id, std::move(done));
        });
    };
    ASSERT_TRUE(finish(both[0].id, MailStatus::kSent, 1, kNow, "", "<msg-1@example.com>").ok());
    ASSERT_TRUE(finish(both[1].id, MailStatus::kPending, 1, kNow + minutes(10), "421 try again later", "").ok());
    EXPECT_TRUE(this->db().outbox().DueMail(kNow + minutes(9), 10).value().empty());
    auto retry = this->db().outbox().DueMail(kNow + minutes(10), 10).value();
    ASSERT_EQ(retry.size(), 1u);
    EXPECT_EQ(retry[0].message.dedup_key, "receipt:7");
    EXPECT_EQ(retry[0].attempts, 1);
    EXPECT_EQ(retry[0].last_error, "421 try again later");
    EXPECT_EQ(retry[0].next_attempt, kNow + minutes(10));
    ASSERT_TRUE(finish(retry[0].id, MailStatus::kFailed, 5, kNow + minutes(10), "550 no such user", "").ok());
    EXPECT_TRUE(this->MailKeys().empty());
    EXPECT_FALSE(enqueue(first, kNow + days(1)).value()) << "a key that was sent is never sent again";
}

TYPED_TEST_P(StoreContract, OperatorEventsAreRecordedOncePerDedupKey) {
    auto a = this->Create("a@example.com", "h");
    ASSERT_TRUE(a.ok());
    auto record = [&](OperatorEvent e, const std::string& mail_key) {
        return Wait<bool>([&](Callback<bool> done) {
            this->db().operator_events().RecordOperatorEvent(
                std::move(e), this->Mail(mail_key, 0, "operator", "ops@example.com"), std::move(done));
        });
    };
    OperatorEvent unmatched;
    unmatched.kind = "payment_unmatched";
    unmatched.dedup_key = "unmatched:flutterwave:4837261";
    unmatched.detail = "flutterwave reports 4837261 paid (49.00 USD) for reference 'x'";
    unmatched.at = kNow;
    EXPECT_TRUE(record(unmatched, "operator:1").value());
    unmatched.at = kNow + minutes(5);
    EXPECT_FALSE(record(unmatched, "operator:2").value()) << "recorded before: no event, no mail";
    OperatorEvent stuck;
    stuck.kind = "gateway_event_stuck";
    stuck.dedup_key = "stuck:42";
    stuck.account_id = a->id;
    stuck.detail = "event 42 keeps failing";
    stuck.at = kNow + minutes(10);
    EXPECT_TRUE(record(stuck, "operator:3").value());

    auto events = this->db().operator_events().ListOperatorEvents(10);
    ASSERT_TRUE(events.ok());
    ASSERT_EQ(events->size(), 2u);
    const OperatorEvent& newest = (*events)[0];  // newest first
    EXPECT_EQ(newest.kind, "gateway_event_stuck");
    EXPECT_EQ(newest.dedup_key, "stuck:42");
    EXPECT_EQ(newest.account_id, a->id);
    EXPECT_FALSE(newest.payment_id.has_value());
    EXPECT_EQ(newest.detail, "event 42 keeps failing");
    EXPECT_EQ(newest.at, kNow + minutes(10));
    const OperatorEvent& oldest = (*events)[1];
    EXPECT_EQ(oldest.kind, "payment_unmatched");
    EXPECT_FALSE(oldest.account_id.has_value());
    EXPECT_EQ(oldest.at, kNow) << "the first record stands";
    EXPECT_EQ(this->db().operator_events().ListOperatorEvents(1).value().size(), 1u);
    EXPECT_EQ(this->MailKeys(), (std::vector<std::string>{"operator:1", "operator:3"}));
}

TYPED_TEST_P(StoreContract, SecurityEventsAreCountedByKind) {
    auto record = [&](const std::string& kind, const std::string& ip) {
        return Wait<void>([&](Callback<void> done) {
            this->db().security().RecordSecurityEvent(kind, ip, "detail of " + kind, kNow, std::move(done));
        });
    };
    auto count = [&](const std::string& kind) {  // read from outside the store, as an operator would
        return testing::CountRows(this->backend_.Location(), "SELECT COUNT(*) FROM security_events WHERE kind = ?1",
                                  kind);
    };
    EXPECT_EQ(count("webhook_forbidden"), 0);
    ASSERT_TRUE(record("webhook_forbidden", "203.0.113.7").ok());
    ASSERT_TRUE(record("webhook_forbidden", "203.0.113.7").ok());
    ASSERT_TRUE(record("payment_mismatch", "gateway").ok());
    EXPECT_EQ(count("webhook_forbidden"), 2);
    EXPECT_EQ(count("payment_mismatch"), 1);
    EXPECT_EQ(count("ip_blocked"), 0);
}

TYPED_TEST_P(StoreContract, AJobLeaseHasOneHolderUntilItExpiresOrIsGivenBack) {
    auto acquire = [&](const std::string& holder, SysSeconds now) {
        return Wait<std::optional<LeaseGrant>>([&](Callback<std::optional<LeaseGrant>> done) {
            this->db().leases().AcquireLease("rollup", holder, now, seconds(30), std::move(done));
        });
    };
    auto a = acquire("server-a", kNow);
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(a->has_value());
    EXPECT_EQ((*a)->expires, kNow + seconds(30));
    const int64_t first = (*a)->token;
    // Another server is refused while it runs; its holder renews it under the same token.
    auto b = acquire("server-b", kNow + seconds(10));
    ASSERT_TRUE(b.ok());
    EXPECT_FALSE(b->has_value());
    auto renewed = acquire("server-a", kNow + seconds(20));
    ASSERT_TRUE(renewed.ok() && renewed->has_value());
    EXPECT_EQ((*renewed)->token, first);
    EXPECT_FALSE(acquire("server-b", kNow + seconds(49)).value().has_value());  // renewed until +50 s
    // Once it expires (its holder crashed), another takes it under a greater token, and the old holder's run
    // is fenced off.
    auto taken = acquire("server-b", kNow + seconds(50));
    ASSERT_TRUE(taken.ok() && taken->has_value());
    EXPECT_GT((*taken)->token, first);
    auto record = [&](const std::string& holder, int64_t token) {
        return Wait<bool>([&](Callback<bool> done) {
            this->db().leases().RecordJobRun({0, "rollup", token, holder, kNow + seconds(40), kNow + seconds(55)},
                                             std::move(done));
        });
    };
    EXPECT_FALSE(record("server-a", first).value());
    EXPECT_TRUE(record("server-b", (*taken)->token).value());
    auto runs = this->db().leases().ListJobRuns("rollup", 10);
    ASSERT_TRUE(runs.ok());
    ASSERT_EQ(runs->size(), 2u);
    EXPECT_EQ((*runs)[0].holder, "server-b");  // newest first
    EXPECT_EQ((*runs)[0].token, (*taken)->token);
    EXPECT_EQ((*runs)[1].holder, "server-a");
    EXPECT_EQ((*runs)[1].started, kNow + seconds(40));
    // Given back, it is free at once; the next holder's token is greater still.
    ASSERT_TRUE(Wait<void>([&](Callback<void> done) {
                    this->db().leases().ReleaseLease("rollup", "server-b", std::move(done));
                }).ok());
    auto after = acquire("server-a", kNow + seconds(51));
    ASSERT_TRUE(after.ok() && after->has_value());
    EXPECT_GT((*after)->token, (*taken)->token);
    // Only the holder can give it back; leases of other jobs are separate.
    ASSERT_TRUE(Wait<void>([&](Callback<void> done) {
                    this->db().leases().ReleaseLease("rollup", "server-b", std::move(done));
                }).ok());
    EXPECT_FALSE(acquire("server-b", kNow + seconds(52)).value().has_value());
    auto other = Wait<std::optional<LeaseGrant>>([&](Callback<std::optional<LeaseGrant>> done) {
        this->db().leases().AcquireLease("mail", "server-b", kNow + seconds(52), seconds(30), std::move(done));
    });
    ASSERT_TRUE(other.ok());
    EXPECT_TRUE(other->has_value());
}

TYPED_TEST_P(StoreContract, ServersAskingAtOnceGetTheLeaseOnce) {
    constexpr int kServers = 8;
    std::atomic<int> granted{0};
    std::vector<std::thread> askers;
    for (int i = 0; i < kServers; ++i) {
        askers.emplace_back([&, i] {
            auto r = Wait<std::optional<LeaseGrant>>([&](Callback<std::optional<LeaseGrant>> done) {
                this->db().leases().AcquireLease("billing-events", "server-" + std::to_string(i), kNow, seconds(30),
                                                 std::move(done));
            });
            if (r.ok() && r->has_value()) ++granted;
        });
    }
    for (auto& t : askers) t.join();
    EXPECT_EQ(granted.load(), 1);
}

REGISTER_TYPED_TEST_SUITE_P(
    StoreContract, AJobLeaseHasOneHolderUntilItExpiresOrIsGivenBack, ServersAskingAtOnceGetTheLeaseOnce,
    CreatesAndFindsAccountsByKeyHash, ASignupWritesItsLedgerRowAndWelcomeMailWithTheAccount,
    DuplicateEmailIsAlreadyExists, AFailingWriteLeavesItsBatchNeighboursIntact, SetTierChangesThePlan,
    CachedAccountsFollowChangesMadeThroughTheStore, StoresAReportOncePerReportId, GpuLimitCountsDistinctGpusInTheWindow,
    DataSurvivesReopening, ReadsWindowsBackByAccountRangeAndGpu, RollUpMergesOnceAndRetentionKeepsWhatIsYoung,
    RolledHoursAreKeptByDayAndReadBackByHour, OneOpenAlertPerGpuUntilItCloses, StatsAreDerivedFromHistory,
    ClosedStoreRefusesWork, CloseFinishesQueuedWrites, ReadsRunWhileWritesAreQueued,
    PaymentsAreCreatedPendingFoundByReferenceAndListed, OnlyACheckoutNeverStartedIsDiscarded,
    CompletingAPaymentAppliesItOnce, ARenewalExtendsFromThePeriodEnd, EndingAPaymentMovesItFromPendingOnlyOnce,
    MoneyThatCannotBuyThePlanIsHeldOnceAndCanBeRefunded, ARefundOfACompletedPaymentIsRecordedOnce,
    GatewayEventsAreRecordedOnceAndReArmedAfterProcessing, GatewayEventsAreDueUntilFinished,
    RenewalRemindersAreSentOncePerPeriod, GraceThenEndingTheSubscriptionDowngradesToFree,
    MailIsEnqueuedOncePerDedupKeyAndFinished, OperatorEventsAreRecordedOncePerDedupKey, SecurityEventsAreCountedByKind);

}  // namespace gpuopt::store::contract
