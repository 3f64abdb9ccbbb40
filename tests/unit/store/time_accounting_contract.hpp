// Time is never counted twice, on every store backend: for one GPU, overlapping windows are merged at ingest
// (not added), a window counts at the precision it was sent, a report without a window covers only the time
// since the GPU's previous one (capped), and the reported time of any range never exceeds the range's length.
// Real store, real analysis. sqlite_contract_test.cpp and pg_contract_test.cpp instantiate it.
//
// This header defines tests: include it from exactly one .cpp file per test binary.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <random>
#include <string>
#include <vector>

#include "analysis/history.hpp"
#include "jobs/history_jobs.hpp"
#include "store/database.hpp"
#include "unit/store/backend_fixture.hpp"

namespace gpuopt::store::contract {

using namespace std::chrono;

inline const SysMillis kT0 = sys_days{2026y / 11 / 25} + 10h + 0ms;

template <class Backend>
class TimeAccountingContract : public BackendFixture<Backend> {
protected:
    void SetUp() override {
        BackendFixture<Backend>::SetUp();
        if (this->HasFatalFailure()) return;
        std::promise<Result<Account>> p;
        this->db().accounts().CreateAccount(
            {"t@example.com", "hash-t", "gopt_abcd", Tier::kEnterprise, floor<seconds>(kT0) - days(1), {}},
            [&](Result<Account> r) { p.set_value(std::move(r)); });
        auto account = p.get_future().get();
        ASSERT_TRUE(account.ok());
        account_ = account->id;
    }

    // One GPU's report: a window [start, end] as sent, or (no start) the prototype's form arriving at `end`.
    void Ingest(std::optional<SysMillis> start, SysMillis end, double util = 2, const std::string& host = "h") {
        UsageReport r;
        r.report_id = "r" + std::to_string(++reports_);
        r.agent_id = host;
        r.hostname = host;
        r.implicit_window = !start.has_value();
        r.window_end_ms = end;
        r.window_start_ms = start.value_or(end - seconds(60));
        r.window_end = floor<seconds>(end);
        r.window_start = floor<seconds>(r.window_start_ms);
        GpuWindow g;
        g.gpu_key = host + "/GPU-0";
        g.uuid = "GPU-0";
        g.name = "A100";
        g.util_avg = util;
        g.mem_used_mib = 1;
        g.mem_total_mib = 2;
        g.cost_per_hour = 3.6;
        g.processes_json = "[]";
        r.gpus.push_back(g);
        std::promise<Result<IngestOutcome>> p;
        this->db().usage().IngestReport(
            {account_, std::move(r), std::nullopt, hours(24), floor<seconds>(end), seconds(600)},
            [&](Result<IngestOutcome> res) { p.set_value(std::move(res)); });
        ASSERT_TRUE(p.get_future().get().ok());
    }
    std::vector<StoredWindow> Windows() {
        return this->db()
            .usage()
            .ReadWindows(account_, floor<seconds>(kT0) - days(2), floor<seconds>(kT0) + days(2))
            .value();
    }
    double CountedSeconds() {
        double total = 0;
        for (const auto& w : Windows()) total += static_cast<double>(w.counted_ms.value_or(-1)) / 1000.0;
        return total;
    }
    // Reported seconds of the GPU over [from, to] (whole seconds, as the API takes ranges).
    double Reported(SysSeconds from, SysSeconds to) {
        auto histories = analysis::Histories(Windows(), analysis::IdleRules{});
        if (histories.empty()) return 0;
        return analysis::Summarize(histories[0].slices, {from, to}, 0.5).reported_hours * 3600.0;
    }

    int64_t account_ = 0;
    int reports_ = 0;
};

TYPED_TEST_SUITE_P(TimeAccountingContract);

TYPED_TEST_P(TimeAccountingContract, APrototypeBurstCountsOnceNotSixTimes) {
    for (int i = 0; i < 6; ++i) this->Ingest(std::nullopt, kT0 + milliseconds(150 * i));
    // The first covers the default 60 s; the rest only the 150 ms since the one before.
    EXPECT_NEAR(this->CountedSeconds(), 60.0 + 5 * 0.15, 1e-9);
}

TYPED_TEST_P(TimeAccountingContract, AWindowlessReportCoversTheTimeSinceThePreviousOneUpToTheCap) {
    this->Ingest(std::nullopt, kT0);                        // 60 s
    this->Ingest(std::nullopt, kT0 + seconds(300));         // the prototype's agent every 5 minutes: 300 s
    this->Ingest(std::nullopt, kT0 + seconds(600));         // 300 s
    this->Ingest(std::nullopt, kT0 + seconds(600 + 3600));  // an hour of silence: the 600 s cap, not an hour
    EXPECT_NEAR(this->CountedSeconds(), 60 + 300 + 300 + 600, 1e-9);
}

TYPED_TEST_P(TimeAccountingContract, OverlappingWindowsAreMergedAndSubSecondWindowsCountAtTheirPrecision) {
    this->Ingest(kT0, kT0 + seconds(60));
    this->Ingest(kT0 + seconds(30), kT0 + seconds(90));  // half of it was counted already
    this->Ingest(kT0 + seconds(10), kT0 + seconds(50));  // all of it was
    EXPECT_NEAR(this->CountedSeconds(), 90, 1e-9);
    // 240 windows of 100 ms: 24 s of wall time is 24 s, not 240.
    for (int i = 0; i < 240; ++i)
        this->Ingest(kT0 + seconds(100) + milliseconds(100 * i), kT0 + seconds(100) + milliseconds(100 * (i + 1)));
    EXPECT_NEAR(this->CountedSeconds(), 90 + 24, 1e-6);
}

TYPED_TEST_P(TimeAccountingContract, CoverageSurvivesARestart) {
    this->Ingest(kT0, kT0 + seconds(60));
    for (int i = 0; i < 3; ++i) this->Ingest(std::nullopt, kT0 + seconds(61));  // gpus_seen is not refreshed for these
    ASSERT_NO_FATAL_FAILURE(this->Reopen());
    this->Ingest(kT0 + seconds(30), kT0 + seconds(90));
    this->Ingest(std::nullopt, kT0 + seconds(120));
    EXPECT_NEAR(this->CountedSeconds(), 60 + 1 + 29 + 30, 1e-9);
}

TYPED_TEST_P(TimeAccountingContract, HistoryPostedNewestFirstCountsEveryGapOnce) {
    for (int m = 10; m > 0; --m) this->Ingest(kT0 + minutes(m - 1), kT0 + minutes(m));
    this->Ingest(kT0 + seconds(30), kT0 + seconds(150));  // overlaps what is there: nothing new
    EXPECT_NEAR(this->CountedSeconds(), 600, 1e-9);
    // After a restart, what was stored counts as covered up to its latest end.
    ASSERT_NO_FATAL_FAILURE(this->Reopen());
    this->Ingest(kT0 + minutes(4), kT0 + minutes(5));
    this->Ingest(kT0 + minutes(10), kT0 + minutes(11));
    EXPECT_NEAR(this->CountedSeconds(), 660, 1e-9);
}

TYPED_TEST_P(TimeAccountingContract, HostsAreSeparateGpus) {
    this->Ingest(std::nullopt, kT0, 2, "10.0.0.1");
    this->Ingest(std::nullopt, kT0, 2, "10.0.0.2");  // the same /index:0 elsewhere: not merged with the first
    EXPECT_NEAR(this->CountedSeconds(), 120, 1e-9);
}

// The property, over random streams of full windows (any length from 50 ms to 2 min, overlapping at random)
// and windowless bursts.
TYPED_TEST_P(TimeAccountingContract, ReportedTimeOfAnyRangeNeverExceedsItsLengthAndWindowsAreMergedExactly) {
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> length_ms(50, 120000), overlap_ms(0, 90000), coin(0, 9);
    SysMillis end = kT0, previous_start = kT0 - seconds(120);
    std::vector<std::pair<int64_t, int64_t>> sent;  // full windows only, for the exact check below
    bool implicit_seen = false;
    for (int i = 0; i < 400; ++i) {
        if (coin(rng) == 0) {
            const int burst = 1 + coin(rng);
            for (int b = 0; b < burst; ++b) {
                end += milliseconds(coin(rng) * 40);
                this->Ingest(std::nullopt, end);
            }
            implicit_seen = true;
            continue;
        }
        const SysMillis start = std::max(previous_start, end - milliseconds(overlap_ms(rng)));
        previous_start = start;
        end = std::max(end, start + milliseconds(length_ms(rng)));
        this->Ingest(start, end);
        sent.emplace_back(start.time_since_epoch().count(), end.time_since_epoch().count());
    }
    const auto first = floor<seconds>(kT0) - seconds(300);
    const auto last = ceil<seconds>(end) + seconds(300);
    std::uniform_int_distribution<int64_t> at(0, (last - first).count());
    auto every_range_fits = [&](int ranges) {
        for (int r = 0; r < ranges; ++r) {
            auto a = first + seconds(at(rng)), b = first + seconds(at(rng));
            if (a == b) continue;
            if (b < a) std::swap(a, b);
            EXPECT_LE(this->Reported(a, b), static_cast<double>((b - a).count()) + 1e-6)
                << FormatUtc(a) << " .. " << FormatUtc(b);
        }
    };
    every_range_fits(500);
    EXPECT_LE(this->Reported(first, last), static_cast<double>((last - first).count()));
    ASSERT_TRUE(implicit_seen);
    // Without the windowless reports, in the order an agent sends them (each starting no earlier than the
    // one before), the counted time is exactly the measure of the union of the windows.
    this->TearDown();
    ASSERT_NO_FATAL_FAILURE(this->SetUp());
    for (auto [s, e] : sent) this->Ingest(SysMillis(milliseconds(s)), SysMillis(milliseconds(e)));
    int64_t union_ms = 0, run_start = sent[0].first, run_end = sent[0].second;
    for (auto [s, e] : sent) {
        if (s > run_end) {
            union_ms += run_end - run_start;
            run_start = s;
        }
        run_end = std::max(run_end, e);
    }
    union_ms += run_end - run_start;
    EXPECT_NEAR(this->CountedSeconds(), static_cast<double>(union_ms) / 1000.0, 1e-6);
    // In any order at all (a backfill posted newest first, two agents on one GPU), never more than the union,
    // and never more than a range's length in any range.
    this->TearDown();
    ASSERT_NO_FATAL_FAILURE(this->SetUp());
    std::shuffle(sent.begin(), sent.end(), rng);
    for (auto [s, e] : sent) this->Ingest(SysMillis(milliseconds(s)), SysMillis(milliseconds(e)));
    EXPECT_LE(this->CountedSeconds(), static_cast<double>(union_ms) / 1000.0 + 1e-6);
    every_range_fits(300);
}

TYPED_TEST_P(TimeAccountingContract, TheRollUpSplitsAWindowAcrossHoursAndAgreesWithRawWindows) {
    const SysMillis hour = floor<hours>(kT0) + hours(1);
    this->Ingest(hour - minutes(20), hour + minutes(40), 2);  // 20 min in one hour, 40 in the next
    this->Ingest(hour + minutes(40), hour + minutes(50), 90);
    ASSERT_TRUE(jobs::RunRollup(this->db().usage(), analysis::IdleRules{}).ok());
    auto rolled = this->db()
                      .usage()
                      .ReadRolledHistory(this->account_, floor<hours>(kT0) - hours(1), floor<hours>(kT0) + hours(3))
                      .value();
    ASSERT_TRUE(rolled.unmerged.empty());
    const auto& rows = rolled.hours;
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_NEAR(rows[0].reported_s, 1200, 1e-6);
    EXPECT_NEAR(rows[1].reported_s, 3000, 1e-6);
    EXPECT_LE(rows[1].reported_s, 3600);
    const auto from = floor<seconds>(hour) - hours(1), to = floor<seconds>(hour) + hours(1);
    auto hourly = analysis::Histories(rolled, analysis::IdleRules{});
    const auto by_hour = analysis::Summarize(hourly[0].slices, {from, to}, 0.5);
    EXPECT_NEAR(by_hour.reported_hours * 3600, this->Reported(from, to), 1e-6);
    EXPECT_NEAR(by_hour.idle_hours * 3600, 3600, 1e-6);
}

REGISTER_TYPED_TEST_SUITE_P(TimeAccountingContract, APrototypeBurstCountsOnceNotSixTimes,
                            AWindowlessReportCoversTheTimeSinceThePreviousOneUpToTheCap,
                            OverlappingWindowsAreMergedAndSubSecondWindowsCountAtTheirPrecision,
                            CoverageSurvivesARestart, HistoryPostedNewestFirstCountsEveryGapOnce, HostsAreSeparateGpus,
                            ReportedTimeOfAnyRangeNeverExceedsItsLengthAndWindowsAreMergedExactly,
                            TheRollUpSplitsAWindowAcrossHoursAndAgreesWithRawWindows);

}  // namespace gpuopt::store::contract
