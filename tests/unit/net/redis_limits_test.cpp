// RedisLimits against a real Redis 7 (the services fixture's, and a private one the outage test stops and
// starts again): two clients stand for two servers sharing one budget and one set of blocks; the script
// survives SCRIPT FLUSH; an unreachable Redis answers at once, is counted and reported once, and the limits
// are shared again when it is back.
#include "net/redis_limits.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "http/rate_limiter.hpp"
#include "support/server_process.hpp"

namespace gpuopt::net {
namespace {

using namespace std::chrono;

std::string ReadFile(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

std::string FixtureUrl() {
    const char* dir = std::getenv("GPUOPT_TEST_SERVICES");
    return dir == nullptr ? "" : ReadFile(std::string(dir) + "/redis/url");
}

std::unique_ptr<RedisLimits> Limits(const std::string& url, std::function<void(const std::string&)> on_outage = {}) {
    RedisClient::Options o;
    o.timeout = milliseconds(500);
    o.open_for = milliseconds(300);
    auto client = RedisClient::Create(url, o);
    EXPECT_TRUE(client) << (client ? "" : client.error().message);
    if (!client) return nullptr;
    return std::make_unique<RedisLimits>(std::move(*client), std::move(on_outage));
}

// A key of this test's own, so runs and tests never share a bucket.
std::string Unique(const std::string& what) {
    return what + ":" + ::testing::UnitTest::GetInstance()->current_test_info()->name() + ":" +
           std::to_string(steady_clock::now().time_since_epoch().count());
}

class RedisLimitsTest : public ::testing::Test {
protected:
    void SetUp() override {
        url_ = FixtureUrl();
        ASSERT_FALSE(url_.empty()) << "no test Redis: run through CTest, which starts tests/services/redis.sh";
    }
    std::string url_;
};

TEST_F(RedisLimitsTest, TwoServersShareOneBudgetWithTheSameFiguresAsOneProcess) {
    auto a = Limits(url_);
    auto b = Limits(url_);
    ASSERT_TRUE(a && b);
    http::RateLimiter local;
    const std::string key = Unique("acct");
    for (int i = 0; i < 10; ++i) {
        auto shared = (i % 2 == 0 ? *a : *b).Take(key, 10, hours(1));
        ASSERT_TRUE(shared.has_value()) << i;
        auto alone = local.Check(key, 10, hours(1));
        EXPECT_TRUE(shared->allowed) << i;
        EXPECT_EQ(shared->remaining, alone.remaining) << i;
        EXPECT_EQ(shared->limit, 10);
    }
    auto refused = b->Take(key, 10, hours(1));
    ASSERT_TRUE(refused.has_value());
    EXPECT_FALSE(refused->allowed);
    EXPECT_EQ(refused->remaining, 0);
    // One token every 360 s; the first nine were taken a moment ago.
    EXPECT_GT(refused->retry_after_seconds, 300);
    EXPECT_LE(refused->retry_after_seconds, 360);
    EXPECT_EQ(refused->reset_seconds, refused->retry_after_seconds);
    EXPECT_FALSE(a->Take(key, 10, hours(1))->allowed);
    EXPECT_TRUE(a->Take(Unique("other"), 10, hours(1))->allowed);  // keys are independent
    EXPECT_EQ(a->FailOpen() + b->FailOpen(), 0U);
}

TEST_F(RedisLimitsTest, ConcurrentTakesFromManyThreadsNeverOverspend) {
    auto a = Limits(url_);
    auto b = Limits(url_);
    ASSERT_TRUE(a && b);
    const std::string key = Unique("burst");
    std::atomic<int> allowed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 25; ++i) {
                auto d = (t % 2 == 0 ? *a : *b).Take(key, 50, hours(1));
                if (d && d->allowed) allowed.fetch_add(1);
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(allowed.load(), 50);  // 200 asked, 50 in the budget
}

TEST_F(RedisLimitsTest, OneServerStartsABlockAndEveryServerSeesIt) {
    auto a = Limits(url_);
    auto b = Limits(url_);
    ASSERT_TRUE(a && b);
    const std::string ip = Unique("10.9.8.7");
    EXPECT_EQ(a->BlockedFor(ip), 0);
    EXPECT_EQ(a->Block(ip, seconds(900)), true);
    EXPECT_EQ(b->Block(ip, seconds(900)), false);  // already blocked: the block is reported once
    auto left = b->BlockedFor(ip);
    ASSERT_TRUE(left.has_value());
    EXPECT_GT(*left, 890);
    EXPECT_LE(*left, 900);
    // An operator lifts it on one server: lifted for all, and a second lift finds nothing.
    EXPECT_EQ(b->Unblock(ip), true);
    EXPECT_EQ(a->BlockedFor(ip), 0);
    EXPECT_EQ(a->Unblock(ip), false);
}

TEST_F(RedisLimitsTest, TheScriptIsLoadedAgainAfterTheServerForgetsIt) {
    auto a = Limits(url_);
    ASSERT_TRUE(a);
    const std::string key = Unique("flush");
    ASSERT_TRUE(a->Take(key, 3, minutes(1)).has_value());
    auto flushed = a->client().Command({"SCRIPT", "FLUSH"});
    ASSERT_TRUE(flushed) << flushed.error().message;
    auto d = a->Take(key, 3, minutes(1));
    ASSERT_TRUE(d.has_value());
    EXPECT_TRUE(d->allowed);
    EXPECT_EQ(d->remaining, 1);
    EXPECT_EQ(a->FailOpen(), 0U);
}

TEST(RedisClient, RefusesUrlsItCannotServe) {
    for (const char* url : {"http://127.0.0.1:6379", "redis://", "redis://127.0.0.1:0", "redis://127.0.0.1:6379/x",
                            "redis://127.0.0.1:6379/0?tls=1"}) {
        EXPECT_FALSE(RedisClient::Create(url, {})) << url;
    }
    auto ok = RedisClient::Create("redis://:s3cret@127.0.0.1:6380/2", {});
    ASSERT_TRUE(ok);
    EXPECT_EQ((*ok)->Describe(), "127.0.0.1:6380/2");  // never the password
}

// A Redis of this test's own: stopped mid-test, then started again on the same port.
TEST(RedisOutage, LimitsFailOpenOnceReportedAndAreSharedAgainWhenRedisIsBack) {
    testing::TempDir dir;
    const std::string script = std::string(GPUOPT_SOURCE_DIR) + "/tests/services/redis.sh";
    const std::string redis_dir = dir.path() + "/redis";
    ASSERT_EQ(std::system((script + " start " + redis_dir + " > /dev/null").c_str()), 0);
    const std::string url = ReadFile(redis_dir + "/url");
    const std::string port = url.substr(url.rfind(':') + 1);

    std::vector<std::string> outages;
    auto limits = Limits(url, [&](const std::string& what) { outages.push_back(what); });
    ASSERT_TRUE(limits);
    ASSERT_TRUE(limits->Take("k", 5, minutes(1)).has_value());

    ASSERT_EQ(std::system((script + " stop " + redis_dir).c_str()), 0);
    const auto started = steady_clock::now();
    int unanswered = 0;
    for (int i = 0; i < 200; ++i) unanswered += !limits->Take("k", 5, minutes(1)).has_value();
    const auto took = duration_cast<milliseconds>(steady_clock::now() - started);
    EXPECT_EQ(unanswered, 200);
    EXPECT_EQ(limits->FailOpen(), 200U);
    ASSERT_EQ(outages.size(), 1U);  // one report per outage, not one per request
    EXPECT_NE(outages[0].find("127.0.0.1:" + port), std::string::npos) << outages[0];
    // The breaker answers at once: 200 calls cost a few timeouts, not 200 of them.
    EXPECT_LT(took, milliseconds(200 * 500 / 4)) << took.count() << " ms";
    std::string metrics;
    limits->WriteMetrics(metrics);
    EXPECT_NE(metrics.find("gpuopt_shared_limits_up 0"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("gpuopt_shared_limits_fail_open_total 200"), std::string::npos) << metrics;
    std::cout << "Redis down: 200 decisions made alone in " << took.count() << " ms, reported once\n";

    // Back on the same port (a fresh, empty Redis): shared again after the breaker's next probe.
    const std::string again = "mkdir -p " + redis_dir + " && redis-server --bind 127.0.0.1 --port " + port +
                              " --save '' --appendonly no --dir " + redis_dir + " --pidfile " + redis_dir +
                              "/redis.pid --logfile " + redis_dir + "/redis.log --daemonize yes";
    ASSERT_EQ(std::system(again.c_str()), 0);
    std::optional<http::RateDecision> d;
    for (int i = 0; i < 100 && !d; ++i) {
        d = limits->Take("k", 5, minutes(1));
        if (!d) std::this_thread::sleep_for(milliseconds(50));
    }
    ASSERT_TRUE(d.has_value()) << "Redis never answered again";
    EXPECT_TRUE(d->allowed);
    metrics.clear();
    limits->WriteMetrics(metrics);
    EXPECT_NE(metrics.find("gpuopt_shared_limits_up 1"), std::string::npos) << metrics;
    EXPECT_EQ(outages.size(), 1U);

    // Connections dropped while idle in the pool (a proxy's timeout, CLIENT KILL): the next call reconnects.
    const auto before = limits->FailOpen();
    ASSERT_EQ(std::system(("redis-cli -p " + port + " CLIENT KILL TYPE normal > /dev/null").c_str()), 0);
    EXPECT_TRUE(limits->Take("k", 5, minutes(1)).has_value());
    EXPECT_EQ(limits->FailOpen(), before);
    EXPECT_EQ(std::system((script + " stop " + redis_dir).c_str()), 0);
}

}  // namespace
}  // namespace gpuopt::net
