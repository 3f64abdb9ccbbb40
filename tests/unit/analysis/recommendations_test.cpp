// The savings plan: hand-computed cases, a known 8-GPU fleet whose plan must add up, the held-memory
// finding, right-sizing that respects what a smaller GPU cannot do, and properties over random fleets.
#include "analysis/recommendations.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <set>

#include "analysis/holders.hpp"
#include "windows.hpp"

namespace gpuopt::analysis {
namespace {

using namespace std::chrono;
using namespace testing;

// A catalog for the tests: an H100 80 GB, an A100 40 GB, a 48 GB L40S, a 24 GB L4 and a 16 GB T4.
PriceCatalog TestCatalog() {
    auto c = PriceCatalog::Parse(R"({"instances":[]})",
                                 R"({"models":[
          {"model":"H100 80GB","match":["H100"],"memory_gib":80,"fp16_tflops":989,"memory_bandwidth_gbs":3350,"class":"datacenter","usd_per_gpu_hour":4.50,"source":"t","as_of":"t"},
          {"model":"A100 40GB","match":["A100"],"memory_gib":40,"fp16_tflops":312,"memory_bandwidth_gbs":1555,"class":"datacenter","usd_per_gpu_hour":2.74,"source":"t","as_of":"t"},
          {"model":"L40S 48GB","match":["L40S"],"memory_gib":48,"fp16_tflops":362,"memory_bandwidth_gbs":864,"class":"universal","usd_per_gpu_hour":2.24,"source":"t","as_of":"t"},
          {"model":"L4 24GB","match":["L4"],"memory_gib":24,"fp16_tflops":121,"memory_bandwidth_gbs":300,"class":"inference","usd_per_gpu_hour":0.80,"source":"t","as_of":"t"},
          {"model":"T4 16GB","match":["T4"],"memory_gib":16,"fp16_tflops":65,"memory_bandwidth_gbs":320,"class":"inference","usd_per_gpu_hour":0.53,"source":"t","as_of":"t"}]})");
    return std::move(*c);
}

const PriceCatalog& Catalog() {
    static const PriceCatalog catalog = TestCatalog();
    return catalog;
}

std::vector<GpuInput> Inputs(const std::vector<store::StoredWindow>& w, const Range& r,
                             const RecommendRules& rules = {}) {
    std::vector<GpuInput> in;
    auto held = LatestHolders(w, kRules);
    for (auto& g : Histories(w, kRules)) {
        Totals t = Summarize(g.slices, r, rules.recoverable_fraction);
        auto h = held.find(g.gpu_key);
        in.push_back({std::move(g), t, h == held.end() ? std::nullopt : std::optional(h->second)});
    }
    return in;
}

Plan PlanFor(const std::vector<store::StoredWindow>& w, const Range& r, const RecommendRules& rules = {}) {
    return Recommend(Inputs(w, r, rules), r, rules, Catalog());
}

const Recommendation* Find(const Plan& plan, Action type) {
    for (const auto& r : plan.recommendations) {
        if (r.action == type) return &r;
    }
    return nullptr;
}

const Option* FindAlternative(const Recommendation& r, Action type) {
    for (const auto& a : r.alternatives) {
        if (a.action == type) return &a;
    }
    return nullptr;
}

bool Mentions(const std::vector<std::string>& reasons, std::string_view what) {
    for (const auto& r : reasons) {
        if (r.find(what) != std::string::npos) return true;
    }
    return false;
}

const Range kWeek{kDay, kDay + days(7)};

// ---- Single GPUs, worked out by hand -----------------------------------------------------------------

TEST(Recommend, AFortyGigabyteGpuPeakingAtNineAtTwelvePercentIsRightSizedToAT4) {
    // 7 days at 12 % utilization (measured busy), peaking at 9 GB. Needs 9 × 1.2 = 10.8 GB, 312 × 0.12 =
    // 37.4 TFLOPS and 1555 × 0.12 = 187 GB/s: the T4 (16 GB, 65 × 0.8 = 52 TFLOPS, 320 × 0.8 = 256 GB/s)
    // carries it and is the cheapest that does.
    auto w = Windows(Gpu{}, kDay, 7 * 24 * 60, [](int m, store::StoredWindow& x) {
        x.util_avg = 12;
        x.idle_fraction = 0;
        x.mem_used_mib = m == 100 ? 9216 : 6000;
    });
    auto plan = PlanFor(w, kWeek);
    ASSERT_EQ(plan.recommendations.size(), 1u);
    const Recommendation& r = plan.recommendations[0];
    EXPECT_EQ(r.action, Action::kRightSize);
    EXPECT_NE(r.summary.find("T4 16GB"), std::string::npos) << r.summary;
    // (2.74 - 0.53) $/h × 168 h = 371.28 over the week; × 720 / 168 = 1591.20 a month.
    EXPECT_NEAR(r.range_savings, 371.28, 0.005);
    EXPECT_NEAR(r.monthly_savings, 1591.20, 0.005);
    // Down from a data-centre GPU to an inference one: possible, but said to be a guess, and why.
    EXPECT_EQ(r.confidence, Confidence::kLow);
    EXPECT_TRUE(Mentions(r.confidence_reasons, "NVLink"));
    EXPECT_TRUE(Mentions(r.confidence_reasons, "memory bandwidth"));
    EXPECT_EQ(plan.monthly_savings, r.monthly_savings);
}

TEST(Recommend, AnA100AtThirtyPercentIsNotAnL4Job) {
    // 312 × 0.3 = 93.6 TFLOPS would fit an L4 (121 × 0.8 = 96.8), but 1555 × 0.3 = 467 GB/s does not
    // (300 × 0.8 = 240): the L40S (864 × 0.8 = 691 GB/s) is the cheapest that carries it.
    auto w = Windows(Gpu{}, kDay, 7 * 24 * 60, [](int, store::StoredWindow& x) {
        x.util_avg = 30;
        x.mem_used_mib = 9216;
    });
    auto plan = PlanFor(w, kWeek);
    const Recommendation* r = Find(plan, Action::kRightSize);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->summary.find("L4 24GB"), std::string::npos) << r->summary;
    EXPECT_NE(r->summary.find("L40S 48GB"), std::string::npos) << r->summary;
    // (2.74 - 2.24) × 720 = 360.00 a month.
    EXPECT_NEAR(r->monthly_savings, 360.00, 0.005);
    bool bandwidth = false;
    for (const auto& e : r->evidence) {
        if (e.name == "bandwidth_needed") {
            bandwidth = true;
            EXPECT_NEAR(e.value, 467, 0.5);
        }
    }
    EXPECT_TRUE(bandwidth);
}

// An H100 whose utilization reads 97 % all week (a small kernel always running) while GPM says its SMs were
// 6 % busy (8 % in the busiest hours). Sized by SM activity it needs 989 × 0.08 = 79 TFLOPS and 3350 × 0.08
// = 268 GB/s with 18 GiB × 1.2 = 21.6 GiB of memory: the L4 lacks the bandwidth (300 × 0.8 = 240), the L40S
// (362 × 0.8 = 290 TFLOPS, 864 × 0.8 = 691 GB/s, 48 GiB) carries it for $2.24/h instead of $4.50/h.
const Gpu kH100{"gpu-1/GPU-h100", "gpu-1", "NVIDIA H100 80GB HBM3", 81559, 4.50};

std::vector<store::StoredWindow> SmallKernelWeek(double sm_share_of_time) {
    return Windows(kH100, kDay, 7 * 24 * 60, [&](int m, store::StoredWindow& x) {
        x.util_avg = 97;
        x.util_max = 100;
        x.idle_fraction = 0;
        x.mem_used_mib = 18432;
        if (m < sm_share_of_time * 7 * 24 * 60) x.sm_active = (m / 60) % 10 == 0 ? 8 : 6;
    });
}

TEST(Recommend, AnH100ThatUtilizationCallsBusyButSmActivityCallsLightIsRightSized) {
    auto plan = PlanFor(SmallKernelWeek(1.0), kWeek);
    const Recommendation* r = Find(plan, Action::kRightSize);
    ASSERT_NE(r, nullptr);
    EXPECT_NE(r->summary.find("L40S 48GB"), std::string::npos) << r->summary;
    EXPECT_NE(r->summary.find("8% SM activity (p95)"), std::string::npos) << r->summary;
    // (4.50 - 2.24) × 720 = 1627.20 a month.
    EXPECT_NEAR(r->monthly_savings, 1627.20, 0.005);
    std::map<std::string, double> evidence;
    for (const auto& e : r->evidence) evidence[e.name] = e.value;
    EXPECT_EQ(evidence.at("sm_active_p95"), 8);
    EXPECT_EQ(evidence.at("util_p95"), 97);  // shown beside it: what utilization alone would have said
    EXPECT_NEAR(evidence.at("compute_needed"), 79.1, 0.05);
    EXPECT_NEAR(evidence.at("bandwidth_needed"), 268, 0.5);
    EXPECT_TRUE(Mentions(r->confidence_reasons, "SM activity (GPM, measured over 100% of the reported time)"));
    EXPECT_TRUE(Mentions(r->confidence_reasons, "utilization counts any kernel running"));
    // Nor is it told to commit: its SMs are 6 % busy, so a commitment would lock the waste in.
    EXPECT_EQ(FindAlternative(*r, Action::kCommittedUse), nullptr);
    // Without GPM, the same utilization reads as busy around the clock: a commitment is offered.
    const Plan plain = PlanFor(SmallKernelWeek(0.0), kWeek);
    EXPECT_NE(Find(plain, Action::kCommittedUse), nullptr);
}

TEST(Recommend, WithoutSmActivityOverNearlyAllOfTheTimeUtilizationDecides) {
    // The same GPU without GPM, and with GPM over only half the week: utilization (97 %) decides, and no
    // smaller GPU carries 97 % of an H100.
    for (double share : {0.0, 0.5}) {
        auto plan = PlanFor(SmallKernelWeek(share), kWeek);
        EXPECT_EQ(Find(plan, Action::kRightSize), nullptr) << share;
        for (const auto& rec : plan.recommendations) {
            EXPECT_EQ(FindAlternative(rec, Action::kRightSize), nullptr) << share;
        }
    }
    // Where utilization is low enough to size by, the reason says which figure it is and why SM activity
    // was not used.
    auto half = Windows(kH100, kDay, 7 * 24 * 60, [](int m, store::StoredWindow& x) {
        x.util_avg = 8;
        x.idle_fraction = 0;
        x.mem_used_mib = 18432;
        if (m % 2 == 0) x.sm_active = 5;
    });
    const Plan half_plan = PlanFor(half, kWeek);
    const Recommendation* r = Find(half_plan, Action::kRightSize);
    ASSERT_NE(r, nullptr);
    EXPECT_NE(r->summary.find("8% utilization (p95)"), std::string::npos) << r->summary;
    EXPECT_TRUE(Mentions(r->confidence_reasons, "SM activity covers only 50% of the reported time"));
    for (const auto& e : r->evidence) EXPECT_NE(e.name, "sm_active_p95");
}

TEST(Recommend, LightlyUsedGpusAreConsolidatedBySmActivityWhenEveryOneHasIt) {
    // Four H100s of one host at 90 % utilization but 10 % SM activity: together 40 % of one GPU.
    std::vector<store::StoredWindow> w;
    for (int i = 0; i < 4; ++i) {
        Gpu g = kH100;
        g.key = "gpu-1/GPU-" + std::to_string(i);
        auto part = Windows(g, kDay, 7 * 24 * 60, [](int, store::StoredWindow& x) {
            x.util_avg = 90;
            x.idle_fraction = 0;
            x.mem_used_mib = 10240;
            x.sm_active = 10;
        });
        w.insert(w.end(), part.begin(), part.end());
    }
    auto plan = PlanFor(w, kWeek);
    const Recommendation* r = Find(plan, Action::kConsolidate);
    ASSERT_NE(r, nullptr);
    EXPECT_NE(r->summary.find("p95 SM activity 40%"), std::string::npos) << r->summary;
    EXPECT_EQ(r->gpus.size(), 3u);  // 40 % fits on one at 80 %: three given back
    bool named = false;
    for (const auto& e : r->evidence) named |= e.name == "sm_active_p95_sum";
    EXPECT_TRUE(named);
}

TEST(Recommend, AModelWhoseBandwidthIsNotConfirmedIsNeverProposed) {
    auto c = PriceCatalog::Parse(R"({"instances":[]})", R"({"models":[
          {"model":"A100 40GB","match":["A100"],"memory_gib":40,"fp16_tflops":312,"memory_bandwidth_gbs":1555,"usd_per_gpu_hour":2.74,"source":"t","as_of":"t"},
          {"model":"L4 24GB","match":["L4"],"memory_gib":24,"fp16_tflops":121,"usd_per_gpu_hour":0.80,"source":"t","as_of":"t"}]})");
    ASSERT_TRUE(c);
    auto w = Windows(Gpu{}, kDay, 3 * 24 * 60, [](int, store::StoredWindow& x) {
        x.util_avg = 5;
        x.idle_fraction = 0;
    });
    const Range r{kDay, kDay + days(3)};
    auto plan = Recommend(Inputs(w, r), r, {}, *c);
    EXPECT_EQ(Find(plan, Action::kRightSize), nullptr);
}

TEST(Recommend, AGpuIdleAllWeekShouldBeStopped) {
    auto w = Windows(Gpu{}, kDay, 7 * 24 * 60, [](int, store::StoredWindow& x) {
        x.util_avg = 0.5;
        x.mem_used_mib = 4;
    });
    auto plan = PlanFor(w, kWeek);
    ASSERT_EQ(plan.recommendations.size(), 1u);
    const Recommendation& r = plan.recommendations[0];
    EXPECT_EQ(r.action, Action::kStopIdleGpu);
    EXPECT_NEAR(r.monthly_savings, 2.74 * 720, 0.005);
    EXPECT_NEAR(r.range_savings, 2.74 * 168, 0.005);
    EXPECT_EQ(r.confidence, Confidence::kHigh);
    EXPECT_FALSE(r.held_by);                                     // 4 MiB is no holding
    EXPECT_EQ(FindAlternative(r, Action::kRightSize), nullptr);  // nothing to right-size on a GPU to stop
    EXPECT_NEAR(plan.monthly_cost, 2.74 * 720, 0.005);
}

TEST(Recommend, AGpuIdleWhileANotebookHeldThirtyGigabytesNamesTheNotebook) {
    // Idle all week while alice's notebook held 30 GB: stop it, and say who holds it and how much.
    auto w = Windows(Gpu{}, kDay, 7 * 24 * 60, [](int m, store::StoredWindow& x) {
        x.util_avg = 0.5;
        x.idle_fraction = 1;
        x.idle_held_fraction = 1;
        x.mem_used_mib = 30800;
        x.processes_json = m == 7 * 24 * 60 - 1
                               ? R"([{"pid":4121,"name":"jupyter-lab","user":"alice","used_mem":30720},)"
                                 R"({"pid":77,"name":"python","user":"bob","used_mem":80}])"
                               : R"([{"pid":4121,"name":"jupyter-lab","user":"alice","used_mem":30000}])";
    });
    auto plan = PlanFor(w, kWeek);
    ASSERT_EQ(plan.recommendations.size(), 1u);
    const Recommendation& r = plan.recommendations[0];
    EXPECT_EQ(r.action, Action::kStopIdleGpu);
    ASSERT_TRUE(r.held_by);
    EXPECT_EQ(r.held_by->seen, kDay + days(7));  // the latest idle-held window
    ASSERT_EQ(r.held_by->processes.size(), 2u);
    EXPECT_EQ(r.held_by->processes[0].pid, 4121u);
    EXPECT_EQ(r.held_by->processes[0].user, "alice");
    EXPECT_EQ(r.held_by->processes[0].used_mib, 30720);
    EXPECT_NE(r.summary.find("jupyter-lab (pid 4121, user alice) held 30720 MiB"), std::string::npos) << r.summary;
    // Releasing the memory is the alternative, with its own figure: 168 h × 2.74 × 0.5 a week.
    const Option* release = FindAlternative(r, Action::kReleaseIdleMemory);
    ASSERT_NE(release, nullptr);
    EXPECT_NEAR(release->range_savings, 168 * 2.74 * 0.5, 0.005);
    EXPECT_NEAR(plan.monthly_savings, r.monthly_savings, 1e-9);  // the alternative is not added
}

TEST(Recommend, IdleWhileHoldingMemoryHalfTheDayAsksToReleaseIt) {
    // Each day: 12 h busy, 12 h idle with 30 GB held. Idle share 0.5, all of it held.
    auto w = Windows(Gpu{}, kDay, 3 * 24 * 60, [](int m, store::StoredWindow& x) {
        const bool busy = (m / 60) % 24 < 12;
        x.util_avg = busy ? 85 : 1;
        x.idle_fraction = busy ? 0 : 1;
        x.idle_held_fraction = busy ? 0 : 1;
        x.mem_used_mib = 30720;
        x.processes_json = R"([{"pid":9,"name":"python","used_mem":30700}])";
    });
    const Range r{kDay, kDay + days(3)};
    auto plan = PlanFor(w, r);
    ASSERT_EQ(plan.recommendations.size(), 1u);
    const Recommendation& rec = plan.recommendations[0];
    // 36 held hours × 2.74 × 0.5 recoverable = 49.32 over 72 h; × 10 = 493.20 a month.
    EXPECT_EQ(rec.action, Action::kReleaseIdleMemory);
    EXPECT_NEAR(rec.monthly_savings, 493.20, 0.005);
    EXPECT_NEAR(rec.range_savings, 49.32, 0.005);
    ASSERT_TRUE(rec.held_by);
    EXPECT_EQ(rec.held_by->processes[0].name, "python");
    // The same idle stretches would pay for an auto-stop, at a lower confidence: an alternative.
    const Option* auto_stop = FindAlternative(rec, Action::kAutoStop);
    ASSERT_NE(auto_stop, nullptr);
    EXPECT_LT(auto_stop->confidence, rec.confidence);
}

TEST(Recommend, LongIdleStretchesAskForAutoStop) {
    // Each day 16 h busy, 8 h idle with nothing held.
    auto w = Windows(Gpu{}, kDay, 2 * 24 * 60, [](int m, store::StoredWindow& x) {
        x.util_avg = (m / 60) % 24 < 16 ? 70 : 2;
        x.mem_used_mib = 10;
    });
    auto plan = PlanFor(w, {kDay, kDay + days(2)});
    const Recommendation* r = Find(plan, Action::kAutoStop);
    ASSERT_NE(r, nullptr);
    // 16 idle hours in long stretches × 2.74 × 720/48 × 0.5 = 328.80.
    EXPECT_NEAR(r->monthly_savings, 16 * 2.74 * 15 * 0.5, 0.005);
}

TEST(Recommend, BusyAroundTheClockSuggestsCommittedUse) {
    auto w = Windows(Gpu{}, kDay, 7 * 24 * 60, [](int, store::StoredWindow& x) {
        x.util_avg = 95;
        x.mem_used_mib = 38000;
    });
    RecommendRules rules;
    rules.committed_discount = 0.3;
    auto plan = PlanFor(w, kWeek, rules);
    ASSERT_EQ(plan.recommendations.size(), 1u);
    const Recommendation& r = plan.recommendations[0];
    EXPECT_EQ(r.action, Action::kCommittedUse);
    EXPECT_NEAR(r.monthly_savings, 2.74 * 720 * 0.3, 0.005);
    EXPECT_TRUE(r.alternatives.empty());  // 38 GB fits no smaller GPU
    EXPECT_FALSE(r.evidence.empty());
}

TEST(Recommend, ALightlyUsedGpuIsNeverToldToCommit) {
    // Running all week at 20 %: committing to it would lock the waste in.
    auto w = Windows(Gpu{}, kDay, 7 * 24 * 60, [](int, store::StoredWindow& x) {
        x.util_avg = 20;
        x.mem_used_mib = 38000;
    });
    auto plan = PlanFor(w, kWeek);
    EXPECT_EQ(Find(plan, Action::kCommittedUse), nullptr);
}

TEST(Recommend, TooLittleDataGivesNoRecommendation) {
    auto w = Windows(Gpu{}, kDay, 6 * 60, [](int, store::StoredWindow& x) { x.util_avg = 0; });
    EXPECT_TRUE(PlanFor(w, {kDay, kDay + days(1)}).recommendations.empty());
}

TEST(Recommend, PlansWithoutAllRecommendationsGetTheIdleActionsOnly) {
    auto w = Windows(Gpu{}, kDay, 3 * 24 * 60, [](int m, store::StoredWindow& x) {
        x.util_avg = (m / 60) % 24 < 16 ? 10 : 1;
        x.idle_fraction = (m / 60) % 24 < 16 ? 0 : 1;
        x.mem_used_mib = 800;  // under the 1 GiB that counts as holding memory
    });
    const Range r{kDay, kDay + days(3)};
    RecommendRules idle_only;
    idle_only.idle_actions_only = true;
    auto plan = PlanFor(w, r, idle_only);
    ASSERT_EQ(plan.recommendations.size(), 1u);
    EXPECT_EQ(plan.recommendations[0].action, Action::kAutoStop);
    for (const auto& a : plan.recommendations[0].alternatives) EXPECT_TRUE(IsIdleAction(a.action));
    // The full plan right-sizes it instead, for more.
    auto full = PlanFor(w, r);
    EXPECT_EQ(full.recommendations[0].action, Action::kRightSize);
    EXPECT_GT(full.monthly_savings, plan.monthly_savings);
}

// ---- Who holds idle GPUs ----------------------------------------------------------------------------

TEST(WhoHeldIdle, SharesEachWindowsHeldTimeByMemoryAndGroupsByUserContainerAndNamespace) {
    // GPU-1 idle 2 h while alice's pod (20 GB) and bob's container (10 GB) hold it; GPU-2 idle 1 h while
    // alice's shell process holds it; then 1 h busy on GPU-2, which counts for nobody.
    Gpu one, two;
    one.key = "h/GPU-1";
    two.key = "h/GPU-2";
    auto w = Windows(one, kDay, 120, [](int, store::StoredWindow& x) {
        x.util_avg = 0;
        x.idle_fraction = 1;
        x.idle_held_fraction = 1;
        x.processes_json =
            R"([{"pid":1,"name":"python","user":"alice","container":"ctr-a","pod":"train-0","namespace":"research","used_mem":20480},)"
            R"({"pid":2,"name":"python","user":"bob","container":"c1","used_mem":10240}])";
    });
    auto w2 = Windows(two, kDay, 120, [](int m, store::StoredWindow& x) {
        x.util_avg = m < 60 ? 0 : 90;
        x.idle_fraction = m < 60 ? 1 : 0;
        x.idle_held_fraction = m < 60 ? 1 : 0;
        x.processes_json = R"([{"pid":3,"name":"bash","user":"alice","used_mem":5000}])";
    });
    w.insert(w.end(), w2.begin(), w2.end());
    const auto held = WhoHeldIdle(w, kRules, {kDay, kDay + hours(2)});

    ASSERT_EQ(held.users.size(), 2u);
    EXPECT_EQ(held.users[0].name, "alice");  // most cost first
    EXPECT_EQ(held.users[0].gpus, 2u);
    EXPECT_NEAR(held.users[0].idle_held_hours, 2.0 * 2 / 3 + 1, 1e-9);
    EXPECT_NEAR(held.users[0].idle_held_cost, 2.74 * (2.0 * 2 / 3 + 1), 1e-9);
    EXPECT_EQ(held.users[0].held_mib_max, 20480);
    EXPECT_EQ(held.users[1].name, "bob");
    EXPECT_NEAR(held.users[1].idle_held_hours, 2.0 / 3, 1e-9);
    // The users' shares add up to the GPUs' idle-held time.
    EXPECT_NEAR(held.users[0].idle_held_hours + held.users[1].idle_held_hours, 3, 1e-9);

    ASSERT_EQ(held.namespaces.size(), 2u);
    EXPECT_EQ(held.namespaces[0].name, "");  // bob's container and alice's shell are not in a pod
    EXPECT_NEAR(held.namespaces[0].idle_held_hours, 2.0 / 3 + 1, 1e-9);
    EXPECT_EQ(held.namespaces[1].name, "research");
    EXPECT_NEAR(held.namespaces[1].idle_held_hours, 2.0 * 2 / 3, 1e-9);
    ASSERT_EQ(held.containers.size(), 3u);
    EXPECT_EQ(held.containers[0].name, "ctr-a");

    // A range that leaves the first hour out sees only the second hour of GPU-1.
    const auto later = WhoHeldIdle(w, kRules, {kDay + hours(1), kDay + hours(2)});
    ASSERT_EQ(later.users.size(), 2u);
    EXPECT_NEAR(later.users[0].idle_held_hours + later.users[1].idle_held_hours, 1, 1e-9);
}

// ---- Consolidation ---------------------------------------------------------------------------------

std::vector<store::StoredWindow> LightHost(int gpus, int days_long, double util, double mem_mib) {
    std::vector<store::StoredWindow> w;
    for (int i = 0; i < gpus; ++i) {
        Gpu g;
        g.key = "h/GPU-" + std::to_string(i);
        auto part = Windows(g, kDay, days_long * 24 * 60, [&](int, store::StoredWindow& x) {
            x.util_avg = util + i;  // the first is the least loaded
            x.mem_used_mib = mem_mib;
        });
        w.insert(w.end(), part.begin(), part.end());
    }
    return w;
}

TEST(Recommend, LightlyUsedGpusOfAHostAreConsolidatedCountingEachOnce) {
    // Four A100s at 20-23 % and 5 GB each: together 86 % of one GPU at p95 — two carry them at 80 %.
    auto plan = PlanFor(LightHost(4, 2, 20, 5120), {kDay, kDay + days(2)});
    ASSERT_EQ(plan.recommendations.size(), 1u);
    const Recommendation& r = plan.recommendations[0];
    EXPECT_EQ(r.action, Action::kConsolidate);
    EXPECT_EQ(r.target, "h");
    // The two least loaded are given back, the two busiest take their work.
    EXPECT_EQ(r.gpus, (std::vector<std::string>{"h/GPU-0", "h/GPU-1"}));
    EXPECT_EQ(r.receivers, (std::vector<std::string>{"h/GPU-2", "h/GPU-3"}));
    EXPECT_NEAR(r.monthly_savings, 2 * 2.74 * 720, 0.005);
    EXPECT_NEAR(plan.monthly_savings, 2 * 2.74 * 720, 0.005);
    EXPECT_NEAR(plan.monthly_cost, 4 * 2.74 * 720, 0.005);
    // Each GPU's own right-sizing (an L40S carries 20 %) is listed, not added.
    size_t right_size = 0;
    for (const auto& a : r.alternatives) right_size += a.action == Action::kRightSize ? 1 : 0;
    EXPECT_EQ(right_size, 4u);
}

TEST(Recommend, AConsolidationThatSavesLessThanItsGpusOnTheirOwnIsOnlyAnAlternative) {
    // Two A100s at 12-13 % (measured busy) and 9 GB: each alone goes to a T4 for (2.74 - 0.53) a hour at
    // low confidence; together they fit on one A100, freeing 2.74 a hour, also at low confidence. Alone
    // they save 2 × 2.21 = 4.42 a hour, more than 2.74: no consolidation.
    std::vector<store::StoredWindow> w;
    for (int i = 0; i < 2; ++i) {
        Gpu g;
        g.key = "h/GPU-" + std::to_string(i);
        auto part = Windows(g, kDay, 2 * 24 * 60, [&](int, store::StoredWindow& x) {
            x.util_avg = 12 + i;
            x.idle_fraction = 0;
            x.mem_used_mib = 9216;
        });
        w.insert(w.end(), part.begin(), part.end());
    }
    auto plan = PlanFor(w, {kDay, kDay + days(2)});
    ASSERT_EQ(plan.recommendations.size(), 2u);
    for (const auto& r : plan.recommendations) EXPECT_EQ(r.action, Action::kRightSize);
    EXPECT_NEAR(plan.monthly_savings, 2 * 2.21 * 720, 0.005);
    // The GPU consolidation would free carries it as an alternative, with its own figure.
    const Recommendation& first =
        plan.recommendations[0].target == "h/GPU-0" ? plan.recommendations[0] : plan.recommendations[1];
    const Option* cons = FindAlternative(first, Action::kConsolidate);
    ASSERT_NE(cons, nullptr);
    EXPECT_NEAR(cons->monthly_savings, 2.74 * 720, 0.005);
}

// ---- The fleet that did not add up ------------------------------------------------------------------

TEST(Recommend, AKnownEightGpuFleetGetsOnePlanThatAddsUp) {
    // One host, eight A100s at $2.74/h, a week:
    //   GPU-0..2  lightly used (20-22 %, 6 GB), GPU-3 idle while a notebook holds 30 GB,
    //   GPU-4..7  busy (90 %, 35 GB).
    std::vector<store::StoredWindow> w;
    for (int i = 0; i < 8; ++i) {
        Gpu g;
        g.key = "train-1/GPU-" + std::to_string(i);
        g.host = "train-1";
        auto part = Windows(g, kDay, 7 * 24 * 60, [&](int, store::StoredWindow& x) {
            if (i < 3) {
                x.util_avg = 20 + i;
                x.mem_used_mib = 6144;
            } else if (i == 3) {
                x.util_avg = 0.3;
                x.idle_fraction = 1;
                x.idle_held_fraction = 1;
                x.mem_used_mib = 30720;
                x.processes_json = R"([{"pid":4121,"name":"jupyter-lab","user":"alice","used_mem":30700}])";
            } else {
                x.util_avg = 90;
                x.mem_used_mib = 35840;
            }
        });
        w.insert(w.end(), part.begin(), part.end());
    }
    auto plan = PlanFor(w, kWeek);

    // By hand, a month = 720 h: each GPU costs 1972.80.
    //   consolidate GPU-0..2 onto one: gives back GPU-0 and GPU-1, 2 × 1972.80 = 3945.60
    //   stop GPU-3 (idle all week):                                                1972.80
    //   committed use for GPU-4..7 at 30 % off: 4 × 591.84 =                        2367.36
    EXPECT_NEAR(plan.monthly_cost, 8 * 1972.80, 0.005);
    EXPECT_NEAR(plan.monthly_savings, 3945.60 + 1972.80 + 2367.36, 0.005);
    EXPECT_LE(plan.monthly_savings, plan.monthly_cost);
    EXPECT_LE(plan.range_savings, plan.range_cost);
    ASSERT_EQ(plan.recommendations.size(), 6u);

    const Recommendation* cons = Find(plan, Action::kConsolidate);
    ASSERT_NE(cons, nullptr);
    EXPECT_NEAR(cons->monthly_savings, 3945.60, 0.005);
    EXPECT_EQ(cons->gpus.size() + cons->receivers.size(), 3u);
    const Recommendation* stop = Find(plan, Action::kStopIdleGpu);
    ASSERT_NE(stop, nullptr);
    EXPECT_EQ(stop->target, "train-1/GPU-3");
    ASSERT_TRUE(stop->held_by);
    EXPECT_EQ(stop->held_by->processes[0].user, "alice");
    EXPECT_NE(stop->summary.find("jupyter-lab"), std::string::npos);

    // Every GPU is in exactly one recommendation.
    std::map<std::string, int> seen;
    for (const auto& r : plan.recommendations) {
        for (const auto& k : r.gpus) ++seen[k];
        for (const auto& k : r.receivers) ++seen[k];
    }
    EXPECT_EQ(seen.size(), 8u);
    for (const auto& [key, n] : seen) EXPECT_EQ(n, 1) << key;
}

// ---- Properties over random fleets ------------------------------------------------------------------

struct Model {
    const char* name;
    double mem_total;
    double price;
};
const Model kModels[] = {{"NVIDIA A100-SXM4-40GB", 40960, 2.74},
                         {"NVIDIA L40S", 49152, 2.24},
                         {"NVIDIA L4", 24576, 0.80},
                         {"Tesla T4", 16384, 0.53}};

// A random fleet: 1-10 GPUs on 1-3 hosts, each with a pattern (idle, idle holding memory, light, busy,
// noisy), reporting gaps, and prices that move; ten-minute windows over up to 8 days.
std::vector<store::StoredWindow> RandomFleet(std::mt19937& rng, int days_long) {
    std::uniform_real_distribution<double> u(0, 1);
    std::vector<store::StoredWindow> out;
    const int n = 1 + static_cast<int>(rng() % 10);
    const int hosts = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < n; ++i) {
        const Model& m = kModels[rng() % 4];
        Gpu g;
        g.host = "h" + std::to_string(static_cast<int>(rng() % static_cast<unsigned>(hosts)));
        g.key = g.host + "/GPU-" + std::to_string(i);
        g.name = m.name;
        g.mem_total = m.mem_total;
        g.cost = m.price * (0.5 + u(rng));
        const int pattern = static_cast<int>(rng() % 5);
        const double gap_from = u(rng), gap_to = gap_from + u(rng) * 0.3;
        const int windows = days_long * 24 * 6;
        for (auto& x : Windows(g, kDay, windows, [&](int k, store::StoredWindow&x) {
                 x.window_end = kDay + seconds(600 * (k + 1));
                 x.window_seconds = 600;
                 const double level = pattern == 0   ? u(rng) * 2
                                      : pattern == 1 ? u(rng) * 5
                                      : pattern == 2 ? 5 + u(rng) * 30
                                      : pattern == 3 ? 60 + u(rng) * 40
                                                     : u(rng) * 100;
                 x.util_avg = level;
                 if (u(rng) < 0.6) x.idle_fraction = level < 15 ? 0.8 + u(rng) * 0.2 : u(rng) * 0.2;
                 if (pattern == 1) {
                     x.idle_held_fraction = x.idle_fraction.value_or(1);
                     x.processes_json =
                         R"([{"pid":)" + std::to_string(100 + i) + R"(,"name":"python","used_mem":9000}])";
                 }
                 x.mem_used_mib = pattern == 3 ? m.mem_total * (0.3 + u(rng) * 0.6) : u(rng) * 12000;
                 if (u(rng) < 0.05) x.cost_per_hour = g.cost * (0.8 + u(rng) * 0.4);
             })) {
            const double at = static_cast<double>((x.window_end - kDay).count()) / (days_long * 86400.0);
            if (at < gap_from || at > gap_to) out.push_back(std::move(x));
        }
    }
    return out;
}

double CentsOf(double v) { return std::round(v * 100) / 100; }

TEST(RecommendProperties, APlanNeverSavesMoreThanTheFleetCostsAndCountsEachGpuOnce) {
    std::mt19937 rng(2026);
    int consolidations = 0, alternatives = 0, held = 0;
    for (int trial = 0; trial < 120; ++trial) {
        const int days_long = 2 + static_cast<int>(rng() % 7);
        const Range range{kDay, kDay + days(days_long)};
        const auto fleet = RandomFleet(rng, days_long);
        const auto inputs = Inputs(fleet, range);
        const Plan plan = Recommend(inputs, range, {}, Catalog());
        const double scale = kHoursPerMonth / range.Hours();

        std::map<std::string, double> range_cost, monthly_cost;
        for (const auto& g : inputs) {
            range_cost[g.history.gpu_key] = CentsOf(g.totals.cost);
            monthly_cost[g.history.gpu_key] = CentsOf(g.totals.cost * scale);
        }
        auto cost_of = [](const Option& o, const std::map<std::string, double>& costs) {
            double sum = 0;
            for (const auto& k : o.gpus) sum += costs.at(k);
            return sum;
        };
        // The total never exceeds the fleet's spend, over the range or a month.
        EXPECT_LE(plan.range_savings, plan.range_cost + 1e-9);
        EXPECT_LE(plan.monthly_savings, plan.monthly_cost + 1e-9);
        double range_sum = 0, monthly_sum = 0;
        std::map<std::string, int> counted;
        for (const auto& r : plan.recommendations) {
            range_sum += r.range_savings;
            monthly_sum += r.monthly_savings;
            // No option saves more than the GPUs it comes out of cost.
            EXPECT_GE(r.range_savings, 0);
            EXPECT_LE(r.range_savings, cost_of(r, range_cost) + 1e-9) << r.summary;
            EXPECT_LE(r.monthly_savings, cost_of(r, monthly_cost) + 1e-9) << r.summary;
            for (const auto& a : r.alternatives) {
                ++alternatives;
                EXPECT_LE(a.range_savings, cost_of(a, range_cost) + 1e-9) << a.summary;
                EXPECT_LE(a.monthly_savings, cost_of(a, monthly_cost) + 1e-9) << a.summary;
            }
            // Each GPU in one recommendation at most; consolidation never counts a GPU twice.
            std::set<std::string> mine(r.gpus.begin(), r.gpus.end());
            EXPECT_EQ(mine.size(), r.gpus.size());
            for (const auto& k : r.receivers) EXPECT_FALSE(mine.contains(k)) << k;
            for (const auto& k : r.gpus) ++counted[k];
            for (const auto& k : r.receivers) ++counted[k];
            if (r.action == Action::kConsolidate) ++consolidations;
            if (r.held_by) ++held;
            // The recommended action is the best for its GPU, weighing confidence.
            if (r.action != Action::kConsolidate) {
                auto weight = [](Confidence c) {
                    return c == Confidence::kHigh ? 1.0 : c == Confidence::kMedium ? 0.8 : 0.5;
                };
                for (const auto& a : r.alternatives) {
                    if (a.action == Action::kConsolidate) continue;  // a group's share, decided for the group
                    EXPECT_LE(a.range_savings * weight(a.confidence), r.range_savings * weight(r.confidence) + 0.01);
                }
            }
        }
        for (const auto& [key, n] : counted) EXPECT_EQ(n, 1) << key;
        // Totals are the recommended actions only.
        EXPECT_NEAR(plan.range_savings, range_sum, 0.005);
        EXPECT_NEAR(plan.monthly_savings, monthly_sum, 0.005);
    }
    // The fleets exercised every part of the rule.
    EXPECT_GT(consolidations, 0);
    EXPECT_GT(alternatives, 0);
    EXPECT_GT(held, 0);
}

}  // namespace
}  // namespace gpuopt::analysis
