// Delivery decisions: which answers are retried, dropped or stop the agent; Retry-After; backoff.
#include "agent/uploader.hpp"

#include <gtest/gtest.h>

#include "support/fake_http_server.hpp"

namespace gpuopt::agent {
namespace {

const auto kNow = std::chrono::system_clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT

TEST(Classify, SuccessIsDeliveredAndNotesADuplicate) {
    auto a = Classify(200, R"({"status":"success","duplicate":true})", "", "", kNow);
    EXPECT_EQ(a.outcome, Outcome::kDelivered);
    EXPECT_TRUE(a.duplicate);
    EXPECT_FALSE(Classify(200, R"({"status":"success"})", "", "", kNow).duplicate);
}

TEST(Classify, NetworkErrorsServerErrorsAndRateLimitsAreRetried) {
    EXPECT_EQ(Classify(0, "", "", "Connection refused", kNow).outcome, Outcome::kRetry);
    EXPECT_EQ(Classify(0, "", "", "Connection refused", kNow).message, "Connection refused");
    for (long status : {500L, 502L, 503L, 504L, 429L, 408L}) {
        EXPECT_EQ(Classify(status, "", "", "", kNow).outcome, Outcome::kRetry) << status;
    }
    auto limited = Classify(429, R"({"status":"error","code":"RATE_LIMITED","message":"slow down"})", "7", "", kNow);
    ASSERT_TRUE(limited.retry_after.has_value());
    EXPECT_EQ(limited.retry_after->count(), 7);
    EXPECT_EQ(limited.message, "RATE_LIMITED: slow down");
}

TEST(Classify, AWrongKeyOrAddressStopsTheAgent) {
    for (long status : {401L, 404L, 405L})
        EXPECT_EQ(Classify(status, "", "", "", kNow).outcome, Outcome::kStop) << status;
}

TEST(Classify, AReportTheServerWillNeverTakeIsDropped) {
    auto a = Classify(
        400,
        R"({"status":"error","code":"VALIDATION_ERROR","message":"Invalid request","details":{"gpu_data[0].gpu_util":"must be between 0 and 100"}})",
        "", "", kNow);
    EXPECT_EQ(a.outcome, Outcome::kDrop);
    EXPECT_NE(a.message.find("gpu_data[0].gpu_util must be between 0 and 100"), std::string::npos);
    for (long status : {403L, 413L, 415L})
        EXPECT_EQ(Classify(status, "", "", "", kNow).outcome, Outcome::kDrop) << status;
}

TEST(RetryAfter, ReadsSecondsAndHttpDatesAndCapsThem) {
    EXPECT_EQ(ParseRetryAfter("120", kNow)->count(), 120);
    EXPECT_EQ(ParseRetryAfter(" 3 ", kNow)->count(), 3);
    EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:50:07 GMT", kNow)->count(), 30);
    EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:00:00 GMT", kNow)->count(), 0);  // in the past
    EXPECT_EQ(ParseRetryAfter("999999999999", kNow)->count(), 3600);
    EXPECT_FALSE(ParseRetryAfter("soon", kNow).has_value());
    EXPECT_FALSE(ParseRetryAfter("-5", kNow).has_value());
    EXPECT_FALSE(ParseRetryAfter("", kNow).has_value());
}

TEST(Backoff, GrowsExponentiallyWithJitterUpToItsCap) {
    using std::chrono::milliseconds;
    const milliseconds initial(1000), max(60000);
    for (int attempt = 0; attempt < 10; ++attempt) {
        const double full = std::min(1000.0 * (1 << attempt), 60000.0);
        EXPECT_EQ(Backoff(attempt, initial, max, 0.0).count(), static_cast<int64_t>(full / 2));
        EXPECT_LE(Backoff(attempt, initial, max, 0.999).count(), static_cast<int64_t>(full));
        EXPECT_GE(Backoff(attempt, initial, max, 0.999).count(), static_cast<int64_t>(full * 0.99));
    }
    EXPECT_EQ(Backoff(500, initial, max, 1.0).count(), 60000);
}

TEST(Uploader, SendsTheReportWithTheKeyAndReadsTheAnswer) {
    testing::FakeHttpServer server([](const testing::FakeRequest&) {
        return testing::FakeResponse{
            429, R"({"status":"error","code":"RATE_LIMITED","message":"later"})", {{"Retry-After", "2"}}};
    });
    Uploader up({server.Url(), "gopt_abcdefghijklmnopqrstuvw", "gpuopt-agent/test"});
    auto a = up.Send(R"({"gpu_data":[]})");
    EXPECT_EQ(a.outcome, Outcome::kRetry);
    EXPECT_EQ(a.status, 429);
    ASSERT_TRUE(a.retry_after.has_value());
    EXPECT_EQ(a.retry_after->count(), 2);
    auto requests = server.Requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].method, "POST");
    EXPECT_EQ(requests[0].target, "/api/track-usage");
    EXPECT_EQ(requests[0].Header("authorization"), "Bearer gopt_abcdefghijklmnopqrstuvw");
    EXPECT_EQ(requests[0].Header("content-type"), "application/json");
    EXPECT_EQ(requests[0].body, R"({"gpu_data":[]})");
}

TEST(Uploader, AnUnreachableServerIsANetworkErrorToRetry) {
    uint16_t port = 0;
    {
        testing::FakeHttpServer gone([](const testing::FakeRequest&) { return testing::FakeResponse{}; });
        port = gone.port();
    }
    Uploader up({"http://127.0.0.1:" + std::to_string(port), "k", "ua"});
    auto a = up.Send("{}");
    EXPECT_EQ(a.outcome, Outcome::kRetry);
    EXPECT_EQ(a.status, 0);
    EXPECT_FALSE(a.message.empty());
}

}  // namespace
}  // namespace gpuopt::agent
