// gpuopt-agent's settings: durations, validation with the setting named, and the key's origin.
#include "agent/agent_config.hpp"

#include <gtest/gtest.h>

namespace gpuopt::agent {
namespace {

using std::chrono::milliseconds;

std::string FailingSetting(const std::map<std::string, std::string>& values,
                           const std::vector<std::string>& from_file = {}) {
    auto c = BuildAgentConfig(values, from_file);
    if (c.ok()) return "(accepted)";
    return c.error().details.begin()->first;
}

TEST(Duration, ReadsUnitsAndPlainSeconds) {
    EXPECT_EQ(ParseDuration("10s"), milliseconds(10000));
    EXPECT_EQ(ParseDuration("500ms"), milliseconds(500));
    EXPECT_EQ(ParseDuration("2m"), milliseconds(120000));
    EXPECT_EQ(ParseDuration("1h"), milliseconds(3600000));
    EXPECT_EQ(ParseDuration("7d"), milliseconds(7 * 86400000LL));
    EXPECT_EQ(ParseDuration("0.25"), milliseconds(250));
    EXPECT_EQ(ParseDuration("60"), milliseconds(60000));
    for (const char* bad : {"", "s", "ten", "-5s", "5 s", "1e999", "5x"})
        EXPECT_FALSE(ParseDuration(bad).has_value()) << bad;
}

TEST(AgentConfig, DefaultsFollowTheSpec) {
    auto c = BuildAgentConfig({}, {});
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->server_url, "http://localhost:5000");
    EXPECT_EQ(c->interval, milliseconds(10000));
    EXPECT_EQ(c->window, milliseconds(60000));
    EXPECT_EQ(c->metadata.budget, milliseconds(300));
    EXPECT_EQ(c->spool_max_age, std::chrono::hours(24 * 7));
    EXPECT_FALSE(c->spool_dir.empty());
}

TEST(AgentConfig, MalformedValuesNameTheirSetting) {
    EXPECT_EQ(FailingSetting({{"GPU_OPTIMIZER_SERVER_URL", "ftp://x"}}), "GPU_OPTIMIZER_SERVER_URL");
    EXPECT_EQ(FailingSetting({{"GPU_OPTIMIZER_INTERVAL", "soon"}}), "GPU_OPTIMIZER_INTERVAL");
    EXPECT_EQ(FailingSetting({{"GPU_OPTIMIZER_INTERVAL", "7s"}}),
              "GPU_OPTIMIZER_WINDOW");  // 60 s is not a multiple of 7 s
    EXPECT_EQ(FailingSetting({{"GPU_OPTIMIZER_WINDOW", "5s"}}), "GPU_OPTIMIZER_WINDOW");  // shorter than the interval
    EXPECT_EQ(FailingSetting({{"GPU_OPTIMIZER_COST_PER_HOUR", "-1"}}), "GPU_OPTIMIZER_COST_PER_HOUR");
    EXPECT_EQ(FailingSetting({{"GPU_OPTIMIZER_COST_PER_HOUR", "NaN"}}), "GPU_OPTIMIZER_COST_PER_HOUR");
    EXPECT_EQ(FailingSetting({{"GPU_OPTIMIZER_SOURCE", "rocm"}}), "GPU_OPTIMIZER_SOURCE");
    EXPECT_EQ(FailingSetting({{"GPU_OPTIMIZER_SOURCE", "simulated"}}), "GPU_OPTIMIZER_SIMULATE");
    EXPECT_EQ(FailingSetting({{"GPU_OPTIMIZER_SPOOL_MAX_MB", "0"}}), "GPU_OPTIMIZER_SPOOL_MAX_MB");
    EXPECT_EQ(FailingSetting({{"GPU_OPTIMIZER_CLOUD_DETECT", "maybe"}}), "GPU_OPTIMIZER_CLOUD_DETECT");
    EXPECT_EQ(FailingSetting({{"GPU_OPTIMIZER_CLOUD_PROVIDER", "aws"}}), "GPU_OPTIMIZER_INSTANCE_TYPE");
    EXPECT_EQ(FailingSetting({{"GPU_OPTIMIZER_METADATA_AWS", "169.254.169.254"}}), "GPU_OPTIMIZER_METADATA_AWS");
    EXPECT_EQ(FailingSetting({{"GPU_OPTIMIZER_RETRY_INITIAL", "10s"}, {"GPU_OPTIMIZER_RETRY_MAX", "1s"}}),
              "GPU_OPTIMIZER_RETRY_MAX");
    EXPECT_EQ(FailingSetting({{"GPU_OPTIMIZER_IDLE_THRESHOLD", "0"}}), "GPU_OPTIMIZER_IDLE_THRESHOLD");
}

TEST(AgentConfig, TheKeyComesOnlyFromTheEnvironmentAndFilesHoldOnlyKnownNames) {
    EXPECT_EQ(FailingSetting({{"GPU_OPTIMIZER_API_KEY", "gopt_x"}}, {"GPU_OPTIMIZER_API_KEY"}),
              "GPU_OPTIMIZER_API_KEY");
    EXPECT_EQ(FailingSetting({{"GPU_OPTIMIZER_INTERVL", "5s"}}, {"GPU_OPTIMIZER_INTERVL"}), "GPU_OPTIMIZER_INTERVL");
    auto ok = BuildAgentConfig({{"GPU_OPTIMIZER_API_KEY", "gopt_x"}, {"GPU_OPTIMIZER_INTERVAL", "5s"}},
                               {"GPU_OPTIMIZER_INTERVAL"});
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(ok->api_key, "gopt_x");
    EXPECT_EQ(ok->interval, milliseconds(5000));
}

TEST(AgentConfig, AScenarioFileSelectsTheSimulatedSource) {
    auto c = BuildAgentConfig({{"GPU_OPTIMIZER_SIMULATE", "scenarios/demo.json"}}, {});
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->source, "simulated");
    EXPECT_FALSE(c->simulate_start.has_value());  // the scenario starts when the agent does
    auto later = BuildAgentConfig(
        {{"GPU_OPTIMIZER_SIMULATE", "scenarios/demo.json"}, {"GPU_OPTIMIZER_SIMULATE_START", "2026-11-24T09:00:00Z"}},
        {});
    ASSERT_TRUE(later.ok());
    ASSERT_TRUE(later->simulate_start.has_value());
    EXPECT_EQ(*later->simulate_start, std::chrono::sys_days{std::chrono::year{2026} / 11 / 24} + std::chrono::hours(9));
    EXPECT_EQ(FailingSetting({{"GPU_OPTIMIZER_SIMULATE", "scenarios/demo.json"},
                              {"GPU_OPTIMIZER_SIMULATE_START", "last tuesday"}}),
              "GPU_OPTIMIZER_SIMULATE_START");
}

}  // namespace
}  // namespace gpuopt::agent
