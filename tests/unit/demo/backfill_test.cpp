// The demo's back-fill with time under the test's control: the account and its key, a history stored
// through the server's own report validation, the roll-up and the recommendation tracker run at their
// simulated times (so a GPU switched off on the second day shows as a realized saving), and email alerts
// set up for the idle GPUs.
#include "demo/backfill.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "agent/simulated/simulated_source.hpp"
#include "common/crypto.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "support/test_dir.hpp"

namespace gpuopt::demo {
namespace {

using namespace std::chrono;
const SysSeconds kEnd = sys_days{2026y / 11 / 20} + 9h;

constexpr const char* kScenario = R"({"hosts": [{"hostname": "lab-1", "gpus": [
    {"name": "NVIDIA L4", "memory_mib": 23034, "pattern": "busy", "util": 80, "held_mib": 12000},
    {"name": "Tesla T4", "memory_mib": 15360, "pattern": "idle", "stops_after_s": 129600},
    {"name": "NVIDIA L4", "memory_mib": 23034, "pattern": "idle_holding_memory", "held_mib": 9000}]}]})";

TEST(SimulatedSource, AGpuSwitchedOffIsNoLongerSeen) {
    auto scenario = agent::ParseScenario(kScenario);
    ASSERT_TRUE(scenario.ok());
    const auto start = system_clock::time_point(kEnd - days(3));
    agent::SimulatedSource source(scenario->hosts[0], 0, start);
    auto before = source.Sample(start + hours(35));
    ASSERT_TRUE(before.ok());
    EXPECT_EQ(before->gpus.size(), 3u);
    auto after = source.Sample(start + hours(36));
    ASSERT_TRUE(after.ok());
    ASSERT_EQ(after->gpus.size(), 2u);
    EXPECT_EQ(after->gpus[1].index, 2u);  // the others keep their index
}

class BackfillTest : public ::testing::Test {
protected:
    void SetUp() override {
        InitCrypto();
        dir_ = testing::FreshTestDir("backfill");
        auto s = store::sqlite::SqliteStore::Open({(dir_ / "gpuopt.db").string()});
        ASSERT_TRUE(s.ok());
        store_ = std::move(*s);
        config_ = BuildConfig({}).value();
    }
    void TearDown() override {
        store_.reset();
        std::filesystem::remove_all(dir_);
    }
    std::filesystem::path dir_;
    std::unique_ptr<store::sqlite::SqliteStore> store_;
    Config config_;
};

TEST_F(BackfillTest, StoresTheHistoryAndRealizesTheRecommendationTheScenarioActsOn) {
    auto scenario = agent::ParseScenario(kScenario);
    ASSERT_TRUE(scenario.ok());
    BackfillOptions o;
    o.email = "demo@example.com";
    o.start = kEnd - days(3);
    o.end = kEnd;
    o.sample = seconds(60);
    o.window = seconds(600);
    auto r = Backfill(*store_, config_, PriceCatalog::Builtin(), *scenario, o);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(IsWellFormedApiKey(r->api_key));
    EXPECT_EQ(r->reports, 3 * 24 * 6);
    auto account = store_->accounts().GetAccount(r->account_id);
    ASSERT_TRUE(account.ok());
    EXPECT_EQ(account->tier, Tier::kProfessional);
    EXPECT_EQ(account->key_prefix, r->api_key.substr(0, kApiKeyShownPrefix));

    // The T4 went quiet after a day and a half: its stop recommendation is realized, its whole cost saved.
    EXPECT_EQ(r->tracks_realized, 1);
    auto realized = store_->recommendations().ListTracked(r->account_id, store::TrackState::kRealized, 10);
    ASSERT_TRUE(realized.ok());
    ASSERT_EQ(realized->size(), 1u);
    const auto& t = (*realized)[0];
    EXPECT_EQ(t.gpu_key, "lab-1/GPU-sim-lab-1-1");
    ASSERT_TRUE(t.change.has_value());
    EXPECT_EQ(*t.change, store::GpuChange::kStopped);
    // It reported all the time since it appeared: a month of it costs its price × 720 h, all saved.
    EXPECT_GT(t.before.cost_per_hour, 0);
    EXPECT_NEAR(t.before.monthly_cost, t.before.cost_per_hour * 720, 0.5);
    EXPECT_NEAR(t.realized_monthly.value_or(0), t.before.monthly_idle_cost, 0.01);
    EXPECT_LT(t.first_recommended, o.start + hours(36));  // recommended while it still ran

    // The last hour: the two GPUs still there, priced from the catalog; the busy one busy.
    auto windows = store_->usage().ReadWindows(r->account_id, kEnd - hours(1), kEnd);
    ASSERT_TRUE(windows.ok());
    ASSERT_FALSE(windows->empty());
    bool busy_seen = false;
    for (const auto& w : *windows) {
        EXPECT_NE(w.gpu_key, "lab-1/GPU-sim-lab-1-1");
        EXPECT_GT(w.cost_per_hour, 0);
        if (w.gpu_key == "lab-1/GPU-sim-lab-1-0") {
            busy_seen = true;
            EXPECT_GT(w.util_avg, 60);
        }
    }
    EXPECT_TRUE(busy_seen);

    // Email alerts are on, so the server's first alert run alerts on the idle GPUs.
    auto alerts = store_->alerts().GetAlertSettings(r->account_id);
    ASSERT_TRUE(alerts.ok() && alerts->has_value());
    EXPECT_TRUE((*alerts)->email);
    EXPECT_EQ((*alerts)->idle_minutes, o.alert_idle_minutes);

    // The account exists now: a second back-fill for it is refused, nothing added.
    auto again = Backfill(*store_, config_, PriceCatalog::Builtin(), *scenario, o);
    EXPECT_FALSE(again.ok());
}

}  // namespace
}  // namespace gpuopt::demo
