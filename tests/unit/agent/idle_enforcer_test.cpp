// The idle policy carried out on a host, against real child processes standing for the programs that
// hold a GPU: warnings, the grace period, snoozes, dry run, signal (SIGTERM, then SIGKILL for one that
// ignores it), the host's own command, and what the host's operator does not allow.
#include "agent/idle_enforcer.hpp"

#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/test_dir.hpp"

extern char** environ;

namespace gpuopt::agent {
namespace {

using namespace std::chrono;

const system_clock::time_point kT0 = system_clock::time_point(seconds(1795600000));

// A child process: `script` run by /bin/sh.
pid_t Spawn(const std::string& script) {
    std::string sh = "/bin/sh";
    std::string c = "-c";
    std::string body = script;
    char* argv[] = {sh.data(), c.data(), body.data(), nullptr};
    pid_t pid = 0;
    EXPECT_EQ(posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv, environ), 0);
    return pid;
}

// Waits up to 10 s for the child to end; its wait status, or -1 when it still runs.
int WaitEnd(pid_t pid) {
    for (int i = 0; i < 1000; ++i) {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) return status;
        usleep(10000);
    }
    return -1;
}

bool Running(pid_t pid) {
    int status = 0;
    return waitpid(pid, &status, WNOHANG) == 0;
}

// The child is ready once its shell has set its traps; until then it would die of SIGTERM at once.
void WaitReady(const std::filesystem::path& marker) {
    for (int i = 0; i < 500 && !std::filesystem::exists(marker); ++i) usleep(10000);
    ASSERT_TRUE(std::filesystem::exists(marker));
}

SampleSet Idle(pid_t holder, double util = 0, double held_mib = 29000) {
    GpuSample s;
    s.index = 0;
    s.uuid = "GPU-held";
    s.name = "NVIDIA A100-SXM4-40GB";
    s.util_gpu = util;
    s.mem_used_mib = held_mib + 300;
    s.mem_total_mib = 40960;
    GpuProcess p;
    p.pid = static_cast<uint32_t>(holder);
    p.name = "python";
    p.used_mib = held_mib;
    s.processes = std::vector<GpuProcess>{p};
    return SampleSet{{s}, {}};
}

IdleActionPolicy Policy(HostAction action, bool dry_run) {
    IdleActionPolicy p;
    p.version = 3;
    p.enabled = true;
    p.dry_run = dry_run;
    p.holding_memory_only = true;
    p.idle_for = minutes(30);
    p.grace = minutes(10);
    p.action = action;
    p.kill_after = seconds(20);
    return p;
}

HostActionRules Allow(std::set<HostAction> allowed, std::string command = "") {
    HostActionRules r;
    r.allowed = std::move(allowed);
    r.exec_command = std::move(command);
    return r;
}

std::vector<std::string> Kinds(const std::vector<IdleActionEvent>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e.kind);
    return out;
}

class IdleEnforcerTest : public ::testing::Test {
protected:
    void SetUp() override { dir_ = testing::FreshTestDir("idle-enforcer"); }
    void TearDown() override {
        for (pid_t pid : children_) {
            ::kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
        std::filesystem::remove_all(dir_);
    }
    // A holder that ignores SIGTERM when `stubborn`, ready when this returns.
    pid_t Holder(bool stubborn) {
        const auto marker = dir_ / ("ready-" + std::to_string(children_.size()));
        const pid_t pid = Spawn(std::string(stubborn ? "trap '' TERM; " : "") + "touch " + marker.string() +
                                "; while :; do sleep 0.05; done");
        children_.push_back(pid);
        WaitReady(marker);
        return pid;
    }
    void Forget(pid_t pid) { std::erase(children_, pid); }

    std::filesystem::path dir_;
    std::vector<pid_t> children_;
};

TEST_F(IdleEnforcerTest, WarnsAfterTheIdleTimeActsAfterTheGraceAndKillsWhatIgnoresSigterm) {
    const pid_t holder = Holder(/*stubborn=*/true);
    IdleEnforcer enforcer(WindowRules{}, Allow({HostAction::kNotify, HostAction::kSignal}));
    enforcer.SetPolicy(Policy(HostAction::kSignal, false));
    enforcer.Observe(Idle(holder), kT0);
    enforcer.Observe(Idle(holder), kT0 + minutes(29));
    EXPECT_TRUE(enforcer.Take().empty());  // not idle long enough yet
    enforcer.Observe(Idle(holder), kT0 + minutes(30));
    auto warned = enforcer.Take();
    ASSERT_EQ(Kinds(warned), std::vector<std::string>{"warned"});
    EXPECT_EQ(warned[0].uuid, "GPU-held");
    EXPECT_EQ(warned[0].detail, "idle for 30 min holding 29000 MiB; signal in 10 min unless snoozed");
    ASSERT_EQ(warned[0].processes.size(), 1u);
    EXPECT_EQ(warned[0].processes[0].pid, static_cast<uint32_t>(holder));
    enforcer.Observe(Idle(holder), kT0 + minutes(39));
    EXPECT_TRUE(enforcer.Take().empty());  // the grace period runs
    enforcer.Observe(Idle(holder), kT0 + minutes(40));
    auto acted = enforcer.Take();
    ASSERT_EQ(Kinds(acted), std::vector<std::string>{"acted"});
    EXPECT_EQ(acted[0].action, "signal");
    EXPECT_FALSE(acted[0].dry_run);
    EXPECT_EQ(acted[0].detail,
              "SIGTERM sent to " + std::to_string(holder) + " (python); SIGKILL after 20 s if still running");
    usleep(100000);
    EXPECT_TRUE(Running(holder));  // it ignores SIGTERM
    enforcer.Observe(Idle(holder), kT0 + minutes(40) + seconds(20));
    auto killed = enforcer.Take();
    ASSERT_EQ(Kinds(killed), std::vector<std::string>{"acted"});
    EXPECT_EQ(killed[0].detail, "SIGKILL sent to " + std::to_string(holder) + " (python): still running after SIGTERM");
    const int status = WaitEnd(holder);
    ASSERT_NE(status, -1);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    Forget(holder);
    // Once acted on, the GPU is left alone while it stays idle.
    enforcer.Observe(Idle(holder), kT0 + minutes(50));
    EXPECT_TRUE(enforcer.Take().empty());
}

TEST_F(IdleEnforcerTest, AProcessThatStopsOnSigtermIsNotKilled) {
    const pid_t holder = Holder(/*stubborn=*/false);
    IdleEnforcer enforcer(WindowRules{}, Allow({HostAction::kNotify, HostAction::kSignal}));
    auto policy = Policy(HostAction::kSignal, false);
    policy.idle_for = milliseconds(0);
    policy.grace = milliseconds(0);
    enforcer.SetPolicy(policy);
    enforcer.Observe(Idle(holder), kT0);
    EXPECT_EQ(Kinds(enforcer.Take()), (std::vector<std::string>{"warned", "acted"}));
    const int status = WaitEnd(holder);
    ASSERT_NE(status, -1);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    Forget(holder);
    enforcer.Observe(Idle(holder), kT0 + minutes(1));
    EXPECT_TRUE(enforcer.Take().empty());  // gone: no SIGKILL, nothing to say
}

TEST_F(IdleEnforcerTest, DryRunSaysWhatItWouldDoAndTheProcessLives) {
    const pid_t holder = Holder(false);
    IdleEnforcer enforcer(WindowRules{}, Allow({HostAction::kNotify, HostAction::kSignal}));
    auto policy = Policy(HostAction::kSignal, true);
    policy.grace = milliseconds(0);
    enforcer.SetPolicy(policy);
    enforcer.Observe(Idle(holder), kT0);
    enforcer.Observe(Idle(holder), kT0 + minutes(30));
    auto events = enforcer.Take();
    ASSERT_EQ(Kinds(events), (std::vector<std::string>{"warned", "would_act"}));
    EXPECT_TRUE(events[1].dry_run);
    EXPECT_EQ(events[1].detail,
              "would send SIGTERM to " + std::to_string(holder) + " (python), then SIGKILL after 20 s");
    usleep(100000);
    EXPECT_TRUE(Running(holder));
}

TEST_F(IdleEnforcerTest, ASnoozeHoldsTheActionAndBusyAgainClearsTheWarning) {
    const pid_t holder = Holder(false);
    IdleEnforcer enforcer(WindowRules{}, Allow({HostAction::kNotify, HostAction::kSignal}));
    auto policy = Policy(HostAction::kSignal, false);
    enforcer.SetPolicy(policy);
    enforcer.Observe(Idle(holder), kT0);
    enforcer.Observe(Idle(holder), kT0 + minutes(30));
    EXPECT_EQ(Kinds(enforcer.Take()), std::vector<std::string>{"warned"});
    // The customer snoozes it for an hour: no action in that hour.
    policy.snoozed["GPU-held"] = kT0 + minutes(95);
    enforcer.SetPolicy(policy);
    enforcer.Observe(Idle(holder), kT0 + minutes(35));
    enforcer.Observe(Idle(holder), kT0 + minutes(90));
    auto snoozed = enforcer.Take();
    ASSERT_EQ(Kinds(snoozed), std::vector<std::string>{"snoozed"});
    EXPECT_NE(snoozed[0].detail.find("snoozed until"), std::string::npos);
    EXPECT_TRUE(Running(holder));
    // After it, a new warning and a new grace period.
    enforcer.Observe(Idle(holder), kT0 + minutes(96));
    EXPECT_EQ(Kinds(enforcer.Take()), std::vector<std::string>{"warned"});
    // Busy again before the action: the warning is cleared, nothing done.
    enforcer.Observe(Idle(holder, /*util=*/80), kT0 + minutes(100));
    EXPECT_EQ(Kinds(enforcer.Take()), std::vector<std::string>{"cleared"});
    enforcer.Observe(Idle(holder), kT0 + minutes(110));
    EXPECT_TRUE(enforcer.Take().empty());  // idle afresh from here
    EXPECT_TRUE(Running(holder));
}

TEST_F(IdleEnforcerTest, OnlyIdleWhileHoldingMemoryCountsWhenThePolicySaysSo) {
    IdleEnforcer enforcer(WindowRules{}, Allow({HostAction::kNotify}));
    auto policy = Policy(HostAction::kNotify, false);
    policy.idle_for = milliseconds(0);
    policy.grace = milliseconds(0);
    enforcer.SetPolicy(policy);
    enforcer.Observe(Idle(999999, 0, /*held_mib=*/50), kT0);  // idle, holding nothing worth a warning
    EXPECT_TRUE(enforcer.Take().empty());
    policy.holding_memory_only = false;
    enforcer.SetPolicy(policy);
    enforcer.Observe(Idle(999999, 0, 50), kT0 + seconds(10));
    auto events = enforcer.Take();
    ASSERT_EQ(Kinds(events), (std::vector<std::string>{"warned", "acted"}));
    EXPECT_EQ(events[1].detail, "notified; nothing is done on the host");
    // Turned off: nothing more, and turned on again, the idle time starts afresh.
    policy.enabled = false;
    enforcer.SetPolicy(policy);
    enforcer.Observe(Idle(999999, 0, 50), kT0 + seconds(20));
    EXPECT_TRUE(enforcer.Take().empty());
}

TEST_F(IdleEnforcerTest, WhatTheHostDoesNotAllowFailsAndIsNotDone) {
    const pid_t holder = Holder(false);
    IdleEnforcer enforcer(WindowRules{}, Allow({HostAction::kNotify}));  // the operator allowed no signal
    auto policy = Policy(HostAction::kSignal, false);
    policy.idle_for = milliseconds(0);
    policy.grace = milliseconds(0);
    enforcer.SetPolicy(policy);
    enforcer.Observe(Idle(holder), kT0);
    auto events = enforcer.Take();
    ASSERT_EQ(Kinds(events), (std::vector<std::string>{"warned", "failed"}));
    EXPECT_EQ(events[1].detail, "this host does not allow signal (its operator sets GPU_OPTIMIZER_IDLE_ACTIONS)");
    usleep(100000);
    EXPECT_TRUE(Running(holder));
    // exec allowed but no command written on the host: failed too.
    IdleEnforcer no_command(WindowRules{}, Allow({HostAction::kNotify, HostAction::kExec}));
    policy.action = HostAction::kExec;
    no_command.SetPolicy(policy);
    no_command.Observe(Idle(holder), kT0);
    events = no_command.Take();
    ASSERT_EQ(Kinds(events), (std::vector<std::string>{"warned", "failed"}));
    EXPECT_EQ(events[1].detail, "no command is configured on this host (GPU_OPTIMIZER_IDLE_EXEC)");
}

TEST_F(IdleEnforcerTest, ExecRunsTheHostsCommandWithTheGpuAndWithoutTheAgentsSecrets) {
    setenv("GPU_OPTIMIZER_API_KEY", "gopt_secret_never_shown", 1);
    const auto out = dir_ / "ran";
    IdleEnforcer enforcer(WindowRules{},
                          Allow({HostAction::kNotify, HostAction::kExec},
                                "echo \"$GPUOPT_GPU_UUID $GPUOPT_PIDS key=$GPU_OPTIMIZER_API_KEY\" > " + out.string()));
    auto policy = Policy(HostAction::kExec, false);
    policy.idle_for = milliseconds(0);
    policy.grace = milliseconds(0);
    enforcer.SetPolicy(policy);
    enforcer.Observe(Idle(4242), kT0);
    auto events = enforcer.Take();
    ASSERT_EQ(Kinds(events), (std::vector<std::string>{"warned", "acted"}));
    EXPECT_EQ(events[1].detail.rfind("ran the host's command (pid ", 0), 0u) << events[1].detail;
    // Its end is reported with a later sample.
    std::vector<IdleActionEvent> done;
    for (int i = 0; i < 500 && done.empty(); ++i) {
        usleep(10000);
        enforcer.Observe(Idle(4242), kT0 + seconds(i + 1));
        done = enforcer.Take();
    }
    ASSERT_EQ(Kinds(done), std::vector<std::string>{"acted"});
    EXPECT_EQ(done[0].detail, "the host's command exited with 0");
    std::ifstream in(out);
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "GPU-held 4242 key=");
    unsetenv("GPU_OPTIMIZER_API_KEY");
}

TEST(IdlePolicyFromServer, ParsesTheAnswersPolicyAndRefusesAMalformedOne) {
    auto o = boost::json::parse(R"({"enabled":true,"dry_run":false,"trigger":"idle","idle_minutes":0.5,
        "grace_minutes":2,"action":"exec","kill_after_seconds":15,"version":7,
        "snoozed":[{"uuid":"GPU-a","until":"2026-11-25T10:00:00Z"}]})")
                 .as_object();
    auto p = ParseIdleActionPolicy(o);
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_TRUE(p->enabled);
    EXPECT_FALSE(p->dry_run);
    EXPECT_FALSE(p->holding_memory_only);
    EXPECT_EQ(p->idle_for, milliseconds(30000));
    EXPECT_EQ(p->grace, minutes(2));
    EXPECT_EQ(p->action, HostAction::kExec);
    EXPECT_EQ(p->kill_after, seconds(15));
    EXPECT_EQ(p->version, 7);
    ASSERT_EQ(p->snoozed.size(), 1u);
    EXPECT_EQ(p->snoozed.at("GPU-a"), system_clock::time_point(sys_days{2026y / 11 / 25} + hours(10)));
    for (const char* field : {"enabled", "trigger", "action", "idle_minutes", "kill_after_seconds"}) {
        auto bad = o;
        bad[field] = "nonsense";
        EXPECT_FALSE(ParseIdleActionPolicy(bad).ok()) << field;
    }
}

}  // namespace
}  // namespace gpuopt::agent
