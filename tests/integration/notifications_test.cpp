// What reaches people outside the dashboard, through the real server: idle alerts by email (a real SMTP
// server) and to a signed outgoing webhook (a local receiver), the delivery log, and the weekly and daily
// report mails, sent once per period across a restart and turned off from the link they carry.
#include "common/crypto.hpp"
#include "common/time.hpp"
#include "integration/fixture.hpp"
#include "support/fake_http_server.hpp"
#include "support/smtp_server.hpp"

namespace gpuopt::testing {
namespace {

using namespace std::chrono;

// One agent report: a 60 s window ending at `end` for one GPU.
std::string Window(const std::string& id, const std::string& uuid, sys_seconds end, double util) {
    boost::json::object g{{"gpu_index", 0},
                          {"uuid", uuid},
                          {"gpu_name", "NVIDIA A100-SXM4-40GB"},
                          {"gpu_util", util},
                          {"util_max", util},
                          {"idle_fraction", util < 15 ? 1.0 : 0.0},
                          {"idle_held_fraction", util < 15 ? 1.0 : 0.0},
                          {"mem_used", 30720},
                          {"mem_total", 40960},
                          {"cost_per_hour", 2.74}};
    boost::json::object body{
        {"report_id", id},
        {"agent", {{"id", "box"}, {"hostname", "box"}, {"version", "test"}}},
        {"window", {{"start", FormatUtc(end - seconds(60))}, {"end", FormatUtc(end)}, {"samples", 6}}},
        {"gpu_data", boost::json::array{g}}};
    return boost::json::serialize(body);
}

class Notifications : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(smtp_.Started()) << smtp_.Log(); }

    std::map<std::string, std::string> ServerEnv() const {
        return {{"SMTP_SERVER", "127.0.0.1"},
                {"SMTP_PORT", std::to_string(smtp_.port())},
                {"SMTP_CA_FILE", smtp_.CaFile()},
                {"SENDER_EMAIL", "reports@gpuopt.example"},
                {"BASE_URL", "https://app.example.test"},
                {"MAIL_INTERVAL_SECONDS", "1"},
                {"ALERT_INTERVAL_SECONDS", "1"},
                {"REPORT_INTERVAL_SECONDS", "1"},
                {"WEBHOOK_INTERVAL_SECONDS", "1"},
                {"ROLLUP_INTERVAL_SECONDS", "1"},
                {"RAW_RETENTION_DAYS", "14"},
                {"WEBHOOK_ALLOW_PRIVATE", "true"},
                {"ENCRYPTION_KEY", kEncryptionKey},
                {"RATE_LIMIT_FREE", "0"},
                {"RATE_LIMIT_PROFESSIONAL", "0"}};
    }

    std::vector<std::string> MailsWithSubject(const std::string& needle) const {
        std::vector<std::string> out;
        for (const auto& m : smtp_.Messages()) {
            if (MailHeader(m, "Subject").find(needle) != std::string::npos) out.push_back(m);
        }
        return out;
    }

    static void SetTier(const RunningServer& s, const std::string& email, const std::string& key,
                        const std::string& tier) {
        std::string out;
        ASSERT_EQ(
            RunGpuopt({"admin", "set-tier", "--email", email, "--tier", tier, "--data-dir", s.dir.path()}, {}, out), 0)
            << out;
        ASSERT_TRUE(WaitFor([&] { return Get(s.Url("/api/me"), Bearer(key)).Json().at("tier") == tier.c_str(); }));
    }

    static long JobRuns(const RunningServer& s, const std::string& job) {
        const std::string text = Get(s.Url("/metrics")).body;
        const std::string key = "gpuopt_job_runs_total{job=\"" + job + "\"} ";
        const size_t at = text.find(key);
        return at == std::string::npos ? 0L : std::atol(text.c_str() + at + key.size());
    }

    SmtpServer smtp_;
};

HttpResponse Put(const std::string& url, const std::string& body, const std::string& key) {
    return Send({"PUT", url, body, {"Content-Type: application/json", "Authorization: Bearer " + key}});
}

TEST_F(Notifications, AnIdleGpuIsMailedAndPostedSignedToTheCustomersWebhook) {
    FakeHttpServer receiver([&](const FakeRequest&) { return FakeResponse{200, "ok", {}}; });
    RunningServer server(ServerEnv());
    const std::string email = "hooks@example.com";
    const std::string key = server.Signup(email);

    // Paid features: refused on the free plan, with a clear reason.
    EXPECT_EQ(Put(server.Url("/api/me/alerts"), R"({"email":true})", key).status, 403);
    const std::string hook = R"({"url":")" + receiver.Url("/hooks/gpu") + R"(","events":["alert.fired"]})";
    auto free_hook = PostJson(server.Url("/api/me/webhooks"), hook, Bearer(key));
    EXPECT_EQ(free_hook.status, 403) << free_hook.body;

    SetTier(server, email, key, "enterprise");
    // Email alerts alone, without a Slack webhook.
    auto alerts = Put(server.Url("/api/me/alerts"), R"({"email":true,"idle_minutes":5})", key);
    ASSERT_EQ(alerts.status, 200) << alerts.body;
    EXPECT_EQ(alerts.Json().at("enabled"), true);
    EXPECT_EQ(alerts.Json().at("email"), true);
    EXPECT_EQ(Put(server.Url("/api/me/alerts"), R"({"email":"yes"})", key).status, 400);

    // Endpoints: validated, the secret shown once.
    EXPECT_EQ(PostJson(server.Url("/api/me/webhooks"), R"({"url":"ftp://example.com/x"})", Bearer(key)).status, 400);
    EXPECT_EQ(PostJson(server.Url("/api/me/webhooks"), R"({"url":"https://example.com/x","events":["alert.exploded"]})",
                       Bearer(key))
                  .status,
              400);
    auto added = PostJson(server.Url("/api/me/webhooks"), hook, Bearer(key));
    ASSERT_EQ(added.status, 201) << added.body;
    const std::string secret(added.Json().at("secret").as_string());
    EXPECT_EQ(secret.rfind("whsec_", 0), 0u);
    const int64_t endpoint = added.Json().at("id").as_int64();
    auto listed = Get(server.Url("/api/me/webhooks"), Bearer(key)).Json();
    ASSERT_EQ(listed.at("webhooks").as_array().size(), 1u);
    EXPECT_FALSE(listed.at("webhooks").at(0).as_object().contains("secret"));

    // Idle for the last ten minutes.
    const auto now = UtcNow();
    for (int m = 9; m >= 0; --m) {
        auto res = PostJson(server.Url("/api/track-usage"),
                            Window("idle:" + std::to_string(m), "GPU-idle", now - minutes(m), 0.5), Bearer(key));
        ASSERT_EQ(res.status, 200) << res.body;
    }

    // The mail.
    ASSERT_TRUE(WaitFor([&] { return !MailsWithSubject("an idle GPU on box").empty(); }, seconds(30)))
        << server.server->Log();
    const std::string mail = MailsWithSubject("an idle GPU on box").front();
    EXPECT_NE(MailHeader(mail, "To").find(email), std::string::npos);
    const std::string text = MailPart(mail, "text/plain");
    EXPECT_NE(text.find("NVIDIA A100-SXM4-40GB"), std::string::npos) << text;
    EXPECT_NE(text.find("https://app.example.test"), std::string::npos) << text;

    // The webhook: signed over the timestamp and the exact body, as the receiver checks it.
    ASSERT_TRUE(WaitFor([&] { return receiver.Count() >= 1; }, seconds(30))) << server.server->Log();
    const FakeRequest got = receiver.Requests().front();
    EXPECT_EQ(got.target, "/hooks/gpu");
    EXPECT_EQ(got.Header("gpuoptimizer-event"), "alert.fired");
    const std::string signature = got.Header("gpuoptimizer-signature");
    const size_t comma = signature.find(',');
    ASSERT_EQ(signature.rfind("t=", 0), 0u) << signature;
    ASSERT_NE(comma, std::string::npos) << signature;
    const std::string t = signature.substr(2, comma - 2);
    EXPECT_EQ(signature.substr(comma + 1), "v1=" + HmacSha256Hex(secret, t + "." + got.body));
    EXPECT_LE(std::abs(std::stoll(t) - UtcNow().time_since_epoch().count()), 60);
    EXPECT_NE(signature.substr(comma + 1), "v1=" + HmacSha256Hex("whsec_wrong", t + "." + got.body));
    auto event = boost::json::parse(got.body).as_object();
    EXPECT_EQ(event.at("type"), "alert.fired");
    EXPECT_EQ(event.at("data").at("gpu"), "box/GPU-idle");

    // The delivery log.
    boost::json::value log;
    ASSERT_TRUE(WaitFor([&] {
        log = Get(server.Url("/api/me/webhooks/" + std::to_string(endpoint) + "/deliveries"), Bearer(key)).Json();
        return log.at("deliveries").as_array().size() == 1 && log.at("deliveries").at(0).at("state") == "delivered";
    })) << boost::json::serialize(log);
    EXPECT_EQ(log.at("deliveries").at(0).at("attempts"), 1);
    EXPECT_EQ(log.at("deliveries").at(0).at("last_status"), 200);
    EXPECT_EQ(Get(server.Url("/api/me/webhooks/999/deliveries"), Bearer(key)).status, 404);

    // Still idle through more runs of both jobs: no second mail, no second post.
    const long runs = JobRuns(server, "webhooks");
    ASSERT_TRUE(
        WaitFor([&] { return JobRuns(server, "webhooks") >= runs + 2 && JobRuns(server, "idle-alerts") >= 2; }));
    EXPECT_EQ(MailsWithSubject("an idle GPU on box").size(), 1u);
    EXPECT_EQ(receiver.Count(), 1u);

    // The endpoint's URL and secret were stored encrypted (ENCRYPTION_KEY), yet the post was made and signed.
    const std::string stored = StoredBytes(server);
    EXPECT_EQ(stored.find("/hooks/gpu"), std::string::npos);
    EXPECT_EQ(stored.find(secret), std::string::npos);
    EXPECT_EQ(stored.find(secret.substr(6)), std::string::npos);

    // Removing the endpoint removes its log; another account cannot remove it.
    const std::string other = server.Signup("other@example.com");
    EXPECT_EQ(Send({"DELETE", server.Url("/api/me/webhooks/" + std::to_string(endpoint)), "", Bearer(other)}).status,
              404);
    EXPECT_EQ(Send({"DELETE", server.Url("/api/me/webhooks/" + std::to_string(endpoint)), "", Bearer(key)}).status,
              200);
    EXPECT_TRUE(Get(server.Url("/api/me/webhooks"), Bearer(key)).Json().at("webhooks").as_array().empty());
}

// The periods the server reports on: last week (Monday to Monday, UTC) and yesterday.
sys_seconds ThisMonday(sys_seconds now) {
    const auto today = floor<days>(now);
    return today - days((weekday(sys_days(today)).c_encoding() + 6) % 7);
}

TEST_F(Notifications, ReportsGoOncePerPeriodAcrossARestartAndStopFromTheirLink) {
    auto server = std::make_unique<RunningServer>(ServerEnv());
    const std::string email = "reports@example.com";
    const std::string key = server->Signup(email);
    SetTier(*server, email, key, "professional");
    EXPECT_EQ(Get(server->Url("/api/me/reports"), Bearer(key)).Json().at("daily"), true);

    // An hour of an idle GPU in last week, and an hour of a busy one yesterday.
    const auto now = UtcNow();
    const auto in_last_week = ThisMonday(now) - hours(3);
    const auto yesterday = floor<days>(now) - hours(12);
    for (int m = 0; m < 60; ++m) {
        ASSERT_EQ(PostJson(server->Url("/api/track-usage"),
                           Window("w:" + std::to_string(m), "GPU-week", in_last_week + minutes(m), 1), Bearer(key))
                      .status,
                  200);
        ASSERT_EQ(PostJson(server->Url("/api/track-usage"),
                           Window("d:" + std::to_string(m), "GPU-day", yesterday + minutes(m), 90), Bearer(key))
                      .status,
                  200);
    }
    ASSERT_TRUE(
        WaitFor([&] { return !MailsWithSubject("weekly report").empty() && !MailsWithSubject("daily report").empty(); },
                seconds(40)))
        << server->server->Log();
    const std::string weekly = MailsWithSubject("weekly report").front();
    EXPECT_NE(MailHeader(weekly, "To").find(email), std::string::npos);
    const std::string text = MailPart(weekly, "text/plain");
    EXPECT_NE(text.find("Spend: $"), std::string::npos) << text;
    EXPECT_NE(text.find("Idle: "), std::string::npos) << text;
    EXPECT_NE(text.find("Recoverable with the savings plan"), std::string::npos) << text;
    EXPECT_NE(text.find("https://app.example.test/"), std::string::npos) << text;
    EXPECT_EQ(MailHeader(weekly, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
    const std::string link = MailHeader(weekly, "List-Unsubscribe");
    ASSERT_EQ(link.rfind("<https://app.example.test/api/reports/unsubscribe?token=", 0), 0u) << link;
    const std::string path = link.substr(std::string("<https://app.example.test").size(),
                                         link.size() - std::string("<https://app.example.test").size() - 1);
    const std::string daily_text = MailPart(MailsWithSubject("daily report").front(), "text/plain");
    EXPECT_NE(daily_text.find("Spend: $"), std::string::npos) << daily_text;
    EXPECT_NE(daily_text.find("daily GPU report for " + FormatUtc(floor<days>(now) - days(1)).substr(0, 10)),
              std::string::npos)
        << daily_text;

    // A restart: the jobs run again and send nothing twice.
    server->server.reset();
    server->server = std::make_unique<ServerProcess>(ServerProcess::Options{server->dir.path(),
                                                                            [&] {
                                                                                auto env = ServerEnv();
                                                                                env.emplace("ADMIN_TOKEN", kAdminToken);
                                                                                return env;
                                                                            }(),
                                                                            {}});
    ASSERT_TRUE(WaitFor([&] { return JobRuns(*server, "reports") >= 3 && JobRuns(*server, "mail") >= 3; }));
    EXPECT_EQ(MailsWithSubject("weekly report").size(), 1u);
    EXPECT_EQ(MailsWithSubject("daily report").size(), 1u);

    // The link: opening it changes nothing; its button (or a mail client's one-click POST) turns reports off.
    auto page = Get(server->Url(path));
    ASSERT_EQ(page.status, 200) << page.body;
    EXPECT_NE(page.Header("content-type").find("text/html"), std::string::npos);
    EXPECT_NE(page.body.find("<form method=\"post\""), std::string::npos) << page.body;
    EXPECT_EQ(Get(server->Url("/api/me/reports"), Bearer(key)).Json().at("weekly"), true);
    EXPECT_EQ(Send({"POST", server->Url("/api/reports/unsubscribe?token=notatoken"), "", {}}).status, 400);
    EXPECT_EQ(Send({"POST", server->Url("/api/reports/unsubscribe?token=" + std::string(32, 'x')), "", {}}).status,
              404);
    auto off = Send(
        {"POST", server->Url(path), "List-Unsubscribe=One-Click", {"Content-Type: application/x-www-form-urlencoded"}});
    ASSERT_EQ(off.status, 200) << off.body;
    auto settings = Get(server->Url("/api/me/reports"), Bearer(key)).Json();
    EXPECT_EQ(settings.at("weekly"), false);
    EXPECT_EQ(settings.at("daily"), false);

    // The customer turns the weekly one back on; a field that is not a setting is refused.
    auto on = Put(server->Url("/api/me/reports"), R"({"weekly":true})", key);
    ASSERT_EQ(on.status, 200) << on.body;
    EXPECT_EQ(on.Json().at("weekly"), true);
    EXPECT_EQ(on.Json().at("daily"), false);
    EXPECT_EQ(Put(server->Url("/api/me/reports"), R"({"monthly":true})", key).status, 400);
}

}  // namespace
}  // namespace gpuopt::testing
