#include "jobs/scheduler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <exception>

namespace gpuopt::jobs {

namespace {

std::string Describe(const Error& error) {
    std::string text = error.message;
    if (!error.details.empty()) {
        text += " (";
        bool first = true;
        for (const auto& [field, what] : error.details) {
            if (!first) text += ", ";
            first = false;
            text += field + ": " + what;
        }
        text += ")";
    }
    return text;
}

}  // namespace

Clock::TimePoint SteadyClock::Now() const { return std::chrono::steady_clock::now(); }

void SteadyClock::WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, TimePoint deadline) {
    // No timed wait on max(): converting it to the platform's timeout can overflow.
    if (deadline == TimePoint::max()) {
        cv.wait(lock);
    } else {
        cv.wait_until(lock, deadline);
    }
}

Scheduler::Scheduler() : clock_(steady_clock_) {}

Scheduler::Scheduler(Clock& clock) : clock_(clock) {}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Add(std::string name, std::chrono::milliseconds interval, std::function<void()> task) {
    Add(std::move(name), interval, [run = std::move(task)]() -> Result<void> {
        run();
        return {};
    });
}

void Scheduler::Add(std::string name, std::chrono::milliseconds interval, std::function<Result<void>()> task) {
    auto t = std::make_unique<Task>();
    t->name = std::move(name);
    t->interval = interval;
    t->run = std::move(task);
    std::lock_guard lock(mu_);
    t->next = clock_.Now() + interval;
    tasks_.push_back(std::move(t));
}

void Scheduler::Start() {
    std::lock_guard lifecycle(lifecycle_mu_);
    std::lock_guard lock(mu_);
    if (started_ || stopping_) return;
    started_ = true;
    const auto now = clock_.Now();
    for (auto& t : tasks_) t->next = t->woken ? now : now + t->interval;
    thread_ = std::thread([this] { Loop(); });
}

void Scheduler::Stop() {
    // Held throughout, so that a second caller returns only once the first has seen the runs end.
    std::lock_guard lifecycle(lifecycle_mu_);
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    // A run on another thread (RunDue, RunAllOnce) ends before we return; none starts after stopping_.
    std::lock_guard run(run_mu_);
}

void Scheduler::RunOne(Task& task) {
    {
        std::lock_guard lock(mu_);
        task.woken = false;  // this run answers every Wake() so far
    }
    const auto start = clock_.Now();
    std::string failure;
    bool failed = false;
    try {
        if (auto r = task.run(); !r) {
            failed = true;
            failure = Describe(r.error());
        }
    } catch (const std::exception& e) {
        failed = true;
        failure = e.what();
    } catch (...) {
        failed = true;
        failure = "unknown exception";
    }
    const auto end = clock_.Now();
    if (failed) {
        task.failures.fetch_add(1);
        spdlog::error("job {} failed: {}", task.name, failure);
    }
    task.last_us.store(std::chrono::duration_cast<std::chrono::microseconds>(end - start).count());
    task.runs.fetch_add(1);
    std::lock_guard lock(mu_);
    // The interval counts from the end of the run; a Wake() during the run left the task due at once.
    if (!task.woken) task.next = end + task.interval;
}

Clock::TimePoint Scheduler::EarliestDeadline() const {
    auto earliest = Clock::TimePoint::max();
    for (const auto& t : tasks_) earliest = std::min(earliest, t->next);
    return earliest;
}

std::size_t Scheduler::RunDue() {
    std::lock_guard run(run_mu_);
    std::vector<Task*> due;
    {
        std::lock_guard lock(mu_);
        if (stopping_) return 0;
        const auto now = clock_.Now();
        for (auto& t : tasks_) {
            if (t->next <= now) due.push_back(t.get());
        }
        std::stable_sort(due.begin(), due.end(), [](const Task* a, const Task* b) { return a->next < b->next; });
    }
    std::size_t ran = 0;
    for (Task* t : due) {
        {
            std::lock_guard lock(mu_);
            if (stopping_) break;
        }
        RunOne(*t);
        ++ran;
    }
    return ran;
}

void Scheduler::RunAllOnce() {
    std::lock_guard run(run_mu_);
    for (auto& t : tasks_) RunOne(*t);
}

void Scheduler::Wake(const std::string& name) {
    {
        std::lock_guard lock(mu_);
        const auto now = clock_.Now();
        for (auto& t : tasks_) {
            if (t->name == name) {
                t->next = std::min(t->next, now);
                t->woken = true;
            }
        }
    }
    cv_.notify_all();
}

void Scheduler::Loop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
        // Chosen afresh after every wake-up (a deadline, Wake(), Stop() or a spurious one): a Wake() of a task
        // other than the one whose deadline the thread was waiting for makes that task due now, and it runs now.
        const auto deadline = EarliestDeadline();
        if (deadline <= clock_.Now()) {
            lock.unlock();
            RunDue();
            lock.lock();
        } else {
            clock_.WaitUntil(cv_, lock, deadline);
        }
    }
}

void Scheduler::WriteMetrics(std::string& out, const std::vector<const Scheduler*>& schedulers) {
    out += "# HELP gpuopt_job_runs_total Runs of each periodic job.\n# TYPE gpuopt_job_runs_total counter\n";
    for (const auto* s : schedulers) {
        for (const auto& t : s->tasks_) {
            out += "gpuopt_job_runs_total{job=\"" + t->name + "\"} " + std::to_string(t->runs.load()) + "\n";
        }
    }
    out +=
        "# HELP gpuopt_job_failures_total Runs of each periodic job that failed (returned an error or threw).\n"
        "# TYPE gpuopt_job_failures_total counter\n";
    for (const auto* s : schedulers) {
        for (const auto& t : s->tasks_) {
            out += "gpuopt_job_failures_total{job=\"" + t->name + "\"} " + std::to_string(t->failures.load()) + "\n";
        }
    }
    out +=
        "# HELP gpuopt_job_last_duration_seconds How long each job's last run took.\n"
        "# TYPE gpuopt_job_last_duration_seconds gauge\n";
    for (const auto* s : schedulers) {
        for (const auto& t : s->tasks_) {
            char value[32];
            std::snprintf(value, sizeof value, "%.6f", static_cast<double>(t->last_us.load()) / 1e6);
            out += "gpuopt_job_last_duration_seconds{job=\"" + t->name + "\"} " + value + "\n";
        }
    }
}

}  // namespace gpuopt::jobs
