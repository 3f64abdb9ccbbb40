// Periodic jobs inside `gpuopt serve` (roll-up, retention, idle alerts, billing, mail): each task runs
// on its scheduler's own thread, never two at once, first one interval after Start() and then one interval
// after the end of its previous run. Jobs that wait on other services (gateways, mail servers) get a
// scheduler of their own, so that a slow service never holds up the roll-up. A task that fails (returns an
// error or throws) is logged, counted, and runs again next time. Tasks must be safe to run twice (another
// process, or a restart, may have done part of the work).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace gpuopt::jobs {

// Time as a scheduler sees it. Production uses SteadyClock; a test substitutes a fake that it moves by hand.
class Clock {
public:
    using TimePoint = std::chrono::steady_clock::time_point;

    virtual ~Clock() = default;

    // The current time. Thread-safe.
    virtual TimePoint Now() const = 0;

    // Called by the scheduler's thread with `lock` held (it guards the state `cv` is notified about).
    // Blocks, with `lock` released, until `deadline` has passed on this clock or `cv` is notified; may also
    // return spuriously. Returns at once when the deadline has already passed; TimePoint::max() means no
    // deadline (wait for a notification). Returns with `lock` held again.
    virtual void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, TimePoint deadline) = 0;
};

// std::chrono::steady_clock, and a condition variable's own timed wait.
class SteadyClock final : public Clock {
public:
    TimePoint Now() const override;
    void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, TimePoint deadline) override;
};

// A callable that reports failure as a Result<void> (or as something that converts to one, such as an Error).
template <class F>
concept ResultTask = std::is_invocable_r_v<Result<void>, F&>;

class Scheduler {
public:
    // On std::chrono::steady_clock.
    Scheduler();
    // On `clock`, which must outlive the scheduler (tests).
    explicit Scheduler(Clock& clock);
    ~Scheduler();  // Stop()
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    // Adds a task, due one interval from now (and re-armed to one interval after Start()). Before Start()
    // and before any other thread uses the scheduler. A task that throws fails; so does one that returns an
    // error. Each failure is logged once ("job <name> failed: <message>") and counted in
    // gpuopt_job_failures_total.
    void Add(std::string name, std::chrono::milliseconds interval, std::function<void()> task);
    void Add(std::string name, std::chrono::milliseconds interval, std::function<Result<void>()> task);
    // A callable returning Result<void> (or anything convertible to it, such as Error) takes the Result form
    // above; without this overload a lambda returning Result<void> would be ambiguous between the two.
    template <ResultTask F>
    void Add(std::string name, std::chrono::milliseconds interval, F task) {
        Add(std::move(name), interval, std::function<Result<void>()>(std::move(task)));
    }

    // Starts the scheduler's thread; each task is first due one interval from now, or at once if Wake()
    // named it already. Once; does nothing after Stop().
    void Start();
    // Waits for a task in progress (on the scheduler's thread or in RunDue/RunAllOnce on another) to finish;
    // later runs do not happen (RunDue does nothing afterwards). Idempotent, thread-safe; every call returns
    // only once the runs are over. Not from inside a task.
    void Stop();

    // Runs every task once now, on the caller's thread (the operator CLI, tests); each is then next due one
    // interval after its run ends. Waits for a run in progress on another thread. Not from inside a task.
    void RunAllOnce();
    // The step the scheduler's thread takes whenever a deadline passes: runs, on the caller's thread and one
    // after another, each task whose deadline has passed on the clock, at most once each, earliest deadline
    // first; each is then next due one interval after its run ends (or at once, if woken during the run).
    // Returns how many ran: 0 when none is due or after Stop(). Tests call it on a fake clock instead of
    // Start(). Waits for a run in progress on another thread. Not from inside a task.
    std::size_t RunDue();

    // Makes the named task due now (a webhook arrived): the thread stops waiting for whichever deadline it
    // was waiting for and runs it. If the task is running, it runs again when it ends. Unknown names are
    // ignored. Thread-safe (also from inside a task); cheap.
    void Wake(const std::string& name);

    // Prometheus text: runs, failures and the last run's duration per task of every scheduler given.
    // Thread-safe.
    static void WriteMetrics(std::string& out, const std::vector<const Scheduler*>& schedulers);
    void WriteMetrics(std::string& out) const { WriteMetrics(out, {this}); }

private:
    struct Task {
        std::string name;
        std::chrono::milliseconds interval{};
        std::function<Result<void>()> run;
        Clock::TimePoint next{};  // guarded by mu_
        bool woken = false;       // guarded by mu_: Wake() named it since its last run began
        std::atomic<uint64_t> runs{0};
        std::atomic<uint64_t> failures{0};
        std::atomic<int64_t> last_us{0};
    };

    void Loop();
    // With run_mu_ held.
    void RunOne(Task& task);
    // With mu_ held; TimePoint::max() when there are no tasks.
    Clock::TimePoint EarliestDeadline() const;

    SteadyClock steady_clock_;  // the default clock_
    Clock& clock_;
    std::vector<std::unique_ptr<Task>> tasks_;  // fixed once Start() is called
    std::mutex lifecycle_mu_;                   // serialises Start() and Stop()
    std::mutex run_mu_;                         // held while a task runs: never two at once
    std::mutex mu_;                             // guards the deadlines, stopping_ and started_
    std::condition_variable cv_;                // notified by Wake() and Stop()
    bool stopping_ = false;
    bool started_ = false;
    std::thread thread_;
};

}  // namespace gpuopt::jobs
