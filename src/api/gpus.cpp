// GET /api/gpus: the caller's GPUs seen in the last 30 days and their current state.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cmath>

#include "analysis/history.hpp"
#include "api/api.hpp"
#include "api/auth.hpp"
#include "api/history.hpp"
#include "common/json.hpp"
#include "http/error_response.hpp"

namespace gpuopt::api {

namespace {

// busy, idle, idle_holding_memory, or offline when its last report is older than three windows.
std::string State(const store::StoredWindow& w, SysSeconds now, const analysis::IdleRules& rules) {
    const auto quiet_for = now - w.window_end;
    if (quiet_for > std::chrono::seconds(3 * std::max<int64_t>(60, w.window_seconds))) return "offline";
    const analysis::Slice s = analysis::SliceOf(w, rules);
    if (s.IdleShare() < 0.5) return "busy";
    return s.idle_held_s >= 0.5 * s.reported_s ? "idle_holding_memory" : "idle";
}

}  // namespace

http::Handler MakeGpusHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeCustomer(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const Caller& caller = std::get<Caller>(auth);
        const auto now = UtcNow();
        auto fleet = s.store.usage().ReadFleet(caller.account.id, now - std::chrono::days(30));
        if (!fleet) co_return CallerError(fleet.error(), caller, version);
        const auto rules = IdleRulesOf(s.config);
        boost::json::array gpus;
        std::vector<store::StoredWindow> holding;  // the latest windows of GPUs idle while holding memory now
        for (const auto& g : *fleet) {
            boost::json::object o;
            o["gpu"] = g.gpu_key;
            o["first_seen"] = FormatUtc(g.first_seen);
            o["last_seen"] = FormatUtc(g.last_seen);
            if (g.latest) {
                const auto& w = *g.latest;
                o["host"] = w.host;
                // The prototype's agent names no host: its address stands in for one.
                o["host_source"] = w.host_from_address ? "client_address" : "agent";
                o["gpu_index"] = w.gpu_index;
                if (!w.uuid.empty()) o["uuid"] = w.uuid;
                o["gpu_name"] = w.name;
                o["state"] = State(w, now, rules);
                if (o["state"] == "idle_holding_memory") holding.push_back(w);
                o["last_report"] = FormatUtc(w.window_end);
                o["gpu_util"] = w.util_avg;
                if (w.util_max) o["util_max"] = *w.util_max;
                o["mem_used"] = w.mem_used_mib;
                o["mem_total"] = w.mem_total_mib;
                if (w.temperature_c) o["temperature"] = *w.temperature_c;
                if (w.power_w) o["power_w"] = *w.power_w;
                o["cost_per_hour"] = w.cost_per_hour;
                auto procs = ParseJson(w.processes_json, 4);
                o["processes"] =
                    procs && procs->is_array() ? std::move(*procs) : boost::json::value(boost::json::array{});
            } else {
                o["state"] = "offline";  // its windows are past raw retention
            }
            gpus.push_back(std::move(o));
        }
        boost::json::object body;
        body["status"] = "success";
        body["count"] = gpus.size();
        body["gpus"] = std::move(gpus);
        // Who holds the GPUs that are idle now: their latest windows, by user, container and namespace.
        SysSeconds from = now;
        for (const auto& w : holding) from = std::min(from, w.window_end - std::chrono::seconds(w.window_seconds));
        body["idle_held_by"] =
            IdleHoldersJson(analysis::WhoHeldIdle(holding, rules, {from, now + std::chrono::minutes(5)}), from);
        co_return OkJson(body, version, caller.limit);
    };
}

}  // namespace gpuopt::api
