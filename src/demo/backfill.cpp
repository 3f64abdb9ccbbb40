#include "demo/backfill.hpp"

#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>

#include <condition_variable>
#include <memory>
#include <mutex>

#include "agent/pricing.hpp"
#include "agent/report.hpp"
#include "agent/simulated/simulated_source.hpp"
#include "agent/window.hpp"
#include "api/history.hpp"
#include "api/report_parser.hpp"
#include "common/crypto.hpp"
#include "jobs/history_jobs.hpp"
#include "jobs/recommendation_tracker.hpp"
#include "store/wait.hpp"

namespace gpuopt::demo {

namespace {

using Clock = std::chrono::system_clock;

// Reports stored in flight, so the store's group commit batches them; Drain waits for all.
class Inflight {
public:
    void Started() {
        std::lock_guard lock(mu_);
        ++pending_;
    }
    void Finished(const Result<store::IngestOutcome>& r) {
        std::lock_guard lock(mu_);
        --pending_;
        if (!r && !failure_) failure_ = r.error();
        cv_.notify_all();
    }
    Result<void> Drain() {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return pending_ == 0; });
        if (failure_) return *failure_;
        return {};
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    int pending_ = 0;
    std::optional<Error> failure_;
};

struct Host {
    std::unique_ptr<agent::SimulatedSource> source;
    agent::WindowAggregator windows{agent::WindowRules{}};
    agent::ReportContext context;
    uint64_t sequence = 0;
};

}  // namespace

Result<BackfillResult> Backfill(store::Database& db, const Config& config, const PriceCatalog& catalog,
                                const agent::Scenario& scenario, const BackfillOptions& o) {
    if (o.end <= o.start) return Error::Validation("start", "must be before the end");
    BackfillResult result;
    result.api_key = GenerateApiKey();
    auto account = store::Wait<store::Account>([&](store::Callback<store::Account> done) {
        db.accounts().CreateAccount({o.email, HashApiKey(result.api_key), result.api_key.substr(0, kApiKeyShownPrefix),
                                     o.tier, o.start, std::nullopt},
                                    std::move(done));
    });
    if (!account) return account.error();
    result.account_id = account->id;
    store::AlertSettings alerts{account->id, "", o.alert_idle_minutes, o.tier};
    alerts.email = true;
    auto set = store::Wait<store::AlertSettings>(
        [&](store::Callback<store::AlertSettings> done) { db.alerts().SetAlertSettings(alerts, std::move(done)); });
    if (!set) return set.error();

    std::vector<Host> hosts(scenario.hosts.size());
    for (size_t i = 0; i < hosts.size(); ++i) {
        const auto& h = scenario.hosts[i];
        hosts[i].source =
            std::make_unique<agent::SimulatedSource>(h, static_cast<unsigned>(i), Clock::time_point(o.start));
        auto& ctx = hosts[i].context;
        ctx.agent_id = ctx.hostname = h.hostname;
        ctx.version = GPUOPT_VERSION;
        ctx.source = "simulated";
        for (unsigned g = 0; g < h.gpus.size(); ++g) {
            ctx.prices[agent::GpuKey(g, h.gpus[g].uuid)] =
                agent::PriceGpu(catalog, std::nullopt, std::nullopt, h.gpus[g].name, h.gpus[g].memory_mib);
        }
    }

    api::ReportRules parse;
    parse.default_cost_per_hour = config.default_cost_per_hour;
    parse.max_age = std::chrono::duration_cast<std::chrono::hours>(o.end - o.start) + std::chrono::hours(24);
    jobs::TrackerRules tracker;
    tracker.idle = api::IdleRulesOf(config);
    tracker.recommend = api::RecommendRulesOf(config);
    tracker.all_recommendations = [&config](Tier tier) {
        const Plan* plan = config.FindPlan(tier);
        return plan != nullptr && plan->all_recommendations;
    };

    Inflight inflight;
    SysSeconds window_start = o.start;
    SysSeconds next_jobs = o.start + std::chrono::hours(1);
    for (SysSeconds t = o.start + o.sample; t <= o.end; t += o.sample) {
        for (auto& host : hosts) {
            auto samples = host.source->Sample(Clock::time_point(t));
            if (!samples) return samples.error();
            host.windows.Add(*samples);
        }
        if (t - window_start < o.window && t + o.sample <= o.end) continue;
        for (auto& host : hosts) {
            const auto window = host.windows.Close(Clock::time_point(window_start), Clock::time_point(t));
            host.context.report_id = agent::ReportId(host.context.agent_id, ++host.sequence);
            const std::string body = agent::BuildReportJson(window, host.context);
            boost::system::error_code ec;
            auto json = boost::json::parse(body, ec);
            if (ec || !json.is_object()) return Error{ErrorCode::kInternal, "a back-filled report is not JSON", {}};
            auto report = api::ParseUsageReport(json.get_object(), parse, t);
            if (!report) return report.error();
            inflight.Started();
            db.usage().IngestReport({account->id, std::move(*report), std::nullopt, std::chrono::hours(24), t},
                                    [&inflight](Result<store::IngestOutcome> r) { inflight.Finished(r); });
            ++result.reports;
        }
        window_start = t;
        if (t < next_jobs && t + o.sample <= o.end) continue;
        // The jobs, as the server would have run them at this time.
        next_jobs += std::chrono::hours(1);
        if (auto drained = inflight.Drain(); !drained) return drained.error();
        if (auto r = jobs::RunRollup(db.usage(), tracker.idle); !r) return r.error();
        auto tracked = jobs::RunRecommendationTracker(db, catalog, tracker, t);
        if (!tracked) return tracked.error();
        result.tracks_realized += tracked->realized;
    }
    if (auto drained = inflight.Drain(); !drained) return drained.error();
    spdlog::info("back-filled {} reports for {} from {} to {}; {} recommendation(s) realized", result.reports, o.email,
                 FormatUtc(o.start), FormatUtc(o.end), result.tracks_realized);
    return result;
}

}  // namespace gpuopt::demo
