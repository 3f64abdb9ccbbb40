// Abuse on every door, against the real server: repeated authentication failures block the address (one
// security event per block), refused deliveries from many addresses are counted rather than stored row by
// row, ambiguous requests (a JSON object that repeats a key, two different keys) are refused, the
// rate-limit headers agree, and a full disk answers 503 with Retry-After without losing anything answered.
#include <chrono>
#include <cmath>
#include <set>

#include "integration/fixture.hpp"

namespace gpuopt::testing {
namespace {

std::string Report(const std::string& id, const std::string& host = "h1") { return FullReport(id, host, 1); }

TEST(Abuse, RepeatedAuthFailuresBlockTheAddressForAllDoorsWithOneSecurityEvent) {
    RunningServer s(Env{{"AUTH_FAILURE_LIMIT", "20"}, {"TRUSTED_PROXIES", "127.0.0.1"}});
    const std::string key = s.Signup("victim@example.com");
    const std::vector<std::string> attacker = {"X-Forwarded-For: 203.0.113.9"};
    const std::string wrong = "gopt_AAAAAAAAAAAAAAAAAAAAAAA";
    for (int i = 0; i < 20; ++i) {
        auto res = Get(s.Url("/api/me"), {"Authorization: Bearer " + wrong, attacker[0]});
        ASSERT_EQ(res.status, 401) << i << ": " << res.body;
    }
    // Blocked now: even a valid key from that address, on any door but health.
    auto blocked = Get(s.Url("/api/me"), {"Authorization: Bearer " + key, attacker[0]});
    EXPECT_EQ(blocked.status, 429);
    EXPECT_EQ(blocked.Json().at("code"), "RATE_LIMITED");
    const int retry = std::stoi(blocked.Header("retry-after"));
    EXPECT_GT(retry, 800);
    EXPECT_LE(retry, 900);
    EXPECT_EQ(
        PostJson(s.Url("/api/track-usage"), Report("blocked-1"), {"Authorization: Bearer " + key, attacker[0]}).status,
        429);
    EXPECT_EQ(PostJson(s.Url("/api/signup"), R"({"email":"x@example.com"})", attacker).status, 429);
    EXPECT_EQ(Get(s.Url("/api/health"), attacker).status, 200);
    // Hammering on changes nothing more: one event for the block, not one per attempt.
    for (int i = 0; i < 300; ++i) {
        ASSERT_EQ(Get(s.Url("/api/me"), {"Authorization: Bearer " + wrong, attacker[0]}).status, 429);
    }
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM security_events WHERE kind = 'address_blocked'"), 1);
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM security_events WHERE ip = '203.0.113.9'"), 1);
    // Other addresses are not affected.
    auto other = Get(s.Url("/api/me"), {"Authorization: Bearer " + key, "X-Forwarded-For: 198.51.100.7"});
    EXPECT_EQ(other.status, 200) << other.body;
    // A wrong operator token counts too.
    for (int i = 0; i < 20; ++i) {
        (void)Get(s.Url("/api/stats"), {"Authorization: Bearer wrong-operator-token", "X-Forwarded-For: 192.0.2.44"});
    }
    EXPECT_EQ(
        Get(s.Url("/api/stats"), {std::string("Authorization: Bearer ") + kAdminToken, "X-Forwarded-For: 192.0.2.44"})
            .status,
        429);
    auto metrics = Get(s.Url("/metrics"), {std::string("Authorization: Bearer ") + kAdminToken});
    EXPECT_NE(metrics.body.find("gpuopt_blocked_addresses 2"), std::string::npos) << metrics.body.substr(0, 400);
}

TEST(Abuse, ForgedWebhooksFromManyAddressesAreCountedNotStoredRowByRow) {
    RunningServer s(Env{{"NOWPAYMENTS_API_KEY", "np-key"},
                        {"NOWPAYMENTS_IPN_SECRET", "np-secret"},
                        {"TRUSTED_PROXIES", "127.0.0.1"},
                        {"AUTH_FAILURE_LIMIT", "20"}});
    std::vector<HttpRequest> forged(1000);
    for (size_t i = 0; i < forged.size(); ++i) {
        forged[i].method = "POST";
        forged[i].url = s.Url("/payment/nowpayments/webhook");
        forged[i].body = R"({"payment_id":)" + std::to_string(5000 + i) + R"(,"payment_status":"finished"})";
        forged[i].headers = {"Content-Type: application/json", "x-nowpayments-sig: forged",
                             "X-Forwarded-For: 10." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ".1"};
    }
    int refused = 0;
    const auto started = std::chrono::steady_clock::now();
    for (size_t at = 0; at < forged.size(); at += 50) {
        const std::vector<HttpRequest> batch(forged.begin() + static_cast<std::ptrdiff_t>(at),
                                             forged.begin() + static_cast<std::ptrdiff_t>(at + 50));
        for (const auto& res : SendParallel(batch)) refused += res.status == 403;
    }
    EXPECT_EQ(refused, 1000);
    const auto flood_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const int64_t rows = CountRows(s.DbPath(), "SELECT COUNT(*) FROM security_events");
    // 60 refusals recorded row by row; the recording bucket then refills one token a second, and each token
    // records one more refusal and at most one summary of those counted since.
    const auto cap = 60 + 2 * (static_cast<int64_t>(std::ceil(flood_s)) + 1);
    EXPECT_LE(rows, cap) << "one row per refusal up to the cap, and summaries (flood took " << flood_s << " s)";
    EXPECT_GE(rows, 1);
    auto metrics = Get(s.Url("/metrics"), {std::string("Authorization: Bearer ") + kAdminToken});
    const std::string name = "\ngpuopt_security_events_unrecorded_total ";
    const auto at = metrics.body.find(name);
    ASSERT_NE(at, std::string::npos) << metrics.body.substr(0, 500);
    const int64_t unrecorded = std::stoll(metrics.body.substr(at + name.size()));
    EXPECT_EQ(
        unrecorded + CountRows(s.DbPath(), "SELECT COUNT(*) FROM security_events WHERE kind = 'webhook_signature'"),
        1000);
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM gateway_events"), 0);
}

TEST(Abuse, AmbiguousRequestsAreRefusedAndChangeNothing) {
    RunningServer s;
    const std::string key = s.Signup("amb@example.com");
    const std::string other = s.Signup("other@example.com");
    // A JSON object that repeats a key: which gpu_util is meant?
    auto dup = PostJson(
        s.Url("/api/track-usage"),
        R"({"gpu_data":[{"gpu_index":0,"gpu_name":"T4","gpu_util":5,"gpu_util":95,"mem_used":1,"mem_total":2}]})",
        Bearer(key));
    EXPECT_EQ(dup.status, 400);
    EXPECT_EQ(dup.Json().at("code"), "VALIDATION_ERROR");
    EXPECT_NE(dup.body.find("repeats the key"), std::string::npos) << dup.body;
    // Two different keys: refused, whichever would have been valid.
    auto two = PostJson(s.Url("/api/track-usage"), Report("two-keys"),
                        {"Authorization: Bearer " + key, "X-API-Key: " + other});
    EXPECT_EQ(two.status, 400) << two.body;
    EXPECT_EQ(two.Json().at("code"), "VALIDATION_ERROR");
    boost::json::object body = boost::json::parse(Report("body-key")).as_object();
    body["api_key"] = other;
    EXPECT_EQ(PostJson(s.Url("/api/track-usage"), boost::json::serialize(body), Bearer(key)).status, 400);
    // The same key twice is not ambiguous.
    EXPECT_EQ(
        PostJson(s.Url("/api/track-usage"), Report("same-key"), {"Authorization: Bearer " + key, "X-API-Key: " + key})
            .status,
        200);
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM usage_reports"), 1);
}

TEST(Abuse, RetryAfterAndRateLimitResetAgree) {
    RunningServer s(Env{{"RATE_LIMIT_FREE", "100"}});
    const std::string key = s.Signup("agree@example.com");
    HttpResponse last;
    for (int i = 0; i < 101; ++i) last = Get(s.Url("/api/me"), Bearer(key));
    ASSERT_EQ(last.status, 429);
    EXPECT_EQ(last.Header("retry-after"), last.Header("ratelimit-reset"));
    EXPECT_LE(std::stoi(last.Header("retry-after")), 36);
}

TEST(Abuse, AFullDiskAnswers503WithRetryAfterAndLosesNothingAnswered) {
    if (TestOnPostgres()) {
        GTEST_SKIP() << "the disk that fills is the server's own SQLite file; on PostgreSQL it is the database "
                        "server's, whose refusal (SQLSTATE 53100) the store answers as UNAVAILABLE";
    }
    TempDir dir;
    std::set<std::string> acknowledged;
    HttpResponse refused;
    {
        ServerProcess::Options options{
            dir.path(), {{"ADMIN_TOKEN", kAdminToken}, {"ACCESS_LOG", "off"}, {"RATE_LIMIT_FREE", "0"}}, {}};
        options.file_size_limit = 1536 * 1024;  // the database and its log may not grow past 1.5 MiB
        ServerProcess server(options);
        auto signup = PostJson(server.Url("/api/signup"), R"({"email":"disk@example.com"})");
        ASSERT_EQ(signup.status, 200) << signup.body;
        const std::string key(signup.Json().at("api_key").as_string());
        for (int i = 0; i < 20000 && refused.status == 0; ++i) {
            const std::string id = "disk-" + std::to_string(i);
            auto res = PostJson(server.Url("/api/track-usage"), FullReport(id, "host", 2), Bearer(key));
            if (res.status == 200) {
                acknowledged.insert(id);
            } else {
                refused = res;
            }
        }
        ASSERT_EQ(refused.status, 503) << refused.body;
        EXPECT_EQ(refused.Json().at("code"), "UNAVAILABLE");
        EXPECT_EQ(refused.Header("retry-after"), "30");
        EXPECT_EQ(Get(server.Url("/api/health")).status, 503);
        server.Kill9();
    }
    ASSERT_GT(acknowledged.size(), 10u);
    // Restarted with room: every report that was answered 200 is there.
    ServerProcess again({dir.path(), {{"ADMIN_TOKEN", kAdminToken}}, {}});
    EXPECT_EQ(Get(again.Url("/api/health")).status, 200);
    std::set<std::string> stored;
    for (const auto& id : QueryColumn(StoreLocation(dir.path()), "SELECT report_id FROM usage_reports"))
        stored.insert(id);
    for (const auto& id : acknowledged) EXPECT_TRUE(stored.count(id)) << id << " was answered 200 but is gone";
}

}  // namespace
}  // namespace gpuopt::testing
