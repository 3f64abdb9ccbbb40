#include "http/rate_limiter.hpp"

#include <gtest/gtest.h>

namespace gpuopt::http {
namespace {

using namespace std::chrono;

struct FakeClock {
    steady_clock::time_point now{};
    RateLimiter::Clock fn() {
        return [this] { return now; };
    }
};

TEST(RateLimiter, AllowsTheLimitThenRefuses) {
    FakeClock clock;
    RateLimiter limiter(clock.fn());
    for (int i = 0; i < 5; ++i) {
        auto d = limiter.Check("k", 5, minutes(1));
        EXPECT_TRUE(d.allowed);
        EXPECT_EQ(d.remaining, 4 - i);
        EXPECT_EQ(d.limit, 5);
    }
    auto refused = limiter.Check("k", 5, minutes(1));
    EXPECT_FALSE(refused.allowed);
    EXPECT_EQ(refused.remaining, 0);
    EXPECT_EQ(refused.retry_after_seconds, 12);                     // one token every 60/5 s
    EXPECT_EQ(refused.reset_seconds, refused.retry_after_seconds);  // the two headers agree
}

TEST(RateLimiter, ResetSaysWhenRemainingNextGrows) {
    FakeClock clock;
    RateLimiter limiter(clock.fn());
    auto first = limiter.Check("k", 100, hours(1));  // a free key: one token every 36 s
    EXPECT_EQ(first.remaining, 99);
    EXPECT_EQ(first.reset_seconds, 36);
    for (int i = 0; i < 99; ++i) (void)limiter.Check("k", 100, hours(1));
    auto refused = limiter.Check("k", 100, hours(1));
    EXPECT_FALSE(refused.allowed);
    EXPECT_EQ(refused.retry_after_seconds, 36);
    EXPECT_EQ(refused.reset_seconds, 36);
    clock.now += seconds(10);
    auto later = limiter.Check("k", 100, hours(1));
    EXPECT_EQ(later.retry_after_seconds, 26);
    EXPECT_EQ(later.reset_seconds, 26);
    clock.now += hours(2);
    EXPECT_EQ(limiter.Check("u", 5, minutes(1)).reset_seconds, 12);
}

TEST(RateLimiter, RefillsOverThePeriod) {
    FakeClock clock;
    RateLimiter limiter(clock.fn());
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(limiter.Check("k", 100, hours(1)).allowed);
    EXPECT_FALSE(limiter.Check("k", 100, hours(1)).allowed);
    clock.now += seconds(36);  // 1 token
    EXPECT_TRUE(limiter.Check("k", 100, hours(1)).allowed);
    EXPECT_FALSE(limiter.Check("k", 100, hours(1)).allowed);
    clock.now += hours(5);
    auto d = limiter.Check("k", 100, hours(1));
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 99);  // capped at the limit
}

TEST(RateLimiter, KeysAreIndependent) {
    FakeClock clock;
    RateLimiter limiter(clock.fn());
    EXPECT_TRUE(limiter.Check("a", 1, minutes(1)).allowed);
    EXPECT_FALSE(limiter.Check("a", 1, minutes(1)).allowed);
    EXPECT_TRUE(limiter.Check("b", 1, minutes(1)).allowed);
}

TEST(RateLimiter, ForgetsIdleKeys) {
    FakeClock clock;
    RateLimiter limiter(clock.fn());
    for (int i = 0; i < 10000; ++i) (void)limiter.Check("ip" + std::to_string(i), 5, minutes(1));
    clock.now += minutes(2);
    for (int i = 0; i < 40000; ++i) (void)limiter.Check("other" + std::to_string(i % 100), 5, minutes(1));
    EXPECT_LT(limiter.TrackedKeys(), 1000u);
}

}  // namespace
}  // namespace gpuopt::http
