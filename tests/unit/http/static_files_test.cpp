#include "http/static_files.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace gpuopt::http {
namespace {

class StaticFilesTest : public ::testing::Test {
protected:
    void SetUp() override {
        base_ = std::filesystem::temp_directory_path() / ("gpuopt-static-" + std::to_string(::getpid()));
        std::filesystem::create_directories(base_ / "web/css");
        std::ofstream(base_ / "web/index.html") << "<h1>home</h1>";
        std::ofstream(base_ / "web/css/app.css") << "body{}";
        std::ofstream(base_ / "web/.secret") << "hidden";
        std::ofstream(base_ / "outside.txt") << "private";
        std::filesystem::create_symlink(base_ / "outside.txt", base_ / "web/link.txt");
    }
    void TearDown() override { std::filesystem::remove_all(base_); }
    std::filesystem::path base_;
};

TEST_F(StaticFilesTest, ServesFilesWithTheirTypes) {
    StaticFiles files(base_ / "web");
    auto index = files.Serve("/", 11);
    ASSERT_TRUE(index);
    EXPECT_EQ(index->body(), "<h1>home</h1>");
    EXPECT_EQ((*index)[bhttp::field::content_type], "text/html; charset=utf-8");
    auto css = files.Serve("/css/app.css", 11);
    ASSERT_TRUE(css);
    EXPECT_EQ((*css)[bhttp::field::content_type], "text/css; charset=utf-8");
    EXPECT_TRUE(files.Serve("/css/", 11) == std::nullopt);  // a folder without index.html
}

TEST_F(StaticFilesTest, RefusesEverythingThatLeavesTheFolder) {
    StaticFiles files(base_ / "web");
    for (const char* bad : {"/../outside.txt", "/css/../../outside.txt", "/%2e%2e/outside.txt", "/%2E%2E%2Foutside.txt",
                            "/..%2foutside.txt", "/..\\outside.txt", "/.secret", "/css/./app.css", "/link.txt",
                            "/index.html%00.css", "/%zz", "/%", "//etc/passwd", "/missing.html"}) {
        EXPECT_FALSE(files.Serve(bad, 11).has_value()) << bad;
    }
}

TEST(MimeTypes, KnowsTheWebTypes) {
    EXPECT_EQ(MimeTypeFor(".js"), "text/javascript; charset=utf-8");
    EXPECT_EQ(MimeTypeFor(".svg"), "image/svg+xml");
    EXPECT_EQ(MimeTypeFor(".png"), "image/png");
    EXPECT_EQ(MimeTypeFor(".json"), "application/json");
    EXPECT_EQ(MimeTypeFor(".exe"), "application/octet-stream");
}

}  // namespace
}  // namespace gpuopt::http
