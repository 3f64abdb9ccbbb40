#include "agent/agent.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <random>
#include <thread>

namespace gpuopt::agent {

namespace {

using SteadyClock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;

int64_t UnixSeconds(SystemClock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string Seconds(std::chrono::milliseconds d) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(d.count()) / 1000.0);
    return text;
}

}  // namespace

Agent::Agent(const AgentConfig& config, GpuSource& source, const PriceCatalog& catalog, AgentIdentity identity,
             Spool* spool, Uploader* uploader)
    : config_(config),
      source_(source),
      catalog_(catalog),
      identity_(std::move(identity)),
      spool_(spool),
      uploader_(uploader),
      // A simulated GPU's processes are not this machine's: the scenario says who runs them.
      attributor_(
          {config.process_attribution && source.Kind() != "simulated", config.process_cmdline, config.proc_root}) {
    if (uploader_ != nullptr) {
        WindowRules rules;
        rules.idle_threshold_percent = config.idle_threshold_percent;
        HostActionRules host;
        if (config.idle_allow_signal) host.allowed.insert(HostAction::kSignal);
        if (config.idle_allow_exec) host.allowed.insert(HostAction::kExec);
        host.exec_command = config.idle_exec;
        host.proc_root = config.proc_root;
        enforcer_ = std::make_unique<IdleEnforcer>(rules, std::move(host));
    }
}

void Agent::Stop() {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    stop_deadline_ = SteadyClock::now() + config_.shutdown_grace;
    cv_.notify_all();
}

bool Agent::WaitUntil(SteadyClock::time_point deadline) {
    std::unique_lock lock(mu_);
    return cv_.wait_until(lock, deadline, [&] { return stopping_; });
}

ReportContext Agent::Context(const WindowReport& window, const std::string& report_id) {
    ReportContext ctx;
    ctx.report_id = report_id;
    ctx.agent_id = identity_.agent_id;
    ctx.hostname = identity_.hostname;
    ctx.version = identity_.version;
    ctx.source = source_.Kind();
    ctx.driver_version = source_.DriverVersion();
    ctx.cloud = identity_.cloud;
    ctx.send_processes = config_.process_attribution;
    if (enforcer_) {
        ctx.idle_events = enforcer_->Take();
        if (attributor_.rules().enabled) {
            for (auto& e : ctx.idle_events) {
                for (auto& p : e.processes) attributor_.Attribute(p);
            }
        }
    }
    for (const auto& g : window.gpus) {
        const std::string key = GpuKey(g.index, g.uuid);
        auto it = prices_.find(key);
        if (it == prices_.end()) {
            // A MIG instance costs its share of the whole GPU's price.
            GpuPrice p =
                g.mig ? PriceGpu(catalog_, config_.cost_per_hour, identity_.cloud, g.mig->parent_name,
                                 g.mig->parent_mem_total_mib)
                      : PriceGpu(catalog_, config_.cost_per_hour, identity_.cloud, g.name, g.mem_total.value_or(0));
            if (g.mig && p.usd_per_hour) {
                p.usd_per_hour = *p.usd_per_hour * g.mig->fraction;
                p.source +=
                    ", " + std::to_string(g.mig->fraction).substr(0, 5) + " of the GPU (MIG " + g.mig->profile + ")";
            }
            if (p.usd_per_hour) {
                spdlog::info("GPU {} ({}): ${:.4f}/h, {}", g.index, g.name, *p.usd_per_hour, p.source);
            } else {
                spdlog::info("GPU {} ({}): no price known here; the server applies its default", g.index, g.name);
            }
            it = prices_.emplace(key, std::move(p)).first;
        }
        ctx.prices[key] = it->second;
    }
    return ctx;
}

void Agent::Emit(WindowReport window) {
    bool any = false;
    for (const auto& g : window.gpus) any = any || g.Reportable();
    if (!any) {
        spdlog::warn("window of {} sample(s) has no GPU with utilization and memory to report", window.samples);
        return;
    }
    AttributeProcesses(window, attributor_);
    if (spool_ == nullptr) {  // --dry-run
        const std::string body =
            BuildReportJson(window, Context(window, ReportId(identity_.agent_id, ++dry_run_sequence_)));
        std::fwrite(body.data(), 1, body.size(), stdout);
        std::fputc('\n', stdout);
        std::fflush(stdout);
    } else {
        const uint64_t sequence = spool_->HighestSequence() + 1;
        const std::string id = ReportId(identity_.agent_id, sequence);
        const std::string body = BuildReportJson(window, Context(window, id));
        if (auto r = spool_->Append(sequence, UnixSeconds(window.end), body); !r) {
            spdlog::error("cannot keep report {}: {}", id, r.error().message);
            exit_code_ = kExitFailure;
            Stop();
            return;
        }
        spdlog::debug("report {} spooled ({} sample(s), {} GPU(s))", id, window.samples, window.gpus.size());
        cv_.notify_all();
    }
    if (++reports_made_ == config_.count) Stop();
}

void Agent::SampleLoop() {
    const auto interval = config_.interval;
    const int64_t per_window = config_.window.count() / interval.count();
    // Ticks fall on a fixed steady-clock grid (tick k at t0 + k * interval), so sampling time never
    // accumulates drift; the grid starts on a whole wall-clock second so window times are whole.
    const auto wall_now = SystemClock::now();
    const auto wall0 = std::chrono::ceil<std::chrono::seconds>(wall_now);
    const auto t0 = SteadyClock::now() + (wall0 - wall_now);
    WindowRules rules;
    rules.idle_threshold_percent = config_.idle_threshold_percent;
    WindowAggregator aggregator(rules);
    int64_t tick = 0;
    int64_t window_index = 0;
    int64_t last_tick = -1;
    auto wall_at = [&](int64_t k) { return wall0 + k * interval; };
    for (;;) {
        if (WaitUntil(t0 + tick * interval)) break;
        // Late (a suspended host, a slow driver): skip the ticks that passed rather than burst.
        const auto behind = SteadyClock::now() - (t0 + tick * interval);
        if (behind >= interval) {
            const int64_t skip = behind / interval;
            spdlog::debug("sampling is {} tick(s) late; skipping them", skip);
            tick += skip;
        }
        if (tick / per_window != window_index) {
            if (aggregator.samples() > 0) {
                Emit(aggregator.Close(wall_at(window_index * per_window), wall_at((window_index + 1) * per_window)));
            }
            window_index = tick / per_window;
            if (WaitUntil(SteadyClock::time_point::min())) break;  // Emit may have stopped us (--count)
        }
        auto samples = source_.Sample(wall_at(tick));
        if (samples) {
            for (const auto& l : samples->lost) spdlog::debug("GPU {} ({}) not read: {}", l.index, l.uuid, l.error);
            aggregator.Add(*samples);
            if (enforcer_) enforcer_->Observe(*samples, wall_at(tick));
        } else {
            spdlog::warn("sample failed: {}", samples.error().message);
        }
        last_tick = tick;
        ++tick;
    }
    // Stopping: the window so far is reported as a shorter window.
    if (aggregator.samples() > 0 && last_tick >= 0) {
        Emit(aggregator.Close(wall_at(window_index * per_window), wall_at(last_tick + 1)));
    }
    std::lock_guard lock(mu_);
    sampling_done_ = true;
    cv_.notify_all();
}

void Agent::DeliveryLoop() {
    DeliverSpool();
    std::lock_guard lock(mu_);
    delivery_done_ = true;
    cv_.notify_all();
}

void Agent::DeliverSpool() {
    std::mt19937_64 random(std::random_device{}());
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    int failures = 0;
    for (;;) {
        {
            std::lock_guard lock(mu_);
            if (stopping_ && SteadyClock::now() >= stop_deadline_) break;
        }
        auto next = spool_->Oldest(UnixSeconds(SystemClock::now()));
        if (!next) {
            spdlog::error("{}", next.error().message);
            exit_code_ = kExitFailure;
            Stop();
            break;
        }
        if (!*next) {
            std::unique_lock lock(mu_);
            if (sampling_done_) break;  // nothing left and nothing more coming
            cv_.wait_for(lock, std::chrono::seconds(1));
            continue;
        }
        const SpooledReport& report = **next;
        const std::string id = ReportId(identity_.agent_id, report.sequence);
        const Attempt a = uploader_->Send(report.body);
        switch (a.outcome) {
            case Outcome::kDelivered:
                if (failures > 0) spdlog::info("server reachable again; {} report(s) waiting", spool_->Pending());
                failures = 0;
                spdlog::debug("report {} delivered{}", id, a.duplicate ? " (the server had it already)" : "");
                if (a.idle_policy && enforcer_) {
                    if (auto policy = ParseIdleActionPolicy(*a.idle_policy); policy) {
                        enforcer_->SetPolicy(std::move(*policy));
                    } else {
                        spdlog::warn("the server's idle policy is not understood ({}); the last one stays",
                                     policy.error().message);
                    }
                }
                if (auto r = spool_->Ack(report.sequence); !r) spdlog::error("{}", r.error().message);
                break;
            case Outcome::kDrop:
                spdlog::error("the server refused report {} ({} {}); it is dropped", id, a.status, a.message);
                if (auto r = spool_->Ack(report.sequence); !r) spdlog::error("{}", r.error().message);
                break;
            case Outcome::kStop:
                spdlog::error(
                    "the server refused this agent ({} {}): check GPU_OPTIMIZER_API_KEY and "
                    "GPU_OPTIMIZER_SERVER_URL ({}); {} report(s) stay in {} and go out once it accepts them",
                    a.status, a.message, uploader_->endpoint(), spool_->Pending(), config_.spool_dir);
                exit_code_ = kExitRefused;
                Stop();
                return;
            case Outcome::kRetry: {
                const auto delay = a.retry_after
                                       ? std::chrono::duration_cast<std::chrono::milliseconds>(*a.retry_after)
                                       : Backoff(failures, config_.retry_initial, config_.retry_max, unit(random));
                ++failures;
                spdlog::warn("report {} not delivered ({}{}); retrying in {}; {} report(s) waiting", id,
                             a.status ? std::to_string(a.status) + " " : std::string(), a.message, Seconds(delay),
                             spool_->Pending());
                std::unique_lock lock(mu_);
                const auto until = SteadyClock::now() + delay;
                cv_.wait_until(lock, stopping_ ? std::min(until, stop_deadline_) : until,
                               [&] { return stopping_ && SteadyClock::now() >= stop_deadline_; });
                break;
            }
        }
    }
    if (const size_t left = spool_->Pending(); left > 0) {
        spdlog::info("{} report(s) wait in {} for the next start", left, config_.spool_dir);
    }
}

int Agent::Run() {
    std::thread delivery;
    if (spool_ != nullptr && uploader_ != nullptr) delivery = std::thread([this] { DeliveryLoop(); });
    SampleLoop();
    if (delivery.joinable()) {
        // Stopping: delivery has until the grace period ends. A transfer that hangs past it (a server that
        // accepts and never answers) is aborted; its report stays in the spool for the next start.
        std::unique_lock lock(mu_);
        const bool in_time = cv_.wait_until(lock, stop_deadline_, [&] { return delivery_done_; });
        lock.unlock();
        if (!in_time) {
            spdlog::warn("the shutdown grace period is over: aborting the delivery in progress");
            uploader_->Abort();
        }
        delivery.join();
    }
    return exit_code_.load();
}

Result<std::string> Agent::Once(GpuSource& source, const AgentConfig& config, const PriceCatalog& catalog,
                                const AgentIdentity& identity) {
    const auto now = std::chrono::floor<std::chrono::seconds>(SystemClock::now());
    auto samples = source.Sample(now);
    if (!samples) return samples.error();
    WindowRules rules;
    rules.idle_threshold_percent = config.idle_threshold_percent;
    WindowAggregator aggregator(rules);
    aggregator.Add(*samples);
    // The sample stands for the interval that ends now, as each sample of a running agent does.
    const auto span =
        std::chrono::duration_cast<std::chrono::seconds>(std::max(config.interval, std::chrono::milliseconds(1000)));
    WindowReport window = aggregator.Close(now - span, now);
    Agent agent(config, source, catalog, identity, nullptr, nullptr);
    AttributeProcesses(window, agent.attributor_);
    return BuildReportJson(window,
                           agent.Context(window, identity.agent_id + ":once-" + std::to_string(UnixSeconds(now))));
}

}  // namespace gpuopt::agent
