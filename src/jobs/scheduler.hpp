// Periodic jobs inside `gpuopt serve` (roll-up, retention, idle alerts, billing, mail): each task runs
// on its scheduler's own thread, never two at once, first after its interval and then every interval.
// Jobs that wait on other services (gateways, mail servers) get a scheduler of their own, so that a
// slow service never holds up the roll-up. A task
// that throws is logged and runs again next time. Tasks must be safe to run twice (another process, or
// a restart, may have done part of the work).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gpuopt::jobs {

class Scheduler {
public:
    Scheduler() = default;
    ~Scheduler();  // Stop()
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    // Before Start().
    void Add(std::string name, std::chrono::milliseconds interval, std::function<void()> task);
    void Start();
    // Waits for a task in progress to finish; later runs do not happen. Idempotent.
    void Stop();
    // Runs every task once now, on the caller's thread (the operator CLI, tests).
    void RunAllOnce();
    // Makes the named task due now (a webhook arrived). Thread-safe; cheap.
    void Wake(const std::string& name);

    // Prometheus text: runs, failures and the last run's duration per task of every scheduler given.
    // Thread-safe.
    static void WriteMetrics(std::string& out, const std::vector<const Scheduler*>& schedulers);
    void WriteMetrics(std::string& out) const { WriteMetrics(out, {this}); }

private:
    struct Task {
        std::string name;
        std::chrono::milliseconds interval;
        std::function<void()> run;
        std::chrono::steady_clock::time_point next;
        std::shared_ptr<std::atomic<uint64_t>> runs = std::make_shared<std::atomic<uint64_t>>(0);
        std::shared_ptr<std::atomic<uint64_t>> failures = std::make_shared<std::atomic<uint64_t>>(0);
        std::shared_ptr<std::atomic<int64_t>> last_us = std::make_shared<std::atomic<int64_t>>(0);
    };
    void Loop();
    static void RunSafely(Task& task);

    std::vector<Task> tasks_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace gpuopt::jobs
