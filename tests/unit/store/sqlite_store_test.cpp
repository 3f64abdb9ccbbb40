// The Store contract, run against SqliteStore on a real database file.
#include "store/sqlite/sqlite_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <future>
#include <thread>

#include "common/crypto.hpp"
#include "store/sqlite/migrations.hpp"
#include "support/test_dir.hpp"

namespace gpuopt::store {
namespace {

using namespace std::chrono;
const SysSeconds kNow = sys_days{2026y / 11 / 25} + 12h;

template <class T, class F>
Result<T> Wait(F start) {
    std::promise<Result<T>> p;
    auto fut = p.get_future();
    start([&p](Result<T> r) { p.set_value(std::move(r)); });
    return fut.get();
}

class SqliteStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        InitCrypto();
        dir_ = testing::FreshTestDir("store");
        Reopen();
    }
    void TearDown() override {
        store_.reset();
        std::filesystem::remove_all(dir_);
    }
    void Reopen() {
        store_.reset();
        auto s = sqlite::SqliteStore::Open({(dir_ / "gpuopt.db").string()});
        ASSERT_TRUE(s.ok());
        store_ = std::move(*s);
    }

    Result<Account> Create(const std::string& email, const std::string& key_hash, SysSeconds now = kNow) {
        return Wait<Account>([&](Callback<Account> done) {
            store_->accounts().CreateAccount({email, key_hash, "gopt_abcd", "free", now, {}}, std::move(done));
        });
    }

    static UsageReport Report(std::optional<std::string> id, std::vector<std::string> uuids, double util = 5) {
        UsageReport r;
        r.report_id = std::move(id);
        r.agent_id = "agent";
        r.hostname = "host";
        r.window_start = kNow - seconds(60);
        r.window_end = kNow;
        r.samples = 6;
        int i = 0;
        for (auto& u : uuids) {
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
            store_->usage().IngestReport({account, std::move(report), limit, hours(24), now}, std::move(done));
        });
    }

    int64_t Count(const char* sql) {
        sqlite3* db = nullptr;
        sqlite3_open((dir_ / "gpuopt.db").c_str(), &db);
        sqlite3_stmt* st = nullptr;
        sqlite3_prepare_v2(db, sql, -1, &st, nullptr);
        sqlite3_step(st);
        const int64_t n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return n;
    }

    std::filesystem::path dir_;
    std::unique_ptr<sqlite::SqliteStore> store_;
};

TEST_F(SqliteStoreTest, RecordsMigrationsAndUsesWal) {
    EXPECT_EQ(Count("SELECT COUNT(*) FROM schema_migrations"), static_cast<int64_t>(sqlite::Migrations().size()));
    Reopen();  // applying again is a no-op
    EXPECT_EQ(Count("SELECT COUNT(*) FROM schema_migrations"), static_cast<int64_t>(sqlite::Migrations().size()));
    EXPECT_TRUE(std::filesystem::exists(dir_ / "gpuopt.db-wal"));
}

TEST_F(SqliteStoreTest, CreatesAndFindsAccountsByKeyHash) {
    auto a = Create("a@example.com", "hash-a");
    ASSERT_TRUE(a.ok());
    EXPECT_GT(a->id, 0);
    EXPECT_EQ(a->created_at, "2026-11-25T12:00:00Z");
    auto found = store_->accounts().FindAccountByKeyHash("hash-a");
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(found->email, "a@example.com");
    EXPECT_EQ(found->tier, "free");
    EXPECT_EQ(store_->accounts().FindAccountByKeyHash("nope").error().code, ErrorCode::kNotFound);
}

TEST_F(SqliteStoreTest, DuplicateEmailIsAlreadyExists) {
    ASSERT_TRUE(Create("a@example.com", "h1").ok());
    auto again = Create("a@example.com", "h2");
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
    EXPECT_EQ(Count("SELECT COUNT(*) FROM accounts"), 1);
}

TEST_F(SqliteStoreTest, AFailingWriteLeavesItsBatchNeighboursIntact) {
    // Queue many writes at once so they share transactions; half of them collide.
    std::vector<std::future<Result<Account>>> futures;
    std::vector<std::shared_ptr<std::promise<Result<Account>>>> promises;
    for (int i = 0; i < 200; ++i) {
        auto p = std::make_shared<std::promise<Result<Account>>>();
        futures.push_back(p->get_future());
        const std::string email = "u" + std::to_string(i % 100) + "@example.com";
        store_->accounts().CreateAccount({email, "hash" + std::to_string(i), "gopt_x", "free", kNow, {}},
                                         [p](Result<Account> r) { p->set_value(std::move(r)); });
        promises.push_back(p);
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
    EXPECT_EQ(Count("SELECT COUNT(*) FROM accounts"), 100);
    EXPECT_LT(store_->CommittedTransactions(), 200u) << "concurrent writes share commits";
}

TEST_F(SqliteStoreTest, AnInternalErrorInABatchReplaysTheOthersSafely) {
    ASSERT_TRUE(Create("victim@example.com", "hv").ok());
    // The CHECK constraint on tier makes this write fail as an internal error, which sends its batch
    // through the careful path (rollback, then one savepoint per write).
    std::vector<std::shared_ptr<std::promise<Result<Account>>>> creates;
    auto bad = std::make_shared<std::promise<Result<Account>>>();
    for (int i = 0; i < 50; ++i) {
        if (i == 25) {
            store_->accounts().SetTier("victim@example.com", "platinum",
                                       [bad](Result<Account> r) { bad->set_value(std::move(r)); });
        }
        auto p = std::make_shared<std::promise<Result<Account>>>();
        store_->accounts().CreateAccount(
            {"c" + std::to_string(i) + "@example.com", "ch" + std::to_string(i), "gopt_x", "free", kNow, {}},
            [p](Result<Account> r) { p->set_value(std::move(r)); });
        creates.push_back(p);
    }
    for (auto& p : creates) EXPECT_TRUE(p->get_future().get().ok());
    auto failed = bad->get_future().get();
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().code, ErrorCode::kInternal);
    EXPECT_EQ(Count("SELECT COUNT(*) FROM accounts"), 51);
    EXPECT_EQ(store_->accounts().FindAccountByKeyHash("hv")->tier, "free");
    EXPECT_TRUE(store_->Ping().ok()) << "a failed write is not a broken store";
}

TEST_F(SqliteStoreTest, StoresAReportOncePerReportId) {
    auto a = Create("a@example.com", "h");
    ASSERT_TRUE(a.ok());
    auto first = Ingest(a->id, Report("r:1", {"GPU-1", "GPU-2"}));
    ASSERT_TRUE(first.ok());
    EXPECT_FALSE(first->duplicate);
    auto second = Ingest(a->id, Report("r:1", {"GPU-1", "GPU-2"}));
    ASSERT_TRUE(second.ok());
    EXPECT_TRUE(second->duplicate);
    EXPECT_EQ(Count("SELECT COUNT(*) FROM usage_reports"), 1);
    EXPECT_EQ(Count("SELECT COUNT(*) FROM gpu_windows"), 2);
    // Reports without an id are all kept.
    ASSERT_TRUE(Ingest(a->id, Report(std::nullopt, {"GPU-1"})).ok());
    ASSERT_TRUE(Ingest(a->id, Report(std::nullopt, {"GPU-1"})).ok());
    EXPECT_EQ(Count("SELECT COUNT(*) FROM usage_reports"), 3);
    // The same report id belongs to each account separately.
    auto b = Create("b@example.com", "hb");
    EXPECT_FALSE(Ingest(b->id, Report("r:1", {"GPU-9"}))->duplicate);
}

TEST_F(SqliteStoreTest, GpuLimitCountsDistinctGpusInTheWindow) {
    auto a = Create("a@example.com", "h");
    ASSERT_TRUE(Ingest(a->id, Report(std::nullopt, {"GPU-1", "GPU-2"}), 2).ok());
    ASSERT_TRUE(Ingest(a->id, Report(std::nullopt, {"GPU-2"}), 2).ok());
    auto over = Ingest(a->id, Report(std::nullopt, {"GPU-3"}), 2);
    ASSERT_FALSE(over.ok());
    EXPECT_EQ(over.error().code, ErrorCode::kTierLimitExceeded);
    EXPECT_EQ(Count("SELECT COUNT(*) FROM usage_reports"), 2) << "a refused report writes nothing";
    // 25 hours later the old GPUs have left the window.
    EXPECT_TRUE(Ingest(a->id, Report(std::nullopt, {"GPU-3", "GPU-4"}), 2, kNow + hours(25)).ok());
    // An unlimited plan is not counted.
    EXPECT_TRUE(Ingest(a->id, Report(std::nullopt, {"GPU-5", "GPU-6", "GPU-7"})).ok());
}

TEST_F(SqliteStoreTest, DataSurvivesReopening) {
    auto a = Create("a@example.com", "h");
    ASSERT_TRUE(Ingest(a->id, Report("r:1", {"GPU-1"})).ok());
    Reopen();
    EXPECT_TRUE(store_->accounts().FindAccountByKeyHash("h").ok());
    EXPECT_TRUE(Ingest(a->id, Report("r:1", {"GPU-1"}))->duplicate);
}

TEST_F(SqliteStoreTest, SetTierChangesThePlan) {
    ASSERT_TRUE(Create("a@example.com", "h").ok());
    auto r = Wait<Account>(
        [&](Callback<Account> done) { store_->accounts().SetTier("a@example.com", "enterprise", std::move(done)); });
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->tier, "enterprise");
    EXPECT_EQ(store_->accounts().FindAccountByKeyHash("h")->tier, "enterprise");
    auto missing = Wait<Account>(
        [&](Callback<Account> done) { store_->accounts().SetTier("x@example.com", "free", std::move(done)); });
    EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(SqliteStoreTest, CachedAccountsFollowChangesMadeThroughTheStore) {
    ASSERT_TRUE(Create("a@example.com", "h").ok());
    EXPECT_EQ(store_->accounts().FindAccountByKeyHash("h")->tier, "free");  // now cached
    ASSERT_TRUE(Wait<Account>([&](Callback<Account> done) {
                    store_->accounts().SetTier("a@example.com", "professional", std::move(done));
                }).ok());
    EXPECT_EQ(store_->accounts().FindAccountByKeyHash("h")->tier, "professional");
}

TEST_F(SqliteStoreTest, CheckpointsCopyTheLogIntoTheDatabaseWhileTheStoreRuns) {
    auto a = Create("a@example.com", "h");
    const auto db_file = dir_ / "gpuopt.db";
    const auto before = std::filesystem::file_size(db_file);
    for (int i = 0; i < 2000; ++i) {
        store_->usage().IngestReport({a->id, Report("w" + std::to_string(i), {"GPU-1", "GPU-2", "GPU-3", "GPU-4"}),
                                      std::nullopt, hours(24), kNow},
                                     [](Result<IngestOutcome>) {});
    }
    ASSERT_TRUE(Ingest(a->id, Report("last", {"GPU-1"})).ok());
    // New pages land in the WAL first; only a checkpoint copies them into the database file. The
    // writer never checkpoints, so growth of the file shows the checkpointer at work.
    const auto deadline = steady_clock::now() + seconds(10);
    while (std::filesystem::file_size(db_file) <= before + 512 * 1024 && steady_clock::now() < deadline) {
        std::this_thread::sleep_for(milliseconds(20));
    }
    EXPECT_GT(std::filesystem::file_size(db_file), before + 512 * 1024);
    EXPECT_EQ(Count("SELECT COUNT(*) FROM usage_reports"), 2001);
}

TEST_F(SqliteStoreTest, TheLogStaysBoundedUnderAStreamOfCommits) {
    // Writers that never let the queue run dry: without help from the store, SQLite never finds the
    // WAL fully copied when a transaction starts, never rewinds it, and the file grows with every commit.
    store_.reset();
    sqlite::SqliteStore::Options options{(dir_ / "gpuopt.db").string()};
    options.wal_restart_frames = 64;
    options.checkpoint_interval = milliseconds(20);
    auto opened = sqlite::SqliteStore::Open(options);
    ASSERT_TRUE(opened.ok());
    store_ = std::move(*opened);
    auto a = Create("a@example.com", "h");
    const auto wal_file = dir_ / "gpuopt.db-wal";
    std::atomic<int> in_flight{0}, stored{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int t = 0; t < 3; ++t) {
        writers.emplace_back([&, t] {
            for (int i = 0; !stop; ++i) {
                while (in_flight > 256 && !stop) std::this_thread::yield();
                ++in_flight;
                store_->usage().IngestReport(
                    {a->id, Report(std::to_string(t) + "-" + std::to_string(i), {"GPU-1", "GPU-2"}), std::nullopt,
                     hours(24), kNow},
                    [&](Result<IngestOutcome> r) {
                        stored += r.ok();
                        --in_flight;
                    });
            }
        });
    }
    // Run until well past the point where the log would have outgrown the bound many times over.
    const auto deadline = steady_clock::now() + seconds(20);
    uintmax_t largest = 0;
    while (Count("SELECT COUNT(*) FROM gpu_windows") < 60000 && steady_clock::now() < deadline) {
        std::error_code ec;
        largest = std::max(largest, std::filesystem::file_size(wal_file, ec));
        std::this_thread::sleep_for(milliseconds(10));
    }
    stop = true;
    for (auto& w : writers) w.join();
    while (in_flight > 0) std::this_thread::yield();
    EXPECT_GE(Count("SELECT COUNT(*) FROM gpu_windows"), 60000);
    // 64 frames of 4 KiB, plus what arrives between two checkpoints (without the rewinds: about 18 MB).
    EXPECT_LT(largest, 4u * 1024 * 1024) << "the WAL grew to " << largest << " bytes";
    EXPECT_EQ(Count("SELECT COUNT(*) FROM usage_reports"), stored.load());
}

TEST_F(SqliteStoreTest, ReadsWindowsBackByAccountRangeAndGpu) {
    auto a = Create("a@example.com", "h");
    auto b = Create("b@example.com", "h2");
    for (int i = 0; i < 3; ++i) {
        UsageReport r = Report("a" + std::to_string(i), {"GPU-1", "GPU-2"});
        r.window_end = kNow - minutes(10 - i);
        r.window_start = r.window_end - seconds(60);
        ASSERT_TRUE(Ingest(a->id, r).ok());
    }
    ASSERT_TRUE(Ingest(b->id, Report("b0", {"GPU-9"})).ok());
    Database& db = *store_;
    auto all = db.usage().ReadWindows(a->id, kNow - hours(1), kNow);
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(all->size(), 6u);
    for (const auto& w : *all) EXPECT_EQ(w.account_id, a->id);
    auto one = db.usage().ReadWindows(a->id, kNow - hours(1), kNow, "host/GPU-2");
    ASSERT_EQ(one->size(), 3u);
    EXPECT_EQ((*one)[0].window_end, kNow - minutes(10));
    EXPECT_EQ((*one)[0].window_seconds, 60);
    EXPECT_DOUBLE_EQ((*one)[0].cost_per_hour, 3.6);
    // (from, to]: a window ending exactly at `from` is outside.
    EXPECT_EQ(db.usage().ReadWindows(a->id, kNow - minutes(10), kNow)->size(), 4u);
    auto fleet = store_->usage().ReadFleet(a->id, kNow - hours(1));
    ASSERT_TRUE(fleet.ok());
    ASSERT_EQ(fleet->size(), 2u);
    ASSERT_TRUE((*fleet)[0].latest.has_value());
    EXPECT_EQ((*fleet)[0].latest->window_end, kNow - minutes(8));  // the newest window, not the first
}

TEST_F(SqliteStoreTest, RollUpMergesOnceAndRetentionKeepsWhatIsYoung) {
    auto a = Create("a@example.com", "h");
    for (int i = 0; i < 120; ++i) {
        UsageReport r = Report("r" + std::to_string(i), {"GPU-1"}, i < 60 ? 2 : 80);
        r.window_end = kNow - hours(24 * 10) + minutes(i + 1);  // ten days ago, two hours of windows
        r.window_start = r.window_end - seconds(60);
        ASSERT_TRUE(Ingest(a->id, r, std::nullopt, r.window_end).ok());
    }
    auto windows = store_->usage().ReadWindowsAfter(0, 1000);
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
            [&](Callback<void> done) { store_->usage().ApplyRollup(std::move(rows), expected, to, std::move(done)); });
    };
    ASSERT_TRUE(apply(rolled, 0, windows->back().id).ok());
    EXPECT_EQ(store_->usage().RollupWatermark().value(), windows->back().id);
    // A second run with the old watermark writes nothing: the hours are not counted twice.
    EXPECT_EQ(apply(rolled, 0, windows->back().id).error().code, ErrorCode::kAlreadyExists);
    auto rows = store_->usage().ReadHours(a->id, kNow - hours(24 * 30), kNow, "");
    int64_t merged = 0;
    for (const auto& h : *rows) merged += h.windows;
    EXPECT_EQ(merged, 120);
    // A young report after the roll-up: not rolled up, so retention keeps it even if it were old.
    ASSERT_TRUE(Ingest(a->id, Report("young", {"GPU-1"})).ok());
    auto pruned = Wait<int64_t>([&](Callback<int64_t> done) {
        store_->usage().PruneHistory(kNow - hours(24 * 7), kNow - hours(24 * 395), 10000, std::move(done));
    });
    ASSERT_TRUE(pruned.ok());
    EXPECT_EQ(*pruned, 240);  // 120 windows and their 120 reports
    EXPECT_EQ(Count("SELECT COUNT(*) FROM gpu_windows"), 1);
    EXPECT_EQ(Count("SELECT COUNT(*) FROM usage_reports"), 1);
    EXPECT_EQ(Count("SELECT SUM(windows) FROM gpu_hours"), 120);  // the roll-up outlives the raw windows
}

TEST_F(SqliteStoreTest, OneOpenAlertPerGpuUntilItCloses) {
    auto a = Create("a@example.com", "h");
    auto saved = Wait<AlertSettings>([&](Callback<AlertSettings> done) {
        store_->alerts().SetAlertSettings({a->id, "https://hooks.example.com/T/B/x", 30, ""}, std::move(done));
    });
    ASSERT_TRUE(saved.ok());
    auto listed = store_->alerts().ListAlertSettings();
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0].tier, "free");
    auto open = [&] {
        return Wait<Alert>([&](Callback<Alert> done) {
            store_->alerts().OpenAlert(
                {0, a->id, "host/GPU-1", kNow - minutes(40), kNow, std::nullopt, "idle", "", 0, std::nullopt},
                std::move(done));
        });
    };
    auto first = open();
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(open().error().code, ErrorCode::kAlreadyExists);
    EXPECT_EQ(store_->alerts().DueAlertDeliveries(kNow, 10)->size(), 1u);
    ASSERT_TRUE(Wait<void>([&](Callback<void> done) {
                    store_->alerts().RecordAlertDelivery(first->id, "delivered", 1, std::nullopt, std::move(done));
                }).ok());
    EXPECT_TRUE(store_->alerts().DueAlertDeliveries(kNow, 10)->empty());
    ASSERT_TRUE(
        Wait<void>([&](Callback<void> done) { store_->alerts().CloseAlert(first->id, kNow, std::move(done)); }).ok());
    EXPECT_TRUE(store_->alerts().OpenAlerts(a->id)->empty());
    EXPECT_TRUE(open().ok());  // busy in between: the next idle stretch alerts again
    EXPECT_EQ(store_->alerts().ListAlerts(a->id, 10)->size(), 2u);
}

TEST_F(SqliteStoreTest, StatsAreDerivedFromHistory) {
    auto a = Create("a@example.com", "h", kNow - hours(24 * 3));
    auto b = Create("b@example.com", "h2");
    (void)Wait<Account>(
        [&](Callback<Account> done) { store_->accounts().SetTier("b@example.com", "professional", std::move(done)); });
    // Two idle 60 s windows at $3.60/h: 2 × 60 s × 3.6 / 3600 = $0.12 idle.
    for (int i = 0; i < 3; ++i) {
        UsageReport r = Report(std::to_string(i + 1), {"GPU-1"}, i < 2 ? 5 : 95);  // the third busy: no idle cost
        r.window_end = kNow - minutes(2 - i);
        r.window_start = r.window_end - seconds(60);
        ASSERT_TRUE(Ingest(a->id, r).ok());
    }
    // The same window again counts nothing more: time is never counted twice.
    ASSERT_TRUE(Ingest(a->id, Report("again", {"GPU-1"}, 5)).ok());
    auto s = store_->stats().GetStats({kNow, 30, 15, 0.5});
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

TEST_F(SqliteStoreTest, ClosedStoreRefusesWork) {
    store_->Close();
    EXPECT_EQ(Create("a@example.com", "h").error().code, ErrorCode::kUnavailable);
    EXPECT_FALSE(store_->Ping().ok());
    EXPECT_EQ(store_->accounts().FindAccountByKeyHash("h").error().code, ErrorCode::kUnavailable);
}

TEST_F(SqliteStoreTest, CloseFinishesQueuedWrites) {
    std::atomic<int> done{0};
    for (int i = 0; i < 50; ++i) {
        store_->accounts().CreateAccount(
            {"q" + std::to_string(i) + "@example.com", "qh" + std::to_string(i), "gopt_x", "free", kNow, {}},
            [&done](Result<Account> r) { done += r.ok(); });
    }
    store_->Close();
    EXPECT_EQ(done.load(), 50);
    EXPECT_EQ(Count("SELECT COUNT(*) FROM accounts"), 50);
}

TEST_F(SqliteStoreTest, ReadsRunWhileWritesAreQueued) {
    auto a = Create("a@example.com", "h");
    std::vector<std::thread> readers;
    std::atomic<int> found{0};
    for (int t = 0; t < 4; ++t) {
        readers.emplace_back([&] {
            for (int i = 0; i < 200; ++i) found += store_->accounts().FindAccountByKeyHash("h").ok();
        });
    }
    for (int i = 0; i < 200; ++i) (void)Ingest(a->id, Report("x" + std::to_string(i), {"GPU-1"}));
    for (auto& r : readers) r.join();
    EXPECT_EQ(found.load(), 800);
}

}  // namespace
}  // namespace gpuopt::store
