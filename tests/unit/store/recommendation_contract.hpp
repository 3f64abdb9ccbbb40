// Realized savings on every store backend: the tracker job (jobs/recommendation_tracker.hpp) opens a track
// per recommended GPU, keeps its "before" while it stays recommended, and records each GPU's change once
// — stopped, replaced by a smaller model, busy again — with the saving worked out by hand below.
//
// This header defines tests: include it from exactly one .cpp file per test binary.
#pragma once

#include <gtest/gtest.h>

#include <future>
#include <map>
#include <string>
#include <vector>

#include "jobs/history_jobs.hpp"
#include "jobs/recommendation_tracker.hpp"
#include "store/database.hpp"
#include "store/wait.hpp"
#include "unit/store/backend_fixture.hpp"

namespace gpuopt::store::contract {

using namespace std::chrono;

inline const SysSeconds kTrackDay0 = sys_days{2026y / 11 / 1};

template <class Backend>
class RecommendationContract : public BackendFixture<Backend> {
protected:
    void SetUp() override {
        BackendFixture<Backend>::SetUp();
        if (this->HasFatalFailure()) return;
        auto account = Wait<Account>([&](Callback<Account> done) {
            this->db().accounts().CreateAccount(
                {"r@example.com", "hash-r", "gopt_abcd", Tier::kProfessional, kTrackDay0 - days(1), {}},
                std::move(done));
        });
        ASSERT_TRUE(account.ok());
        account_ = account->id;
    }

    struct Gpu {
        std::string uuid;
        std::string name;
        double mem_total = 40960;
        double cost = 2.74;
    };

    // Ten-minute windows from `from` to `to` for the GPUs `figures` names at each window's end (util,
    // idle fraction, memory used); a GPU it leaves out does not report then.
    template <class Figures>
    void Report(SysSeconds from, SysSeconds to, const std::vector<Gpu>& gpus, Figures figures) {
        for (SysSeconds end = from + minutes(10); end <= to; end += minutes(10)) {
            UsageReport r;
            r.report_id = "r" + std::to_string(++reports_);
            r.agent_id = "h";
            r.hostname = "h";
            r.window_start = end - minutes(10);
            r.window_end = end;
            r.window_start_ms = r.window_start;
            r.window_end_ms = end;
            r.samples = 60;
            for (size_t i = 0; i < gpus.size(); ++i) {
                std::optional<std::array<double, 3>> f = figures(gpus[i].uuid, end);
                if (!f) continue;
                GpuWindow g;
                g.gpu_index = static_cast<int>(i);
                g.uuid = gpus[i].uuid;
                g.gpu_key = "h/" + gpus[i].uuid;
                g.name = gpus[i].name;
                g.util_avg = (*f)[0];
                g.idle_fraction = (*f)[1];
                g.mem_used_mib = (*f)[2];
                g.mem_total_mib = gpus[i].mem_total;
                g.cost_per_hour = gpus[i].cost;
                g.processes_json = "[]";
                r.gpus.push_back(std::move(g));
            }
            if (r.gpus.empty()) continue;
            auto done = Wait<IngestOutcome>([&](Callback<IngestOutcome> cb) {
                this->db().usage().IngestReport({account_, std::move(r), std::nullopt, hours(24), end}, std::move(cb));
            });
            ASSERT_TRUE(done.ok()) << done.error().message;
        }
    }

    jobs::TrackerResult Track(SysSeconds now) {
        const analysis::IdleRules idle{15, 1024};
        EXPECT_TRUE(jobs::RunRollup(this->db().usage(), idle).ok());
        jobs::TrackerRules rules;
        rules.idle = idle;
        auto r = jobs::RunRecommendationTracker(this->db(), PriceCatalog::Builtin(), rules, now);
        EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
        return r.ok() ? *r : jobs::TrackerResult{};
    }

    std::map<std::string, TrackedRecommendation> Tracks(std::optional<TrackState> state) {
        std::map<std::string, TrackedRecommendation> out;
        for (auto& t : this->db().recommendations().ListTracked(account_, state, 100).value()) {
            out.emplace(t.gpu_key, std::move(t));
        }
        return out;
    }

    int64_t account_ = 0;
    int reports_ = 0;
};

TYPED_TEST_SUITE_P(RecommendationContract);

TYPED_TEST_P(RecommendationContract, ARecommendationIsFollowedUntilItsGpuChangesAndTheSavingIsRecorded) {
    using Figures = std::optional<std::array<double, 3>>;
    const std::string a100 = "NVIDIA A100-SXM4-40GB";
    const std::vector<typename TestFixture::Gpu> week = {
        {"GPU-idle", a100}, {"GPU-gone", a100}, {"GPU-big", a100}, {"GPU-small", "Tesla T4", 15360, 0.526}};
    const SysSeconds day7 = kTrackDay0 + days(7);
    // A week: two A100s idle the whole time, one at 12 % with 6 GB (a T4 job).
    this->Report(kTrackDay0, day7, week, [](const std::string& uuid, SysSeconds) -> Figures {
        if (uuid == "GPU-big") return std::array<double, 3>{12, 0, 6000};
        if (uuid == "GPU-small") return std::nullopt;
        return std::array<double, 3>{0, 1, 10};
    });
    auto first = this->Track(day7);
    EXPECT_EQ(first.recorded, 3);
    EXPECT_EQ(first.realized, 0);
    auto open = this->Tracks(TrackState::kOpen);
    ASSERT_EQ(open.size(), 3u);
    EXPECT_EQ(this->Tracks(std::nullopt).size(), 3u);  // every state
    EXPECT_TRUE(this->Tracks(TrackState::kRealized).empty());
    EXPECT_EQ(open.at("h/GPU-idle").action, "stop_idle_gpu");
    EXPECT_EQ(open.at("h/GPU-gone").action, "stop_idle_gpu");
    EXPECT_EQ(open.at("h/GPU-big").action, "right_size");
    // Before: $2.74/h over 168 h of 168 is 1972.80 a month, all of it idle for the two idle ones.
    EXPECT_NEAR(open.at("h/GPU-idle").before.monthly_cost, 1972.80, 0.005);
    EXPECT_NEAR(open.at("h/GPU-idle").before.monthly_idle_cost, 1972.80, 0.005);
    EXPECT_NEAR(open.at("h/GPU-idle").estimate_monthly, 1972.80, 0.005);
    EXPECT_DOUBLE_EQ(open.at("h/GPU-big").before.idle_fraction, 0);
    EXPECT_EQ(open.at("h/GPU-big").first_recommended, day7);

    // Then GPU-gone stops reporting, GPU-big is replaced by a T4 half a day later, and GPU-idle gets busy
    // from day 8. An hour after the first run, nothing has changed yet: the tracks are refreshed, their
    // "before" kept.
    this->Report(day7, day7 + hours(1), week, [](const std::string& uuid, SysSeconds) -> Figures {
        if (uuid == "GPU-idle") return std::array<double, 3>{0, 1, 10};
        return std::nullopt;
    });
    auto refreshed = this->Track(day7 + hours(1));
    EXPECT_EQ(refreshed.realized, 0);
    open = this->Tracks(TrackState::kOpen);
    EXPECT_EQ(open.at("h/GPU-idle").first_recommended, day7);
    EXPECT_EQ(open.at("h/GPU-idle").last_recommended, day7 + hours(1));
    EXPECT_NEAR(open.at("h/GPU-idle").before.monthly_cost, 1972.80, 0.005);

    const SysSeconds day8 = kTrackDay0 + days(8), end = kTrackDay0 + days(9) + hours(12);
    this->Report(day7 + hours(1), end, week, [&](const std::string& uuid, SysSeconds at) -> Figures {
        if (uuid == "GPU-idle") {
            return at <= day8 ? std::array<double, 3>{0, 1, 10} : std::array<double, 3>{80, 0, 30000};
        }
        if (uuid == "GPU-small" && at > day7 + hours(12)) return std::array<double, 3>{60, 0, 6000};
        return std::nullopt;
    });
    auto changed = this->Track(end);
    EXPECT_EQ(changed.realized, 3);
    auto realized = this->Tracks(TrackState::kRealized);
    ASSERT_EQ(realized.size(), 3u);

    // Stopped: the whole 1972.80 a month no longer spent.
    const auto& gone = realized.at("h/GPU-gone");
    EXPECT_EQ(gone.change, GpuChange::kStopped);
    EXPECT_EQ(gone.changed_at, day7);
    EXPECT_NEAR(*gone.realized_monthly, 1972.80, 0.005);
    ASSERT_TRUE(gone.after);
    EXPECT_DOUBLE_EQ(gone.after->monthly_cost, 0);

    // A T4 at $0.526/h in place of the A100 at $2.74/h: 1972.80 × (1 - 0.526 / 2.74) = 1594.08.
    const auto& big = realized.at("h/GPU-big");
    EXPECT_EQ(big.change, GpuChange::kSmallerModel);
    EXPECT_EQ(big.changed_at, day7 + hours(12) + minutes(10));  // the T4's first report
    ASSERT_TRUE(big.after);
    EXPECT_EQ(big.after->gpu_name, "Tesla T4");
    EXPECT_DOUBLE_EQ(big.after->cost_per_hour, 0.526);
    EXPECT_NEAR(*big.realized_monthly, 1594.08, 0.005);
    // Next to the estimate it was last recommended with, an hour after the first: (2.74 - 0.526) × 167 h
    // reported of 168, × 720 / 168.
    EXPECT_NEAR(big.estimate_monthly, 1584.59, 0.005);

    // Busy from day 8: since the recommendation (day 7 to 9½, 60 h) it was idle 24 h, 65.76 in idle cost,
    // 789.12 a month against 1972.80 before: 1183.68 a month.
    const auto& idle = realized.at("h/GPU-idle");
    EXPECT_EQ(idle.change, GpuChange::kUtilizationUp);
    EXPECT_EQ(idle.changed_at, day8);
    ASSERT_TRUE(idle.after);
    EXPECT_NEAR(idle.after->idle_fraction, 0.4, 1e-9);
    EXPECT_NEAR(idle.after->monthly_idle_cost, 789.12, 0.005);
    EXPECT_NEAR(*idle.realized_monthly, 1183.68, 0.005);

    // Recorded once: another run changes nothing that was realized.
    auto again = this->Track(end + minutes(10));
    EXPECT_EQ(again.realized, 0);
    EXPECT_EQ(this->Tracks(TrackState::kRealized).at("h/GPU-big").realized_monthly, big.realized_monthly);
}

TYPED_TEST_P(RecommendationContract, OnlyAChangeTheActionExplainsIsRealizedAndAReplacementCountsOnce) {
    using Figures = std::optional<std::array<double, 3>>;
    const std::string a100 = "NVIDIA A100-SXM4-40GB";
    const std::vector<typename TestFixture::Gpu> gpus = {
        {"GPU-a", a100}, {"GPU-b", a100}, {"GPU-busy", a100}, {"GPU-t4", "Tesla T4", 15360, 0.526}};
    const SysSeconds day7 = kTrackDay0 + days(7), end = kTrackDay0 + days(9);
    // A week: two A100s at 12 % (each a T4 job), one busy around the clock (committed use).
    this->Report(kTrackDay0, day7, gpus, [](const std::string& uuid, SysSeconds) -> Figures {
        if (uuid == "GPU-busy") return std::array<double, 3>{90, 0, 35000};
        if (uuid == "GPU-t4") return std::nullopt;
        return std::array<double, 3>{12, 0, 6000};
    });
    EXPECT_EQ(this->Track(day7).recorded, 3);
    auto open = this->Tracks(TrackState::kOpen);
    ASSERT_EQ(open.size(), 3u);
    EXPECT_EQ(open.at("h/GPU-busy").action, "committed_use");
    // Then all three go quiet, and one T4 appears on the host.
    this->Report(day7, end, gpus, [&](const std::string& uuid, SysSeconds at) -> Figures {
        if (uuid == "GPU-t4" && at > day7 + hours(12)) return std::array<double, 3>{60, 0, 6000};
        return std::nullopt;
    });
    EXPECT_EQ(this->Track(end).realized, 1);
    // One A100 was replaced by the T4; the T4 does not count for the other one as well, and a busy GPU
    // going quiet is not a commitment bought.
    auto realized = this->db().recommendations().ListTracked(this->account_, TrackState::kRealized, 100).value();
    ASSERT_EQ(realized.size(), 1u);
    EXPECT_EQ(realized[0].change, GpuChange::kSmallerModel);
    EXPECT_EQ(realized[0].replaced_by, "h/GPU-t4");
    open = this->Tracks(TrackState::kOpen);
    EXPECT_TRUE(open.contains("h/GPU-busy"));
    EXPECT_EQ(open.size(), 2u);
    // Every GPU has one open track at most, whatever its action became.
    auto all_open = this->db().recommendations().ListTracked(this->account_, TrackState::kOpen, 100).value();
    EXPECT_EQ(all_open.size(), open.size());
}

// A customer's marks: one per action and target, replaced when marked again, removed when opened again,
// newest first, and never another account's.
TYPED_TEST_P(RecommendationContract, AMarkIsKeptPerActionAndTargetUntilItIsOpenedAgain) {
    auto& repo = this->db().recommendations();
    auto other = Wait<Account>([&](Callback<Account> done) {
        this->db().accounts().CreateAccount(
            {"other@example.com", "hash-other", "gopt_othr", Tier::kFree, kTrackDay0, {}}, std::move(done));
    });
    ASSERT_TRUE(other.ok());
    auto mark = [&](int64_t account, const std::string& target, MarkState state, SysSeconds at, std::string note) {
        return Wait<void>([&](Callback<void> done) {
            repo.MarkRecommendation(
                {account, "stop_idle_gpu", target, state, "Stop " + target, 120.5, std::move(note), at},
                std::move(done));
        });
    };
    ASSERT_TRUE(mark(this->account_, "h/GPU-a", MarkState::kDismissed, kTrackDay0, "a test box").ok());
    ASSERT_TRUE(mark(this->account_, "h/GPU-b", MarkState::kDone, kTrackDay0 + hours(1), "").ok());
    ASSERT_TRUE(mark(other->id, "h/GPU-a", MarkState::kDone, kTrackDay0 + hours(2), "").ok());
    auto marks = repo.ListRecommendationMarks(this->account_).value();
    ASSERT_EQ(marks.size(), 2u);
    EXPECT_EQ(marks[0].target, "h/GPU-b");  // newest first
    EXPECT_EQ(marks[0].state, MarkState::kDone);
    EXPECT_EQ(marks[1].target, "h/GPU-a");
    EXPECT_EQ(marks[1].note, "a test box");
    EXPECT_EQ(marks[1].summary, "Stop h/GPU-a");
    EXPECT_DOUBLE_EQ(marks[1].monthly_savings, 120.5);
    EXPECT_EQ(marks[1].marked_at, kTrackDay0);

    // Marked again: replaced, not added.
    ASSERT_TRUE(mark(this->account_, "h/GPU-a", MarkState::kDone, kTrackDay0 + hours(3), "stopped after all").ok());
    marks = repo.ListRecommendationMarks(this->account_).value();
    ASSERT_EQ(marks.size(), 2u);
    EXPECT_EQ(marks[0].target, "h/GPU-a");
    EXPECT_EQ(marks[0].state, MarkState::kDone);
    EXPECT_EQ(marks[0].note, "stopped after all");

    // Opened again: gone; a second time there is nothing to remove. The other account's mark stays.
    auto unmark = [&](int64_t account, const std::string& target) {
        return Wait<bool>(
            [&](Callback<bool> done) { repo.UnmarkRecommendation(account, "stop_idle_gpu", target, std::move(done)); });
    };
    EXPECT_TRUE(unmark(this->account_, "h/GPU-a").value());
    EXPECT_FALSE(unmark(this->account_, "h/GPU-a").value());
    EXPECT_EQ(repo.ListRecommendationMarks(this->account_).value().size(), 1u);
    ASSERT_EQ(repo.ListRecommendationMarks(other->id).value().size(), 1u);
    EXPECT_EQ(repo.ListRecommendationMarks(other->id).value()[0].target, "h/GPU-a");
}

REGISTER_TYPED_TEST_SUITE_P(RecommendationContract, ARecommendationIsFollowedUntilItsGpuChangesAndTheSavingIsRecorded,
                            OnlyAChangeTheActionExplainsIsRealizedAndAReplacementCountsOnce,
                            AMarkIsKeptPerActionAndTargetUntilItIsOpenedAgain);

}  // namespace gpuopt::store::contract
