// Shared helpers for the integration suites: a running server in a fresh data dir, and report builders.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "support/db_snapshot.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"

namespace gpuopt::testing {

using Env = std::map<std::string, std::string>;

inline constexpr const char* kAdminToken = "test-admin-token-0123456789";

// Signs up at `signup_url` and returns the new key (fails the test if it cannot).
inline std::string SignupAt(const std::string& signup_url, const std::string& email) {
    auto res = PostJson(signup_url, "{\"email\":\"" + email + "\"}");
    EXPECT_EQ(res.status, 200) << res.body;
    auto v = res.Json();
    if (!v.is_object() || !v.as_object().contains("api_key")) return {};
    return std::string(v.at("api_key").as_string());
}

struct RunningServer {
    explicit RunningServer(std::map<std::string, std::string> env = {}, std::vector<std::string> args = {}) {
        env.emplace("ADMIN_TOKEN", kAdminToken);
        // Suites that send many bad keys on purpose (hostile tables) would block their own address; the
        // blocking itself is tested with the default limit in abuse_test.cpp.
        env.emplace("AUTH_FAILURE_LIMIT", "0");
        server = std::make_unique<ServerProcess>(ServerProcess::Options{dir.path(), std::move(env), std::move(args)});
    }
    std::string Url(const std::string& path) const { return server->Url(path); }
    // Its database (support/db_snapshot.hpp): the SQLite file, or its PostgreSQL database.
    std::string DbPath() const { return StoreLocation(dir.path()); }

    // Signs up and returns the new key (fails the test if it cannot).
    std::string Signup(const std::string& email) const { return SignupAt(Url("/api/signup"), email); }

    TempDir dir;
    std::unique_ptr<ServerProcess> server;
};

// The cookie pair ("gpuopt_session=...") of a Set-Cookie header.
inline std::string CookiePair(const std::string& set_cookie) { return set_cookie.substr(0, set_cookie.find(';')); }

// A request to the server with `headers`, and a JSON Content-Type when it has a body.
inline HttpResponse Call(const RunningServer& s, const std::string& method, const std::string& path,
                         const std::string& body, std::vector<std::string> headers) {
    if (!body.empty()) headers.emplace_back("Content-Type: application/json");
    return Send({method, s.Url(path), body, std::move(headers)});
}

// Everything the store holds, as bytes: the SQLite file and its WAL read directly, or every row of the
// PostgreSQL database as text. For checking that a value is not stored in clear.
inline std::string StoredBytes(const RunningServer& s) {
    if (TestOnPostgres()) return DatabaseSnapshot(s.DbPath());
    std::string out;
    for (const std::string& path : {s.DbPath(), s.DbPath() + "-wal"}) {
        std::ifstream in(path, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        out += ss.str();
    }
    return out;
}

// A fixed ENCRYPTION_KEY for the suites (the Fernet spec's example key).
inline constexpr const char* kEncryptionKey = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";

// One GPU entry of a report.
inline boost::json::object Gpu(int index, double util, double mem_used = 1000, double mem_total = 40960,
                               const std::string& uuid = "") {
    boost::json::object g{{"gpu_index", index},     {"gpu_name", "NVIDIA A100-SXM4-40GB"},
                          {"gpu_util", util},       {"mem_used", mem_used},
                          {"mem_total", mem_total}, {"cost_per_hour", 2.74}};
    if (!uuid.empty()) g["uuid"] = uuid;
    return g;
}

// A full SPEC §5 report with `gpus` GPUs on `host`, window ending now.
inline std::string FullReport(const std::string& report_id, const std::string& host, int gpus, double util = 3.5) {
    boost::json::array data;
    for (int i = 0; i < gpus; ++i) {
        auto g = Gpu(i, util, 1200, 40960, "GPU-" + host + "-" + std::to_string(i));
        g["util_max"] = util + 1;
        g["idle_fraction"] = util < 15 ? 1.0 : 0.0;
        g["temperature"] = 34;
        g["power_w"] = 55.1;
        g["power_limit_w"] = 400;
        g["processes"] = boost::json::array{boost::json::object{{"pid", 4121}, {"name", "python"}, {"used_mem", 1100}}};
        data.push_back(std::move(g));
    }
    const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    auto fmt = [](std::chrono::sys_seconds t) {
        auto tt = std::chrono::system_clock::to_time_t(t);
        char buf[32];
        std::tm tm{};
        gmtime_r(&tt, &tm);  // thread-safe: reports are built on many threads
        std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
        return std::string(buf);
    };
    boost::json::object body{
        {"report_id", report_id},
        {"agent",
         {{"id", host},
          {"hostname", host},
          {"version", "1.0.0"},
          {"cloud", {{"provider", "aws"}, {"instance_type", "p4d.24xlarge"}, {"region", "us-east-1"}}}}},
        {"window", {{"start", fmt(now - std::chrono::seconds(60))}, {"end", fmt(now)}, {"samples", 6}}},
        {"gpu_data", std::move(data)}};
    return boost::json::serialize(body);
}

inline std::vector<std::string> Bearer(const std::string& key) { return {"Authorization: Bearer " + key}; }

}  // namespace gpuopt::testing
