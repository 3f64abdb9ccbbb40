// RateLimiter and AddressGuard over a shared store (Redis in production; a fake here): the shared answer
// wins while there is one, and each falls back to its own counters when the store cannot answer.
#include <gtest/gtest.h>

#include <map>

#include "http/address_guard.hpp"
#include "http/rate_limiter.hpp"
#include "http/shared_limits.hpp"

namespace gpuopt::http {
namespace {

using namespace std::chrono;

// A shared store that counts in a map (one bucket per key, no refill) and can be switched off.
class FakeShared : public SharedLimits {
public:
    bool up = true;
    std::map<std::string, int> taken;
    std::map<std::string, int> blocked;  // ip -> seconds
    std::vector<std::string> keys;

    std::optional<RateDecision> Take(std::string_view key, int limit, seconds) override {
        if (!up) return std::nullopt;
        keys.emplace_back(key);
        int& n = taken[std::string(key)];
        const bool allowed = n < limit;
        if (allowed) ++n;
        return DecideFromBucket(allowed, limit - n, limit, limit / 3600.0, limit);
    }
    std::optional<int> BlockedFor(std::string_view ip) override {
        if (!up) return std::nullopt;
        auto it = blocked.find(std::string(ip));
        return it == blocked.end() ? 0 : it->second;
    }
    std::optional<bool> Block(std::string_view ip, seconds duration) override {
        if (!up) return std::nullopt;
        return blocked.try_emplace(std::string(ip), static_cast<int>(duration.count())).second;
    }
    std::optional<bool> Unblock(std::string_view ip) override {
        if (!up) return std::nullopt;
        return blocked.erase(std::string(ip)) > 0;
    }
};

TEST(SharedLimits, TheSharedBudgetDecidesUnderItsPrefix) {
    FakeShared shared;
    RateLimiter limiter;
    limiter.Share(&shared, "key:");
    shared.taken["key:acct:1"] = 9;  // another server spent nine of ten
    auto d = limiter.Check("acct:1", 10, hours(1));
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 0);
    EXPECT_FALSE(limiter.Check("acct:1", 10, hours(1)).allowed);
    EXPECT_EQ(shared.keys, (std::vector<std::string>{"key:acct:1", "key:acct:1"}));
    EXPECT_EQ(limiter.TrackedKeys(), 0U);  // nothing counted in process while the store answers
}

TEST(SharedLimits, AnUnreachableStoreFallsBackToThisProcessCounters) {
    FakeShared shared;
    shared.up = false;
    RateLimiter limiter;
    limiter.Share(&shared, "ip:");
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Check("signup:1.2.3.4", 3, minutes(1)).allowed) << i;
    EXPECT_FALSE(limiter.Check("signup:1.2.3.4", 3, minutes(1)).allowed);  // the coarse backstop still holds
    shared.up = true;
    EXPECT_TRUE(limiter.Check("signup:1.2.3.4", 3, minutes(1)).allowed);  // back on the shared budget
    EXPECT_EQ(shared.taken["ip:signup:1.2.3.4"], 1);
}

TEST(SharedLimits, ABlockMadeByAnotherServerHoldsHere) {
    FakeShared shared;
    AddressGuard guard({3, seconds(300), seconds(900)});
    guard.Share(&shared);
    EXPECT_EQ(guard.BlockedFor("10.0.0.9"), std::nullopt);
    shared.blocked["10.0.0.9"] = 640;
    EXPECT_EQ(guard.BlockedFor("10.0.0.9"), 640);
    shared.up = false;  // while the store is away, only this process's own blocks hold
    EXPECT_EQ(guard.BlockedFor("10.0.0.9"), std::nullopt);
}

TEST(SharedLimits, FailuresCountAcrossServersAndOneServerReportsTheBlock) {
    FakeShared shared;
    AddressGuard here({3, seconds(300), seconds(900)});
    AddressGuard there({3, seconds(300), seconds(900)});
    here.Share(&shared);
    there.Share(&shared);
    EXPECT_FALSE(here.Fail("10.0.0.7"));
    EXPECT_FALSE(there.Fail("10.0.0.7"));
    EXPECT_TRUE(here.Fail("10.0.0.7"));  // the third failure, wherever it lands, starts the block
    EXPECT_EQ(shared.blocked.at("10.0.0.7"), 900);
    EXPECT_EQ(shared.taken.count("authfail:10.0.0.7"), 1U);
    EXPECT_FALSE(there.Fail("10.0.0.7"));  // the block exists: nobody reports it again
    EXPECT_EQ(there.BlockedFor("10.0.0.7"), 900);
}

TEST(SharedLimits, BlocksStillWorkAloneWhileTheStoreIsAway) {
    FakeShared shared;
    shared.up = false;
    AddressGuard guard({2, seconds(300), seconds(900)});
    guard.Share(&shared);
    EXPECT_FALSE(guard.Fail("10.0.0.8"));
    EXPECT_TRUE(guard.Fail("10.0.0.8"));
    auto left = guard.BlockedFor("10.0.0.8");
    ASSERT_TRUE(left.has_value());
    EXPECT_GT(*left, 890);
}

TEST(SharedLimits, AnUnblockLiftsTheBlockHereAndForEveryServer) {
    FakeShared shared;
    AddressGuard here({2, seconds(300), seconds(900)});
    AddressGuard there({2, seconds(300), seconds(900)});
    here.Share(&shared);
    there.Share(&shared);
    EXPECT_FALSE(here.Fail("10.0.0.5"));
    EXPECT_TRUE(here.Fail("10.0.0.5"));
    ASSERT_EQ(here.FailureBlocks().size(), 1U);
    EXPECT_EQ(here.FailureBlocks()[0].first, "10.0.0.5");
    EXPECT_TRUE(there.BlockedFor("10.0.0.5").has_value());
    EXPECT_TRUE(here.Unblock("10.0.0.5"));
    EXPECT_EQ(here.BlockedFor("10.0.0.5"), std::nullopt);
    EXPECT_EQ(there.BlockedFor("10.0.0.5"), std::nullopt) << "lifted in the shared store too";
    EXPECT_TRUE(here.FailureBlocks().empty());
    EXPECT_FALSE(here.Unblock("10.0.0.5")) << "nothing left to lift";
}

TEST(SharedLimits, BlocksByHandHoldWhateverTheFailureLimitAndEndOnTime) {
    AddressGuard guard({0, seconds(300), seconds(900)});  // failures never block here
    EXPECT_EQ(guard.BlockedFor("192.0.2.1"), std::nullopt);
    guard.SetManualBlocks({{"192.0.2.1", std::nullopt},
                           {"192.0.2.2", UtcNow() + std::chrono::seconds(120)},
                           {"192.0.2.3", UtcNow() - std::chrono::seconds(1)}});
    auto forever = guard.BlockedFor("192.0.2.1");
    ASSERT_TRUE(forever.has_value());
    EXPECT_EQ(*forever, 3600) << "Retry-After says an hour at most: it may be lifted any time";
    auto soon = guard.BlockedFor("192.0.2.2");
    ASSERT_TRUE(soon.has_value());
    EXPECT_GT(*soon, 100);
    EXPECT_LE(*soon, 120);
    EXPECT_EQ(guard.BlockedFor("192.0.2.3"), std::nullopt) << "its time is over";
    EXPECT_EQ(guard.BlockedFor("192.0.2.4"), std::nullopt);
    guard.SetManualBlocks({});
    EXPECT_EQ(guard.BlockedFor("192.0.2.1"), std::nullopt) << "lifted by the next load";
}

}  // namespace
}  // namespace gpuopt::http
