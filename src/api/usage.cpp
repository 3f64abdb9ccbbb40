// GET /api/usage?from=&to=|range=&step=&gpu=: utilization, memory and idle cost over time, one series
// per GPU, from raw windows for ranges within a week (and the raw retention), else from the hourly
// roll-up. Points are buckets of `step` (default: 5 min on raw data, 1 h on hourly data).
#include <algorithm>
#include <cmath>
#include <vector>

#include "api/api.hpp"
#include "api/auth.hpp"
#include "api/history.hpp"
#include "common/json.hpp"
#include "http/error_response.hpp"
#include "http/query.hpp"

namespace gpuopt::api {

namespace {

constexpr size_t kMaxPoints = 5000;  // per series

// One point as a JSON object. Its keys are constants and its values a time and numbers, so it is written
// as text in one pass rather than key by key: a month of a fleet is 46,080 points.
void AppendPoint(std::string& out, std::string_view time, const analysis::Slice& b) {
    out.append(R"({"t":")");
    out.append(time);  // RFC 3339, nothing to escape
    out.append(R"(","reported_seconds":)");
    AppendJsonFixed(out, b.reported_s, 1);
    out.append(R"(,"util_avg":)");
    AppendJsonFixed(out, b.UtilAvg(), 2);
    out.append(R"(,"util_max":)");
    AppendJsonFixed(out, b.util_max, 2);
    out.append(R"(,"sm_active":)");
    if (b.sm_s > 0) {
        AppendJsonFixed(out, b.SmAvg(), 2);  // over the part of the bucket GPM measured
    } else {
        out.append("null");
    }
    out.append(R"(,"idle_fraction":)");
    AppendJsonFixed(out, b.IdleShare(), 4);
    out.append(R"(,"idle_held_fraction":)");
    AppendJsonFixed(out, b.reported_s > 0 ? b.idle_held_s / b.reported_s : 0, 4);
    out.append(R"(,"mem_used_max":)");
    AppendJsonFixed(out, b.mem_used_max, 1);
    out.append(R"(,"mem_total":)");
    AppendJsonFixed(out, b.mem_total, 1);
    out.append(R"(,"cost":)");
    AppendJsonFixed(out, b.cost_usd, 4);
    out.append(R"(,"idle_cost":)");
    AppendJsonFixed(out, b.idle_cost_usd, 4);
    out += '}';
}

}  // namespace

http::Handler MakeUsageHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeCustomer(s, ctx);
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
        const std::function<Result<LoadedHistory>()> load = [&s, id = caller.account.id, r = *range, &gpu_key] {
            return LoadHistory(s, id, r, gpu_key);
        };
        auto history = co_await OffloadRead<LoadedHistory>(s, load);
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
        // A month of hourly points for a fleet is tens of thousands of points: they are summed into buckets
        // indexed by position and written straight out as JSON text, with each bucket's time formatted once.
        const auto& window = history->range;
        const size_t slots = static_cast<size_t>((window.to - window.from + step - std::chrono::seconds(1)) / step);
        std::vector<std::string> times(slots);
        std::vector<analysis::Slice> buckets(slots);
        std::vector<char> used(slots);
        // Reserved for what is written (about 200 bytes a point, a point per slice at most), so the text is
        // not copied each time it outgrows its buffer.
        size_t points = 0;
        for (const auto& g : history->gpus) points += std::min(g.slices.size(), slots);
        std::string out;
        out.reserve(256 + history->gpus.size() * 256 + points * 200);
        JsonWriter json(out);
        json.BeginObject();
        json.Key("status").String("success");
        json.Key("from").String(FormatUtc(window.from));
        json.Key("to").String(FormatUtc(window.to));
        json.Key("resolution").String(history->source);
        json.Key("step_seconds").Int(step.count());
        json.Key("series").BeginArray();
        for (const auto& g : history->gpus) {
            for (const auto& sl : g.slices) {
                if (sl.end <= window.from || sl.end > window.to) continue;
                // Buckets by the end of each slice: (from + k*step, from + (k+1)*step].
                const auto k = static_cast<size_t>((sl.end - window.from - std::chrono::seconds(1)) / step);
                if (k >= slots) continue;
                analysis::Slice& b = buckets[k];
                used[k] = 1;
                b.reported_s += sl.reported_s;
                b.util_weighted += sl.util_weighted;
                b.util_max = std::max(b.util_max, sl.util_max);
                b.sm_s += sl.sm_s;
                b.sm_weighted += sl.sm_weighted;
                b.idle_s += sl.idle_s;
                b.idle_held_s += sl.idle_held_s;
                b.mem_used_max = std::max(b.mem_used_max, sl.mem_used_max);
                b.mem_total = std::max(b.mem_total, sl.mem_total);
                b.cost_usd += sl.cost_usd;
                b.idle_cost_usd += sl.idle_cost_usd;
            }
            json.BeginObject();
            json.Key("gpu").String(g.gpu_key);
            json.Key("host").String(g.host);
            json.Key("gpu_index").Int(g.gpu_index);
            json.Key("gpu_name").String(g.name);
            if (!g.uuid.empty()) json.Key("uuid").String(g.uuid);
            json.Key("points").BeginArray();
            for (size_t k = 0; k < slots; ++k) {
                if (used[k] == 0) continue;
                const analysis::Slice& b = buckets[k];
                if (times[k].empty()) times[k] = FormatUtc(window.from + static_cast<int64_t>(k) * step);
                json.RawWith([&](std::string& o) { AppendPoint(o, times[k], b); });
                buckets[k] = analysis::Slice{};  // empty again for the next GPU: only the buckets it used
                used[k] = 0;
            }
            json.EndArray();
            json.EndObject();
        }
        json.EndArray();
        json.EndObject();
        co_return OkJsonText(std::move(out), version, caller.limit);
    };
}

}  // namespace gpuopt::api
