// Concurrent sign-ups: distinct emails all succeed; one email succeeds exactly once.
#include "integration/fixture.hpp"

namespace gpuopt::testing {
namespace {

HttpRequest SignupRequest(const RunningServer& s, const std::string& email) {
    return {"POST", s.Url("/api/signup"), "{\"email\":\"" + email + "\"}", {"Content-Type: application/json"}};
}

TEST(Concurrency, TwoHundredDistinctSignupsAllSucceed) {
    RunningServer s(Env{{"SIGNUP_RATE_LIMIT", "0"}});
    std::vector<HttpRequest> requests;
    for (int i = 0; i < 200; ++i) requests.push_back(SignupRequest(s, "user" + std::to_string(i) + "@example.com"));
    const auto responses = SendParallel(requests);
    std::set<std::string> keys;
    for (const auto& r : responses) {
        ASSERT_EQ(r.status, 200) << r.error << r.body;
        keys.insert(std::string(r.Json().at("api_key").as_string()));
    }
    EXPECT_EQ(keys.size(), 200u);
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM accounts"), 200);
    // Every key works.
    for (const auto& k : std::vector<std::string>(keys.begin(), std::next(keys.begin(), 5))) {
        EXPECT_EQ(Get(s.Url("/api/me"), Bearer(k)).status, 200);
    }
}

TEST(Concurrency, TwentySignupsWithOneEmailGiveExactlyOneSuccess) {
    RunningServer s(Env{{"SIGNUP_RATE_LIMIT", "0"}});
    std::vector<HttpRequest> requests;
    for (int i = 0; i < 20; ++i) {
        // The same address, spelled with different case.
        requests.push_back(SignupRequest(s, i % 2 == 0 ? "same@example.com" : "Same@Example.com"));
    }
    const auto responses = SendParallel(requests);
    int ok = 0, conflict = 0;
    for (const auto& r : responses) {
        if (r.status == 200) ++ok;
        if (r.status == 409) {
            ++conflict;
            EXPECT_EQ(r.Json().at("code"), "ALREADY_EXISTS");
            EXPECT_EQ(r.body.find("gopt_"), std::string::npos);
        }
    }
    EXPECT_EQ(ok, 1);
    EXPECT_EQ(conflict, 19);
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM accounts"), 1);
}

TEST(Concurrency, ConcurrentReportsShareTransactions) {
    RunningServer s(Env{{"RATE_LIMIT_FREE", "0"}, {"FREE_GPU_LIMIT", "1000"}});
    const std::string key = s.Signup("batch@example.com");
    std::vector<HttpRequest> requests;
    for (int i = 0; i < 100; ++i) {
        requests.push_back({"POST",
                            s.Url("/api/track-usage"),
                            FullReport("h:" + std::to_string(i), "host" + std::to_string(i % 4), 1),
                            {"Content-Type: application/json", "Authorization: Bearer " + key}});
    }
    for (const auto& r : SendParallel(requests)) ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM usage_reports"), 100);
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM gpu_windows"), 100);
}

}  // namespace
}  // namespace gpuopt::testing
