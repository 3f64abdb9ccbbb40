// Crash safety: every report answered 200 before a kill -9 is in the database after a restart.
#include <atomic>
#include <mutex>
#include <thread>

#include "integration/fixture.hpp"

namespace gpuopt::testing {
namespace {

TEST(Crash, EveryAcknowledgedReportSurvivesKill9) {
    TempDir dir;
    std::string key;
    {
        ServerProcess first({dir.path(), {{"RATE_LIMIT_FREE", "0"}, {"FREE_GPU_LIMIT", "1000"}}, {}});
        auto res = PostJson(first.Url("/api/signup"), R"({"email":"crash@example.com"})");
        ASSERT_EQ(res.status, 200);
        key = std::string(res.Json().at("api_key").as_string());

        std::atomic<bool> stop{false};
        std::mutex mu;
        std::vector<std::string> acknowledged;
        std::atomic<int> failures{0};
        std::vector<std::thread> clients;
        for (int t = 0; t < 8; ++t) {
            clients.emplace_back([&, t] {
                for (int i = 0; !stop; ++i) {
                    const std::string id = "c" + std::to_string(t) + ":" + std::to_string(i);
                    auto r = PostJson(first.Url("/api/track-usage"), FullReport(id, "host" + std::to_string(t), 2),
                                      Bearer(key));
                    if (r.status == 200) {
                        std::lock_guard lock(mu);
                        acknowledged.push_back(id);
                    } else {
                        ++failures;  // refused connection after the kill: never acknowledged
                        if (r.status != 0) ADD_FAILURE() << r.status << " " << r.body;
                    }
                }
            });
        }
        ASSERT_TRUE(WaitFor(
            [&] {
                std::lock_guard lock(mu);
                return acknowledged.size() >= 200;
            },
            std::chrono::seconds(60)));
        first.Kill9();  // mid-stream: requests are in flight
        stop = true;
        for (auto& c : clients) c.join();
        ASSERT_GE(acknowledged.size(), 200u);

        ServerProcess second({dir.path(), {}, {}});
        ASSERT_EQ(Get(second.Url("/api/health")).status, 200);
        const std::string db = StoreLocation(dir.path());
        std::lock_guard lock(mu);
        for (const auto& id : acknowledged) {
            ASSERT_EQ(CountRows(db, "SELECT COUNT(*) FROM usage_reports WHERE report_id = ?1", id), 1) << id;
            ASSERT_EQ(CountRows(db,
                                "SELECT COUNT(*) FROM gpu_windows g JOIN usage_reports r ON r.id = g.report_pk"
                                " WHERE r.report_id = ?1",
                                id),
                      2)
                << id;
        }
        // The restarted server still knows the account and answers replays as duplicates.
        auto replay =
            PostJson(second.Url("/api/track-usage"), FullReport(acknowledged.front(), "host0", 2), Bearer(key));
        ASSERT_EQ(replay.status, 200) << replay.body;
        EXPECT_TRUE(replay.Json().at("duplicate").as_bool());
    }
}

}  // namespace
}  // namespace gpuopt::testing
