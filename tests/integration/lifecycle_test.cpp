// Start-up configuration errors and graceful shutdown.
#include <filesystem>
#include <fstream>
#include <thread>

#include "integration/fixture.hpp"

namespace gpuopt::testing {
namespace {

TEST(Lifecycle, AnInstalledServerFindsItsPagesWhereverItIsStarted) {
    TempDir prefix, elsewhere, data;
    std::string out;
    ASSERT_EQ(RunProgram("/usr/bin/cmake", {"--install", GPUOPT_BUILD_DIR, "--prefix", prefix.path()},
                         {{"PATH", "/usr/bin:/bin"}}, out, "", std::chrono::seconds(120)),
              0)
        << out;
    for (const char* file : {"/bin/gpuopt", "/bin/gpuopt-agent", "/share/gpuopt/web/index.html",
                             "/share/gpuopt/catalog/price_catalog.json", "/lib/systemd/system/gpuopt.service",
                             "/lib/systemd/system/gpuopt-agent.service"}) {
        EXPECT_TRUE(std::filesystem::exists(prefix.path() + file)) << file << "\n" << out;
    }
    std::ifstream unit(prefix.path() + "/lib/systemd/system/gpuopt.service");
    const std::string text((std::istreambuf_iterator<char>(unit)), {});
    EXPECT_NE(text.find("ExecStart=" + prefix.path() + "/bin/gpuopt serve"), std::string::npos) << text;

    // Started from another folder, with no WEB_DIR: the pages come from the installed share/gpuopt/web.
    ChildProcess server(prefix.path() + "/bin/gpuopt",
                        {"serve", "--port", "0", "--port-file", data.path() + "/port", "--data-dir", data.path()},
                        {{"PATH", "/usr/bin:/bin"}}, data.path() + "/server.log", elsewhere.path());
    std::string port;
    ASSERT_TRUE(WaitFor([&] {
        std::ifstream in(data.path() + "/port");
        return static_cast<bool>(in >> port);
    })) << server.Log();
    auto page = Get("http://127.0.0.1:" + port + "/");
    EXPECT_EQ(page.status, 200) << server.Log();
    EXPECT_NE(page.body.find("<html"), std::string::npos);
    EXPECT_NE(server.Log().find("web pages: from " + prefix.path() + "/share/gpuopt/web"), std::string::npos)
        << server.Log();
    EXPECT_EQ(server.Terminate(), 0);
}

TEST(Lifecycle, MalformedSettingStopsStartupNamingIt) {
    TempDir dir;
    std::string out;
    EXPECT_EQ(RunGpuopt({"serve", "--data-dir", dir.path()}, {{"PORT", "eighty"}}, out), 2);
    EXPECT_NE(out.find("PORT"), std::string::npos) << out;
    EXPECT_EQ(RunGpuopt({"serve", "--data-dir", dir.path()}, {{"TRUSTED_PROXIES", "10.0.0.0/33"}}, out), 2);
    EXPECT_NE(out.find("TRUSTED_PROXIES"), std::string::npos) << out;
    EXPECT_EQ(RunGpuopt({"serve", "--data-dir", dir.path()}, {{"ENCRYPTION_KEY", "short"}}, out), 2);
    EXPECT_NE(out.find("ENCRYPTION_KEY"), std::string::npos) << out;
    EXPECT_EQ(out.find("short"), std::string::npos) << "secrets are never echoed: " << out;
}

TEST(Lifecycle, ConfigFileRejectsUnknownNamesAndSecrets) {
    TempDir dir;
    std::string out;
    {
        std::ofstream(dir.path() + "/bad.conf") << "PORTT=5000\n";
        EXPECT_EQ(RunGpuopt({"serve", "--config", dir.path() + "/bad.conf", "--data-dir", dir.path()}, {}, out), 2);
        EXPECT_NE(out.find("PORTT"), std::string::npos) << out;
    }
    {
        std::ofstream(dir.path() + "/secret.conf") << "ADMIN_TOKEN=abcdefghijklmnopqrstuvwxyz\n";
        EXPECT_EQ(RunGpuopt({"serve", "--config", dir.path() + "/secret.conf", "--data-dir", dir.path()}, {}, out), 2);
        EXPECT_NE(out.find("ADMIN_TOKEN"), std::string::npos) << out;
        EXPECT_EQ(out.find("abcdefghijklmnop"), std::string::npos) << out;
    }
}

TEST(Lifecycle, DotEnvIsReadFromTheWorkingDirectory) {
    TempDir dir;
    std::ofstream(dir.path() + "/.env")
        << "# comment\nexport ADMIN_TOKEN=\"dotenv-admin-token-123456\"\nFREE_GPU_LIMIT=7\n";
    ServerProcess s({dir.path(), {}, {}});  // runs in its data dir, where the .env is
    EXPECT_EQ(Get(s.Url("/api/stats"), Bearer("dotenv-admin-token-123456")).status, 200);
    auto key = PostJson(s.Url("/api/signup"), R"({"email":"env@example.com"})").Json().at("api_key");
    EXPECT_EQ(Get(s.Url("/api/me"), Bearer(std::string(key.as_string()))).Json().at("gpu_limit"), 7);
}

TEST(Lifecycle, SigtermFinishesRequestsInFlightAndExitsCleanly) {
    TempDir dir;
    ServerProcess s({dir.path(), {{"RATE_LIMIT_FREE", "0"}, {"FREE_GPU_LIMIT", "1000"}}, {}});
    auto res = PostJson(s.Url("/api/signup"), R"({"email":"term@example.com"})");
    const std::string key(res.Json().at("api_key").as_string());
    std::vector<HttpRequest> requests;
    for (int i = 0; i < 50; ++i) {
        requests.push_back({"POST",
                            s.Url("/api/track-usage"),
                            FullReport("t:" + std::to_string(i), "h", 1),
                            {"Content-Type: application/json", "Authorization: Bearer " + key}});
    }
    std::vector<HttpResponse> responses;
    std::thread sender([&] { responses = SendParallel(requests); });
    // Signal once the first reports have been answered, while the rest are still arriving.
    ASSERT_TRUE(WaitFor([&] {
        std::ifstream in(dir.path() + "/access.log");
        std::string all((std::istreambuf_iterator<char>(in)), {});
        return all.find("/api/track-usage") != std::string::npos;
    }));
    EXPECT_EQ(s.Terminate(), 0);
    sender.join();
    int ok = 0;
    for (const auto& r : responses) {
        // Each request either completed or was never accepted: no half-answered request.
        EXPECT_TRUE(r.status == 200 || r.status == 0) << r.status << " " << r.body;
        ok += r.status == 200;
    }
    EXPECT_EQ(CountRows(StoreLocation(dir.path()), "SELECT COUNT(*) FROM usage_reports"), ok);
    EXPECT_NE(s.Log().find("stopped cleanly"), std::string::npos) << s.Log();
}

}  // namespace
}  // namespace gpuopt::testing
