#include "common/log.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace gpuopt {
namespace {

TEST(JsonEscape, EscapesWhatJsonRequires) {
    std::string out;
    AppendJsonEscaped(out, "a\"b\\c\nd\x01\x7f");
    EXPECT_EQ(out, R"(a\"b\\c\nd\u0001\u007f)");
}

TEST(JsonEscape, KeepsValidUtf8AndReplacesInvalidBytes) {
    std::string out;
    AppendJsonEscaped(out, "caf\xc3\xa9 \xff \xe2\x82");
    EXPECT_EQ(out, "caf\xc3\xa9 \\ufffd \\ufffd\\ufffd");
    boost::json::parse("\"" + out + "\"");  // and the result is valid JSON
}

TEST(AccessLog, WritesEveryLineFromManyThreads) {
    const auto path = std::filesystem::temp_directory_path() / ("gpuopt-access-" + std::to_string(::getpid()) + ".log");
    std::filesystem::remove(path);
    {
        auto log = AccessLog::Open(path.string());
        ASSERT_TRUE(log.ok());
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < 1000; ++i) (*log)->Write(R"({"t":)" + std::to_string(t) + "}");
            });
        }
        for (auto& th : threads) th.join();
        (*log)->Flush();
        std::ifstream in(path);
        std::string line;
        int n = 0;
        while (std::getline(in, line)) {
            EXPECT_EQ(line.size(), 7u) << line;
            ++n;
        }
        EXPECT_EQ(n, 4000);
    }
    std::filesystem::remove(path);
}

TEST(AccessLog, OffWritesNothing) {
    auto log = AccessLog::Open("off");
    ASSERT_TRUE(log.ok());
    EXPECT_FALSE((*log)->enabled());
    (*log)->Write("{}");
    (*log)->Flush();
}

TEST(AccessLog, UnwritablePathIsAConfigurationError) {
    auto log = AccessLog::Open("/nonexistent-dir/access.log");
    ASSERT_FALSE(log.ok());
    EXPECT_EQ(log.error().details.begin()->first, "ACCESS_LOG");
}

}  // namespace
}  // namespace gpuopt
