#include "jobs/scheduler.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace gpuopt::jobs {
namespace {

using namespace std::chrono_literals;
using TimePoint = Clock::TimePoint;

// How long a test waits for something that should happen at once. Generous: it only bounds a failing test.
constexpr auto kTimeout = 10s;

// A count that other threads raise and a test waits on, with a deadline.
class Counter {
public:
    void Add() {
        {
            std::lock_guard lock(mu_);
            ++count_;
        }
        cv_.notify_all();
    }
    bool WaitAtLeast(int n, std::chrono::seconds timeout) {
        std::unique_lock lock(mu_);
        return cv_.wait_for(lock, timeout, [&] { return count_ >= n; });
    }
    int value() const {
        std::lock_guard lock(mu_);
        return count_;
    }

private:
    mutable std::mutex mu_;
    std::condition_variable cv_;
    int count_ = 0;
};

// Records each wait the scheduler's thread begins, and the deadline it waits for, so a test knows the thread
// is waiting (and for what) before it calls Wake().
class WaitLog {
public:
    void Record(TimePoint deadline) {
        {
            std::lock_guard lock(mu_);
            last_deadline_ = deadline;
        }
        waits_.Add();
    }
    bool WaitAtLeast(int n) { return waits_.WaitAtLeast(n, kTimeout); }
    TimePoint last_deadline() const {
        std::lock_guard lock(mu_);
        return last_deadline_;
    }

private:
    mutable std::mutex mu_;
    TimePoint last_deadline_{};
    Counter waits_;
};

// Time that moves only when the test says so. The scheduler's thread, on this clock, sleeps until Wake() or
// Stop() notifies it: its deadlines never pass by themselves.
class FakeClock final : public Clock {
public:
    TimePoint Now() const override {
        std::lock_guard lock(mu_);
        return now_;
    }
    void Advance(std::chrono::milliseconds by) {
        std::lock_guard lock(mu_);
        now_ += by;
    }
    void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, TimePoint deadline) override {
        log.Record(deadline);
        if (deadline <= Now()) return;
        cv.wait(lock);
    }

    WaitLog log;

private:
    mutable std::mutex mu_;
    TimePoint now_{std::chrono::hours(1000)};
};

// The real clock, watched.
class WatchedSteadyClock final : public Clock {
public:
    TimePoint Now() const override { return steady_.Now(); }
    void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, TimePoint deadline) override {
        log.Record(deadline);
        steady_.WaitUntil(cv, lock, deadline);
    }

    WaitLog log;

private:
    SteadyClock steady_;
};

// Holds a task until opened; opens itself when it goes out of scope, so that a failing test still lets the
// scheduler stop (declare it after the scheduler).
class Gate {
public:
    void Open() {
        if (!opened_.exchange(true)) promise_.set_value();
    }
    void Pass() const { future_.wait(); }
    ~Gate() { Open(); }

private:
    std::promise<void> promise_;
    std::shared_future<void> future_ = promise_.get_future().share();
    std::atomic<bool> opened_{false};
};

// Routes spdlog's default logger into a string for the life of the object.
class LogCapture {
public:
    LogCapture() : previous_(spdlog::default_logger()) {
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text_);
        sink->set_pattern("%v");
        spdlog::set_default_logger(std::make_shared<spdlog::logger>("scheduler-test", sink));
    }
    ~LogCapture() { spdlog::set_default_logger(previous_); }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;

    std::string text() const { return text_.str(); }
    std::size_t Count(const std::string& line) const {
        const std::string all = text();
        std::size_t n = 0;
        for (auto at = all.find(line); at != std::string::npos; at = all.find(line, at + line.size())) ++n;
        return n;
    }

private:
    std::ostringstream text_;
    std::shared_ptr<spdlog::logger> previous_;
};

std::string Metrics(const Scheduler& s) {
    std::string out;
    s.WriteMetrics(out);
    return out;
}

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// --- The step function, on a fake clock ---

TEST(Scheduler, FirstRunsOneIntervalAfterItWasAddedNotBefore) {
    FakeClock clock;
    Scheduler s(clock);
    int runs = 0;
    s.Add("rollup", 60s, [&] { ++runs; });

    EXPECT_EQ(s.RunDue(), 0u);
    clock.Advance(59'999ms);
    EXPECT_EQ(s.RunDue(), 0u);
    EXPECT_EQ(runs, 0);
    clock.Advance(1ms);
    EXPECT_EQ(s.RunDue(), 1u);
    EXPECT_EQ(runs, 1);
    EXPECT_EQ(s.RunDue(), 0u);  // not due again yet
    EXPECT_EQ(runs, 1);
}

TEST(Scheduler, NextRunIsOneIntervalAfterTheEndOfARun) {
    FakeClock clock;
    Scheduler s(clock);
    int runs = 0;
    s.Add("rollup", 60s, [&] {
        ++runs;
        clock.Advance(10s);  // the run takes 10 s
    });

    clock.Advance(60s);
    ASSERT_EQ(s.RunDue(), 1u);  // runs from t=60 s to t=70 s
    clock.Advance(59s);         // t=129 s: one interval after the start, not after the end
    EXPECT_EQ(s.RunDue(), 0u);
    clock.Advance(1s);  // t=130 s
    EXPECT_EQ(s.RunDue(), 1u);
    EXPECT_EQ(runs, 2);
}

TEST(Scheduler, RunDueRunsEachDueTaskOnceEarliestDeadlineFirst) {
    FakeClock clock;
    Scheduler s(clock);
    std::vector<std::string> order;
    s.Add("slow", 60s, [&] { order.push_back("slow"); });
    s.Add("fast", 30s, [&] { order.push_back("fast"); });
    // Due again by the end of its own run; still runs only once per step.
    s.Add("greedy", 45s, [&] {
        order.push_back("greedy");
        clock.Advance(1min);
    });
    s.Add("later", 1h, [&] { order.push_back("later"); });

    clock.Advance(90s);
    EXPECT_EQ(s.RunDue(), 3u);
    EXPECT_EQ(order, (std::vector<std::string>{"fast", "greedy", "slow"}));
}

TEST(Scheduler, WakeMakesATaskThatIsNotNextDueNow) {
    FakeClock clock;
    Scheduler s(clock);
    int events = 0;
    int lifecycle = 0;
    s.Add("billing-events", 3h, [&] { ++events; });
    s.Add("billing-lifecycle", 2h, [&] { ++lifecycle; });  // the next one due

    clock.Advance(1min);
    EXPECT_EQ(s.RunDue(), 0u);
    s.Wake("billing-events");
    s.Wake("no-such-job");  // ignored
    EXPECT_EQ(s.RunDue(), 1u);
    EXPECT_EQ(events, 1);
    EXPECT_EQ(lifecycle, 0);

    // The woken task's interval restarts from its run; the other keeps its deadline.
    clock.Advance(2h - 1min);
    EXPECT_EQ(s.RunDue(), 1u);
    EXPECT_EQ(lifecycle, 1);
    EXPECT_EQ(events, 1);
    clock.Advance(1h);  // t = 3h: the woken run was at 1 min
    EXPECT_EQ(s.RunDue(), 0u);
    clock.Advance(1min);  // t = 3h + 1 min: one interval after the woken run
    EXPECT_EQ(s.RunDue(), 1u);
    EXPECT_EQ(events, 2);
}

TEST(Scheduler, WakeDuringARunRunsTheTaskAgainAfterIt) {
    FakeClock clock;
    Scheduler s(clock);
    int runs = 0;
    s.Add("billing-events", 1h, [&] {
        if (++runs == 1) s.Wake("billing-events");  // a webhook arrives while the events are processed
    });

    s.Wake("billing-events");
    EXPECT_EQ(s.RunDue(), 1u);
    EXPECT_EQ(s.RunDue(), 1u);  // due at once, without the clock moving
    EXPECT_EQ(s.RunDue(), 0u);
    EXPECT_EQ(runs, 2);
}

TEST(Scheduler, RunAllOnceRunsEachTaskOnceAndRestartsItsInterval) {
    FakeClock clock;
    Scheduler s(clock);
    int a = 0;
    int b = 0;
    s.Add("a", 60s, [&] { ++a; });
    s.Add("b", 1h, [&]() -> Result<void> {
        ++b;
        return {};
    });

    clock.Advance(30s);
    s.RunAllOnce();
    EXPECT_EQ(a, 1);
    EXPECT_EQ(b, 1);
    const std::string metrics = Metrics(s);
    EXPECT_TRUE(Contains(metrics, "gpuopt_job_runs_total{job=\"a\"} 1\n")) << metrics;
    EXPECT_TRUE(Contains(metrics, "gpuopt_job_runs_total{job=\"b\"} 1\n")) << metrics;

    clock.Advance(30s);  // t=60 s: would have been due, but it ran at t=30 s
    EXPECT_EQ(s.RunDue(), 0u);
    clock.Advance(30s);
    EXPECT_EQ(s.RunDue(), 1u);
    EXPECT_EQ(a, 2);
    EXPECT_EQ(b, 1);
}

TEST(Scheduler, ReturnedErrorsAndExceptionsCountAsFailures) {
    LogCapture log;
    FakeClock clock;
    Scheduler s(clock);
    s.Add("returns-error", 1h, [] { return Result<void>(Error{ErrorCode::kUnavailable, "gateway down", {}}); });
    s.Add("returns-bare-error", 1h, [] { return Error::Validation("amount", "is negative"); });
    s.Add("throws", 1h, [] { throw std::runtime_error("disk full"); });
    s.Add("result-throws", 1h, []() -> Result<void> { throw std::runtime_error("broken invariant"); });
    s.Add("succeeds", 1h, []() -> Result<void> { return {}; });
    const std::function<void()> void_task = [] {};
    s.Add("void-function", 1h, void_task);

    s.RunAllOnce();
    s.RunAllOnce();

    const std::string metrics = Metrics(s);
    EXPECT_TRUE(Contains(metrics, "gpuopt_job_failures_total{job=\"returns-error\"} 2\n")) << metrics;
    EXPECT_TRUE(Contains(metrics, "gpuopt_job_failures_total{job=\"returns-bare-error\"} 2\n")) << metrics;
    EXPECT_TRUE(Contains(metrics, "gpuopt_job_failures_total{job=\"throws\"} 2\n")) << metrics;
    EXPECT_TRUE(Contains(metrics, "gpuopt_job_failures_total{job=\"result-throws\"} 2\n")) << metrics;
    EXPECT_TRUE(Contains(metrics, "gpuopt_job_failures_total{job=\"succeeds\"} 0\n")) << metrics;
    EXPECT_TRUE(Contains(metrics, "gpuopt_job_failures_total{job=\"void-function\"} 0\n")) << metrics;
    EXPECT_TRUE(Contains(metrics, "gpuopt_job_runs_total{job=\"returns-error\"} 2\n")) << metrics;
    EXPECT_TRUE(Contains(metrics, "gpuopt_job_runs_total{job=\"throws\"} 2\n")) << metrics;

    // Each failure is logged once.
    EXPECT_EQ(log.Count("job returns-error failed: gateway down\n"), 2u) << log.text();
    EXPECT_EQ(log.Count("job returns-bare-error failed: Invalid request (amount: is negative)\n"), 2u) << log.text();
    EXPECT_EQ(log.Count("job throws failed: disk full\n"), 2u) << log.text();
    EXPECT_EQ(log.Count("job result-throws failed: broken invariant\n"), 2u) << log.text();
    EXPECT_EQ(log.Count("failed"), 8u) << log.text();

    // A failed task runs again next time.
    clock.Advance(1h);
    EXPECT_EQ(s.RunDue(), 6u);
}

TEST(Scheduler, WriteMetricsReportsEverySchedulerAndTheLastDurationOnItsClock) {
    FakeClock clock;
    Scheduler first(clock);
    Scheduler second(clock);
    first.Add("rollup", 1h, [&] { clock.Advance(1500ms); });
    second.Add("mail", 1h, [] {});
    first.RunAllOnce();

    std::string out;
    Scheduler::WriteMetrics(out, {&first, &second});
    EXPECT_TRUE(Contains(out, "# TYPE gpuopt_job_runs_total counter\n")) << out;
    EXPECT_TRUE(Contains(out, "# TYPE gpuopt_job_failures_total counter\n")) << out;
    EXPECT_TRUE(Contains(out, "# TYPE gpuopt_job_last_duration_seconds gauge\n")) << out;
    EXPECT_TRUE(Contains(out, "gpuopt_job_runs_total{job=\"rollup\"} 1\n")) << out;
    EXPECT_TRUE(Contains(out, "gpuopt_job_runs_total{job=\"mail\"} 0\n")) << out;
    EXPECT_TRUE(Contains(out, "gpuopt_job_last_duration_seconds{job=\"rollup\"} 1.500000\n")) << out;
    EXPECT_TRUE(Contains(out, "gpuopt_job_last_duration_seconds{job=\"mail\"} 0.000000\n")) << out;
}

TEST(Scheduler, StopWithoutStartIsIdempotentAndEndsLaterRuns) {
    FakeClock clock;
    Scheduler s(clock);
    int runs = 0;
    s.Add("rollup", 60s, [&] { ++runs; });
    s.Stop();
    s.Stop();
    clock.Advance(1h);
    s.Wake("rollup");
    EXPECT_EQ(s.RunDue(), 0u);
    s.Start();  // after Stop(): does nothing
    EXPECT_EQ(s.RunDue(), 0u);
    EXPECT_EQ(runs, 0);
    s.Stop();
}

// --- The scheduler's own thread ---

TEST(Scheduler, StartArmsEachTaskOneIntervalAfterStart) {
    FakeClock clock;
    Scheduler s(clock);
    s.Add("rollup", 60s, [] {});
    s.Add("retention", 10min, [] {});
    clock.Advance(50s);
    const TimePoint started = clock.Now();
    s.Start();
    ASSERT_TRUE(clock.log.WaitAtLeast(1));
    EXPECT_EQ(clock.log.last_deadline(), started + 60s);  // not 60 s after Add()
    EXPECT_TRUE(Contains(Metrics(s), "gpuopt_job_runs_total{job=\"rollup\"} 0\n"));
    s.Stop();
}

TEST(Scheduler, WakeBeforeStartRunsTheTaskOnceStarted) {
    FakeClock clock;
    Scheduler s(clock);
    Counter runs;
    s.Add("billing-events", 1h, [&] { runs.Add(); });
    s.Wake("billing-events");
    s.Start();
    EXPECT_TRUE(runs.WaitAtLeast(1, kTimeout));
    s.Stop();
    EXPECT_EQ(runs.value(), 1);
}

// The bug this scheduler was rewritten for: the thread waited for the deadline it had chosen (the lifecycle's)
// even after Wake() made another task (the gateway events) due, so a webhook's events waited up to an interval.
TEST(Scheduler, WakeInterruptsTheWaitForAnotherTasksDeadline) {
    FakeClock clock;
    Scheduler s(clock);
    Counter events;
    std::atomic<int> lifecycle{0};
    s.Add("billing-events", 3h, [&] { events.Add(); });
    s.Add("billing-lifecycle", 2h, [&] { ++lifecycle; });
    const TimePoint started = clock.Now();
    s.Start();
    ASSERT_TRUE(clock.log.WaitAtLeast(1));
    ASSERT_EQ(clock.log.last_deadline(), started + 2h);  // waiting for the lifecycle

    s.Wake("billing-events");
    ASSERT_TRUE(events.WaitAtLeast(1, kTimeout));  // the fake time never reaches either deadline
    EXPECT_EQ(lifecycle.load(), 0);
    ASSERT_TRUE(clock.log.WaitAtLeast(2));
    EXPECT_EQ(clock.log.last_deadline(), started + 2h);  // and then back to waiting for the lifecycle
    s.Stop();
    EXPECT_EQ(events.value(), 1);
}

TEST(Scheduler, WakeInterruptsTheWaitOnTheSteadyClock) {
    WatchedSteadyClock clock;
    Scheduler s(clock);
    Counter events;
    std::atomic<int> lifecycle{0};
    s.Add("billing-events", 3h, [&] { events.Add(); });
    s.Add("billing-lifecycle", 2h, [&] { ++lifecycle; });
    const auto started = std::chrono::steady_clock::now();
    s.Start();
    ASSERT_TRUE(clock.log.WaitAtLeast(1));  // the thread waits for the lifecycle, two hours away

    s.Wake("billing-events");
    ASSERT_TRUE(events.WaitAtLeast(1, kTimeout));
    EXPECT_LT(std::chrono::steady_clock::now() - started, 1h);  // well before either deadline
    EXPECT_EQ(lifecycle.load(), 0);
    s.Stop();
}

TEST(Scheduler, DefaultSchedulerRunsAWokenTaskAndStops) {
    Scheduler s;
    Counter runs;
    s.Add("mail", 1h, [&] { runs.Add(); });
    s.Start();
    s.Wake("mail");
    EXPECT_TRUE(runs.WaitAtLeast(1, kTimeout));
    s.Stop();
    s.Stop();
}

TEST(Scheduler, StopWaitsForARunningTaskAndIsIdempotent) {
    FakeClock clock;
    Scheduler s(clock);
    Gate gate;
    Counter started;
    std::atomic<bool> finished{false};
    std::atomic<int> after_stop{0};
    s.Add("slow", 1h, [&] {
        started.Add();
        gate.Pass();
        finished = true;
    });
    s.Add("other", 1h, [&] { ++after_stop; });
    s.Start();
    s.Wake("slow");
    ASSERT_TRUE(started.WaitAtLeast(1, kTimeout));

    std::atomic<bool> first_saw_finished{false};
    std::atomic<bool> second_saw_finished{false};
    auto first = std::async(std::launch::async, [&] {
        s.Stop();
        first_saw_finished = finished.load();
    });
    auto second = std::async(std::launch::async, [&] {
        s.Stop();
        second_saw_finished = finished.load();
    });
    // Neither call can return while the task runs (a bounded look, not a timing assertion: a Stop() that did
    // not wait would have returned by now).
    EXPECT_EQ(first.wait_for(200ms), std::future_status::timeout);
    gate.Open();
    first.get();
    second.get();
    EXPECT_TRUE(first_saw_finished.load());
    EXPECT_TRUE(second_saw_finished.load());
    s.Stop();

    s.Wake("other");  // after Stop(): never runs
    clock.Advance(2h);
    EXPECT_EQ(s.RunDue(), 0u);
    EXPECT_EQ(after_stop.load(), 0);
    EXPECT_EQ(started.value(), 1);
}

TEST(Scheduler, NeverRunsTwoTasksAtOnce) {
    FakeClock clock;
    Scheduler s(clock);
    Gate gate;
    Counter started;
    std::atomic<int> active{0};
    std::atomic<int> most{0};
    auto enter = [&] {
        const int now = ++active;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
    };
    s.Add("held", 1h, [&] {
        enter();
        started.Add();
        gate.Pass();
        --active;
    });
    s.Add("quick", 1h, [&] {
        enter();
        --active;
    });
    s.Start();
    s.Wake("held");
    ASSERT_TRUE(started.WaitAtLeast(1, kTimeout));

    auto all = std::async(std::launch::async, [&] { s.RunAllOnce(); });
    EXPECT_EQ(all.wait_for(200ms), std::future_status::timeout);  // waits for the run on the thread
    gate.Open();
    all.get();
    s.Stop();
    EXPECT_EQ(most.load(), 1);
    EXPECT_EQ(started.value(), 2);  // the thread's run, then RunAllOnce's
}

}  // namespace
}  // namespace gpuopt::jobs
