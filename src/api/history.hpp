// What the history endpoints share: the range a request asks for (within its plan), the GPU it names,
// and loading the history from raw windows or the hourly roll-up.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "analysis/history.hpp"
#include "analysis/holders.hpp"
#include "analysis/recommendations.hpp"
#include "api/api.hpp"
#include "api/auth.hpp"

namespace gpuopt::api {

// "90s", "5m", "24h", "30d": a positive count (at most 100000) and one unit among `units`.
std::optional<std::chrono::seconds> ParseDuration(std::string_view v, std::string_view units);

// `range=24h|7d|...` or `from`/`to` (RFC 3339), default `default_range` back from now. The start may
// not reach back further than the plan's history. Validation errors name the parameter.
Result<analysis::Range> ParseRange(const std::map<std::string, std::string>& query, const Plan& plan, SysSeconds now,
                                   std::chrono::hours default_range);

// The GPU key a `gpu` parameter names (a GPU key or a uuid) among the account's GPUs; kNotFound when
// the account has no such GPU (whoever else might).
Result<std::string> ResolveGpu(Services& s, int64_t account_id, const std::string& gpu);

struct LoadedHistory {
    std::string source;  // "raw" or "hourly"
    analysis::Range range;
    std::vector<analysis::GpuHistory> gpus;
    // Who held each GPU's memory the last time it sat idle holding it, from the raw windows read (the
    // roll-up keeps no process lists: an hourly history has only its unmerged windows' holders).
    std::map<std::string, analysis::HeldBy> held_by;  // only when asked for (HistoryNeeds::held_by)
    // Who held GPUs idle (by user, container, namespace), when asked for: over the whole range from raw
    // windows, or over its last day (`who_held_from` on) when the range is read from the roll-up.
    std::optional<analysis::IdleHolders> who_held;
    SysSeconds who_held_from;
};

// What an endpoint needs beyond the GPUs' histories.
struct HistoryNeeds {
    bool held_by = false;   // LoadedHistory::held_by (recommendations)
    bool who_held = false;  // LoadedHistory::who_held (savings)
};

// Raw windows when the range is within the raw retention and at most 7 days long; otherwise the
// roll-up (the range widened to whole hours) plus the newest windows it has not merged yet.
Result<LoadedHistory> LoadHistory(Services& s, int64_t account_id, analysis::Range range,
                                  const std::string& gpu_key = "", bool force_hourly = false, HistoryNeeds needs = {});

// The start of the range endpoints (savings, recommendations): the key authenticated within its plan's
// request limit, `range`/`from`/`to` parsed (7 days by default) and the caller's history loaded. On any
// failure, the answer to send instead.
struct CallerHistory {
    Caller caller;
    LoadedHistory history;
};
// The history is read on the read pool (OffloadRead).
boost::asio::awaitable<std::variant<CallerHistory, http::Response>> AuthorizeAndLoadHistory(Services& s,
                                                                                            http::RequestContext& ctx,
                                                                                            HistoryNeeds needs);

analysis::IdleRules IdleRulesOf(const Config& c);
// The operator's figures for the savings plan (RECOVERABLE_FRACTION, COMMITTED_USE_DISCOUNT).
analysis::RecommendRules RecommendRulesOf(const Config& c);

// Fills in the holders of GPUs that sat idle while holding memory in the range but have none yet (an
// hourly history), from each one's raw windows of the last day of the range; at most `max_gpus` reads.
Result<void> CompleteHolders(Services& s, int64_t account_id, LoadedHistory& history,
                             const std::vector<analysis::Totals>& totals, size_t max_gpus = 16);

// The JSON of totals: hours, utilization, money (cents), and the month projected from the range.
boost::json::object TotalsJson(const analysis::Totals& t, double range_hours);

// Who held GPUs idle, as /api/savings and /api/gpus show it (`from`: the start of what it covers).
boost::json::object IdleHoldersJson(const analysis::IdleHolders& held, SysSeconds from);

// The slices of every GPU summarised over the range.
std::vector<analysis::Totals> SummarizeAll(const LoadedHistory& h, double recoverable_fraction);

}  // namespace gpuopt::api
