// Recommendations followed over time (SPEC §6 "realized savings"): each recommended action is recorded per
// GPU with what the GPU cost and how idle it was when it was first recommended; once the GPU changes
// (stopped, replaced by a smaller model, busy again) the change and the cost after it are recorded, and
// the difference is the saving realized.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "common/time.hpp"
#include "store/callback.hpp"

namespace gpuopt::store {

// open: recommended and not acted on yet; realized: the GPU changed and the saving is recorded.
enum class TrackState { kOpen, kRealized };

constexpr std::string_view NameOf(TrackState s) {
    switch (s) {
        case TrackState::kOpen:
            return "open";
        case TrackState::kRealized:
            return "realized";
    }
    return "open";
}

constexpr std::optional<TrackState> TrackStateNamed(std::string_view name) {
    for (auto s : {TrackState::kOpen, TrackState::kRealized}) {
        if (NameOf(s) == name) return s;
    }
    return std::nullopt;
}

// What changed on the GPU after it was recommended an action.
enum class GpuChange { kStopped, kSmallerModel, kUtilizationUp };

constexpr std::string_view NameOf(GpuChange c) {
    switch (c) {
        case GpuChange::kStopped:
            return "stopped";
        case GpuChange::kSmallerModel:
            return "smaller_model";
        case GpuChange::kUtilizationUp:
            return "utilization_up";
    }
    return "stopped";
}

constexpr std::optional<GpuChange> GpuChangeNamed(std::string_view name) {
    for (auto c : {GpuChange::kStopped, GpuChange::kSmallerModel, GpuChange::kUtilizationUp}) {
        if (NameOf(c) == name) return c;
    }
    return std::nullopt;
}

// A GPU's cost and use over a stretch of time, monthly figures projected from it (720 h).
struct GpuCostSnapshot {
    std::string gpu_name;
    double cost_per_hour = 0;
    double idle_fraction = 0;
    double util_avg = 0;
    double monthly_cost = 0;
    double monthly_idle_cost = 0;
};

struct TrackedRecommendation {
    int64_t id = 0;
    int64_t account_id = 0;
    std::string gpu_key;
    std::string host;
    std::string action;  // analysis::NameOf(Action): "stop_idle_gpu", "right_size", ...
    std::string summary;
    double estimate_monthly = 0;  // the latest estimate of this GPU's part, while open
    GpuCostSnapshot before;       // when first recommended
    SysSeconds first_recommended;
    SysSeconds last_recommended;
    TrackState state = TrackState::kOpen;
    std::optional<GpuChange> change;
    std::optional<SysSeconds> changed_at;
    std::optional<GpuCostSnapshot> after;  // since the change (all zero when stopped)
    std::string replaced_by;               // smaller_model: the GPU key that took its place
    std::optional<double> realized_monthly;
};

struct Realization {
    int64_t id = 0;
    GpuChange change = GpuChange::kStopped;
    SysSeconds changed_at;
    GpuCostSnapshot after;
    std::string replaced_by;
    double realized_monthly = 0;
};

// What the customer said of a recommendation: not for us (dismissed) or acted on (done). Kept as history,
// with the recommendation as it read when marked; marking it open again removes the mark.
enum class MarkState { kDismissed, kDone };
constexpr std::string_view NameOf(MarkState s) { return s == MarkState::kDone ? "done" : "dismissed"; }
constexpr std::optional<MarkState> MarkStateNamed(std::string_view name) {
    if (name == "dismissed") return MarkState::kDismissed;
    if (name == "done") return MarkState::kDone;
    return std::nullopt;
}

struct RecommendationMark {
    int64_t account_id = 0;
    std::string action;  // "stop_idle_gpu", "right_size", ...
    std::string target;  // the GPU (or group) the recommendation names
    MarkState state = MarkState::kDismissed;
    std::string summary;         // the recommendation when it was marked
    double monthly_savings = 0;  // its estimate then
    std::string note;
    SysSeconds marked_at;
};

class RecommendationRepository {
public:
    virtual ~RecommendationRepository() = default;

    // Records what an account's plan recommends now, one entry per GPU: the GPU's open track is refreshed
    // (action, summary, estimate, last_recommended; its `before` and `first_recommended` kept), or one is
    // opened with `first_recommended` = `last_recommended` = now. A GPU has one open track at most.
    virtual void RecordRecommended(int64_t account_id, std::vector<TrackedRecommendation> recommended, SysSeconds now,
                                   Callback<void> done) = 0;
    // Marks tracks realized with what changed; a track no longer open is left as it is.
    virtual void RecordRealized(std::vector<Realization> realized, Callback<void> done) = 0;
    // An account's tracks in one state (all when nullopt), newest first.
    virtual Result<std::vector<TrackedRecommendation>> ListTracked(int64_t account_id, std::optional<TrackState> state,
                                                                   size_t limit) = 0;
    // The accounts with an open track, at most `limit`.
    virtual Result<std::vector<int64_t>> AccountsWithOpenTracks(size_t limit) = 0;

    // Records the mark (replacing an earlier one for the same action and target).
    virtual void MarkRecommendation(RecommendationMark mark, Callback<void> done) = 0;
    // Removes the mark; answers whether there was one.
    virtual void UnmarkRecommendation(int64_t account_id, std::string action, std::string target,
                                      Callback<bool> done) = 0;
    // The account's marks, newest first.
    virtual Result<std::vector<RecommendationMark>> ListRecommendationMarks(int64_t account_id) = 0;
};

}  // namespace gpuopt::store
