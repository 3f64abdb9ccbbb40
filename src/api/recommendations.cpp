// GET /api/recommendations?range=: priced recommendations over the range (default 7 days), highest
// savings first. Plans without all recommendations get the idle ones (stop, auto-stop, release memory).
#include "analysis/recommendations.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cmath>

#include "api/api.hpp"
#include "api/auth.hpp"
#include "api/history.hpp"
#include "http/error_response.hpp"

namespace gpuopt::api {

namespace {

analysis::RecommendRules RecommendRulesOf(const Config& c) {
    analysis::RecommendRules rules;
    rules.recoverable_fraction = c.recoverable_fraction;
    rules.committed_discount = c.committed_use_discount;
    return rules;
}

}  // namespace

http::Handler MakeRecommendationsHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto loaded = co_await AuthorizeAndLoadHistory(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&loaded)) co_return std::move(*refused);
        const Caller& caller = std::get<CallerHistory>(loaded).caller;
        const LoadedHistory* history = &std::get<CallerHistory>(loaded).history;

        const auto totals = SummarizeAll(*history, s.config.recoverable_fraction);
        std::vector<analysis::GpuInput> inputs;
        inputs.reserve(history->gpus.size());
        for (size_t i = 0; i < history->gpus.size(); ++i) inputs.push_back({history->gpus[i], totals[i]});
        const auto all = analysis::Recommend(inputs, history->range, RecommendRulesOf(s.config), s.catalog);

        boost::json::array recs;
        double total = 0;
        size_t withheld = 0;
        for (const auto& r : all) {
            const bool idle_kind =
                r.type == "stop_idle_gpu" || r.type == "auto_stop" || r.type == "release_idle_memory";
            if (!caller.plan->all_recommendations && !idle_kind) {
                ++withheld;
                continue;
            }
            boost::json::object o;
            o["type"] = r.type;
            o["target"] = r.target;
            if (!r.gpu_name.empty()) o["gpu_name"] = r.gpu_name;
            o["summary"] = r.summary;
            boost::json::object evidence;
            for (const auto& e : r.evidence)
                evidence[e.name] = boost::json::object{{"value", e.value}, {"unit", e.unit}};
            o["evidence"] = std::move(evidence);
            o["monthly_savings"] = r.monthly_savings;
            o["confidence"] = r.confidence;
            total += r.monthly_savings;
            recs.push_back(std::move(o));
        }
        boost::json::object body;
        body["status"] = "success";
        body["from"] = FormatUtc(history->range.from);
        body["to"] = FormatUtc(history->range.to);
        body["resolution"] = history->source;
        body["recommendations"] = std::move(recs);
        body["total_monthly_savings"] = std::round(total * 100) / 100;
        if (withheld > 0) {
            body["more_with_upgrade"] = withheld;  // right-sizing, consolidation, committed use
        }
        co_return OkJson(body, version, caller.limit);
    };
}

}  // namespace gpuopt::api
