// gpuopt-agent against the real server (and, for answers the server never gives, a scripted one):
// nothing is lost or stored twice across a server outage or a kill -9 of the agent, 5xx and 429 are
// retried (Retry-After honoured), 401 stops the agent with its reports kept, and the exit codes.
#include <algorithm>
#include <csignal>
#include <fstream>
#include <sstream>

#include "integration/fixture.hpp"
#include "support/fake_http_server.hpp"

namespace gpuopt::testing {
namespace {

const std::string kFakeNvml = std::string(GPUOPT_FAKES_DIR) + "/nvml-current/libnvidia-ml.so.1";

// An agent on two fake GPUs, sampling every 250 ms and reporting every second.
class AgentUnderTest {
public:
    AgentUnderTest(const std::string& dir, const std::string& server_url, const std::string& key,
                   std::vector<std::string> extra_args = {}, Env extra_env = {})
        : dir_(dir) {
        std::ofstream(dir_ + "/nvml.script")
            << "gpu name=\"NVIDIA A100-SXM4-40GB\" uuid=GPU-agent-0 util=2,3,90 total_mib=40960 used_mib=30000 "
               "procs=4121:29000\n"
               "gpu name=\"NVIDIA A100-SXM4-40GB\" uuid=GPU-agent-1 util=0 total_mib=40960 used_mib=0\n";
        Env env{{"FAKE_NVML_SCRIPT", dir_ + "/nvml.script"},
                {"GPU_OPTIMIZER_SERVER_URL", server_url},
                {"GPU_OPTIMIZER_RETRY_INITIAL", "100ms"},
                {"GPU_OPTIMIZER_RETRY_MAX", "400ms"},
                {"GPU_OPTIMIZER_SHUTDOWN_GRACE", "10s"}};
        if (!key.empty()) env["GPU_OPTIMIZER_API_KEY"] = key;
        for (auto& [k, v] : extra_env) env[k] = v;
        std::vector<std::string> args{"--nvml-library", kFakeNvml,       "--interval", "250ms",       "--window", "1s",
                                      "--spool-dir",    dir_ + "/spool", "--no-cloud", "--log-level", "debug"};
        for (auto& a : extra_args) args.push_back(a);
        process_ = std::make_unique<ChildProcess>(GPUOPT_AGENT_BIN, args, env,
                                                  dir_ + "/agent-" + std::to_string(++runs_) + ".log");
    }
    ChildProcess& process() { return *process_; }
    std::string Log() const { return process_->Log(); }
    // The reports this run wrote to its spool ("report <id> spooled").
    std::vector<std::string> Spooled() const {
        std::vector<std::string> ids;
        std::istringstream log(Log());
        for (std::string line; std::getline(log, line);) {
            const size_t at = line.find(" report ");
            const size_t end = line.find(" spooled", at == std::string::npos ? 0 : at);
            if (at != std::string::npos && end != std::string::npos) ids.push_back(line.substr(at + 8, end - at - 8));
        }
        return ids;
    }
    std::string AgentId() const {
        std::ifstream in(dir_ + "/spool/agent-id");
        std::string id;
        in >> id;
        return id;
    }

private:
    std::string dir_;
    static inline int runs_ = 0;
    std::unique_ptr<ChildProcess> process_;
};

std::vector<std::string> StoredIds(const std::string& db) {
    return QueryColumn(db, "SELECT report_id FROM usage_reports WHERE report_id IS NOT NULL ORDER BY report_id");
}

// Report ids agent:000001 .. agent:N, each exactly once.
std::vector<std::string> Sequence(const std::string& agent, size_t n) {
    std::vector<std::string> out;
    for (size_t i = 1; i <= n; ++i) {
        std::string s = std::to_string(i);
        out.push_back(agent + ":" + std::string(6 - s.size(), '0') + s);
    }
    return out;
}

TEST(Agent, DeliversEveryReportExactlyOnceAcrossAServerOutage) {
    TempDir server_dir, agent_dir;
    const std::string db = StoreLocation(server_dir.path());
    auto server = std::make_unique<ServerProcess>(ServerProcess::Options{server_dir.path(), {}, {}});
    const uint16_t port = server->port();
    auto signup = PostJson(server->Url("/api/signup"), R"({"email":"outage@example.com"})");
    ASSERT_EQ(signup.status, 200);
    const std::string key(signup.Json().at("api_key").as_string());

    AgentUnderTest agent(agent_dir.path(), server->Url(""), key);
    ASSERT_TRUE(WaitFor([&] { return StoredIds(db).size() >= 2; })) << agent.Log();

    ASSERT_EQ(server->Terminate(), 0);
    server.reset();
    const size_t before_outage = agent.Spooled().size();
    // While the server is away the agent keeps sampling and spools what it cannot send.
    ASSERT_TRUE(WaitFor([&] { return agent.Spooled().size() >= before_outage + 3; })) << agent.Log();
    EXPECT_NE(agent.Log().find("not delivered"), std::string::npos);

    server = std::make_unique<ServerProcess>(ServerProcess::Options{server_dir.path(), {}, {}, true, port});
    ASSERT_EQ(server->port(), port);
    ASSERT_TRUE(WaitFor([&] { return StoredIds(db).size() >= before_outage + 4; })) << agent.Log();
    EXPECT_NE(agent.Log().find("server reachable again"), std::string::npos);

    ASSERT_EQ(agent.process().Terminate(), 0) << agent.Log();
    const auto spooled = agent.Spooled();
    EXPECT_EQ(StoredIds(db), Sequence(agent.AgentId(), spooled.size())) << agent.Log();
    EXPECT_EQ(CountRows(db, "SELECT COUNT(*) FROM gpu_windows"), static_cast<int64_t>(2 * spooled.size()));
}

TEST(Agent, AKill9LosesAndDuplicatesNothing) {
    RunningServer server;
    const std::string key = server.Signup("kill9@example.com");
    TempDir agent_dir;
    size_t first_run = 0;
    {
        AgentUnderTest agent(agent_dir.path(), server.Url(""), key);
        ASSERT_TRUE(WaitFor([&] { return StoredIds(server.DbPath()).size() >= 3; })) << agent.Log();
        agent.process().Kill9();
        first_run = agent.Spooled().size();
    }
    AgentUnderTest again(agent_dir.path(), server.Url(""), key);
    ASSERT_TRUE(WaitFor([&] { return StoredIds(server.DbPath()).size() >= first_run + 3; })) << again.Log();
    ASSERT_EQ(again.process().Terminate(), 0) << again.Log();
    // The second run numbers on from the first: one contiguous sequence, every report stored once, up to
    // the last one the agent acknowledged (the kill may have come between spooling a report and logging it).
    std::ifstream cursor(agent_dir.path() + "/spool/cursor");
    size_t acknowledged = 0;
    cursor >> acknowledged;
    EXPECT_GE(acknowledged, first_run + again.Spooled().size());
    EXPECT_EQ(StoredIds(server.DbPath()), Sequence(again.AgentId(), acknowledged)) << again.Log();
}

TEST(Agent, RetriesServerErrorsAndRateLimitsHonouringRetryAfter) {
    std::atomic<int> calls{0};
    FakeHttpServer scripted([&](const FakeRequest&) {
        switch (++calls) {
            case 1:
                return FakeResponse{503, R"({"status":"error","code":"UNAVAILABLE","message":"restarting"})", {}};
            case 2:
                return FakeResponse{500, R"({"status":"error","code":"INTERNAL","message":"oops"})", {}};
            case 3:
                return FakeResponse{
                    429, R"({"status":"error","code":"RATE_LIMITED","message":"slow"})", {{"Retry-After", "1"}}};
            default:
                return FakeResponse{200, R"({"status":"success","gpus_monitored":2})", {}};
        }
    });
    TempDir agent_dir;
    AgentUnderTest agent(agent_dir.path(), scripted.Url(), "gopt_aaaaaaaaaaaaaaaaaaaaaaa", {"--count", "1"});
    ASSERT_EQ(agent.process().Wait(std::chrono::seconds(30)), 0) << agent.Log();
    const auto requests = scripted.Requests();
    ASSERT_EQ(requests.size(), 4u) << agent.Log();
    for (const auto& r : requests) EXPECT_EQ(r.body, requests[0].body);  // the same report, retried
    EXPECT_GE(requests[3].received - requests[2].received, std::chrono::milliseconds(990));
    EXPECT_LT(requests[1].received - requests[0].received, std::chrono::milliseconds(900));  // backoff, not Retry-After
    EXPECT_EQ(agent.Spooled().size(), 1u);
    // Delivered: nothing waits in the spool for the next start.
    EXPECT_EQ(agent.Log().find("wait in"), std::string::npos) << agent.Log();
}

TEST(Agent, StopsWithinItsGracePeriodEvenWhileARequestHangsAndKeepsTheReport) {
    std::atomic<int> calls{0};
    FakeHttpServer black_hole([&](const FakeRequest&) {
        ++calls;
        FakeResponse r;
        r.hang = true;  // accepts the report and never answers (the agent's request timeout is 30 s)
        return r;
    });
    TempDir agent_dir;
    AgentUnderTest agent(agent_dir.path(), black_hole.Url(), "gopt_aaaaaaaaaaaaaaaaaaaaaaa", {},
                         {{"GPU_OPTIMIZER_SHUTDOWN_GRACE", "1s"}});
    ASSERT_TRUE(WaitFor([&] { return calls.load() >= 1; })) << agent.Log();
    // Stopped while the request hangs: the transfer is aborted when the grace period ends, well before the
    // request's own 30 s timeout, and the report stays in the spool.
    const int code = agent.process().Terminate(std::chrono::seconds(15));
    EXPECT_EQ(code, 0) << agent.Log();
    const std::string log = agent.Log();
    EXPECT_NE(log.find("aborting the delivery in progress"), std::string::npos) << log;
    EXPECT_NE(log.find("wait in"), std::string::npos) << log;
    EXPECT_GE(agent.Spooled().size(), 1u);
}

TEST(Agent, AWrongKeyStopsTheAgentAtOnceAndKeepsItsReports) {
    RunningServer server;
    TempDir agent_dir;
    size_t kept = 0;
    {
        AgentUnderTest wrong(agent_dir.path(), server.Url(""), "gopt_ZZZZZZZZZZZZZZZZZZZZZZZ");
        EXPECT_EQ(wrong.process().Wait(std::chrono::seconds(30)), 4) << wrong.Log();
        const std::string log = wrong.Log();
        EXPECT_NE(log.find("refused this agent (401 INVALID_API_KEY"), std::string::npos) << log;
        EXPECT_NE(log.find("check GPU_OPTIMIZER_API_KEY"), std::string::npos) << log;
        EXPECT_EQ(log.find("gopt_ZZZZZZZZZZZZZZZZZZZZZZZ"), std::string::npos) << "the key must never be logged";
        // Not retried: the access log (written in batches) shows one attempt.
        auto attempts = [&] {
            std::ifstream access(server.dir.path() + "/access.log");
            std::string line;
            int n = 0;
            while (std::getline(access, line)) n += line.find("/api/track-usage") != std::string::npos;
            return n;
        };
        ASSERT_TRUE(WaitFor([&] { return attempts() >= 1; }));
        EXPECT_EQ(attempts(), 1);
        kept = wrong.Spooled().size();
        EXPECT_GE(kept, 1u);
    }
    EXPECT_TRUE(StoredIds(server.DbPath()).empty());
    // With the right key, what was kept goes out first.
    const std::string key = server.Signup("wrongkey@example.com");
    AgentUnderTest right(agent_dir.path(), server.Url(""), key, {"--count", "1"});
    ASSERT_EQ(right.process().Wait(std::chrono::seconds(30)), 0) << right.Log();
    EXPECT_EQ(StoredIds(server.DbPath()), Sequence(right.AgentId(), kept + 1));
}

TEST(Agent, ExitCodesSayWhatIsWrong) {
    TempDir dir;
    std::string out;
    EXPECT_EQ(RunProgram(GPUOPT_AGENT_BIN, {"--nvml-library", kFakeNvml, "--spool-dir", dir.path()}, {}, out), 2);
    EXPECT_NE(out.find("GPU_OPTIMIZER_API_KEY is not set"), std::string::npos) << out;

    EXPECT_EQ(RunProgram(GPUOPT_AGENT_BIN, {"--interval", "soon"}, {{"GPU_OPTIMIZER_API_KEY", "gopt_x"}}, out), 2);
    EXPECT_NE(out.find("GPU_OPTIMIZER_INTERVAL"), std::string::npos) << out;

    std::ofstream(dir.path() + "/agent.conf") << "GPU_OPTIMIZER_API_KEY=gopt_x\n";
    EXPECT_EQ(RunProgram(GPUOPT_AGENT_BIN, {"--config", dir.path() + "/agent.conf"}, {}, out), 2);
    EXPECT_NE(out.find("only from the environment"), std::string::npos) << out;

    // No NVML and no nvidia-smi on PATH.
    EXPECT_EQ(RunProgram(GPUOPT_AGENT_BIN, {"--nvml-library", dir.path() + "/libnvidia-ml.so.1", "--once"},
                         {{"PATH", dir.path()}}, out),
              3);
    EXPECT_NE(out.find("no GPU to monitor"), std::string::npos) << out;
}

TEST(Agent, OncePrintsAReportTheServerAccepts) {
    RunningServer server;
    const std::string key = server.Signup("once@example.com");
    TempDir dir;
    std::ofstream(dir.path() + "/nvml.script")
        << "gpu name=\"NVIDIA A100-SXM4-40GB\" util=4 total_mib=40960 used_mib=30000 procs=77:29000\n"
           "gpu name=\"NVIDIA H100 80GB HBM3\" util=97 total_mib=81559 used_mib=70000\n";
    std::string out;
    ASSERT_EQ(RunProgram(GPUOPT_AGENT_BIN, {"--nvml-library", kFakeNvml, "--once", "--no-cloud", "--log-level", "off"},
                         {{"FAKE_NVML_SCRIPT", dir.path() + "/nvml.script"}}, out),
              0)
        << out;
    auto report = boost::json::parse(out).as_object();
    ASSERT_EQ(report.at("gpu_data").as_array().size(), 2u);
    EXPECT_EQ(report.at("agent").at("source"), "nvml");
    // The one sample covers the interval that just ended, never time still to come.
    const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    const std::string end(report.at("window").at("end").as_string());
    const std::string start(report.at("window").at("start").as_string());
    const std::time_t now_t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&now_t, &tm);
    char now_text[32];
    std::strftime(now_text, sizeof now_text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    EXPECT_LE(end, std::string(now_text));
    EXPECT_LT(start, end);
    EXPECT_EQ(report.at("agent").at("driver_version"), "550.54.15");
    EXPECT_DOUBLE_EQ(report.at("gpu_data").at(0).at("cost_per_hour").to_number<double>(),
                     2.744705);                                                                   // A100 40GB default
    EXPECT_DOUBLE_EQ(report.at("gpu_data").at(1).at("cost_per_hour").to_number<double>(), 6.88);  // H100 80GB default
    EXPECT_DOUBLE_EQ(report.at("gpu_data").at(0).at("idle_held_fraction").to_number<double>(), 1);
    auto res = PostJson(server.Url("/api/track-usage"), out, Bearer(key));
    EXPECT_EQ(res.status, 200) << res.body;
    EXPECT_EQ(CountRows(server.DbPath(),
                        "SELECT COUNT(*) FROM gpu_windows WHERE idle_held_fraction = 1 AND sm_clock_mhz = 1410"),
              1);
}

TEST(Agent, FallsBackToNvidiaSmiWhenNvmlCannotLoad) {
    TempDir dir;
    std::ofstream(dir.path() + "/gpus.csv") << "0, GPU-s0, NVIDIA L4, 55, 20, 12000, 23034, 60, 50.5, 72.00, 2040\n";
    std::ofstream(dir.path() + "/apps.csv") << "GPU-s0, 900, python, 11900\n";
    std::string out;
    ASSERT_EQ(
        RunProgram(GPUOPT_AGENT_BIN,
                   {"--nvml-library", dir.path() + "/libnvidia-ml.so.1", "--once", "--no-cloud", "--log-level", "off"},
                   {{"PATH", std::string(GPUOPT_SOURCE_DIR) + "/tests/fakes:/usr/bin:/bin"},
                    {"FAKE_SMI_GPUS", dir.path() + "/gpus.csv"},
                    {"FAKE_SMI_APPS", dir.path() + "/apps.csv"}},
                   out),
        0)
        << out;
    auto report = boost::json::parse(out).as_object();
    EXPECT_EQ(report.at("agent").at("source"), "nvidia-smi");
    EXPECT_EQ(report.at("gpu_data").at(0).at("gpu_name"), "NVIDIA L4");
    EXPECT_EQ(report.at("gpu_data").at(0).at("processes").at(0).at("pid"), 900);
}

// The customer's idle policy carried out end to end: set through the API, handed to the agent with a
// report's answer, and carried out on a real process holding the (fake) GPU, which ignores SIGTERM and is
// killed after the delay; every step reaches the customer's event list.
TEST(Agent, CarriesOutTheCustomersIdlePolicyOnTheProcessHoldingTheGpu) {
    RunningServer server(Env{{"IDLE_ACTION_MIN_MINUTES", "0.01"}, {"RATE_LIMIT_FREE", "0"}});
    const std::string key = server.Signup("policy@example.com");
    std::string out;
    ASSERT_EQ(RunGpuopt({"admin", "set-tier", "--email", "policy@example.com", "--tier", "professional", "--data-dir",
                         server.dir.path()},
                        {}, out),
              0)
        << out;
    ASSERT_TRUE(WaitFor([&] { return Get(server.Url("/api/me"), Bearer(key)).Json().at("tier") == "professional"; }));
    auto put = Send({"PUT",
                     server.Url("/api/me/idle-policy"),
                     R"({"enabled":true,"dry_run":false,"idle_minutes":0.01,"grace_minutes":0,"action":"signal",)"
                     R"("kill_after_seconds":1})",
                     {"Content-Type: application/json", Bearer(key)[0]}});
    ASSERT_EQ(put.status, 200) << put.body;

    TempDir dir;
    // A notebook that holds the GPU's memory, does nothing, and ignores SIGTERM.
    ChildProcess holder("/bin/sh", {"-c", "trap '' TERM; touch " + dir.path() + "/ready; while :; do sleep 0.05; done"},
                        {}, dir.path() + "/holder.log");
    ASSERT_TRUE(WaitFor([&] { return std::ifstream(dir.path() + "/ready").good(); }));
    std::ofstream(dir.path() + "/nvml.script")
        << "gpu name=\"NVIDIA A100-SXM4-40GB\" uuid=GPU-idle util=0 total_mib=40960 used_mib=30000 procs="
        << holder.pid() << ":29000\n";
    ChildProcess agent(GPUOPT_AGENT_BIN,
                       {"--nvml-library", kFakeNvml, "--interval", "100ms", "--window", "1s", "--spool-dir",
                        dir.path() + "/spool", "--no-cloud", "--log-level", "debug"},
                       {{"FAKE_NVML_SCRIPT", dir.path() + "/nvml.script"},
                        {"GPU_OPTIMIZER_SERVER_URL", server.Url("")},
                        {"GPU_OPTIMIZER_API_KEY", key},
                        {"GPU_OPTIMIZER_IDLE_ACTIONS", "signal"}},
                       dir.path() + "/agent.log");
    ASSERT_EQ(holder.Wait(std::chrono::seconds(30)), 128 + SIGKILL) << agent.Log();

    auto events = [&] { return Get(server.Url("/api/me/idle-policy"), Bearer(key)).Json().at("events").as_array(); };
    ASSERT_TRUE(WaitFor([&] { return events().size() >= 3; }, std::chrono::seconds(20))) << agent.Log();
    auto list = events();
    std::reverse(list.begin(), list.end());  // oldest first
    const std::string pid = std::to_string(holder.pid());
    EXPECT_EQ(list[0].at("kind"), "warned");
    EXPECT_EQ(list[0].at("gpu").as_string().ends_with("/GPU-idle"), true);
    EXPECT_EQ(list[1].at("kind"), "acted");
    EXPECT_EQ(list[1].at("action"), "signal");
    EXPECT_EQ(list[1].at("detail").as_string().rfind("SIGTERM sent to " + pid, 0), 0u) << list[1].at("detail");
    EXPECT_EQ(list[1].at("processes").at(0).at("pid").to_number<int64_t>(), holder.pid());
    EXPECT_EQ(list[2].at("kind"), "acted");
    EXPECT_EQ(list[2].at("detail").as_string().rfind("SIGKILL sent to " + pid, 0), 0u) << list[2].at("detail");
    EXPECT_EQ(agent.Terminate(), 0);
}

}  // namespace
}  // namespace gpuopt::testing
