// The health handler over a store that works and one that does not, without a socket.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>

#include <unistd.h>

#include <filesystem>

#include "api/api.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "support/test_dir.hpp"

namespace gpuopt::api {
namespace {

// A real store in a scratch folder; closing it makes it unusable.
class ScratchStore {
public:
    ScratchStore() {
        dir_ = testing::FreshTestDir("health");
        auto opened = store::sqlite::SqliteStore::Open({(dir_ / "gpuopt.db").string()});
        EXPECT_TRUE(opened.ok());
        store_ = std::move(*opened);
    }
    ~ScratchStore() {
        store_.reset();
        std::filesystem::remove_all(dir_);
    }
    store::Database& operator*() { return *store_; }

private:
    std::filesystem::path dir_;
    std::unique_ptr<store::sqlite::SqliteStore> store_;
};

http::Response CallHealth(store::Database& store) {
    auto config = BuildConfig({}).value();
    http::RateLimiter a, b;
    Services services{
        config, store,   a,  b, PriceCatalog::Builtin(), nullptr, nullptr, {}, nullptr, {}, {}, {}, nullptr, nullptr,
        {},     nullptr, {}, {}};
    auto handler = MakeHealthHandler(services);
    http::Request req{http::bhttp::verb::get, "/api/health", 11};
    http::RequestContext ctx{req, "127.0.0.1", "/api/health", "", {}, {}};
    boost::asio::io_context io;
    auto future = boost::asio::co_spawn(io, handler(ctx), boost::asio::use_future);
    io.run();
    return future.get();
}

TEST(Health, HealthyStoreAnswers200) {
    ScratchStore store;
    auto res = CallHealth(*store);
    EXPECT_EQ(res.result_int(), 200u);
    auto v = boost::json::parse(res.body());
    EXPECT_EQ(v.at("status"), "healthy");
    EXPECT_EQ(v.at("services").at("database"), "healthy");
}

TEST(Health, UnusableStoreAnswers503InTheEnvelope) {
    ScratchStore store;
    (*store).Close();  // what a failed disk looks like to the handler: the store refuses work
    auto res = CallHealth(*store);
    EXPECT_EQ(res.result_int(), 503u);
    auto v = boost::json::parse(res.body());
    EXPECT_EQ(v.at("status"), "error");
    EXPECT_EQ(v.at("code"), "UNAVAILABLE");
    EXPECT_EQ(v.at("services").at("database"), "unhealthy");
}

}  // namespace
}  // namespace gpuopt::api
