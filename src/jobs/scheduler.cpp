#include "jobs/scheduler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <exception>

namespace gpuopt::jobs {

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Add(std::string name, std::chrono::milliseconds interval, std::function<void()> task) {
    tasks_.push_back({std::move(name), interval, std::move(task), {}});
}

void Scheduler::Start() {
    const auto now = std::chrono::steady_clock::now();
    for (auto& t : tasks_) t.next = now + t.interval;
    thread_ = std::thread([this] { Loop(); });
}

void Scheduler::Stop() {
    {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void Scheduler::RunSafely(Task& task) {
    const auto start = std::chrono::steady_clock::now();
    try {
        task.run();
    } catch (const std::exception& e) {
        task.failures->fetch_add(1);
        spdlog::error("job {} failed: {}", task.name, e.what());
    }
    task.last_us->store(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count());
    task.runs->fetch_add(1);
}

void Scheduler::WriteMetrics(std::string& out, const std::vector<const Scheduler*>& schedulers) {
    out += "# HELP gpuopt_job_runs_total Runs of each periodic job.\n# TYPE gpuopt_job_runs_total counter\n";
    for (const auto* s : schedulers) {
        for (const auto& t : s->tasks_)
            out += "gpuopt_job_runs_total{job=\"" + t.name + "\"} " + std::to_string(t.runs->load()) + "\n";
    }
    out +=
        "# HELP gpuopt_job_failures_total Runs of each periodic job that threw.\n# TYPE gpuopt_job_failures_total "
        "counter\n";
    for (const auto* s : schedulers) {
        for (const auto& t : s->tasks_) {
            out += "gpuopt_job_failures_total{job=\"" + t.name + "\"} " + std::to_string(t.failures->load()) + "\n";
        }
    }
    out +=
        "# HELP gpuopt_job_last_duration_seconds How long each job's last run took.\n"
        "# TYPE gpuopt_job_last_duration_seconds gauge\n";
    for (const auto* s : schedulers) {
        for (const auto& t : s->tasks_) {
            char value[32];
            std::snprintf(value, sizeof value, "%.6f", static_cast<double>(t.last_us->load()) / 1e6);
            out += "gpuopt_job_last_duration_seconds{job=\"" + t.name + "\"} " + value + "\n";
        }
    }
}

void Scheduler::Wake(const std::string& name) {
    {
        std::lock_guard lock(mu_);
        for (auto& t : tasks_) {
            if (t.name == name) t.next = std::chrono::steady_clock::now();
        }
    }
    cv_.notify_all();
}

void Scheduler::RunAllOnce() {
    for (auto& t : tasks_) RunSafely(t);
}

void Scheduler::Loop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
        auto next = std::min_element(tasks_.begin(), tasks_.end(),
                                     [](const Task& a, const Task& b) { return a.next < b.next; });
        if (next == tasks_.end()) {
            cv_.wait(lock, [&] { return stopping_; });
            break;
        }
        if (cv_.wait_until(lock, next->next, [&] { return stopping_; })) break;
        // Due again one interval from now, unless woken while it runs.
        next->next = std::chrono::steady_clock::now() + next->interval;
        lock.unlock();
        RunSafely(*next);
        lock.lock();
    }
}

}  // namespace gpuopt::jobs
