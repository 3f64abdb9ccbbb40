// GET /api/savings?range=|from=&to=: idle hours, idle cost, recoverable savings and the month they
// project to, for the fleet, each host and each GPU, derived from stored history; and the periods GPUs
// sat idle while holding memory.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cmath>
#include <map>

#include "api/api.hpp"
#include "api/auth.hpp"
#include "api/history.hpp"
#include "http/error_response.hpp"

namespace gpuopt::api {

http::Handler MakeSavingsHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto loaded = co_await AuthorizeAndLoadHistory(s, ctx, {.held_by = false, .who_held = true});
        if (auto* refused = std::get_if<http::Response>(&loaded)) co_return std::move(*refused);
        const Caller& caller = std::get<CallerHistory>(loaded).caller;
        const LoadedHistory* history = &std::get<CallerHistory>(loaded).history;

        const double range_hours = history->range.Hours();
        const auto totals = SummarizeAll(*history, s.config.recoverable_fraction);
        std::map<std::string, std::vector<analysis::Totals>> by_host;
        boost::json::array gpus, held;
        for (size_t i = 0; i < history->gpus.size(); ++i) {
            const auto& g = history->gpus[i];
            by_host[g.host].push_back(totals[i]);
            boost::json::object o = TotalsJson(totals[i], range_hours);
            o["gpu"] = g.gpu_key;
            o["host"] = g.host;
            o["gpu_index"] = g.gpu_index;
            o["gpu_name"] = g.name;
            o["cost_per_hour"] = std::round(totals[i].cost_per_hour * 10000) / 10000;
            gpus.push_back(std::move(o));
            for (const auto& p : analysis::IdleHeldPeriods(
                     g.slices, history->range,
                     history->source == "raw" ? std::chrono::seconds(180) : std::chrono::seconds(0))) {
                boost::json::object h;
                h["gpu"] = g.gpu_key;
                h["host"] = g.host;
                h["gpu_name"] = g.name;
                h["start"] = FormatUtc(p.start);
                h["end"] = FormatUtc(p.end);
                h["held_hours"] = std::round(p.held_hours * 100) / 100;
                h["mem_used_max"] = p.mem_used_max;
                h["cost"] = analysis::Cents(p.cost);
                held.push_back(std::move(h));
            }
        }
        boost::json::array hosts;
        for (const auto& [host, parts] : by_host) {
            boost::json::object o = TotalsJson(analysis::Combine(parts), range_hours);
            o["host"] = host;
            o["gpus"] = parts.size();
            hosts.push_back(std::move(o));
        }
        boost::json::object body;
        body["status"] = "success";
        body["from"] = FormatUtc(history->range.from);
        body["to"] = FormatUtc(history->range.to);
        body["resolution"] = history->source;
        body["idle_threshold_percent"] = s.config.idle_threshold_percent;
        body["recoverable_fraction"] = s.config.recoverable_fraction;
        body["fleet"] = TotalsJson(analysis::Combine(totals), range_hours);
        body["hosts"] = std::move(hosts);
        body["gpus"] = std::move(gpus);
        body["idle_holding_memory"] = std::move(held);
        if (history->who_held) body["idle_held_by"] = IdleHoldersJson(*history->who_held, history->who_held_from);
        co_return OkJson(body, version, caller.limit);
    };
}

}  // namespace gpuopt::api
