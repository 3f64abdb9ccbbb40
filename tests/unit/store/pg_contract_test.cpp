// The store contract (store_contract.hpp) over PgStore, and what only PostgreSQL does (partitions, its
// migrations). The other suites are in pg_billing_contract_test.cpp and pg_domain_contract_test.cpp.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <tuple>

#include "store/postgres/connection.hpp"
#include "store/postgres/schema.hpp"
#include "unit/store/pg_backend.hpp"
#include "unit/store/store_contract.hpp"

namespace gpuopt::store::contract {

INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, StoreContract, ::testing::Types<PostgresBackend>);

// PostgreSQL only: retention drops a past day's partition once every window in it is rolled up, and keeps
// it while a late back-fill into that day is not.
class PgPartitions : public StoreContract<PostgresBackend> {
protected:
    bool PartitionExists(const std::string& name) {
        auto c = postgres::Connection::Open({this->backend_.database_->Url()});
        EXPECT_TRUE(c.ok());
        if (!c.ok()) return false;
        auto r = (*c)->Query("SELECT to_regclass($1) IS NOT NULL", postgres::Params().Add(name));
        return r.ok() && r->Bool(0, 0);
    }
    Result<int64_t> Prune(SysSeconds raw_before) {
        return Wait<int64_t>([&](Callback<int64_t> done) {
            this->db().usage().PruneHistory(raw_before, kNow - days(400), 100000, std::move(done));
        });
    }
    Result<void> RollUpAll() {
        UsageRepository& usage = this->db().usage();
        const int64_t from = usage.RollupWatermark().value();
        auto windows = usage.ReadWindowsAfter(from, 10000).value();
        std::vector<HourlyRow> rows;
        for (const auto& w : windows) {
            HourlyRow h;
            h.account_id = w.account_id;
            h.gpu_key = w.gpu_key;
            h.hour = std::chrono::floor<std::chrono::hours>(w.window_end - seconds(1));
            h.windows = 1;
            h.reported_s = 60;
            rows.push_back(h);
        }
        return Wait<void>([&](Callback<void> done) {
            usage.ApplyRollup(std::move(rows), from, windows.empty() ? from : windows.back().id, std::move(done));
        });
    }
};

TEST_F(PgPartitions, ADayIsDroppedWholeOnceRolledUpAndKeptWhileALateWindowIsNot) {
    const SysSeconds day = std::chrono::floor<days>(kNow - days(10));
    const std::string name = "gpu_windows_20261115";
    {
        auto c = postgres::Connection::Open({this->backend_.database_->Url()});
        ASSERT_TRUE(c.ok());
        ASSERT_TRUE(postgres::EnsureDayPartitions(**c, day, day).ok());
    }
    ASSERT_TRUE(PartitionExists(name));
    auto a = this->Create("a@example.com", "h");
    ASSERT_TRUE(a.ok());
    auto ingest = [&](const std::string& id, SysSeconds end) {
        UsageReport r = this->Report(id, {"GPU-1"});
        r.window_end = end;
        r.window_start = end - seconds(60);
        return this->Ingest(a->id, r, std::nullopt, end);
    };
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(ingest("r" + std::to_string(i), day + hours(3) + minutes(i + 1)).ok());
    ASSERT_TRUE(RollUpAll().ok());
    // A late back-fill into the same day, not rolled up yet: the day stays.
    ASSERT_TRUE(ingest("late", day + hours(20)).ok());
    auto kept = Prune(kNow - days(3));
    ASSERT_TRUE(kept.ok()) << kept.error().message;
    EXPECT_TRUE(PartitionExists(name));
    EXPECT_EQ(this->db().usage().ReadWindows(a->id, day, day + days(1)).value().size(), 31u);
    // Rolled up: the whole day goes at once, its 31 windows and their 31 reports counted.
    ASSERT_TRUE(RollUpAll().ok());
    auto dropped = Prune(kNow - days(3));
    ASSERT_TRUE(dropped.ok()) << dropped.error().message;
    EXPECT_EQ(*dropped, 62);
    EXPECT_FALSE(PartitionExists(name));
    EXPECT_EQ(this->db().usage().ReadWindows(a->id, day, day + days(1)).value().size(), 0u);
    EXPECT_EQ(this->db().usage().ReadRolledHistory(a->id, day, day + days(1), "").value().hours.size(),
              2u);  // the hours stay
}
// A database from before migration 3 keeps its roll-up: every gpu_hours row lands in its day of gpu_days,
// and the old table goes.
using PgMigrations = StoreContract<PostgresBackend>;

TEST_F(PgMigrations, MigrationThreePacksTheHourlyRollUpByDay) {
    auto a = this->Create("a@example.com", "h");
    ASSERT_TRUE(a.ok());
    this->Shut();
    const SysSeconds midnight = std::chrono::floor<days>(kNow);
    {
        auto c = postgres::Connection::Open({this->backend_.database_->Url()});
        ASSERT_TRUE(c.ok());
        // The database as migration 2 left it, with three hours across midnight for one GPU and one for another.
        std::string sql =
            "DROP TABLE leads; DROP TABLE lead_events; DROP TABLE prospects; DROP TABLE conversations; "
            "DROP TABLE discovery_cursors; DROP TABLE discovery_sources; DROP TABLE referral_codes; "
            "DROP TABLE sequence_states; DROP TABLE enrollments; DROP TABLE sequence_sends; DROP TABLE send_counts; "
            "DROP TABLE domain_sends; DROP TABLE suppressions; DROP TABLE mail_events; "
            "DROP TABLE address_blocks; DROP INDEX accounts_deleted_at; DROP INDEX outbox_account; DROP INDEX "
            "security_events_ip; "
            "ALTER TABLE accounts DROP COLUMN disabled_at; ALTER TABLE accounts DROP COLUMN disabled_reason; "
            "ALTER TABLE job_runs DROP COLUMN result; "
            "DROP TABLE audit_log; DROP FUNCTION audit_log_append_only; DROP TABLE admin_sessions; DROP TABLE "
            "admin_users; "
            "ALTER TABLE accounts DROP COLUMN deleted_at; DROP TABLE api_keys; DROP TABLE recommendation_marks; DROP "
            "TABLE web_sessions; DROP TABLE sign_in_links;"
            " ALTER TABLE gpu_windows DROP COLUMN sm_active;"
            " DROP TABLE webhook_scan; DROP TABLE webhook_deliveries; DROP TABLE webhook_endpoints;"
            " DROP TABLE report_settings; ALTER TABLE alert_settings DROP COLUMN email_alerts;"
            " DROP TABLE idle_events; DROP TABLE idle_snoozes; DROP TABLE idle_policies;"
            " ALTER TABLE gpu_windows DROP COLUMN telemetry; DROP TABLE recommendation_tracks; DROP TABLE gpu_days;"
            " DELETE FROM schema_migrations WHERE version >= 3;"
            "CREATE TABLE gpu_hours (account_id BIGINT NOT NULL REFERENCES accounts (id), gpu_key TEXT NOT NULL,"
            " hour TEXT COLLATE \"C\" NOT NULL, host TEXT NOT NULL, uuid TEXT NOT NULL, gpu_name TEXT NOT NULL,"
            " gpu_index INTEGER NOT NULL, windows BIGINT NOT NULL, reported_s DOUBLE PRECISION NOT NULL,"
            " util_weighted DOUBLE PRECISION NOT NULL, util_max DOUBLE PRECISION NOT NULL,"
            " idle_s DOUBLE PRECISION NOT NULL, idle_held_s DOUBLE PRECISION NOT NULL,"
            " mem_used_max DOUBLE PRECISION NOT NULL, mem_total DOUBLE PRECISION NOT NULL,"
            " cost_usd DOUBLE PRECISION NOT NULL, idle_cost_usd DOUBLE PRECISION NOT NULL,"
            " idle_held_cost_usd DOUBLE PRECISION NOT NULL, PRIMARY KEY (account_id, hour, gpu_key));";
        for (auto [gpu, at, windows] : {std::tuple{"GPU-1", midnight - hours(1), 60},
                                        {"GPU-1", midnight, 55},
                                        {"GPU-1", midnight + hours(5), 12},
                                        {"GPU-2", midnight, 60}}) {
            sql += "INSERT INTO gpu_hours VALUES (" + std::to_string(a->id) + ", 'host/" + gpu + "', '" +
                   FormatUtc(at) + "', 'host', '" + gpu + "', 'H100', 0, " + std::to_string(windows) + ", " +
                   std::to_string(windows * 60) + ", 1000, 80, 600, 300, 1024, 81920, 2.5, 0.5, 0.25);";
        }
        ASSERT_TRUE((*c)->Exec(sql).ok());
    }
    this->Reopen();
    {
        auto c = postgres::Connection::Open({this->backend_.database_->Url()});
        ASSERT_TRUE(c.ok());
        auto gone = (*c)->Exec("SELECT to_regclass('gpu_hours') IS NULL, COUNT(*), SUM(windows) FROM gpu_days");
        ASSERT_TRUE(gone.ok());
        EXPECT_TRUE(gone->Bool(0, 0));
        EXPECT_EQ(gone->Int(0, 1), 3);  // GPU-1 on two days, GPU-2 on one
        EXPECT_EQ(gone->Int(0, 2), 187);
    }
    auto read = this->db().usage().ReadRolledHistory(a->id, midnight - days(1), midnight + days(1), "");
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

}  // namespace gpuopt::store::contract
