// Acting on idle GPUs (paid plans): the customer's policy, snoozes, and what the agents did.
//
// GET  /api/me/idle-policy: the policy (the defaults, off, until one is set), active snoozes, recent events.
// PUT  /api/me/idle-policy {"enabled", "dry_run", "trigger", "idle_minutes", "grace_minutes", "action",
//      "kill_after_seconds"}: fields left out keep their value; an unknown field is refused (a misspelt
//      "dry_run" must not turn acting on).
// POST /api/me/idle-policy/snooze {"gpu": "<host>/<uuid>" or "<uuid>", "minutes": 240}: no action on that GPU
//      until then (0 ends a snooze).
// Agents get the policy in the answer to each report (track_usage.cpp) and send back what they did.
#include "api/idle_policy.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include <cstdio>

#include "api/api.hpp"
#include "api/auth.hpp"
#include "api/history.hpp"
#include "common/json.hpp"
#include "http/await.hpp"
#include "http/error_response.hpp"

namespace gpuopt::api {

namespace {

constexpr const char* kPaidOnly = "Acting on idle GPUs comes with the Professional and Enterprise plans";

store::IdlePolicy DefaultPolicy(int64_t account_id) {
    store::IdlePolicy p;
    p.account_id = account_id;
    return p;
}

boost::json::object PolicyJson(const store::IdlePolicy& p) {
    boost::json::object o;
    o["enabled"] = p.enabled;
    o["dry_run"] = p.dry_run;
    o["trigger"] = store::NameOf(p.trigger);
    o["idle_minutes"] = p.idle_minutes;
    o["grace_minutes"] = p.grace_minutes;
    o["action"] = store::NameOf(p.action);
    o["kill_after_seconds"] = p.kill_after_seconds;
    o["version"] = p.version;
    if (p.version > 0) o["updated_at"] = FormatUtc(p.updated_at);
    return o;
}

boost::json::object EventJson(const store::IdleEvent& e) {
    boost::json::object o;
    o["id"] = e.id;
    o["at"] = FormatUtc(e.at);
    o["gpu"] = e.gpu_key;
    o["host"] = e.host;
    o["uuid"] = e.uuid;
    o["kind"] = store::NameOf(e.kind);
    if (!e.action.empty()) o["action"] = e.action;
    o["dry_run"] = e.dry_run;
    o["detail"] = e.detail;
    boost::system::error_code ec;
    auto processes = boost::json::parse(e.processes_json, ec);
    o["processes"] = ec ? boost::json::value(boost::json::array{}) : std::move(processes);
    return o;
}

std::string FormatNumber(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", v);
    return text;
}

Result<double> Minutes(const boost::json::value& v, const char* field, double lo, double hi) {
    if (!v.is_number()) return Error::Validation(field, "must be a number of minutes");
    const double m = v.to_number<double>();
    if (!(m >= lo && m <= hi)) {
        return Error::Validation(field, "must be from " + FormatNumber(lo) + " to " + FormatNumber(hi) + " minutes");
    }
    return m;
}

}  // namespace

Result<store::IdlePolicy> ParseIdlePolicy(const boost::json::object& body, store::IdlePolicy base,
                                          double min_idle_minutes) {
    for (const auto& [key, value] : body) {
        if (key == "api_key") continue;
        if (key == "enabled" || key == "dry_run") {
            if (!value.is_bool()) return Error::Validation(std::string(key), "must be true or false");
            (key == "enabled" ? base.enabled : base.dry_run) = value.get_bool();
        } else if (key == "trigger") {
            const auto t = value.is_string() ? store::IdleTriggerNamed(value.get_string()) : std::nullopt;
            if (!t) return Error::Validation("trigger", R"(must be "idle" or "idle_holding_memory")");
            base.trigger = *t;
        } else if (key == "action") {
            const auto a = value.is_string() ? store::IdleActionNamed(value.get_string()) : std::nullopt;
            if (!a) return Error::Validation("action", R"(must be "notify", "signal" or "exec")");
            base.action = *a;
        } else if (key == "idle_minutes") {
            auto m = Minutes(value, "idle_minutes", min_idle_minutes, 7 * 24 * 60);
            if (!m) return m.error();
            base.idle_minutes = *m;
        } else if (key == "grace_minutes") {
            auto m = Minutes(value, "grace_minutes", 0, 24 * 60);
            if (!m) return m.error();
            base.grace_minutes = *m;
        } else if (key == "kill_after_seconds") {
            if (!value.is_int64() || value.get_int64() < 1 || value.get_int64() > 3600) {
                return Error::Validation("kill_after_seconds", "must be a whole number of seconds from 1 to 3600");
            }
            base.kill_after_seconds = static_cast<int>(value.get_int64());
        } else {
            return Error::Validation(std::string(key), "is not a setting of the idle policy");
        }
    }
    return base;
}

boost::json::object AgentPolicyJson(const store::IdlePolicy& p, const std::vector<store::IdleSnooze>& snoozes,
                                    const std::string& host) {
    boost::json::object o = PolicyJson(p);
    o.erase("updated_at");
    boost::json::array snoozed;
    for (const auto& s : snoozes) {
        if (s.host != host) continue;
        snoozed.push_back({{"uuid", s.uuid}, {"until", FormatUtc(s.until)}});
    }
    o["snoozed"] = std::move(snoozed);
    return o;
}

http::Handler MakeGetIdlePolicyHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeCustomer(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const Caller& caller = std::get<Caller>(auth);
        auto policy = s.store.idle_actions().GetIdlePolicy(caller.account.id);
        if (!policy) co_return CallerError(policy.error(), caller, version);
        auto snoozes = s.store.idle_actions().ActiveSnoozes(caller.account.id, UtcNow());
        if (!snoozes) co_return CallerError(snoozes.error(), caller, version);
        auto events = s.store.idle_actions().ListIdleEvents(caller.account.id, 100);
        if (!events) co_return CallerError(events.error(), caller, version);
        boost::json::object body;
        body["status"] = "success";
        body["available_on_plan"] = caller.plan->idle_actions;
        body["policy"] = PolicyJson(policy->value_or(DefaultPolicy(caller.account.id)));
        boost::json::array snoozed;
        for (const auto& z : *snoozes) {
            snoozed.push_back({{"gpu", z.gpu_key}, {"until", FormatUtc(z.until)}, {"since", FormatUtc(z.created_at)}});
        }
        body["snoozed"] = std::move(snoozed);
        boost::json::array list;
        for (const auto& e : *events) list.push_back(EventJson(e));
        body["events"] = std::move(list);
        co_return OkJson(body, version, caller.limit);
    };
}

http::Handler MakePutIdlePolicyHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeWithBody(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const auto& body = std::get<JsonCaller>(auth).body;
        const Caller& caller = std::get<JsonCaller>(auth).caller;
        if (!caller.plan->idle_actions) co_return CallerError({ErrorCode::kForbidden, kPaidOnly, {}}, caller, version);
        auto current = s.store.idle_actions().GetIdlePolicy(caller.account.id);
        if (!current) co_return CallerError(current.error(), caller, version);
        auto policy = ParseIdlePolicy(body, current->value_or(DefaultPolicy(caller.account.id)),
                                      s.config.idle_action_min_minutes);
        if (!policy) co_return CallerError(policy.error(), caller, version);
        policy->account_id = caller.account.id;
        auto write = [&](store::Callback<store::IdlePolicy> done) {
            s.store.idle_actions().SetIdlePolicy(*policy, UtcNow(), std::move(done));
        };
        auto saved = co_await http::AwaitCallback<store::IdlePolicy>(std::move(write));
        if (!saved) co_return CallerError(saved.error(), caller, version);
        if (s.idle_policies != nullptr) s.idle_policies->Forget(caller.account.id);
        boost::json::object out;
        out["status"] = "success";
        out["policy"] = PolicyJson(*saved);
        co_return OkJson(out, version, caller.limit);
    };
}

http::Handler MakeSnoozeIdleHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeWithBody(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const auto& body = std::get<JsonCaller>(auth).body;
        const Caller& caller = std::get<JsonCaller>(auth).caller;
        if (!caller.plan->idle_actions) co_return CallerError({ErrorCode::kForbidden, kPaidOnly, {}}, caller, version);
        const auto* gpu = body.if_contains("gpu");
        if (gpu == nullptr || !gpu->is_string()) {
            co_return CallerError(Error::Validation("gpu", "must name a GPU (its key or uuid)"), caller, version);
        }
        const auto* minutes = body.if_contains("minutes");
        if (minutes == nullptr) co_return CallerError(Error::Validation("minutes", "is required"), caller, version);
        auto m = Minutes(*minutes, "minutes", 0, 7 * 24 * 60);
        if (!m) co_return CallerError(m.error(), caller, version);
        auto key = ResolveGpu(s, caller.account.id, std::string(gpu->get_string()));
        if (!key) co_return CallerError(key.error(), caller, version);
        const size_t slash = key->rfind('/');
        store::IdleSnooze snooze;
        snooze.account_id = caller.account.id;
        snooze.gpu_key = *key;
        snooze.host = slash == std::string::npos ? std::string() : key->substr(0, slash);
        snooze.uuid = slash == std::string::npos ? *key : key->substr(slash + 1);
        snooze.created_at = UtcNow();
        snooze.until = snooze.created_at + std::chrono::seconds(static_cast<int64_t>(*m * 60));
        auto write = [&](store::Callback<void> done) { s.store.idle_actions().SnoozeGpu(snooze, std::move(done)); };
        auto saved = co_await http::AwaitCallback<void>(std::move(write));
        if (!saved) co_return CallerError(saved.error(), caller, version);
        if (s.idle_policies != nullptr) s.idle_policies->Forget(caller.account.id);
        boost::json::object out;
        out["status"] = "success";
        out["gpu"] = snooze.gpu_key;
        out["until"] = FormatUtc(snooze.until);
        co_return OkJson(out, version, caller.limit);
    };
}

}  // namespace gpuopt::api
