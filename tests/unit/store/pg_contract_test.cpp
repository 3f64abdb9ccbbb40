// The store contract suites (store_contract.hpp, time_accounting_contract.hpp) over PgStore, each test on a
// database of its own on the PostgreSQL that CTest's `services` fixture started (support/pg_database.hpp).
#include <gtest/gtest.h>

#include <memory>

#include "store/postgres/connection.hpp"
#include "store/postgres/pg_store.hpp"
#include "store/postgres/schema.hpp"
#include "support/pg_database.hpp"
#include "unit/store/store_contract.hpp"
#include "unit/store/time_accounting_contract.hpp"

namespace gpuopt::store::contract {
namespace {

struct PostgresBackend {
    static constexpr const char* kName = "postgres";

    void SetUp() {
        database_ = std::make_unique<testing::PgTestDatabase>();
        ASSERT_TRUE(database_->Ready());
    }
    Result<std::unique_ptr<Database>> Open() {
        postgres::PgStore::Options options;
        options.url = database_->Url();
        auto opened = postgres::PgStore::Open(options);
        if (!opened.ok()) return opened.error();
        return std::unique_ptr<Database>(std::move(*opened));
    }
    void TearDown() { database_.reset(); }  // drops the database; the store is closed by then
    static uint64_t CommittedTransactions(Database& db) {
        return dynamic_cast<postgres::PgStore&>(db).CommittedTransactions();
    }
    std::string Location() const { return database_->Url(); }

    std::unique_ptr<testing::PgTestDatabase> database_;
};

}  // namespace

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
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, TimeAccountingContract, ::testing::Types<PostgresBackend>);

}  // namespace gpuopt::store::contract
