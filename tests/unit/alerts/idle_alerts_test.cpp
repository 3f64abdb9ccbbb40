// Idle alerts with time under the test's control: one alert per idle stretch, none for free plans,
// deliveries retried with backoff; and the webhook address rules.
#include "alerts/idle_alerts.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "alerts/webhook.hpp"
#include "common/crypto.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/wait.hpp"
#include "support/test_dir.hpp"

namespace gpuopt::alerts {
namespace {

using namespace std::chrono;
const SysSeconds kT0 = sys_days{2026y / 11 / 20} + 9h;

class IdleAlertsTest : public ::testing::Test {
protected:
    void SetUp() override {
        InitCrypto();
        dir_ = testing::FreshTestDir("alerts");
        auto s = store::sqlite::SqliteStore::Open({(dir_ / "gpuopt.db").string()});
        ASSERT_TRUE(s.ok());
        store_ = std::move(*s);
        config_ = BuildConfig({}).value();
        auto acct = store::Wait<store::Account>([&](store::Callback<store::Account> done) {
            store_->accounts().CreateAccount({"a@example.com", "hash", "gopt_abcd", Tier::kProfessional, kT0, {}},
                                             std::move(done));
        });
        ASSERT_TRUE(acct.ok());
        account_ = acct->id;
        ASSERT_TRUE(
            store::Wait<store::AlertSettings>([&](store::Callback<store::AlertSettings> done) {
                store_->alerts().SetAlertSettings({account_, "https://hooks.example.com/x", 30, {}}, std::move(done));
            }).ok());
    }
    void TearDown() override {
        store_.reset();
        std::filesystem::remove_all(dir_);
    }
    // One 60 s window ending at `end`.
    void Report(SysSeconds end, double util) {
        store::UsageReport r;
        r.report_id = "w" + std::to_string(++reports_);
        r.agent_id = r.hostname = "box";
        r.window_start = end - seconds(60);
        r.window_end = end;
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
        ASSERT_TRUE(store::Wait<store::IngestOutcome>([&](store::Callback<store::IngestOutcome> done) {
                        store_->usage().IngestReport({account_, r, std::nullopt, hours(24), end}, std::move(done));
                    }).ok());
    }
    AlertRunResult Run(SysSeconds now, bool deliver_ok = true) {
        auto r = RunIdleAlerts(*store_, config_, now,
                               [&](const std::string& url, const std::string& text, std::string& error) {
                                   sent_.push_back(url + " " + text);
                                   if (!deliver_ok) error = "503";
                                   return deliver_ok;
                               });
        EXPECT_TRUE(r.ok());
        return r.ok() ? *r : AlertRunResult{};
    }
    std::filesystem::path dir_;
    std::unique_ptr<store::sqlite::SqliteStore> store_;
    Config config_;
    int64_t account_ = 0;
    int reports_ = 0;
    std::vector<std::string> sent_;
};

TEST_F(IdleAlertsTest, OneAlertPerIdleStretchAndAnotherAfterBusyTime) {
    for (int m = 1; m <= 29; ++m) Report(kT0 + minutes(m), 1);
    EXPECT_EQ(Run(kT0 + minutes(29) + seconds(10)).opened, 0);  // idle 29 min: not yet
    Report(kT0 + minutes(30), 1);
    Report(kT0 + minutes(31), 1);
    auto first = Run(kT0 + minutes(31) + seconds(10));
    EXPECT_EQ(first.opened, 1);
    EXPECT_EQ(first.delivered, 1);
    ASSERT_EQ(sent_.size(), 1u);
    EXPECT_NE(sent_[0].find("https://hooks.example.com/x GPU 0 (NVIDIA L4) on box has been idle for 31 min"),
              std::string::npos)
        << sent_[0];
    for (int m = 32; m <= 40; ++m) Report(kT0 + minutes(m), 1);
    auto again = Run(kT0 + minutes(40) + seconds(10));  // still idle: nothing new
    EXPECT_EQ(again.opened, 0);
    EXPECT_EQ(sent_.size(), 1u);
    Report(kT0 + minutes(41), 90);  // busy
    EXPECT_EQ(Run(kT0 + minutes(41) + seconds(10)).closed, 1);
    for (int m = 42; m <= 75; ++m) Report(kT0 + minutes(m), 1);
    EXPECT_EQ(Run(kT0 + minutes(75) + seconds(10)).opened, 1);  // a new idle stretch of 34 min
    EXPECT_EQ(sent_.size(), 2u);
}

TEST_F(IdleAlertsTest, AGpuThatStoppedReportingIsNotIdle) {
    for (int m = 1; m <= 40; ++m) Report(kT0 + minutes(m), 1);
    EXPECT_EQ(Run(kT0 + minutes(50)).opened, 0);  // ten minutes of silence: unknown, not idle
}

TEST_F(IdleAlertsTest, FreePlansGetNoAlerts) {
    ASSERT_TRUE(store::Wait<store::Account>([&](store::Callback<store::Account> done) {
                    store_->accounts().SetTier("a@example.com", Tier::kFree, std::move(done));
                }).ok());
    for (int m = 1; m <= 40; ++m) Report(kT0 + minutes(m), 1);
    EXPECT_EQ(Run(kT0 + minutes(40) + seconds(10)).opened, 0);
    EXPECT_TRUE(sent_.empty());
}

TEST_F(IdleAlertsTest, FailedDeliveriesAreRetriedWithBackoffThenGivenUp) {
    for (int m = 1; m <= 35; ++m) Report(kT0 + minutes(m), 1);
    SysSeconds now = kT0 + minutes(35) + seconds(10);
    EXPECT_EQ(Run(now, false).opened, 1);
    EXPECT_EQ(sent_.size(), 1u);
    EXPECT_TRUE(store_->alerts().DueAlertDeliveries(now + seconds(59), 10)->empty());  // next try after 1 min
    EXPECT_EQ(store_->alerts().DueAlertDeliveries(now + minutes(1), 10)->size(), 1u);
    int failed = 0;
    for (int attempt = 2; attempt <= 8; ++attempt) {
        now += minutes(1 << (attempt - 2));
        failed += Run(now, false).failed;
    }
    EXPECT_EQ(failed, 1);
    EXPECT_EQ(sent_.size(), 8u);
    EXPECT_EQ(store_->alerts().ListAlerts(account_, 10)->at(0).delivery, store::AlertDelivery::kFailed);
}

TEST(Webhook, AddressesMustBePublicHttpsUnlessAllowed) {
    EXPECT_TRUE(ValidateWebhookUrl("https://hooks.slack.com/services/T0/B0/xyz", false).ok());
    EXPECT_FALSE(ValidateWebhookUrl("http://hooks.slack.com/services/T0/B0/xyz", false).ok());
    EXPECT_TRUE(ValidateWebhookUrl("http://127.0.0.1:9000/hook", true).ok());
    EXPECT_FALSE(ValidateWebhookUrl("https://127.0.0.1/hook", false).ok());
    EXPECT_FALSE(ValidateWebhookUrl("https://[::1]/hook", false).ok());
    EXPECT_FALSE(ValidateWebhookUrl("https://user:pw@hooks.slack.com/x", false).ok());
    EXPECT_FALSE(ValidateWebhookUrl("not a url", true).ok());
    EXPECT_FALSE(ValidateWebhookUrl("https://x/" + std::string(600, 'a'), true).ok());
    for (const char* ip : {"10.1.2.3", "127.0.0.1", "169.254.169.254", "172.16.0.1", "192.168.1.1", "100.64.0.1",
                           "0.0.0.0", "::1", "fe80::1", "fd00::1", "::ffff:10.0.0.1", "224.0.0.1"}) {
        EXPECT_TRUE(IsPrivateAddress(ip)) << ip;
    }
    for (const char* ip : {"8.8.8.8", "203.0.113.7", "2606:4700::1111", "172.32.0.1"})
        EXPECT_FALSE(IsPrivateAddress(ip)) << ip;
    // Delivery refuses a private address before any connection.
    auto r = PostToWebhook("https://127.0.0.1:1/hook", "x", false);
    EXPECT_FALSE(r.delivered);
    EXPECT_NE(r.error.find("private"), std::string::npos) << r.error;
}

TEST_F(IdleAlertsTest, EmailAlertsAreMailedOnceWithoutAWebhook) {
    store::AlertSettings settings{account_, "", 30, {}};
    settings.email = true;
    ASSERT_TRUE(store::Wait<store::AlertSettings>([&](store::Callback<store::AlertSettings> done) {
                    store_->alerts().SetAlertSettings(settings, std::move(done));
                }).ok());
    for (int m = 1; m <= 35; ++m) Report(kT0 + minutes(m), 1);
    const SysSeconds now = kT0 + minutes(35) + seconds(10);
    auto first = Run(now);
    EXPECT_EQ(first.opened, 1);
    EXPECT_EQ(first.mailed, 1);
    EXPECT_TRUE(sent_.empty());  // no webhook to post to
    auto mail = store_->outbox().DueMail(now + minutes(1), 10);
    ASSERT_TRUE(mail.ok());
    ASSERT_EQ(mail->size(), 1u);
    EXPECT_EQ((*mail)[0].message.to, "a@example.com");
    EXPECT_EQ((*mail)[0].message.kind, "idle_alert");
    EXPECT_NE((*mail)[0].message.text.find("GPU 0 (NVIDIA L4) on box has been idle for 35 min"), std::string::npos)
        << (*mail)[0].message.text;
    EXPECT_EQ(store_->alerts().ListAlerts(account_, 10)->at(0).delivery, store::AlertDelivery::kDelivered);
    for (int m = 36; m <= 40; ++m) Report(kT0 + minutes(m), 1);
    EXPECT_EQ(Run(kT0 + minutes(40) + seconds(10)).mailed, 0);  // still the same idle stretch
    EXPECT_EQ(store_->outbox().DueMail(now + minutes(10), 10)->size(), 1u);
}

}  // namespace
}  // namespace gpuopt::alerts
