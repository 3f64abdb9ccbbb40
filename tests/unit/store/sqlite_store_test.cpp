// What only SqliteStore promises, on a real database file: its migrations, WAL mode and checkpoints, and how
// a batch survives a write that fails inside SQLite. The contract every backend keeps is in store_contract.hpp
// (sqlite_contract_test.cpp runs it over SqliteStore).
#include "store/sqlite/sqlite_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <future>
#include <thread>
#include <tuple>

#include "common/crypto.hpp"
#include "store/sqlite/migrations.hpp"
#include "store/wait.hpp"
#include "support/test_dir.hpp"

namespace gpuopt::store {
namespace {

using namespace std::chrono;
const SysSeconds kNow = sys_days{2026y / 11 / 25} + 12h;

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
            store_->accounts().CreateAccount({email, key_hash, "gopt_abcd", Tier::kFree, now, {}}, std::move(done));
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

// A database from before migration 8 keeps its roll-up: every gpu_hours row lands in its day of gpu_days,
// and the old table goes.
TEST_F(SqliteStoreTest, MigrationEightPacksTheHourlyRollUpByDay) {
    auto a = Create("a@example.com", "h");
    ASSERT_TRUE(a.ok());
    store_.reset();
    const SysSeconds midnight = floor<days>(kNow);
    {
        // The file as migration 7 left it (the later ones undone), with three hours across midnight for one GPU and one
        // for another.
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open((dir_ / "gpuopt.db").c_str(), &db), SQLITE_OK);
        std::string sql =
            "DROP TABLE leads; DROP TABLE lead_events; DROP TABLE prospects; DROP TABLE conversations; "
            "DROP TABLE discovery_cursors; DROP TABLE discovery_sources; DROP TABLE referral_codes; "
            "DROP TABLE sequence_states; DROP TABLE enrollments; DROP TABLE sequence_sends; DROP TABLE send_counts; "
            "DROP TABLE domain_sends; DROP TABLE suppressions; DROP TABLE mail_events; "
            "DROP TABLE address_blocks; DROP INDEX accounts_deleted_at; DROP INDEX outbox_account; DROP INDEX "
            "security_events_ip; "
            "ALTER TABLE accounts DROP COLUMN disabled_at; ALTER TABLE accounts DROP COLUMN disabled_reason; "
            "ALTER TABLE job_runs DROP COLUMN result; "
            "DROP TABLE audit_log; DROP TABLE admin_sessions; DROP TABLE admin_users; "
            "ALTER TABLE accounts DROP COLUMN deleted_at; DROP TABLE api_keys; DROP TABLE recommendation_marks; DROP "
            "TABLE web_sessions; DROP TABLE sign_in_links;"
            " ALTER TABLE gpu_windows DROP COLUMN sm_active;"
            " DROP TABLE webhook_scan; DROP TABLE webhook_deliveries; DROP TABLE webhook_endpoints;"
            " DROP TABLE report_settings; ALTER TABLE alert_settings DROP COLUMN email_alerts;"
            " DROP TABLE idle_events; DROP TABLE idle_snoozes; DROP TABLE idle_policies;"
            " ALTER TABLE gpu_windows DROP COLUMN telemetry; DROP TABLE recommendation_tracks; DROP TABLE gpu_days;"
            " DELETE FROM schema_migrations WHERE version >= 8;"
            "CREATE TABLE gpu_hours (account_id INTEGER NOT NULL REFERENCES accounts (id), gpu_key TEXT NOT NULL,"
            " hour TEXT NOT NULL, host TEXT NOT NULL, uuid TEXT NOT NULL, gpu_name TEXT NOT NULL,"
            " gpu_index INTEGER NOT NULL, windows INTEGER NOT NULL, reported_s REAL NOT NULL,"
            " util_weighted REAL NOT NULL, util_max REAL NOT NULL, idle_s REAL NOT NULL, idle_held_s REAL NOT NULL,"
            " mem_used_max REAL NOT NULL, mem_total REAL NOT NULL, cost_usd REAL NOT NULL,"
            " idle_cost_usd REAL NOT NULL, idle_held_cost_usd REAL NOT NULL,"
            " PRIMARY KEY (account_id, hour, gpu_key)) WITHOUT ROWID;";
        for (auto [gpu, at, windows] : {std::tuple{"GPU-1", midnight - hours(1), 60},
                                        {"GPU-1", midnight, 55},
                                        {"GPU-1", midnight + hours(5), 12},
                                        {"GPU-2", midnight, 60}}) {
            sql += "INSERT INTO gpu_hours VALUES (" + std::to_string(a->id) + ", 'host/" + gpu + "', '" +
                   FormatUtc(at) + "', 'host', '" + gpu + "', 'H100', 0, " + std::to_string(windows) + ", " +
                   std::to_string(windows * 60) + ", 1000, 80, 600, 300, 1024, 81920, 2.5, 0.5, 0.25);";
        }
        ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
        sqlite3_close(db);
    }
    Reopen();
    EXPECT_EQ(Count("SELECT COUNT(*) FROM sqlite_master WHERE name = 'gpu_hours'"), 0);
    EXPECT_EQ(Count("SELECT COUNT(*) FROM gpu_days"), 3);  // GPU-1 on two days, GPU-2 on one
    EXPECT_EQ(Count("SELECT SUM(windows) FROM gpu_days"), 187);
    auto read = store_->usage().ReadRolledHistory(a->id, midnight - days(1), midnight + days(1), "");
    ASSERT_TRUE(read.ok());
    ASSERT_EQ(read->hours.size(), 4u);
    EXPECT_EQ(read->hours[0].hour, midnight - hours(1));
    EXPECT_EQ(read->hours[0].windows, 60);
    EXPECT_EQ(read->hours[3].hour, midnight + hours(5));
    EXPECT_EQ(read->hours[3].windows, 12);
    for (const auto& h : read->hours) {
        EXPECT_DOUBLE_EQ(h.reported_s, static_cast<double>(h.windows * 60));
        EXPECT_DOUBLE_EQ(h.util_weighted, 1000);
        EXPECT_DOUBLE_EQ(h.util_max, 80);
        EXPECT_DOUBLE_EQ(h.idle_s, 600);
        EXPECT_DOUBLE_EQ(h.idle_held_s, 300);
        EXPECT_DOUBLE_EQ(h.mem_used_max, 1024);
        EXPECT_DOUBLE_EQ(h.mem_total, 81920);
        EXPECT_DOUBLE_EQ(h.cost_usd, 2.5);
        EXPECT_DOUBLE_EQ(h.idle_cost_usd, 0.5);
        EXPECT_DOUBLE_EQ(h.idle_held_cost_usd, 0.25);
    }
}

TEST_F(SqliteStoreTest, AnInternalErrorInABatchReplaysTheOthersSafely) {
    ASSERT_TRUE(Create("victim@example.com", "hv").ok());
    // A trigger refuses this one account's change of plan: the write fails inside SQLite as an internal
    // error, which sends its batch through the careful path (rollback, then one savepoint per write).
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open((dir_ / "gpuopt.db").c_str(), &db), SQLITE_OK);
        const int made =
            sqlite3_exec(db,
                         "CREATE TRIGGER refuse_victim BEFORE UPDATE OF tier ON accounts"
                         " WHEN NEW.email = 'victim@example.com' BEGIN SELECT RAISE(ABORT, 'refused'); END",
                         nullptr, nullptr, nullptr);
        sqlite3_close(db);
        ASSERT_EQ(made, SQLITE_OK);
    }
    std::vector<std::shared_ptr<std::promise<Result<Account>>>> creates;
    auto bad = std::make_shared<std::promise<Result<Account>>>();
    for (int i = 0; i < 50; ++i) {
        if (i == 25) {
            store_->accounts().SetTier("victim@example.com", Tier::kEnterprise,
                                       [bad](Result<Account> r) { bad->set_value(std::move(r)); });
        }
        auto p = std::make_shared<std::promise<Result<Account>>>();
        store_->accounts().CreateAccount(
            {"c" + std::to_string(i) + "@example.com", "ch" + std::to_string(i), "gopt_x", Tier::kFree, kNow, {}},
            [p](Result<Account> r) { p->set_value(std::move(r)); });
        creates.push_back(p);
    }
    for (auto& p : creates) EXPECT_TRUE(p->get_future().get().ok());
    auto failed = bad->get_future().get();
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().code, ErrorCode::kInternal);
    EXPECT_EQ(Count("SELECT COUNT(*) FROM accounts"), 51);
    EXPECT_EQ(store_->accounts().FindAccountByKeyHash("hv")->tier, Tier::kFree);
    EXPECT_TRUE(store_->Ping().ok()) << "a failed write is not a broken store";
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

}  // namespace
}  // namespace gpuopt::store
