#include "agent/idle_enforcer.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "agent/report.hpp"
#include "common/time.hpp"

extern char** environ;

namespace gpuopt::agent {

namespace {

const char* NameOf(HostAction a) {
    switch (a) {
        case HostAction::kNotify:
            return "notify";
        case HostAction::kSignal:
            return "signal";
        case HostAction::kExec:
            return "exec";
    }
    return "notify";
}

std::string Minutes(std::chrono::milliseconds d) {
    char text[32];
    std::snprintf(text, sizeof text, "%g min", static_cast<double>(d.count()) / 60000.0);
    return text;
}

// "4121 (python, alice)"
std::string Describe(const GpuProcess& p) {
    std::string out = std::to_string(p.pid);
    std::string who = p.name;
    if (!p.user.empty()) who += (who.empty() ? "" : ", ") + p.user;
    if (!p.container.empty()) who += (who.empty() ? "container " : ", container ") + p.container;
    if (!who.empty()) out += " (" + who + ")";
    return out;
}

std::string Join(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
    return out;
}

}  // namespace

Result<IdleActionPolicy> ParseIdleActionPolicy(const boost::json::object& o) {
    IdleActionPolicy p;
    auto number = [&](const char* key, double lo, double hi) -> Result<double> {
        const auto* v = o.if_contains(key);
        if (v == nullptr || !v->is_number()) return Error::Validation(key, "must be a number");
        const double d = v->to_number<double>();
        if (!(d >= lo && d <= hi)) return Error::Validation(key, "is out of range");
        return d;
    };
    auto flag = [&](const char* key) -> Result<bool> {
        const auto* v = o.if_contains(key);
        if (v == nullptr || !v->is_bool()) return Error::Validation(key, "must be true or false");
        return v->get_bool();
    };
    auto enabled = flag("enabled");
    if (!enabled) return enabled.error();
    p.enabled = *enabled;
    auto dry_run = flag("dry_run");
    if (!dry_run) return dry_run.error();
    p.dry_run = *dry_run;
    auto version = number("version", 0, 9e15);
    if (!version) return version.error();
    p.version = static_cast<int64_t>(*version);
    const auto* trigger = o.if_contains("trigger");
    if (trigger == nullptr || !trigger->is_string() ||
        (trigger->get_string() != "idle" && trigger->get_string() != "idle_holding_memory")) {
        return Error::Validation("trigger", "must be idle or idle_holding_memory");
    }
    p.holding_memory_only = trigger->get_string() == "idle_holding_memory";
    auto idle = number("idle_minutes", 0, 7 * 24 * 60);
    if (!idle) return idle.error();
    p.idle_for = std::chrono::milliseconds(static_cast<int64_t>(*idle * 60000));
    auto grace = number("grace_minutes", 0, 24 * 60);
    if (!grace) return grace.error();
    p.grace = std::chrono::milliseconds(static_cast<int64_t>(*grace * 60000));
    const auto* action = o.if_contains("action");
    if (action == nullptr || !action->is_string()) return Error::Validation("action", "must be a string");
    if (action->get_string() == "notify") {
        p.action = HostAction::kNotify;
    } else if (action->get_string() == "signal") {
        p.action = HostAction::kSignal;
    } else if (action->get_string() == "exec") {
        p.action = HostAction::kExec;
    } else {
        return Error::Validation("action", "must be notify, signal or exec");
    }
    auto kill_after = number("kill_after_seconds", 1, 3600);
    if (!kill_after) return kill_after.error();
    p.kill_after = std::chrono::seconds(static_cast<int64_t>(*kill_after));
    if (const auto* snoozed = o.if_contains("snoozed"); snoozed != nullptr && snoozed->is_array()) {
        for (const auto& z : snoozed->get_array()) {
            if (!z.is_object()) continue;
            const auto* uuid = z.get_object().if_contains("uuid");
            const auto* until = z.get_object().if_contains("until");
            if (uuid == nullptr || !uuid->is_string() || until == nullptr || !until->is_string()) continue;
            if (auto t = ParseUtc(std::string_view(until->get_string())))
                p.snoozed[std::string(uuid->get_string())] = *t;
        }
    }
    return p;
}

IdleEnforcer::IdleEnforcer(WindowRules window_rules, HostActionRules host_rules)
    : window_rules_(window_rules), host_rules_(std::move(host_rules)) {}

IdleEnforcer::~IdleEnforcer() = default;  // commands still running finish on their own

void IdleEnforcer::SetPolicy(IdleActionPolicy policy) {
    std::lock_guard lock(policy_mu_);
    if (policy.version != policy_.version || policy.enabled != policy_.enabled) {
        spdlog::info("idle policy {}: {}{}, {} after {} idle{} and {} of grace", policy.version,
                     policy.enabled ? "on" : "off", policy.dry_run ? " (dry run)" : "", NameOf(policy.action),
                     Minutes(policy.idle_for), policy.holding_memory_only ? " holding memory" : "",
                     Minutes(policy.grace));
    }
    policy_ = std::move(policy);
}

IdleActionEvent IdleEnforcer::EventFor(const GpuSample& s, std::string kind, std::string action, bool dry_run,
                                       std::chrono::system_clock::time_point now) const {
    IdleActionEvent e;
    e.gpu_index = s.index;
    e.uuid = s.uuid;
    e.kind = std::move(kind);
    e.action = std::move(action);
    e.dry_run = dry_run;
    e.at = now;
    if (s.processes) {
        const size_t n = std::min<size_t>(s.processes->size(), 16);
        e.processes.assign(s.processes->begin(), s.processes->begin() + static_cast<std::ptrdiff_t>(n));
    }
    return e;
}

void IdleEnforcer::Observe(const SampleSet& samples, std::chrono::system_clock::time_point now) {
    IdleActionPolicy p;
    {
        std::lock_guard lock(policy_mu_);
        p = policy_;
    }
    FollowUp(now);
    if (!p.enabled) {
        gpus_.clear();  // turned on again later, every GPU starts its idle time afresh
        return;
    }
    for (const auto& s : samples.gpus) {
        GpuState& st = gpus_[GpuKey(s.index, s.uuid)];
        const double held = WindowAggregator::HeldMib(s);
        const bool condition =
            IsIdleSample(s, window_rules_) && (!p.holding_memory_only || held > window_rules_.held_mib_threshold);
        if (!condition) {
            if (st.warned_at && !st.acted) {
                auto e = EventFor(s, "cleared", NameOf(p.action), p.dry_run, now);
                e.detail = "busy again before the action";
                events_.push_back(std::move(e));
            }
            st = GpuState{};
            continue;
        }
        if (!st.idle_since) st.idle_since = now;
        if (auto z = p.snoozed.find(s.uuid); z != p.snoozed.end() && z->second > now) {
            if (!st.snooze_noted && st.warned_at) {
                auto e = EventFor(s, "snoozed", NameOf(p.action), p.dry_run, now);
                e.detail = "snoozed until " + FormatUtc(std::chrono::floor<std::chrono::seconds>(z->second));
                events_.push_back(std::move(e));
            }
            st.snooze_noted = true;
            st.warned_at.reset();  // after the snooze, a new warning and a new grace period
            st.acted = false;
            continue;
        }
        st.snooze_noted = false;
        if (st.acted) continue;
        if (!st.warned_at) {
            if (now - *st.idle_since < p.idle_for) continue;
            auto e = EventFor(s, "warned", "", p.dry_run, now);
            char held_text[32];
            std::snprintf(held_text, sizeof held_text, "%.0f MiB", held);
            e.detail =
                "idle for " + Minutes(std::chrono::duration_cast<std::chrono::milliseconds>(now - *st.idle_since)) +
                (held > window_rules_.held_mib_threshold ? std::string(" holding ") + held_text : "") + "; " +
                NameOf(p.action) + (p.dry_run ? " (dry run)" : "") + " in " + Minutes(p.grace) + " unless snoozed";
            events_.push_back(std::move(e));
            st.warned_at = now;
        }
        if (now - *st.warned_at >= p.grace) {
            Act(s, p, now);
            st.acted = true;
        }
    }
}

void IdleEnforcer::Act(const GpuSample& s, const IdleActionPolicy& p, std::chrono::system_clock::time_point now) {
    IdleActionEvent e = EventFor(s, p.dry_run ? "would_act" : "acted", NameOf(p.action), p.dry_run, now);
    if (host_rules_.allowed.count(p.action) == 0) {
        e.kind = "failed";
        e.detail = std::string("this host does not allow ") + NameOf(p.action) +
                   " (its operator sets GPU_OPTIMIZER_IDLE_ACTIONS)";
    } else if (p.action == HostAction::kNotify) {
        e.detail = p.dry_run ? "would notify only" : "notified; nothing is done on the host";
    } else if (p.action == HostAction::kSignal) {
        if (p.dry_run) {
            std::vector<std::string> who;
            if (s.processes) {
                for (const auto& proc : *s.processes) who.push_back(Describe(proc));
            }
            e.detail = who.empty() ? "no process holds the GPU: nothing to signal"
                                   : "would send SIGTERM to " + Join(who) + ", then SIGKILL after " +
                                         std::to_string(p.kill_after.count()) + " s";
        } else {
            Signal(s, p, now, e);
        }
    } else if (host_rules_.exec_command.empty()) {
        e.kind = "failed";
        e.detail = "no command is configured on this host (GPU_OPTIMIZER_IDLE_EXEC)";
    } else if (p.dry_run) {
        e.detail = "would run the host's command";
    } else {
        Exec(s, e);
    }
    spdlog::info("idle GPU {} ({}): {}{}", s.index, s.uuid, e.kind == "failed" ? "failed: " : "", e.detail);
    events_.push_back(std::move(e));
}

std::optional<unsigned long long> IdleEnforcer::StartTime(pid_t pid) const {
    std::ifstream in(host_rules_.proc_root + "/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line)) return std::nullopt;
    const size_t close = line.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream fields(line.substr(close + 1));
    std::string field;
    for (int i = 3; i <= 22; ++i) {  // fields 3 (state) to 22 (starttime)
        if (!(fields >> field)) return std::nullopt;
    }
    return std::strtoull(field.c_str(), nullptr, 10);
}

void IdleEnforcer::Signal(const GpuSample& s, const IdleActionPolicy& p, std::chrono::system_clock::time_point now,
                          IdleActionEvent& e) {
    std::vector<std::string> sent;
    std::vector<std::string> failed;
    if (s.processes) {
        for (const auto& proc : *s.processes) {
            const auto pid = static_cast<pid_t>(proc.pid);
            if (pid <= 1 || pid == getpid()) continue;
            const auto start = StartTime(pid);
            if (!start) continue;  // gone already
            if (::kill(pid, SIGTERM) != 0) {
                failed.push_back(Describe(proc) + ": " + std::strerror(errno));
                continue;
            }
            sent.push_back(Describe(proc));
            kills_.push_back({pid, *start, now + p.kill_after, s.index, s.uuid, Describe(proc)});
        }
    }
    if (sent.empty()) {
        e.kind = "failed";
        e.detail = failed.empty() ? "no process holds the GPU: nothing to signal" : "could not signal " + Join(failed);
        return;
    }
    e.detail = "SIGTERM sent to " + Join(sent) + "; SIGKILL after " + std::to_string(p.kill_after.count()) +
               " s if still running" + (failed.empty() ? "" : "; could not signal " + Join(failed));
}

void IdleEnforcer::Exec(const GpuSample& s, IdleActionEvent& e) {
    // The command sees only what it needs: never the agent's own environment (its API key).
    const char* path = std::getenv("PATH");
    std::vector<std::string> env{std::string("PATH=") + (path ? path : "/usr/local/bin:/usr/bin:/bin"),
                                 "GPUOPT_GPU_INDEX=" + std::to_string(s.index), "GPUOPT_GPU_UUID=" + s.uuid,
                                 "GPUOPT_GPU_NAME=" + s.name};
    std::string pids;
    if (s.processes) {
        for (const auto& proc : *s.processes) pids += (pids.empty() ? "" : " ") + std::to_string(proc.pid);
    }
    env.push_back("GPUOPT_PIDS=" + pids);
    std::vector<char*> envp;
    for (auto& v : env) envp.push_back(v.data());
    envp.push_back(nullptr);
    std::string sh = "/bin/sh";
    std::string dash_c = "-c";
    std::string command = host_rules_.exec_command;
    char* argv[] = {sh.data(), dash_c.data(), command.data(), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, "/bin/sh", &actions, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        e.kind = "failed";
        e.detail = std::string("could not run the host's command: ") + std::strerror(rc);
        return;
    }
    commands_.push_back({pid, s.index, s.uuid});
    e.detail = "ran the host's command (pid " + std::to_string(pid) + ")";
}

void IdleEnforcer::FollowUp(std::chrono::system_clock::time_point now) {
    for (auto it = kills_.begin(); it != kills_.end();) {
        if (now < it->at) {
            ++it;
            continue;
        }
        if (StartTime(it->pid) == it->start_time && ::kill(it->pid, SIGKILL) == 0) {
            IdleActionEvent e;
            e.gpu_index = it->gpu_index;
            e.uuid = it->uuid;
            e.kind = "acted";
            e.action = "signal";
            e.dry_run = false;
            e.at = now;
            e.detail = "SIGKILL sent to " + it->name + ": still running after SIGTERM";
            spdlog::info("idle GPU {} ({}): {}", e.gpu_index, e.uuid, e.detail);
            events_.push_back(std::move(e));
        }
        it = kills_.erase(it);
    }
    for (auto it = commands_.begin(); it != commands_.end();) {
        int status = 0;
        const pid_t done = waitpid(it->pid, &status, WNOHANG);
        if (done == 0) {
            ++it;
            continue;
        }
        IdleActionEvent e;
        e.gpu_index = it->gpu_index;
        e.uuid = it->uuid;
        e.action = "exec";
        e.dry_run = false;
        e.at = now;
        const bool ok = done == it->pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        e.kind = ok ? "acted" : "failed";
        e.detail = done != it->pid     ? "the host's command could not be waited for"
                   : WIFEXITED(status) ? "the host's command exited with " + std::to_string(WEXITSTATUS(status))
                                       : "the host's command was killed by signal " + std::to_string(WTERMSIG(status));
        events_.push_back(std::move(e));
        it = commands_.erase(it);
    }
}

std::vector<IdleActionEvent> IdleEnforcer::Take() {
    std::vector<IdleActionEvent> out;
    out.swap(events_);
    return out;
}

}  // namespace gpuopt::agent
