// The cost-analysis engine over synthetic histories whose answers are worked out by hand, then
// properties over random histories.
#include "analysis/history.hpp"

#include <gtest/gtest.h>

#include <random>

#include "windows.hpp"

namespace gpuopt::analysis {
namespace {

using namespace std::chrono;
using namespace testing;

Totals Sum(const std::vector<store::StoredWindow>& windows, Range r) {
    auto h = Histories(windows, kRules);
    std::vector<Totals> parts;
    for (const auto& g : h) parts.push_back(Summarize(g.slices, r, 0.5));
    return Combine(parts);
}

const Range kOneDay{kDay, kDay + hours(24)};

// 1. One A100 at $2.74/h idle exactly 6 of 24 hours.
TEST(History, SixIdleHoursOfADayCost16Dollars44) {
    auto w = Windows(Gpu{}, kDay, 24 * 60, [](int m, store::StoredWindow& x) { x.util_avg = m < 6 * 60 ? 2 : 80; });
    Totals t = Sum(w, kOneDay);
    EXPECT_NEAR(t.idle_hours, 6, 1e-9);
    EXPECT_NEAR(t.idle_cost, 16.44, 1e-9);
    EXPECT_NEAR(t.recoverable_savings, 8.22, 1e-9);
    EXPECT_NEAR(t.cost, 24 * 2.74, 1e-9);
    EXPECT_NEAR(t.busy_hours, 18, 1e-9);
    EXPECT_NEAR(t.unknown_hours, 0, 1e-9);
    EXPECT_NEAR(t.IdleFraction(), 0.25, 1e-12);
}

// 2. Gaps in reporting are unknown, not idle.
TEST(History, ReportingGapsAreUnknownNotIdle) {
    // Reports for the first 8 hours only (all idle), then nothing.
    auto w = Windows(Gpu{}, kDay, 8 * 60, [](int, store::StoredWindow& x) { x.util_avg = 1; });
    Totals t = Sum(w, kOneDay);
    EXPECT_NEAR(t.reported_hours, 8, 1e-9);
    EXPECT_NEAR(t.unknown_hours, 16, 1e-9);
    EXPECT_NEAR(t.idle_hours, 8, 1e-9);
    EXPECT_NEAR(t.idle_cost, 8 * 2.74, 1e-9);
}

// 3. The agent's measured idle fraction wins over the window average.
TEST(History, MeasuredIdleFractionsCountPartWindows) {
    // Average 40 % (busy by the threshold) but half the samples idle: 30 s idle a window.
    auto w = Windows(Gpu{}, kDay, 120, [](int, store::StoredWindow& x) {
        x.util_avg = 40;
        x.idle_fraction = 0.5;
    });
    Totals t = Sum(w, {kDay, kDay + hours(2)});
    EXPECT_NEAR(t.idle_hours, 1, 1e-9);
    EXPECT_NEAR(t.idle_cost, 2.74, 1e-9);
}

// 4. Without a measured fraction the threshold decides, strictly below.
TEST(History, ThresholdDecidesWindowsWithoutAFraction) {
    auto w = Windows(Gpu{}, kDay, 60, [](int m, store::StoredWindow& x) { x.util_avg = m % 2 == 0 ? 15.0 : 14.99; });
    Totals t = Sum(w, {kDay, kDay + hours(1)});
    EXPECT_NEAR(t.idle_hours, 0.5, 1e-9);
}

// 5. A GPU holding 30 GB while idle: its own finding, with its period.
TEST(History, IdleWhileHoldingMemoryIsFoundWithItsPeriod) {
    // 2 h busy, then 3 h idle with a notebook holding 30 GB, then 1 h idle with nothing held.
    auto w = Windows(Gpu{}, kDay, 6 * 60, [](int m, store::StoredWindow& x) {
        if (m < 120) {
            x.util_avg = 90;
            x.idle_fraction = 0;
            x.idle_held_fraction = 0;
            x.mem_used_mib = 32000;
        } else if (m < 300) {
            x.util_avg = 0.5;
            x.idle_fraction = 1;
            x.idle_held_fraction = 1;
            x.mem_used_mib = 30720;
        } else {
            x.util_avg = 0.2;
            x.idle_fraction = 1;
            x.idle_held_fraction = 0;
            x.mem_used_mib = 4;
        }
    });
    const Range r{kDay, kDay + hours(6)};
    Totals t = Sum(w, r);
    EXPECT_NEAR(t.idle_hours, 4, 1e-9);
    EXPECT_NEAR(t.idle_held_hours, 3, 1e-9);
    EXPECT_NEAR(t.idle_held_cost, 3 * 2.74, 1e-9);
    auto h = Histories(w, kRules);
    auto periods = IdleHeldPeriods(h[0].slices, r);
    ASSERT_EQ(periods.size(), 1u);
    EXPECT_EQ(periods[0].start, kDay + hours(2));
    EXPECT_EQ(periods[0].end, kDay + hours(5));
    EXPECT_NEAR(periods[0].held_hours, 3, 1e-9);
    EXPECT_EQ(periods[0].mem_used_max, 30720);
}

// 6. Prototype reports (no agent fractions): memory over 1 GiB while idle counts as held.
TEST(History, WithoutAgentFractionsMemoryInUseMeansHeld) {
    auto w = Windows(Gpu{}, kDay, 60, [](int m, store::StoredWindow& x) {
        x.util_avg = 3;
        x.mem_used_mib = m < 30 ? 20000 : 500;
    });
    Totals t = Sum(w, {kDay, kDay + hours(1)});
    EXPECT_NEAR(t.idle_hours, 1, 1e-9);
    EXPECT_NEAR(t.idle_held_hours, 0.5, 1e-9);
}

// 7. A price change mid-range: each window at its own price.
TEST(History, CostFollowsThePriceOfEachWindow) {
    auto w = Windows(Gpu{}, kDay, 120, [](int m, store::StoredWindow& x) {
        x.util_avg = 1;
        x.cost_per_hour = m < 60 ? 2.0 : 4.0;
    });
    Totals t = Sum(w, {kDay, kDay + hours(2)});
    EXPECT_NEAR(t.cost, 6, 1e-9);
    EXPECT_NEAR(t.idle_cost, 6, 1e-9);
    EXPECT_NEAR(t.cost_per_hour, 3, 1e-9);
}

// 8. Hosts and the fleet add up their GPUs.
TEST(History, HostAndFleetTotalsAreSums) {
    Gpu a, b, c;
    b.key = "h/GPU-2";
    c.key = "other/GPU-3";
    c.host = "other";
    c.cost = 1.0;
    auto w = Windows(a, kDay, 60, [](int, store::StoredWindow& x) { x.util_avg = 1; });
    auto wb = Windows(b, kDay, 60, [](int, store::StoredWindow& x) { x.util_avg = 99; });
    auto wc = Windows(c, kDay, 60, [](int, store::StoredWindow& x) { x.util_avg = 1; });
    w.insert(w.end(), wb.begin(), wb.end());
    w.insert(w.end(), wc.begin(), wc.end());
    const Range r{kDay, kDay + hours(1)};
    auto histories = Histories(w, kRules);
    ASSERT_EQ(histories.size(), 3u);
    std::vector<Totals> h_parts, all;
    for (const auto& g : histories) {
        all.push_back(Summarize(g.slices, r, 0.5));
        if (g.host == "h") h_parts.push_back(all.back());
    }
    Totals host = Combine(h_parts), fleet = Combine(all);
    EXPECT_NEAR(host.idle_hours, 1, 1e-9);
    EXPECT_NEAR(host.idle_cost, 2.74, 1e-9);
    EXPECT_NEAR(host.cost, 5.48, 1e-9);
    EXPECT_NEAR(fleet.idle_hours, 2, 1e-9);
    EXPECT_NEAR(fleet.idle_cost, 3.74, 1e-9);
    EXPECT_NEAR(fleet.recoverable_savings, 1.87, 1e-9);
    EXPECT_NEAR(fleet.util_avg, (1 + 99 + 1) / 3.0, 1e-9);
}

// 9. A range counts windows ending in (from, to].
TEST(History, ARangeHoldsTheWindowsThatEndInIt) {
    auto w = Windows(Gpu{}, kDay, 120, [](int, store::StoredWindow& x) { x.util_avg = 1; });
    EXPECT_NEAR(Sum(w, {kDay + minutes(30), kDay + minutes(90)}).reported_hours, 1, 1e-9);
    EXPECT_NEAR(Sum(w, {kDay + minutes(119), kDay + minutes(120)}).reported_hours, 1.0 / 60, 1e-9);
}

// 10. The roll-up gives the same totals as the raw windows for an hour-aligned range.
TEST(History, HourlyRollUpMatchesRawWindows) {
    std::mt19937 rng(7);
    auto w = Windows(Gpu{}, kDay, 5 * 60, [&](int, store::StoredWindow& x) {
        x.util_avg = std::uniform_real_distribution<double>(0, 100)(rng);
        x.idle_fraction = std::uniform_real_distribution<double>(0, 1)(rng);
        x.idle_held_fraction = *x.idle_fraction * 0.5;
        x.mem_used_mib = std::uniform_real_distribution<double>(0, 40000)(rng);
        x.sm_active = std::uniform_real_distribution<double>(0, 100)(rng);
    });
    const Range r{kDay + hours(1), kDay + hours(4)};
    Totals raw = Sum(w, r);
    auto hours = RollUp(w, kRules);
    EXPECT_EQ(hours.size(), 5u);
    auto hh = Histories(hours);
    Totals rolled = Summarize(hh[0].slices, r, 0.5);
    EXPECT_NEAR(rolled.reported_hours, raw.reported_hours, 1e-9);
    EXPECT_NEAR(rolled.idle_hours, raw.idle_hours, 1e-9);
    EXPECT_NEAR(rolled.idle_held_hours, raw.idle_held_hours, 1e-9);
    EXPECT_NEAR(rolled.cost, raw.cost, 1e-9);
    EXPECT_NEAR(rolled.idle_cost, raw.idle_cost, 1e-9);
    EXPECT_NEAR(rolled.util_avg, raw.util_avg, 1e-9);
    EXPECT_NEAR(rolled.util_max, raw.util_max, 1e-9);
    EXPECT_NEAR(rolled.mem_used_max, raw.mem_used_max, 1e-9);
    EXPECT_NEAR(rolled.sm_hours, raw.sm_hours, 1e-9);
    EXPECT_NEAR(rolled.sm_avg, raw.sm_avg, 1e-9);
    // A window belongs to the hour that holds its last second: the one ending at 01:00 is hour 00.
    EXPECT_EQ(hours[0].hour, kDay);
    EXPECT_EQ(hours[0].windows, 60);
}

// 10b. SM activity counts only over the time that carried it: an hour at 20 % with GPM, an hour without,
// and a 120 s window straddling 02:00 that lays half its SM activity in each hour.
TEST(History, SmActivityIsSummedOverTheTimeThatCarriedIt) {
    auto w = Windows(Gpu{}, kDay, 120, [](int m, store::StoredWindow& x) {
        x.util_avg = 90;
        if (m < 60) x.sm_active = 20;
    });
    Totals t = Sum(w, {kDay, kDay + hours(2)});
    EXPECT_NEAR(t.reported_hours, 2, 1e-9);
    EXPECT_NEAR(t.sm_hours, 1, 1e-9);
    EXPECT_NEAR(t.SmCoverage(), 0.5, 1e-9);
    EXPECT_NEAR(t.sm_avg, 20, 1e-9);
    EXPECT_NEAR(t.sm_p95, 20, 1e-9);
    EXPECT_NEAR(t.util_avg, 90, 1e-9);

    auto straddle = Windows(Gpu{}, kDay + hours(2), 1, [](int, store::StoredWindow& x) {
        x.window_seconds = 120;
        x.sm_active = 40;
    });
    auto hours_rows = RollUp(straddle, kRules);
    ASSERT_EQ(hours_rows.size(), 2u);
    EXPECT_NEAR(hours_rows[0].sm_s, 60, 1e-9);
    EXPECT_NEAR(hours_rows[0].sm_weighted, 60 * 40, 1e-9);
    EXPECT_NEAR(hours_rows[1].sm_s, 60, 1e-9);
    // Merging rows adds the SM figures like every other sum.
    store::HourlyRow merged = hours_rows[0];
    Merge(merged, hours_rows[0]);
    EXPECT_NEAR(merged.sm_s, 120, 1e-9);
    EXPECT_NEAR(merged.sm_weighted, 2 * 60 * 40, 1e-9);
    // Without GPM there is none at all, and nothing is invented.
    auto plain = Windows(Gpu{}, kDay, 60, [](int, store::StoredWindow& x) { x.util_avg = 90; });
    Totals none = Sum(plain, {kDay, kDay + hours(1)});
    EXPECT_EQ(none.sm_hours, 0);
    EXPECT_EQ(none.SmCoverage(), 0);
    EXPECT_EQ(none.sm_p95, 0);
}

// 11. Roll-up rows merge by adding (late reports, replays).
TEST(History, RollUpRowsMergeByAdding) {
    auto w = Windows(Gpu{}, kDay, 60, [](int m, store::StoredWindow& x) { x.util_avg = m < 20 ? 1 : 60; });
    auto whole = RollUp(w, kRules);
    auto first = RollUp({w.begin(), w.begin() + 25}, kRules);
    auto rest = RollUp({w.begin() + 25, w.end()}, kRules);
    ASSERT_EQ(whole.size(), 1u);
    store::HourlyRow merged = first[0];
    Merge(merged, rest[0]);
    EXPECT_EQ(merged.windows, whole[0].windows);
    EXPECT_NEAR(merged.idle_s, whole[0].idle_s, 1e-9);
    EXPECT_NEAR(merged.cost_usd, whole[0].cost_usd, 1e-9);
    EXPECT_NEAR(merged.util_max, whole[0].util_max, 1e-9);
}

// 12. Idle streaks, for alerts: since when, broken by busy windows and by gaps.
TEST(History, IdleSinceFollowsTheLatestUnbrokenIdleStretch) {
    auto w = Windows(Gpu{}, kDay, 90, [](int m, store::StoredWindow& x) { x.util_avg = m < 50 ? 80 : 1; });
    auto h = Histories(w, kRules);
    const SysSeconds now = kDay + minutes(90) + seconds(20);
    auto since = IdleSince(h[0].slices, now);
    ASSERT_TRUE(since.has_value());
    EXPECT_EQ(*since, kDay + minutes(50));
    EXPECT_FALSE(IdleSince(h[0].slices, now + minutes(10)).has_value());  // stopped reporting: unknown
    // A reporting gap of 10 minutes ends the streak where the gap is.
    auto gappy = Windows(Gpu{}, kDay, 90, [](int, store::StoredWindow& x) { x.util_avg = 1; });
    gappy.erase(gappy.begin() + 40, gappy.begin() + 50);
    auto g = Histories(gappy, kRules);
    EXPECT_EQ(*IdleSince(g[0].slices, now), kDay + minutes(50));
}

// ---- Properties over random histories --------------------------------------------------------------

std::vector<store::StoredWindow> RandomHistory(std::mt19937& rng, int minutes) {
    std::uniform_real_distribution<double> u(0, 1);
    return Windows(Gpu{}, kDay, minutes, [&](int, store::StoredWindow& x) {
        x.util_avg = u(rng) * 100;
        if (u(rng) < 0.7) x.idle_fraction = u(rng);
        if (x.idle_fraction && u(rng) < 0.7) x.idle_held_fraction = u(rng);
        x.mem_used_mib = u(rng) * 40960;
        x.cost_per_hour = u(rng) * 10;
        x.window_seconds = 30 + static_cast<int>(u(rng) * 60);
        if (u(rng) < 0.6) x.sm_active = u(rng) * 100;
    });
}

TEST(HistoryProperties, SavingsNeverExceedCostAndFractionsStayInRange) {
    std::mt19937 rng(42);
    for (int trial = 0; trial < 200; ++trial) {
        auto w = RandomHistory(rng, 1 + static_cast<int>(rng() % 600));
        Totals t = Sum(w, {kDay - hours(1), kDay + hours(12)});
        EXPECT_LE(t.recoverable_savings, t.idle_cost + 1e-9);
        EXPECT_LE(t.idle_cost, t.cost + 1e-9);
        EXPECT_LE(t.idle_held_cost, t.idle_cost + 1e-9);
        EXPECT_GE(t.IdleFraction(), 0);
        EXPECT_LE(t.IdleFraction(), 1);
        EXPECT_LE(t.idle_held_hours, t.idle_hours + 1e-9);
        EXPECT_LE(t.SmCoverage(), 1);
        EXPECT_LE(t.sm_avg, 100 + 1e-9);
        EXPECT_LE(t.sm_p95, 100 + 1e-9);
    }
}

TEST(HistoryProperties, AddingBusySamplesNeverRaisesIdleCost) {
    std::mt19937 rng(43);
    for (int trial = 0; trial < 100; ++trial) {
        auto w = RandomHistory(rng, 1 + static_cast<int>(rng() % 300));
        const Range r{kDay - hours(1), kDay + hours(24)};
        const double before = Sum(w, r).idle_cost;
        // Busy windows after the others (new times, same GPU).
        auto busy = Windows(Gpu{}, kDay + hours(6), 1 + static_cast<int>(rng() % 120), [](int, store::StoredWindow& x) {
            x.util_avg = 95;
            x.idle_fraction = 0;
        });
        w.insert(w.end(), busy.begin(), busy.end());
        EXPECT_LE(Sum(w, r).idle_cost, before + 1e-9);
    }
}

TEST(HistoryProperties, RollUpTotalsEqualRawTotalsForTheSameRange) {
    std::mt19937 rng(44);
    for (int trial = 0; trial < 100; ++trial) {
        auto w = RandomHistory(rng, 1 + static_cast<int>(rng() % 900));
        const int from_h = static_cast<int>(rng() % 5), to_h = from_h + 1 + static_cast<int>(rng() % 12);
        const Range r{kDay + hours(from_h), kDay + hours(to_h)};
        Totals raw = Sum(w, r);
        auto hh = Histories(RollUp(w, kRules));
        Totals rolled = hh.empty() ? Totals{} : Summarize(hh[0].slices, r, 0.5);
        EXPECT_NEAR(rolled.idle_cost, raw.idle_cost, 1e-6);
        EXPECT_NEAR(rolled.cost, raw.cost, 1e-6);
        EXPECT_NEAR(rolled.idle_hours, raw.idle_hours, 1e-6);
        EXPECT_NEAR(rolled.reported_hours, raw.reported_hours, 1e-6);
        EXPECT_NEAR(rolled.sm_hours, raw.sm_hours, 1e-6);
        EXPECT_NEAR(rolled.sm_avg, raw.sm_avg, 1e-6);
    }
}

}  // namespace
}  // namespace gpuopt::analysis
