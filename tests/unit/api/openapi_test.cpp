// docs/openapi.json describes exactly the routes the router serves.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "api/api.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace gpuopt::api {
namespace {

TEST(OpenApi, DescribesEveryRouteAndNoOther) {
    std::ifstream in(std::string(GPUOPT_SOURCE_DIR) + "/docs/openapi.json");
    std::stringstream ss;
    ss << in.rdbuf();
    auto doc = boost::json::parse(ss.str());
    std::set<std::string> documented;
    for (const auto& [path, item] : doc.at("paths").as_object()) {
        for (const auto& [method, op] : item.as_object()) {
            std::string m(method);
            for (auto& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            documented.insert(m + " " + std::string(path));
            EXPECT_TRUE(op.as_object().contains("summary")) << m << " " << path;
            EXPECT_TRUE(op.as_object().contains("responses")) << m << " " << path;
        }
    }
    const auto dir = std::filesystem::temp_directory_path() / ("gpuopt-openapi-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    {
        auto store = store::sqlite::SqliteStore::Open({(dir / "gpuopt.db").string()});
        ASSERT_TRUE(store.ok());
        auto config = BuildConfig({}).value();
        http::RateLimiter a, b;
        Services services{config,  **store, a,       b,       PriceCatalog::Builtin(),
                          nullptr, nullptr, {},      nullptr, {},
                          {},      {},      nullptr, nullptr, {},
                          nullptr, {},      {}};
        http::Router router;
        RegisterRoutes(router, services);
        std::set<std::string> served;
        for (const auto& r : router.routes())
            served.insert(std::string(http::bhttp::to_string(r.method)) + " " + r.pattern);
        EXPECT_EQ(served, documented);
    }
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace gpuopt::api
