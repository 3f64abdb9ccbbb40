// Report mails with time under the test's control: the periods (Monday to Monday, yesterday), the figures
// of a report, one mail per account and period however often the job runs, the daily one on paid plans
// only, nothing for an account that turned reports off or whose GPUs did not report in the period.
#include "jobs/reports.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/crypto.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/wait.hpp"
#include "support/test_dir.hpp"

namespace gpuopt::jobs {
namespace {

using namespace std::chrono;
// A Wednesday.
const SysSeconds kNow = sys_days{2026y / 11 / 25} + 10h;

TEST(ReportPeriods, AreLastWeekFromMondayAndYesterdayInUtc) {
    EXPECT_EQ(LastWeek(kNow).from, sys_days{2026y / 11 / 16});
    EXPECT_EQ(LastWeek(kNow).to, sys_days{2026y / 11 / 23});
    EXPECT_EQ(LastDay(kNow).from, sys_days{2026y / 11 / 24});
    EXPECT_EQ(LastDay(kNow).to, sys_days{2026y / 11 / 25});
    const SysSeconds monday = sys_days{2026y / 11 / 23} + 30min;
    EXPECT_EQ(LastWeek(monday).from, sys_days{2026y / 11 / 16});
    EXPECT_EQ(LastWeek(monday).to, sys_days{2026y / 11 / 23});
    const SysSeconds sunday = sys_days{2026y / 11 / 29} + 23h;
    EXPECT_EQ(LastWeek(sunday).to, sys_days{2026y / 11 / 23});
    EXPECT_EQ(LastDay(sunday).from, sys_days{2026y / 11 / 28});
}

class ReportsTest : public ::testing::Test {
protected:
    void SetUp() override {
        InitCrypto();
        dir_ = testing::FreshTestDir("reports");
        auto s = store::sqlite::SqliteStore::Open({(dir_ / "gpuopt.db").string()});
        ASSERT_TRUE(s.ok());
        store_ = std::move(*s);
        config_ = BuildConfig({}).value();
        rules_.idle = {config_.idle_threshold_percent, 1024};
        rules_.plan = [this](Tier t) { return config_.FindPlan(t); };
        rules_.brand.base_url = "https://app.example.test";
    }
    void TearDown() override {
        store_.reset();
        std::filesystem::remove_all(dir_);
    }
    int64_t Account(const std::string& email, Tier tier) {
        auto a = store::Wait<store::Account>([&](store::Callback<store::Account> done) {
            store_->accounts().CreateAccount({email, "hash-" + email, "gopt_abcd", tier, kNow - days(30), {}},
                                             std::move(done));
        });
        EXPECT_TRUE(a.ok());
        return a.ok() ? a->id : 0;
    }
    // `count` windows of `length` of one GPU at $0.80/h from `start`, idle or busy.
    void Report(int64_t account, SysSeconds start, int count, double util, minutes length = minutes(1)) {
        for (int m = 1; m <= count; ++m) {
            store::UsageReport r;
            r.report_id = "r" + std::to_string(++reports_);
            r.agent_id = r.hostname = "box";
            r.window_end = start + m * length;
            r.window_start = r.window_end - length;
            store::GpuWindow g;
            g.gpu_key = "box/GPU-1";
            g.uuid = "GPU-1";
            g.name = "NVIDIA L4";
            g.util_avg = util;
            g.idle_fraction = util < 15 ? 1.0 : 0.0;
            g.mem_used_mib = 10;
            g.mem_total_mib = 23034;
            g.cost_per_hour = 0.8;
            g.processes_json = "[]";
            r.gpus.push_back(g);
            ASSERT_TRUE(
                store::Wait<store::IngestOutcome>([&](store::Callback<store::IngestOutcome> done) {
                    store_->usage().IngestReport({account, r, std::nullopt, hours(24), r.window_end}, std::move(done));
                }).ok());
        }
    }
    ReportRun Run(SysSeconds now) {
        auto r = RunReports(*store_, PriceCatalog::Builtin(), rules_, now);
        EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
        return r.ok() ? *r : ReportRun{};
    }
    std::vector<store::OutboxItem> Mail() {
        auto due = store_->outbox().DueMail(kNow + days(30), 100);
        EXPECT_TRUE(due.ok());
        return due.ok() ? *due : std::vector<store::OutboxItem>{};
    }
    const store::OutboxItem* MailOf(const std::string& to, const std::string& kind) {
        mail_ = Mail();
        for (const auto& m : mail_) {
            if (m.message.to == to && m.message.kind == kind) return &m;
        }
        return nullptr;
    }

    std::filesystem::path dir_;
    std::unique_ptr<store::sqlite::SqliteStore> store_;
    Config config_;
    ReportRules rules_;
    int reports_ = 0;
    std::vector<store::OutboxItem> mail_;
};

TEST_F(ReportsTest, AWeeklyAndADailyReportGoOncePerPeriodWithTheirFigures) {
    const int64_t pro = Account("pro@example.com", Tier::kProfessional);
    Report(pro, sys_days{2026y / 11 / 16}, 288, 1, minutes(10));  // two idle days last week
    Report(pro, sys_days{2026y / 11 / 24} + 9h, 60, 90);          // one busy hour yesterday
    auto run = Run(kNow);
    EXPECT_EQ(run.weekly, 1);
    EXPECT_EQ(run.daily, 1);

    const auto* weekly = MailOf("pro@example.com", "report_weekly");
    ASSERT_NE(weekly, nullptr);
    EXPECT_EQ(weekly->message.dedup_key, "report-weekly:" + std::to_string(pro) + ":2026-11-16");
    const std::string& text = weekly->message.text;
    EXPECT_NE(text.find("weekly GPU report for the week of 2026-11-16 to 2026-11-22"), std::string::npos) << text;
    EXPECT_NE(text.find("Spend: $38.40 on 1 GPU (48.0 GPU-hours reported)"), std::string::npos) << text;
    EXPECT_NE(text.find("Idle: 48.0 GPU-hours, costing $38.40"), std::string::npos) << text;
    EXPECT_NE(text.find("Top recommendations:\n1. "), std::string::npos) << text;
    EXPECT_NE(text.find(" a month; box/GPU-1)"), std::string::npos) << text;  // which GPU
    EXPECT_NE(text.find("https://app.example.test/"), std::string::npos) << text;
    auto settings = store_->notifications().GetReportSettings(pro);
    ASSERT_TRUE(settings.ok());
    ASSERT_EQ(settings->unsubscribe_token.size(), 32u);  // made with the first report
    EXPECT_EQ(weekly->message.headers.at("List-Unsubscribe"),
              "<https://app.example.test/api/reports/unsubscribe?token=" + settings->unsubscribe_token + ">");
    EXPECT_EQ(weekly->message.headers.at("List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");

    const auto* daily = MailOf("pro@example.com", "report_daily");
    ASSERT_NE(daily, nullptr);
    EXPECT_NE(daily->message.text.find("daily GPU report for 2026-11-24"), std::string::npos) << daily->message.text;
    EXPECT_NE(daily->message.text.find("Spend: $0.80 on 1 GPU"), std::string::npos) << daily->message.text;
    EXPECT_NE(daily->message.text.find("Idle: 0.0 GPU-hours, costing $0.00"), std::string::npos);
    EXPECT_NE(daily->message.text.find("No recommendations"), std::string::npos) << daily->message.text;

    // Again, and again an hour later: nothing more.
    auto again = Run(kNow);
    EXPECT_EQ(again.weekly + again.daily, 0);
    EXPECT_EQ(Run(kNow + 1h).weekly, 0);
    EXPECT_EQ(Mail().size(), 2u);
    // The next day brings the next daily report, for a day without reports: none.
    EXPECT_EQ(Run(kNow + days(1)).daily, 0);
}

TEST_F(ReportsTest, FreePlansGetTheWeeklyOneAndTurnedOffMeansNone) {
    const int64_t free = Account("free@example.com", Tier::kFree);
    const int64_t quiet = Account("quiet@example.com", Tier::kProfessional);
    for (int64_t a : {free, quiet}) {
        Report(a, sys_days{2026y / 11 / 18} + 9h, 30, 1);
        Report(a, sys_days{2026y / 11 / 24} + 9h, 30, 1);
    }
    ASSERT_TRUE(
        store::Wait<store::ReportSettings>([&](store::Callback<store::ReportSettings> done) {
            store_->notifications().SetReportSettings({quiet, false, false, ""}, RandomBase62(32), std::move(done));
        }).ok());
    auto run = Run(kNow);
    EXPECT_EQ(run.weekly, 1);
    EXPECT_EQ(run.daily, 0);
    EXPECT_NE(MailOf("free@example.com", "report_weekly"), nullptr);
    EXPECT_EQ(MailOf("free@example.com", "report_daily"), nullptr);
    EXPECT_EQ(MailOf("quiet@example.com", "report_weekly"), nullptr);
    EXPECT_EQ(MailOf("quiet@example.com", "report_daily"), nullptr);
}

TEST_F(ReportsTest, RealizedSavingsAreCountedInThePeriodTheyHappened) {
    const int64_t pro = Account("saver@example.com", Tier::kProfessional);
    Report(pro, sys_days{2026y / 11 / 18} + 9h, 60, 1);
    store::TrackedRecommendation t;
    t.account_id = pro;
    t.gpu_key = "box/GPU-1";
    t.host = "box";
    t.action = "stop_idle_gpu";
    t.summary = "Stop GPU 0 on box";
    t.estimate_monthly = 288;
    t.before = {"NVIDIA L4", 0.8, 1, 0, 576, 576};
    ASSERT_TRUE(store::Wait<void>([&](store::Callback<void> done) {
                    store_->recommendations().RecordRecommended(pro, {t}, sys_days{2026y / 11 / 10}, std::move(done));
                }).ok());
    auto open = store_->recommendations().ListTracked(pro, store::TrackState::kOpen, 10);
    ASSERT_TRUE(open.ok() && open->size() == 1);
    store::Realization r;
    r.id = (*open)[0].id;
    r.change = store::GpuChange::kStopped;
    r.changed_at = sys_days{2026y / 11 / 19};
    r.realized_monthly = 576;
    ASSERT_TRUE(store::Wait<void>([&](store::Callback<void> done) {
                    store_->recommendations().RecordRealized({r}, std::move(done));
                }).ok());
    Run(kNow);
    const auto* weekly = MailOf("saver@example.com", "report_weekly");
    ASSERT_NE(weekly, nullptr);
    EXPECT_NE(weekly->message.text.find("Realized savings: 1 recommendation acted on in this period ($576.00 a "
                                        "month); 1 in all, saving $576.00 a month."),
              std::string::npos)
        << weekly->message.text;
}

}  // namespace
}  // namespace gpuopt::jobs
