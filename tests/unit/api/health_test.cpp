// The health handler over a store that works and one that does not, without a socket.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>

#include "api/api.hpp"

namespace gpuopt::api {
namespace {

class PingOnlyStore final : public store::Store {
public:
    explicit PingOnlyStore(bool healthy) : healthy_(healthy) {}
    void CreateAccount(store::NewAccount, store::Callback<store::Account> done) override { done(Unused()); }
    void IngestReport(store::IngestRequest, store::Callback<store::IngestOutcome> done) override { done(Unused()); }
    void SetTier(std::string, std::string, store::Callback<store::Account> done) override { done(Unused()); }
    Result<store::Account> FindAccountByKeyHash(const std::string&) override { return Unused(); }
    Result<store::Stats> GetStats(const store::StatsQuery&) override { return Unused(); }
    Result<void> Ping() override {
        if (healthy_) return {};
        return Error{ErrorCode::kUnavailable, "disk gone", {}};
    }
    void Close() override {}

private:
    static Error Unused() { return Error{ErrorCode::kInternal, "not used by this test", {}}; }
    bool healthy_;
};

http::Response CallHealth(store::Store& store) {
    auto config = BuildConfig({}).value();
    http::RateLimiter a, b;
    Services services{config, store, a, b};
    auto handler = MakeHealthHandler(services);
    http::Request req{http::bhttp::verb::get, "/api/health", 11};
    http::RequestContext ctx{req, "127.0.0.1", "/api/health", "", {}, {}};
    boost::asio::io_context io;
    auto future = boost::asio::co_spawn(io, handler(ctx), boost::asio::use_future);
    io.run();
    return future.get();
}

TEST(Health, HealthyStoreAnswers200) {
    PingOnlyStore store(true);
    auto res = CallHealth(store);
    EXPECT_EQ(res.result_int(), 200u);
    auto v = boost::json::parse(res.body());
    EXPECT_EQ(v.at("status"), "healthy");
    EXPECT_EQ(v.at("services").at("database"), "healthy");
}

TEST(Health, UnusableStoreAnswers503InTheEnvelope) {
    PingOnlyStore store(false);
    auto res = CallHealth(store);
    EXPECT_EQ(res.result_int(), 503u);
    auto v = boost::json::parse(res.body());
    EXPECT_EQ(v.at("status"), "error");
    EXPECT_EQ(v.at("code"), "UNAVAILABLE");
    EXPECT_EQ(v.at("services").at("database"), "unhealthy");
}

}  // namespace
}  // namespace gpuopt::api
