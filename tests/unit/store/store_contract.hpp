// The store contract (store/database.hpp and the repositories it joins): accounts, usage and history,
// alerts, closing, the outbox, operator and security events, job leases. A typed suite that every backend
// runs (sqlite_contract_test.cpp over SqliteStore, pg_contract_test.cpp over PgStore); payments, the
// gateways' inbox and subscriptions are billing_contract.hpp. Everything is read back through the
// repositories themselves, never through a backend's tables.
//
// This header defines tests: include it from exactly one .cpp file per test binary.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "unit/store/store_fixture.hpp"

namespace gpuopt::store::contract {

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

// API keys: the sign-up key is the "default" one; more keys authenticate the same account with their own
// prefix; a revoked or rotated key stops at once (the cache included); the limit on active keys; last use.
TYPED_TEST_P(StoreContract, AnAccountHasSeveralKeysEachRevokedOrRotatedAlone) {
    auto a = this->Create("keys@example.com", "hash-default");
    ASSERT_TRUE(a.ok());
    auto b = this->Create("other@example.com", "hash-other");
    ASSERT_TRUE(b.ok());
    auto& accounts = this->db().accounts();
    auto listed = accounts.ListApiKeys(a->id).value();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].name, "default");
    EXPECT_EQ(listed[0].key_prefix, "gopt_abcd");
    EXPECT_FALSE(listed[0].last_used_at.has_value());
    const int64_t first = listed[0].id;

    auto make = [&](int64_t account, const std::string& name, const std::string& hash) {
        return Wait<ApiKeyInfo>([&](Callback<ApiKeyInfo> done) {
            accounts.CreateApiKey({account, name, hash, "gopt_" + hash.substr(5, 4), kNow + std::chrono::minutes(1)},
                                  std::move(done));
        });
    };
    auto ci = make(a->id, "ci runner", "hash-ci00");
    ASSERT_TRUE(ci.ok());
    EXPECT_EQ(ci->name, "ci runner");
    auto found = accounts.FindAccountByKeyHash("hash-ci00");
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(found->id, a->id);
    EXPECT_EQ(found->key_prefix, "gopt_ci00") << "the prefix of the key used";
    ASSERT_TRUE(accounts.FindAccountByKeyHash("hash-default").ok());  // cached now

    // Revoked: refused at once, cached or not; another account cannot revoke it; twice is nothing.
    auto revoke = [&](int64_t account, int64_t id) {
        return Wait<bool>([&](Callback<bool> done) {
            accounts.RevokeApiKey(account, id, kNow + std::chrono::minutes(2), std::move(done));
        });
    };
    EXPECT_FALSE(revoke(b->id, first).value());
    EXPECT_TRUE(accounts.FindAccountByKeyHash("hash-default").ok());
    EXPECT_TRUE(revoke(a->id, first).value());
    EXPECT_FALSE(revoke(a->id, first).value());
    EXPECT_EQ(accounts.FindAccountByKeyHash("hash-default").error().code, ErrorCode::kNotFound);
    EXPECT_FALSE(accounts.CachedAccountByKeyHash("hash-default").has_value());

    // Rotated: the new key has the old one's name; the old one is refused; another account's id is not found.
    auto rotate = [&](int64_t account, int64_t id, const std::string& hash) {
        return Wait<std::optional<ApiKeyInfo>>([&](Callback<std::optional<ApiKeyInfo>> done) {
            accounts.RotateApiKey(account, id, {0, "", hash, "gopt_rot1", kNow + std::chrono::minutes(3)},
                                  std::move(done));
        });
    };
    EXPECT_FALSE(rotate(b->id, ci->id, "hash-evil").value().has_value());
    auto rotated = rotate(a->id, ci->id, "hash-rot1");
    ASSERT_TRUE(rotated.ok());
    ASSERT_TRUE(rotated->has_value());
    EXPECT_EQ((*rotated)->name, "ci runner");
    EXPECT_NE((*rotated)->id, ci->id);
    EXPECT_EQ(accounts.FindAccountByKeyHash("hash-ci00").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(accounts.FindAccountByKeyHash("hash-rot1")->id, a->id);
    EXPECT_EQ(accounts.FindAccountByKeyHash("hash-evil").error().code, ErrorCode::kNotFound);

    // Listed: the active key first, then the revoked ones, newest revocation first.
    listed = accounts.ListApiKeys(a->id).value();
    ASSERT_EQ(listed.size(), 3u);
    EXPECT_EQ(listed[0].id, (*rotated)->id);
    EXPECT_FALSE(listed[0].revoked_at.has_value());
    EXPECT_EQ(listed[1].id, ci->id);
    EXPECT_EQ(listed[1].revoked_at, kNow + std::chrono::minutes(3));
    EXPECT_EQ(listed[2].id, first);
    EXPECT_EQ(accounts.ListApiKeys(b->id).value().size(), 1u);

    // Last use.
    ASSERT_TRUE(Wait<void>([&](Callback<void> done) {
                    accounts.TouchApiKey("hash-rot1", kNow + std::chrono::minutes(4), std::move(done));
                }).ok());
    EXPECT_EQ(accounts.ListApiKeys(a->id).value()[0].last_used_at, kNow + std::chrono::minutes(4));

    // At most kMaxActiveApiKeys active keys.
    for (size_t i = 1; i < kMaxActiveApiKeys; ++i) {
        ASSERT_TRUE(make(a->id, "k" + std::to_string(i), "hash-k" + std::to_string(100 + i)).ok()) << i;
    }
    auto refused = make(a->id, "one too many", "hash-k999");
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, ErrorCode::kForbidden);
    EXPECT_EQ(accounts.FindAccountByKeyHash("hash-k999").error().code, ErrorCode::kNotFound);
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
        r.gpus[0].sm_active = 12.5 + i;  // GPM on GPU-1 only
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
    EXPECT_FALSE((*one)[0].sm_active.has_value()) << "not measured stays not measured";
    auto gpm = usage.ReadWindows(a->id, kNow - hours(1), kNow, "host/GPU-1");
    ASSERT_TRUE(gpm.ok());
    ASSERT_EQ(gpm->size(), 3u);
    EXPECT_EQ((*gpm)[2].sm_active, 14.5);
    ASSERT_EQ(usage.ReadWindowsAfter(0, 100).value().front().sm_active, 12.5);  // what the roll-up reads
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
        h.sm_s = h.reported_s / 2;  // GPM over half the time, at 30 %
        h.sm_weighted = 30 * h.sm_s;
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
    EXPECT_DOUBLE_EQ(merged->sm_s, 1950);
    EXPECT_DOUBLE_EQ(merged->sm_weighted, 30 * 1950);
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
            this->db().leases().RecordJobRun({0, "rollup", token, holder, kNow + seconds(40), kNow + seconds(55), ""},
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

// Deleting an account removes its data and blanks its row (the ledger stays), once; the address is free
// again; a write that lands after the deletion (a job that read before it) goes with the next retention
// run; the other account keeps everything.
TYPED_TEST_P(StoreContract, DeletingAnAccountRemovesItsDataAndRetentionSweepsLateWrites) {
    auto a = this->Create("a@example.com", "ha");
    auto b = this->Create("b@example.com", "hb");
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_TRUE(this->Ingest(a->id, this->Report("r:1", {"GPU-1"})).ok());
    ASSERT_TRUE(this->Ingest(b->id, this->Report("r:1", {"GPU-9"})).ok());
    auto remove = [&](int64_t id) {
        return Wait<DeletedAccount>([&](Callback<DeletedAccount> done) {
            this->db().accounts().DeleteAccount(
                {id, UtcNow(), this->Mail("bye:" + std::to_string(id), id, "account_deleted"), std::nullopt},
                std::move(done));
        });
    };
    auto deleted = remove(a->id);
    ASSERT_TRUE(deleted.ok()) << deleted.error().message;
    EXPECT_EQ(deleted->email, "a@example.com");
    EXPECT_GE(deleted->rows_removed, 4);  // its window, report, GPU and key at least
    EXPECT_EQ(this->WindowCount(a->id), 0u);
    EXPECT_EQ(this->db().accounts().GetAccount(a->id).error().code, ErrorCode::kNotFound);
    EXPECT_EQ(this->db().accounts().FindAccountByKeyHash("ha").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(remove(a->id).error().code, ErrorCode::kNotFound) << "deleted once";
    EXPECT_EQ(this->Customers(), 1);
    const auto keys = this->MailKeys();
    EXPECT_NE(std::find(keys.begin(), keys.end(), "bye:" + std::to_string(a->id)), keys.end());

    // A report accepted just before the key went lands after the deletion: the next retention run takes it.
    ASSERT_TRUE(this->Ingest(a->id, this->Report("late", {"GPU-1"})).ok());
    ASSERT_EQ(this->WindowCount(a->id), 1u);
    auto pruned = Wait<int64_t>([&](Callback<int64_t> done) {
        this->db().usage().PruneHistory(kNow - days(7), kNow - days(395), 10000, std::move(done));
    });
    ASSERT_TRUE(pruned.ok()) << pruned.error().message;
    EXPECT_EQ(this->WindowCount(a->id), 0u);
    EXPECT_EQ(this->WindowCount(b->id), 1u);
    EXPECT_EQ(this->db().accounts().GetAccount(b->id).value().email, "b@example.com");
    EXPECT_TRUE(this->Create("a@example.com", "ha2").ok()) << "the address is free again";
}

REGISTER_TYPED_TEST_SUITE_P(StoreContract, CreatesAndFindsAccountsByKeyHash,
                            AnAccountHasSeveralKeysEachRevokedOrRotatedAlone,
                            ASignupWritesItsLedgerRowAndWelcomeMailWithTheAccount, DuplicateEmailIsAlreadyExists,
                            AFailingWriteLeavesItsBatchNeighboursIntact, SetTierChangesThePlan,
                            CachedAccountsFollowChangesMadeThroughTheStore, StoresAReportOncePerReportId,
                            GpuLimitCountsDistinctGpusInTheWindow, DataSurvivesReopening,
                            ReadsWindowsBackByAccountRangeAndGpu, RollUpMergesOnceAndRetentionKeepsWhatIsYoung,
                            RolledHoursAreKeptByDayAndReadBackByHour, OneOpenAlertPerGpuUntilItCloses,
                            StatsAreDerivedFromHistory, ClosedStoreRefusesWork, CloseFinishesQueuedWrites,
                            ReadsRunWhileWritesAreQueued, MailIsEnqueuedOncePerDedupKeyAndFinished,
                            OperatorEventsAreRecordedOncePerDedupKey, SecurityEventsAreCountedByKind,
                            AJobLeaseHasOneHolderUntilItExpiresOrIsGivenBack, ServersAskingAtOnceGetTheLeaseOnce,
                            DeletingAnAccountRemovesItsDataAndRetentionSweepsLateWrites);

}  // namespace gpuopt::store::contract
