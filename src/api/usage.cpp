// GET /api/usage?from=&to=|range=&step=&gpu=: utilization, memory and idle cost over time, one series
// per GPU, from raw windows for ranges within a week (and the raw retention), else from the hourly
// roll-up. Points are buckets of `step` (default: 5 min on raw data, 1 h on hourly data).
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cmath>
#include <map>

#include "api/api.hpp"
#include "api/auth.hpp"
#include "api/history.hpp"
#include "http/error_response.hpp"
#include "http/query.hpp"

namespace gpuopt::api {

namespace {

constexpr size_t kMaxPoints = 5000;  // per series

double Round(double v, int digits) {
    const double scale = std::pow(10.0, digits);
    return std::round(v * scale) / scale;
}

}  // namespace

http::Handler MakeUsageHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = AuthorizeCustomer(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const Caller& caller = std::get<Caller>(auth);
        auto query = http::ParseQuery(ctx.query);
        if (!query) co_return CallerError(query.error(), caller, version);
        const auto now = UtcNow();
        auto range = ParseRange(*query, *caller.plan, now, std::chrono::hours(24));
        if (!range) co_return CallerError(range.error(), caller, version);
        std::string gpu_key;
        if (auto it = query->find("gpu"); it != query->end()) {
            auto resolved = ResolveGpu(s, caller.account.id, it->second);
            if (!resolved) co_return CallerError(resolved.error(), caller, version);
            gpu_key = *resolved;
        }
        auto history = LoadHistory(s, caller.account.id, *range, gpu_key);
        if (!history) co_return CallerError(history.error(), caller, version);
        std::chrono::seconds step = history->source == "raw" ? std::chrono::minutes(5) : std::chrono::hours(1);
        if (auto it = query->find("step"); it != query->end()) {
            auto parsed = ParseDuration(it->second, "smhd");
            if (!parsed)
                co_return CallerError(Error::Validation("step", "must be a duration such as 60s, 5m, 1h or 1d"), caller,
                                      version);
            step = *parsed;
            if (history->source == "hourly" && step < std::chrono::hours(1)) {
                co_return CallerError(Error::Validation("step", "must be at least 1h for ranges longer than 7 days"),
                                      caller, version);
            }
        }
        const auto span = history->range.to - history->range.from;
        if (static_cast<size_t>(span / step) > kMaxPoints) {
            co_return CallerError(
                Error::Validation("step", "gives more than 5000 points for this range; choose a longer step"), caller,
                version);
        }
        boost::json::array series;
        for (const auto& g : history->gpus) {
            // Buckets by the end of each slice: (from + k*step, from + (k+1)*step].
            std::map<int64_t, analysis::Slice> buckets;
            for (const auto& sl : g.slices) {
                if (sl.end <= history->range.from || sl.end > history->range.to) continue;
                const int64_t k = (sl.end - history->range.from - std::chrono::seconds(1)) / step;
                analysis::Slice& b = buckets[k];
                b.reported_s += sl.reported_s;
                b.util_weighted += sl.util_weighted;
                b.util_max = std::max(b.util_max, sl.util_max);
                b.idle_s += sl.idle_s;
                b.idle_held_s += sl.idle_held_s;
                b.mem_used_max = std::max(b.mem_used_max, sl.mem_used_max);
                b.mem_total = std::max(b.mem_total, sl.mem_total);
                b.cost_usd += sl.cost_usd;
                b.idle_cost_usd += sl.idle_cost_usd;
            }
            boost::json::array points;
            for (const auto& [k, b] : buckets) {
                boost::json::object p;
                p["t"] = FormatUtc(history->range.from + k * step);
                p["reported_seconds"] = Round(b.reported_s, 1);
                p["util_avg"] = Round(b.UtilAvg(), 2);
                p["util_max"] = Round(b.util_max, 2);
                p["idle_fraction"] = Round(b.IdleShare(), 4);
                p["idle_held_fraction"] = Round(b.reported_s > 0 ? b.idle_held_s / b.reported_s : 0, 4);
                p["mem_used_max"] = Round(b.mem_used_max, 1);
                p["mem_total"] = Round(b.mem_total, 1);
                p["cost"] = Round(b.cost_usd, 4);
                p["idle_cost"] = Round(b.idle_cost_usd, 4);
                points.push_back(std::move(p));
            }
            boost::json::object o;
            o["gpu"] = g.gpu_key;
            o["host"] = g.host;
            o["gpu_index"] = g.gpu_index;
            o["gpu_name"] = g.name;
            if (!g.uuid.empty()) o["uuid"] = g.uuid;
            o["points"] = std::move(points);
            series.push_back(std::move(o));
        }
        boost::json::object body;
        body["status"] = "success";
        body["from"] = FormatUtc(history->range.from);
        body["to"] = FormatUtc(history->range.to);
        body["resolution"] = history->source;
        body["step_seconds"] = step.count();
        body["series"] = std::move(series);
        co_return OkJson(body, version, caller.limit);
    };
}

}  // namespace gpuopt::api
