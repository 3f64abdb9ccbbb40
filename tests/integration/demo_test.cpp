// make demo's first minute, with the real programs: gpuopt-demo back-fills a week of scenarios/demo.json,
// the server starts on it with its default job intervals, and within a minute the savings plan shows a
// realized saving and the idle GPUs have alerted (by email, into the outbox folder); a live agent started
// from the same scenario time zero carries on where the back-fill stopped (the T4 stays switched off).
#include "integration/fixture.hpp"

namespace gpuopt::testing {
namespace {

using namespace std::chrono;

const std::string kScenario = std::string(GPUOPT_SOURCE_DIR) + "/scenarios/demo.json";

std::string Field(const std::string& out, const std::string& name) {
    const size_t at = out.find(name + "=");
    if (at == std::string::npos) return "";
    const size_t end = out.find('\n', at);
    return out.substr(at + name.size() + 1, end == std::string::npos ? std::string::npos : end - at - name.size() - 1);
}

size_t ReportedGpus(const std::vector<std::string>& extra) {
    std::vector<std::string> args{"--simulate", kScenario, "--simulate-host", "inference-3", "--once"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string out;
    EXPECT_EQ(RunProgram(GPUOPT_AGENT_BIN, args, {{"GPU_OPTIMIZER_LOG_LEVEL", "warn"}}, out), 0) << out;
    const size_t json = out.find('{');
    if (json == std::string::npos) {
        ADD_FAILURE() << "no report: " << out;
        return 0;
    }
    boost::system::error_code ec;
    auto report = boost::json::parse(out.substr(json), ec);
    if (ec || !report.is_object() || !report.as_object().contains("gpu_data")) {
        ADD_FAILURE() << "not a report: " << out;
        return 0;
    }
    return report.at("gpu_data").as_array().size();
}

TEST(Demo, AWeekBackFilledShowsARealizedSavingAndIdleAlertsWithinAMinute) {
    TempDir dir;
    std::string out;
    ASSERT_EQ(
        RunProgram(GPUOPT_DEMO_BIN, {"backfill", "--scenario", kScenario, "--days", "7", "--data-dir", dir.path()},
                   {{"LOG_LEVEL", "warn"}}, out, "", seconds(600)),
        0)
        << out;
    const std::string key = Field(out, "api_key");
    const std::string start = Field(out, "start");
    ASSERT_FALSE(key.empty()) << out;
    ASSERT_FALSE(start.empty()) << out;
    EXPECT_EQ(Field(out, "realized"), "1") << out;

    // The job intervals are the defaults `make demo` runs with; only the plan's request limit is lifted, for
    // the polling below.
    ServerProcess server(
        ServerProcess::Options{dir.path(), {{"ADMIN_TOKEN", kAdminToken}, {"RATE_LIMIT_PROFESSIONAL", "0"}}, {}});
    const auto started = steady_clock::now();
    auto plan = Get(server.Url("/api/recommendations?range=7d"), Bearer(key));
    ASSERT_EQ(plan.status, 200) << plan.body;
    EXPECT_GT(plan.Json().at("total_realized_monthly").to_number<double>(), 0) << plan.body;
    EXPECT_FALSE(plan.Json().at("recommendations").as_array().empty());
    // The H100 whose small kernel keeps utilization at 97 % is right-sized by its SM activity (about 19 %).
    const boost::json::value plan_json = plan.Json();
    const boost::json::object* by_sm = nullptr;
    for (const auto& r : plan_json.at("recommendations").as_array()) {
        const auto& o = r.as_object();
        if (o.at("type") == "right_size" && o.at("evidence").as_object().contains("sm_active_p95")) by_sm = &o;
    }
    ASSERT_NE(by_sm, nullptr) << plan.body;
    EXPECT_EQ(by_sm->at("host"), "research-2");
    EXPECT_NEAR(by_sm->at("evidence").at("sm_active_p95").at("value").to_number<double>(), 19.4, 0.5);
    EXPECT_GT(by_sm->at("evidence").at("util_p95").at("value").to_number<double>(), 95);
    auto savings = Get(server.Url("/api/savings?range=7d"), Bearer(key)).Json();
    EXPECT_GT(savings.at("fleet").at("idle_cost").to_number<double>(), 0) << boost::json::serialize(savings);

    // The alert job runs every 30 s by default: the idle GPUs alert within its first runs.
    boost::json::value alerts;
    ASSERT_TRUE(WaitFor(
        [&] {
            alerts = Get(server.Url("/api/me/alerts"), Bearer(key)).Json();
            return alerts.is_object() && alerts.as_object().contains("alerts") &&
                   !alerts.at("alerts").as_array().empty();
        },
        seconds(60)))
        << boost::json::serialize(alerts) << server.Log();
    EXPECT_LT(steady_clock::now() - started, seconds(60));
    EXPECT_EQ(alerts.at("email"), true);

    // The live agents replay the same scenario from the back-fill's time zero: the T4 stays switched off.
    EXPECT_EQ(ReportedGpus({"--simulate-start", start}), 2u);
    EXPECT_EQ(ReportedGpus({}), 3u);  // from now on, as a fresh replay: all three
}

}  // namespace
}  // namespace gpuopt::testing
