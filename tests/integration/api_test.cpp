// Every endpoint's success path against the real server.
#include "integration/fixture.hpp"

namespace gpuopt::testing {
namespace {

class Api : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server_ = new RunningServer(Env{{"RATE_LIMIT_FREE", "0"}, {"SIGNUP_RATE_LIMIT", "0"}});
    }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }
    static RunningServer* server_;
};
RunningServer* Api::server_ = nullptr;

TEST_F(Api, HealthReportsHealthyStore) {
    auto res = Get(server_->Url("/api/health"));
    ASSERT_EQ(res.status, 200);
    auto v = res.Json();
    EXPECT_EQ(v.at("status"), "healthy");
    EXPECT_EQ(v.at("services").at("database"), "healthy");
    const std::string ts(v.at("timestamp").as_string());
    EXPECT_EQ(ts.size(), 20u);
    EXPECT_EQ(ts.back(), 'Z');
    EXPECT_FALSE(v.at("version").as_string().empty());
}

TEST_F(Api, SignupReturnsKeyOnceAndStoresOnlyItsHash) {
    auto res = PostJson(server_->Url("/api/signup"), R"({"email":"Alice@Example.com"})");
    ASSERT_EQ(res.status, 200) << res.body;
    auto v = res.Json();
    EXPECT_EQ(v.at("status"), "success");
    EXPECT_EQ(v.at("message"), "Account created successfully");
    const std::string key(v.at("api_key").as_string());
    ASSERT_EQ(key.size(), 28u);
    EXPECT_EQ(key.substr(0, 5), "gopt_");
    for (char c : key.substr(5)) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << key;
    EXPECT_EQ(CountRows(server_->DbPath(), "SELECT COUNT(*) FROM accounts WHERE email = ?1", "alice@example.com"), 1);
    // The key itself is nowhere in the database.
    EXPECT_EQ(DatabaseSnapshot(server_->DbPath()).find(key), std::string::npos);
    EXPECT_EQ(DatabaseSnapshot(server_->DbPath()).find(key.substr(5)), std::string::npos);
}

TEST_F(Api, DuplicateEmailIs409WithoutTheKey) {
    const std::string key = server_->Signup("bob@example.com");
    auto res = PostJson(server_->Url("/api/signup"), R"({"email":"BOB@example.COM"})");
    EXPECT_EQ(res.status, 409);
    EXPECT_EQ(res.Json().at("code"), "ALREADY_EXISTS");
    EXPECT_EQ(res.body.find("gopt_"), std::string::npos);
    EXPECT_EQ(res.body.find(key), std::string::npos);
}

TEST_F(Api, TrackUsageAcceptsThePrototypesMinimalPayload) {
    const std::string key = server_->Signup("proto@example.com");
    // The prototype's sample: one busy GPU at 85.5 %, one idle at 10 %, both at $3.06/h.
    const std::string body = R"({"api_key":")" + key + R"(","gpu_data":[
        {"gpu_index":0,"gpu_name":"Tesla V100","gpu_util":85.5,"mem_used":12000,"mem_total":16384,"temperature":70,"cost_per_hour":3.06},
        {"gpu_index":1,"gpu_name":"Tesla V100","gpu_util":10,"mem_used":500,"mem_total":16384,"cost_per_hour":3.06}]})";
    auto res = PostJson(server_->Url("/api/track-usage"), body);
    ASSERT_EQ(res.status, 200) << res.body;
    auto v = res.Json();
    EXPECT_EQ(v.at("status"), "success");
    EXPECT_EQ(v.at("gpus_monitored"), 2);
    EXPECT_DOUBLE_EQ(v.at("potential_hourly_savings").to_number<double>(), 1.53);
    EXPECT_DOUBLE_EQ(v.at("monthly_projection").to_number<double>(), 1101.6);
    EXPECT_EQ(v.at("tier"), "free");
    EXPECT_NE(res.body.find("\"monthly_projection\":1101.6"), std::string::npos) << res.body;
}

TEST_F(Api, TrackUsageStoresTheFullReportOnceByReportId) {
    const std::string key = server_->Signup("full@example.com");
    const std::string body = FullReport("host-7f3a:000412", "trainer-1", 2);
    for (int i = 0; i < 3; ++i) {
        auto res = PostJson(server_->Url("/api/track-usage"), body, Bearer(key));
        ASSERT_EQ(res.status, 200) << res.body;
        EXPECT_EQ(res.Json().at("duplicate").as_bool(), i > 0);
    }
    const auto db = server_->DbPath();
    EXPECT_EQ(CountRows(db, "SELECT COUNT(*) FROM usage_reports WHERE report_id = ?1", "host-7f3a:000412"), 1);
    EXPECT_EQ(CountRows(db, "SELECT COUNT(*) FROM gpu_windows WHERE host = ?1", "trainer-1"), 2);
    EXPECT_EQ(CountRows(db,
                        "SELECT COUNT(*) FROM gpu_windows WHERE host = ?1 AND processes LIKE '%python%'"
                        " AND idle_fraction = 1.0 AND util_max = 4.5 AND window_seconds = 60",
                        "trainer-1"),
              2);
}

TEST_F(Api, KeyIsAcceptedFromEveryDocumentedPlace) {
    const std::string key = server_->Signup("places@example.com");
    EXPECT_EQ(Get(server_->Url("/api/me"), {"Authorization: Bearer " + key}).status, 200);
    EXPECT_EQ(Get(server_->Url("/api/me"), {"X-API-Key: " + key}).status, 200);
    auto body =
        boost::json::serialize(boost::json::object{{"api_key", key}, {"gpu_data", boost::json::array{Gpu(0, 50)}}});
    EXPECT_EQ(PostJson(server_->Url("/api/track-usage"), body).status, 200);
}

TEST_F(Api, MeDescribesTheAccount) {
    const std::string key = server_->Signup("me@example.com");
    auto res = Get(server_->Url("/api/me"), Bearer(key));
    ASSERT_EQ(res.status, 200);
    auto v = res.Json();
    EXPECT_EQ(v.at("email"), "me@example.com");
    EXPECT_EQ(v.at("tier"), "free");
    EXPECT_EQ(v.at("gpu_limit"), 2);
    EXPECT_EQ(std::string(v.at("key_prefix").as_string()), key.substr(0, 9));
}

TEST_F(Api, FreePlanCountsDistinctGpusNotEntries) {
    const std::string key = server_->Signup("limit@example.com");
    auto send = [&](boost::json::array gpus) {
        return PostJson(server_->Url("/api/track-usage"),
                        boost::json::serialize(boost::json::object{{"gpu_data", std::move(gpus)}}), Bearer(key));
    };
    EXPECT_EQ(send({Gpu(0, 50, 1, 10, "GPU-a"), Gpu(1, 50, 1, 10, "GPU-b")}).status, 200);
    EXPECT_EQ(send({Gpu(0, 50, 1, 10, "GPU-a")}).status, 200);  // the same GPUs again: fine
    EXPECT_EQ(send({Gpu(1, 50, 1, 10, "GPU-b"), Gpu(0, 50, 1, 10, "GPU-a")}).status, 200);
    const auto before = DatabaseSnapshot(server_->DbPath());
    auto res = send({Gpu(2, 50, 1, 10, "GPU-c")});  // a third, in a separate request
    EXPECT_EQ(res.status, 403);
    EXPECT_EQ(res.Json().at("code"), "TIER_LIMIT_EXCEEDED");
    EXPECT_EQ(DatabaseSnapshot(server_->DbPath()), before);
}

TEST_F(Api, StatsNeedTheOperatorToken) {
    EXPECT_EQ(Get(server_->Url("/api/stats")).status, 403);
    EXPECT_EQ(Get(server_->Url("/api/stats"), Bearer("wrong-token-but-long-enough")).status, 403);
    server_->Signup("stats@example.com");
    auto res = Get(server_->Url("/api/stats"), Bearer(kAdminToken));
    ASSERT_EQ(res.status, 200) << res.body;
    auto v = res.Json();
    EXPECT_GE(v.at("customers_by_tier").at("free").to_number<int64_t>(), 1);
    EXPECT_EQ(v.at("customers_by_tier").at("professional"), 0);
    EXPECT_EQ(v.at("monthly_recurring_revenue").to_number<double>(), 0.0);
    EXPECT_EQ(v.at("conversion_rate").to_number<double>(), 0.0);
    EXPECT_EQ(v.at("daily_signups").as_array().size(), 30u);
    EXPECT_GE(v.at("daily_signups").as_array().back().at("count").to_number<int64_t>(), 1);
    EXPECT_TRUE(v.at("total_customer_savings").is_number());
}

TEST_F(Api, PlansComeFromConfiguration) {
    auto res = Get(server_->Url("/api/plans"));
    ASSERT_EQ(res.status, 200);
    auto plans = res.Json().at("plans").as_array();
    ASSERT_EQ(plans.size(), 3u);
    EXPECT_EQ(plans[1].at("tier"), "professional");
    EXPECT_EQ(plans[1].at("price_usd").to_number<double>(), 49.0);
    EXPECT_EQ(plans[2].at("price_usd").to_number<double>(), 199.0);
}

TEST_F(Api, LandingPageIsServedWithStrictHeaders) {
    auto res = Get(server_->Url("/"));
    ASSERT_EQ(res.status, 200);
    EXPECT_EQ(res.Header("content-type"), "text/html; charset=utf-8");
    EXPECT_NE(res.body.find("<form"), std::string::npos);
    EXPECT_NE(res.Header("content-security-policy").find("default-src 'self'"), std::string::npos);
    EXPECT_NE(res.Header("content-security-policy").find("frame-ancestors 'none'"), std::string::npos);
    EXPECT_EQ(res.Header("x-content-type-options"), "nosniff");
    EXPECT_EQ(res.Header("referrer-policy"), "no-referrer");
    auto css = Get(server_->Url("/app.css"));
    EXPECT_EQ(css.status, 200);
    EXPECT_EQ(css.Header("content-type"), "text/css; charset=utf-8");
    auto js = Get(server_->Url("/app.js"));
    EXPECT_EQ(js.Header("content-type"), "text/javascript; charset=utf-8");
    auto head = Send({"HEAD", server_->Url("/"), "", {}});
    EXPECT_EQ(head.status, 200);
    EXPECT_TRUE(head.body.empty());
}

TEST_F(Api, AccessLogIsJsonLinesWithoutSecrets) {
    const std::string key = server_->Signup("log@example.com");
    Get(server_->Url("/api/me"), Bearer(key));
    // The log is written by a background thread and flushed at least once a second; complete lines only.
    auto complete_lines = [&] {
        std::ifstream in(server_->dir.path() + "/access.log");
        std::string all((std::istreambuf_iterator<char>(in)), {});
        return all.substr(0, all.rfind('\n') == std::string::npos ? 0 : all.rfind('\n') + 1);
    };
    ASSERT_TRUE(WaitFor([&] { return complete_lines().find("/api/me") != std::string::npos; }));
    std::istringstream in(complete_lines());
    std::string line;
    int lines = 0;
    while (std::getline(in, line)) {
        boost::system::error_code ec;
        auto v = boost::json::parse(line, ec);
        ASSERT_FALSE(ec) << line;
        EXPECT_TRUE(v.as_object().contains("status"));
        EXPECT_TRUE(v.as_object().contains("ms"));
        EXPECT_EQ(line.find(key), std::string::npos);
        ++lines;
    }
    EXPECT_GT(lines, 1);
    EXPECT_EQ(server_->server->Log().find(key), std::string::npos);
}

class Limits : public ::testing::Test {};

TEST_F(Limits, PlanLimitAnswers429WithRetryAfterAndRateLimitHeaders) {
    RunningServer s(Env{{"RATE_LIMIT_FREE", "3"}});
    const std::string key = s.Signup("rl@example.com");
    for (int i = 0; i < 3; ++i) {
        auto ok = Get(s.Url("/api/me"), Bearer(key));
        ASSERT_EQ(ok.status, 200);
        EXPECT_EQ(ok.Header("ratelimit-limit"), "3");
        EXPECT_EQ(ok.Header("ratelimit-remaining"), std::to_string(2 - i));
    }
    auto res = Get(s.Url("/api/me"), Bearer(key));
    EXPECT_EQ(res.status, 429);
    EXPECT_EQ(res.Json().at("code"), "RATE_LIMITED");
    EXPECT_GE(std::stoi(res.Header("retry-after")), 1);
    EXPECT_EQ(res.Header("ratelimit-remaining"), "0");
    EXPECT_FALSE(res.Header("ratelimit-reset").empty());
}

// REDIS_URL names a Redis that does not answer: every request is still served, the limits hold in this
// process alone (fail open, never a refusal for it), and the outage is logged, counted and recorded once.
TEST_F(Limits, AnUnreachableRedisFailsOpenToThisServersOwnCountersAndIsReportedOnce) {
    RunningServer s(Env{{"RATE_LIMIT_FREE", "3"}, {"REDIS_URL", "redis://127.0.0.1:1"}, {"REDIS_TIMEOUT_MS", "50"}});
    const std::string key = s.Signup("no-redis@example.com");
    ASSERT_FALSE(key.empty());
    for (int i = 0; i < 3; ++i) EXPECT_EQ(Get(s.Url("/api/me"), Bearer(key)).status, 200) << i;
    EXPECT_EQ(Get(s.Url("/api/me"), Bearer(key)).status, 429);  // the server's own budget still holds
    auto metrics = Get(s.Url("/metrics"));
    ASSERT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.body.find("gpuopt_shared_limits_up 0"), std::string::npos);
    const std::string sample = "\ngpuopt_shared_limits_fail_open_total ";
    const auto at = metrics.body.find(sample);
    ASSERT_NE(at, std::string::npos);
    EXPECT_GE(std::stoi(metrics.body.substr(at + sample.size())), 5);  // the sign-up, the key checks
    const std::string events = "SELECT COUNT(*) FROM security_events WHERE kind = 'shared_limits_unavailable'";
    EXPECT_TRUE(WaitFor([&] { return CountRows(s.DbPath(), events) == 1; })) << CountRows(s.DbPath(), events);
    const std::string log = s.server->Log();
    EXPECT_NE(log.find("Redis at 127.0.0.1:1/0 does not answer"), std::string::npos) << log;
    EXPECT_EQ(log.find("does not answer", log.find("does not answer") + 1), std::string::npos);  // once
}

TEST_F(Limits, SignupIsLimitedPerClientIpAndForwardedForOnlyFromTrustedProxies) {
    {
        RunningServer s(Env{{"SIGNUP_RATE_LIMIT", "2"}});
        EXPECT_EQ(PostJson(s.Url("/api/signup"), R"({"email":"a1@example.com"})", {"X-Forwarded-For: 1.1.1.1"}).status,
                  200);
        EXPECT_EQ(PostJson(s.Url("/api/signup"), R"({"email":"a2@example.com"})", {"X-Forwarded-For: 2.2.2.2"}).status,
                  200);
        // Not from a trusted proxy: the header is ignored, so all three come from 127.0.0.1.
        auto res = PostJson(s.Url("/api/signup"), R"({"email":"a3@example.com"})", {"X-Forwarded-For: 3.3.3.3"});
        EXPECT_EQ(res.status, 429);
        EXPECT_FALSE(res.Header("retry-after").empty());
    }
    {
        RunningServer s(Env{{"SIGNUP_RATE_LIMIT", "2"}, {"TRUSTED_PROXIES", "127.0.0.1"}});
        for (int i = 0; i < 2; ++i) {
            EXPECT_EQ(PostJson(s.Url("/api/signup"), "{\"email\":\"b" + std::to_string(i) + "@example.com\"}",
                               {"X-Forwarded-For: 1.1.1.1"})
                          .status,
                      200);
        }
        EXPECT_EQ(PostJson(s.Url("/api/signup"), R"({"email":"b9@example.com"})", {"X-Forwarded-For: 1.1.1.1"}).status,
                  429);
        // Behind the trusted proxy another client has its own budget.
        EXPECT_EQ(PostJson(s.Url("/api/signup"), R"({"email":"c1@example.com"})", {"X-Forwarded-For: 2.2.2.2"}).status,
                  200);
    }
}

}  // namespace
}  // namespace gpuopt::testing
