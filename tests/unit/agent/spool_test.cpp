// The on-disk spool: order, durability across reopening, torn tails, and its bounds.
#include "agent/spool.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace gpuopt::agent {
namespace {

namespace fs = std::filesystem;

class SpoolTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("gpuopt-spool-" + std::to_string(::getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
    }
    void TearDown() override {
        spool_.reset();
        fs::remove_all(dir_);
    }
    void Open(uint64_t max_bytes = 1 << 20, std::chrono::seconds max_age = std::chrono::hours(24),
              uint64_t segment = 4096) {
        spool_.reset();
        auto s = Spool::Open({dir_, max_bytes, max_age, segment});
        ASSERT_TRUE(s.ok()) << s.error().message;
        spool_ = std::move(*s);
    }
    static std::string Body(uint64_t n) {
        return R"({"report_id":"h:)" + std::to_string(n) + R"(","pad":")" + std::string(200, 'x') + "\"}";
    }
    std::vector<fs::path> Segments() const {
        std::vector<fs::path> out;
        for (const auto& e : fs::directory_iterator(dir_)) {
            if (e.path().filename().string().rfind("seg-", 0) == 0) out.push_back(e.path());
        }
        std::sort(out.begin(), out.end());
        return out;
    }
    fs::path dir_;
    std::unique_ptr<Spool> spool_;
    const int64_t now_ = 1795600000;
};

TEST_F(SpoolTest, HandsOutReportsOldestFirstUntilAcknowledged) {
    Open();
    for (uint64_t i = 1; i <= 3; ++i) ASSERT_TRUE(spool_->Append(i, now_, Body(i)).ok());
    EXPECT_EQ(spool_->Pending(), 3u);
    auto first = spool_->Oldest(now_);
    ASSERT_TRUE(first.ok() && first->has_value());
    EXPECT_EQ((*first)->sequence, 1u);
    EXPECT_EQ((*first)->body, Body(1));
    EXPECT_EQ(spool_->Oldest(now_).value()->sequence, 1u);  // still there until acknowledged
    ASSERT_TRUE(spool_->Ack(1).ok());
    EXPECT_EQ(spool_->Oldest(now_).value()->sequence, 2u);
    ASSERT_TRUE(spool_->Ack(3).ok());
    EXPECT_FALSE(spool_->Oldest(now_)->has_value());
    EXPECT_EQ(spool_->Pending(), 0u);
}

TEST_F(SpoolTest, ReportsAndTheSequenceSurviveReopening) {
    Open();
    for (uint64_t i = 1; i <= 40; ++i) ASSERT_TRUE(spool_->Append(i, now_, Body(i)).ok());
    ASSERT_TRUE(spool_->Ack(25).ok());
    Open();
    EXPECT_EQ(spool_->Pending(), 15u);
    EXPECT_EQ(spool_->HighestSequence(), 40u);
    EXPECT_EQ(spool_->Oldest(now_).value()->body, Body(26));
    // Everything delivered and every segment gone: the next sequence still follows on.
    ASSERT_TRUE(spool_->Ack(40).ok());
    EXPECT_TRUE(Segments().empty());
    Open();
    EXPECT_EQ(spool_->HighestSequence(), 40u);
    EXPECT_FALSE(spool_->Append(40, now_, Body(40)).ok());  // a sequence is never used twice
    EXPECT_TRUE(spool_->Append(41, now_, Body(41)).ok());
}

TEST_F(SpoolTest, ATornLastRecordIsCutOffAndTheRestKept) {
    Open();
    for (uint64_t i = 1; i <= 3; ++i) ASSERT_TRUE(spool_->Append(i, now_, Body(i)).ok());
    spool_.reset();
    const fs::path seg = Segments().back();
    const auto size = fs::file_size(seg);
    fs::resize_file(seg, size - 17);  // a crash in the middle of writing record 3
    Open();
    EXPECT_EQ(spool_->Pending(), 2u);
    EXPECT_EQ(spool_->HighestSequence(), 2u);
    ASSERT_TRUE(spool_->Append(3, now_, Body(3)).ok());  // appends after the last good record
    Open();
    EXPECT_EQ(spool_->Pending(), 3u);
    ASSERT_TRUE(spool_->Ack(2).ok());
    EXPECT_EQ(spool_->Oldest(now_).value()->body, Body(3));
}

TEST_F(SpoolTest, ADamagedRecordIsNotTrusted) {
    Open();
    for (uint64_t i = 1; i <= 3; ++i) ASSERT_TRUE(spool_->Append(i, now_, Body(i)).ok());
    spool_.reset();
    const fs::path seg = Segments().back();
    {
        std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(fs::file_size(seg) - 5));
        f.put('#');  // flips a byte of record 3's payload
    }
    Open();
    EXPECT_EQ(spool_->Pending(), 2u);
}

TEST_F(SpoolTest, OverItsSizeTheOldestReportsGoFirstAndAreCounted) {
    Open(16 * 1024, std::chrono::hours(24), 4096);
    for (uint64_t i = 1; i <= 200; ++i) ASSERT_TRUE(spool_->Append(i, now_, Body(i)).ok());
    EXPECT_LE(spool_->Bytes(), 16u * 1024);
    EXPECT_GT(spool_->Dropped(), 0u);
    EXPECT_EQ(spool_->Pending() + spool_->Dropped(), 200u);
    EXPECT_EQ(spool_->HighestSequence(), 200u);
    // What is left is the newest, still in order.
    auto oldest = spool_->Oldest(now_);
    EXPECT_EQ((*oldest)->sequence, 200 - spool_->Pending() + 1);
}

TEST_F(SpoolTest, ReportsOlderThanTheAgeLimitAreDropped) {
    Open(1 << 20, std::chrono::hours(1));
    ASSERT_TRUE(spool_->Append(1, now_ - 7200, Body(1)).ok());
    ASSERT_TRUE(spool_->Append(2, now_ - 3000, Body(2)).ok());
    auto oldest = spool_->Oldest(now_);
    ASSERT_TRUE(oldest.ok() && oldest->has_value());
    EXPECT_EQ((*oldest)->sequence, 2u);
    EXPECT_EQ(spool_->Dropped(), 1u);
    Open(1 << 20, std::chrono::hours(1));
    EXPECT_EQ(spool_->Pending(), 1u);  // the drop was persisted
}

TEST(Crc32, MatchesTheStandardCheckValue) { EXPECT_EQ(Crc32("123456789", 9), 0xCBF43926u); }

}  // namespace
}  // namespace gpuopt::agent
