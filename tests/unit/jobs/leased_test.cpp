// A periodic job wrapped by jobs::Leased, on a real SQLite store: it runs only where the lease is held,
// every run is recorded with its token, and a server restarted in the same place takes its lease back.
#include "jobs/leased.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "store/sqlite/sqlite_store.hpp"
#include "support/test_dir.hpp"

namespace gpuopt::jobs {
namespace {

class Leased : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = testing::FreshTestDir("leased");
        auto s = store::sqlite::SqliteStore::Open({(dir_ / "gpuopt.db").string()});
        ASSERT_TRUE(s.ok());
        store_ = std::move(*s);
    }
    void TearDown() override {
        store_.reset();
        std::filesystem::remove_all(dir_);
    }

    std::filesystem::path dir_;
    std::unique_ptr<store::sqlite::SqliteStore> store_;
};

TEST_F(Leased, OnlyTheHolderRunsTheJobAndEachRunIsRecorded) {
    int runs_a = 0, runs_b = 0;
    auto a = jobs::Leased(store_->leases(), "rollup", "host-a:/var/lib/gpuopt", std::chrono::seconds(5), [&] {
        ++runs_a;
        return Result<void>{};
    });
    auto b = jobs::Leased(store_->leases(), "rollup", "host-b:/var/lib/gpuopt", std::chrono::seconds(5), [&] {
        ++runs_b;
        return Result<void>{};
    });
    ASSERT_TRUE(a().ok());
    ASSERT_TRUE(b().ok());  // skipped: not a failure
    ASSERT_TRUE(a().ok());
    EXPECT_EQ(runs_a, 2);
    EXPECT_EQ(runs_b, 0);
    auto runs = store_->leases().ListJobRuns("rollup", 10);
    ASSERT_TRUE(runs.ok());
    ASSERT_EQ(runs->size(), 2u);
    EXPECT_EQ((*runs)[0].holder, "host-a:/var/lib/gpuopt");
    EXPECT_EQ((*runs)[0].token, (*runs)[1].token);  // renewed, not changed hands
}

TEST_F(Leased, AFailingRunIsReportedAndStillRecorded) {
    auto job = jobs::Leased(store_->leases(), "mail", "host-a:/d", std::chrono::seconds(1), [] {
        return Result<void>(Error{ErrorCode::kUnavailable, "smtp down", {}});
    });
    auto r = job();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "smtp down");
    EXPECT_EQ(store_->leases().ListJobRuns("mail", 10).value().size(), 1u);
}

TEST(LeaseHolderName, IsTheSameForOnePlaceAndDiffersBetweenPlaces) {
    EXPECT_EQ(LeaseHolderName("/var/lib/gpuopt"), LeaseHolderName("/var/lib/gpuopt"));
    EXPECT_NE(LeaseHolderName("/var/lib/gpuopt"), LeaseHolderName("/var/lib/gpuopt-2"));
    EXPECT_NE(LeaseHolderName("/var/lib/gpuopt").find(":/var/lib/gpuopt"), std::string::npos);
}

}  // namespace
}  // namespace gpuopt::jobs
