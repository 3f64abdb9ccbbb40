// Acting on idle GPUs through the real server: the policy a paid customer sets (and a free one cannot),
// handed to the agent with each report's answer with its host's snoozes, and what agents report they did,
// recorded once however often the report is replayed.
#include "common/time.hpp"
#include "integration/fixture.hpp"

namespace gpuopt::testing {
namespace {

HttpResponse Put(const RunningServer& s, const std::string& key, const std::string& body) {
    return Send({"PUT", s.Url("/api/me/idle-policy"), body, {"Content-Type: application/json", Bearer(key)[0]}});
}

void Upgrade(const RunningServer& s, const std::string& email, const std::string& key) {
    std::string out;
    ASSERT_EQ(RunGpuopt({"admin", "set-tier", "--email", email, "--tier", "professional", "--data-dir", s.dir.path()},
                        {}, out),
              0)
        << out;
    ASSERT_TRUE(WaitFor([&] { return Get(s.Url("/api/me"), Bearer(key)).Json().at("tier") == "professional"; }));
}

// A report from `host` with one idle GPU holding memory, and the idle events given.
std::string Report(const std::string& id, const std::string& host, boost::json::array events = {}) {
    const auto end = UtcNow();
    boost::json::object g{{"gpu_index", 0},     {"uuid", "GPU-a"},        {"gpu_name", "NVIDIA A100-SXM4-40GB"},
                          {"gpu_util", 1},      {"mem_used", 30000},      {"mem_total", 40960},
                          {"idle_fraction", 1}, {"idle_held_fraction", 1}};
    boost::json::object body{
        {"agent", {{"id", host}, {"hostname", host}, {"version", "test"}}},
        {"window", {{"start", FormatUtc(end - std::chrono::seconds(60))}, {"end", FormatUtc(end)}}},
        {"gpu_data", boost::json::array{g}}};
    if (!id.empty()) body["report_id"] = id;
    if (!events.empty()) body["idle_events"] = std::move(events);
    return boost::json::serialize(body);
}

boost::json::object Event(const std::string& kind, const std::string& action, std::chrono::sys_seconds at) {
    return {
        {"gpu_index", 0},
        {"uuid", "GPU-a"},
        {"kind", kind},
        {"action", action},
        {"dry_run", false},
        {"at", FormatUtc(at)},
        {"detail", kind == "warned" ? "idle 30 min holding 29000 MiB" : "SIGTERM sent to 4121 (python, alice)"},
        {"processes", boost::json::array{{{"pid", 4121}, {"name", "python"}, {"user", "alice"}, {"used_mem", 29000}}}}};
}

TEST(IdleActions, APaidCustomersPolicyReachesItsAgentsWithTheirHostsSnoozes) {
    RunningServer server(Env{{"IDLE_ACTION_MIN_MINUTES", "5"}, {"RATE_LIMIT_FREE", "0"}});
    const std::string key = server.Signup("idle@example.com");

    // The free plan: the defaults (off, dry run), and no way to turn it on.
    auto free_view = Get(server.Url("/api/me/idle-policy"), Bearer(key));
    ASSERT_EQ(free_view.status, 200) << free_view.body;
    EXPECT_EQ(free_view.Json().at("available_on_plan"), false);
    EXPECT_EQ(free_view.Json().at("policy").at("enabled"), false);
    EXPECT_EQ(free_view.Json().at("policy").at("dry_run"), true);
    EXPECT_EQ(Put(server, key, R"({"enabled":true})").status, 403);
    auto answer = PostJson(server.Url("/api/track-usage"), Report("h1:000001", "h1"), Bearer(key));
    ASSERT_EQ(answer.status, 200) << answer.body;
    EXPECT_FALSE(answer.Json().as_object().contains("idle_policy"));  // none set

    Upgrade(server, "idle@example.com", key);
    // Refused, changing nothing: a misspelt field, too short an idle time, an unknown action.
    for (auto [body, field] : {std::pair{R"({"enabled":true,"dryrun":false})", "dryrun"},
                               {R"({"idle_minutes":1})", "idle_minutes"},
                               {R"({"action":"reboot"})", "action"},
                               {R"({"kill_after_seconds":0})", "kill_after_seconds"},
                               {R"({"enabled":"yes"})", "enabled"}}) {
        auto res = Put(server, key, body);
        EXPECT_EQ(res.status, 400) << body;
        ASSERT_TRUE(res.Json().as_object().contains("details")) << res.body;
        EXPECT_TRUE(res.Json().at("details").as_object().contains(field)) << res.body;
    }
    EXPECT_EQ(Get(server.Url("/api/me/idle-policy"), Bearer(key)).Json().at("policy").at("version"), 0);

    auto set = Put(server, key,
                   R"({"enabled":true,"dry_run":false,"trigger":"idle_holding_memory","idle_minutes":30,)"
                   R"("grace_minutes":10,"action":"signal","kill_after_seconds":15})");
    ASSERT_EQ(set.status, 200) << set.body;
    EXPECT_EQ(set.Json().at("policy").at("version"), 1);
    auto partial = Put(server, key, R"({"grace_minutes":5})");  // the rest stays
    ASSERT_EQ(partial.status, 200) << partial.body;
    EXPECT_EQ(partial.Json().at("policy").at("action"), "signal");
    EXPECT_EQ(partial.Json().at("policy").at("version"), 2);

    // The agent gets it with the answer to its next report.
    answer = PostJson(server.Url("/api/track-usage"), Report("h1:000002", "h1"), Bearer(key));
    ASSERT_EQ(answer.status, 200) << answer.body;
    ASSERT_TRUE(answer.Json().as_object().contains("idle_policy")) << answer.body;
    auto policy = answer.Json().at("idle_policy").as_object();
    EXPECT_EQ(policy.at("enabled"), true);
    EXPECT_EQ(policy.at("dry_run"), false);
    EXPECT_EQ(policy.at("trigger"), "idle_holding_memory");
    EXPECT_EQ(policy.at("idle_minutes").to_number<double>(), 30);
    EXPECT_EQ(policy.at("grace_minutes").to_number<double>(), 5);
    EXPECT_EQ(policy.at("action"), "signal");
    EXPECT_EQ(policy.at("kill_after_seconds"), 15);
    EXPECT_EQ(policy.at("version"), 2);
    EXPECT_TRUE(policy.at("snoozed").as_array().empty());

    // A snooze of the GPU reaches its host's agent, not another host's.
    auto snooze = PostJson(server.Url("/api/me/idle-policy/snooze"), R"({"gpu":"GPU-a","minutes":120})", Bearer(key));
    ASSERT_EQ(snooze.status, 200) << snooze.body;
    EXPECT_EQ(snooze.Json().at("gpu"), "h1/GPU-a");
    EXPECT_EQ(
        PostJson(server.Url("/api/me/idle-policy/snooze"), R"({"gpu":"GPU-zzz","minutes":5})", Bearer(key)).status,
        404);
    EXPECT_EQ(
        PostJson(server.Url("/api/me/idle-policy/snooze"), R"({"gpu":"GPU-a","minutes":20000})", Bearer(key)).status,
        400);
    answer = PostJson(server.Url("/api/track-usage"), Report("h1:000003", "h1"), Bearer(key));
    auto snoozed = answer.Json().at("idle_policy").at("snoozed").as_array();
    ASSERT_EQ(snoozed.size(), 1u) << answer.body;
    EXPECT_EQ(snoozed[0].at("uuid"), "GPU-a");
    answer = PostJson(server.Url("/api/track-usage"), Report("h2:000001", "h2"), Bearer(key));
    EXPECT_TRUE(answer.Json().at("idle_policy").at("snoozed").as_array().empty()) << answer.body;
    EXPECT_EQ(Get(server.Url("/api/me/idle-policy"), Bearer(key)).Json().at("snoozed").as_array().size(), 1u);
}

TEST(IdleActions, WhatAgentsDidIsRecordedOnceAndShown) {
    RunningServer server(Env{{"RATE_LIMIT_FREE", "0"}});
    const std::string key = server.Signup("acted@example.com");
    Upgrade(server, "acted@example.com", key);
    const auto now = UtcNow();
    const std::string report = Report(
        "h1:000007", "h1",
        {Event("warned", "", now - std::chrono::minutes(6)), Event("acted", "signal", now - std::chrono::minutes(1))});
    for (int i = 0; i < 2; ++i) {  // a lost answer: the agent sends the same report again
        auto res = PostJson(server.Url("/api/track-usage"), report, Bearer(key));
        ASSERT_EQ(res.status, 200) << res.body;
        EXPECT_EQ(res.Json().at("duplicate"), i == 1);
    }
    auto view = Get(server.Url("/api/me/idle-policy"), Bearer(key));
    ASSERT_EQ(view.status, 200);
    auto events = view.Json().at("events").as_array();
    ASSERT_EQ(events.size(), 2u) << view.body;
    EXPECT_EQ(events[0].at("kind"), "acted");
    EXPECT_EQ(events[0].at("action"), "signal");
    EXPECT_EQ(events[0].at("gpu"), "h1/GPU-a");
    EXPECT_EQ(events[0].at("dry_run"), false);
    EXPECT_EQ(events[0].at("detail"), "SIGTERM sent to 4121 (python, alice)");
    EXPECT_EQ(events[0].at("processes").at(0).at("user"), "alice");
    EXPECT_EQ(std::string(events[0].at("at").as_string()), FormatUtc(now - std::chrono::minutes(1)));
    EXPECT_EQ(events[1].at("kind"), "warned");

    // Refused, recording nothing: events without a report_id, an unknown kind, a time out of range.
    for (const std::string& bad :
         {Report("", "h1", {Event("acted", "signal", now)}), Report("h1:000008", "h1", {Event("exploded", "", now)}),
          Report("h1:000009", "h1", {Event("acted", "signal", now + std::chrono::hours(2))})}) {
        EXPECT_EQ(PostJson(server.Url("/api/track-usage"), bad, Bearer(key)).status, 400) << bad;
    }
    EXPECT_EQ(Get(server.Url("/api/me/idle-policy"), Bearer(key)).Json().at("events").as_array().size(), 2u);
}

}  // namespace
}  // namespace gpuopt::testing
