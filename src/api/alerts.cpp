// GET /api/me/alerts: the caller's idle-alert settings (the webhook shown masked) and recent alerts.
// PUT /api/me/alerts {"webhook_url": "https://hooks.slack.com/...", "email": true, "idle_minutes": 30}: sets
// them (a field left out keeps its value); an empty webhook_url turns webhook alerts off, "email": false mail
// alerts. Idle alerts come with the plans that have them.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "alerts/webhook.hpp"
#include "api/api.hpp"
#include "api/auth.hpp"
#include "common/json.hpp"
#include "http/await.hpp"
#include "http/error_response.hpp"

namespace gpuopt::api {

namespace {

// The scheme and host only: the path of an incoming webhook is its secret.
std::string Masked(const std::string& url) {
    if (url.empty()) return url;
    const size_t host_end = url.find('/', url.find("://") + 3);
    return url.substr(0, host_end == std::string::npos ? url.size() : host_end) + "/…";
}

boost::json::object SettingsJson(const std::optional<store::AlertSettings>& s, int default_minutes, bool available) {
    boost::json::object o;
    o["available_on_plan"] = available;
    o["enabled"] = s && (!s->webhook_url.empty() || s->email);
    o["webhook_url"] = s ? Masked(s->webhook_url) : std::string();
    o["email"] = s && s->email;
    o["idle_minutes"] = s ? s->idle_minutes : default_minutes;
    return o;
}

}  // namespace

http::Handler MakeGetAlertsHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeCustomer(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const Caller& caller = std::get<Caller>(auth);
        auto settings = s.store.alerts().GetAlertSettings(caller.account.id);
        if (!settings) co_return CallerError(settings.error(), caller, version);
        auto alerts = s.store.alerts().ListAlerts(caller.account.id, 50);
        if (!alerts) co_return CallerError(alerts.error(), caller, version);
        boost::json::array list;
        for (const auto& a : *alerts) {
            boost::json::object o;
            o["id"] = a.id;
            o["gpu"] = a.gpu_key;
            o["idle_since"] = FormatUtc(a.idle_since);
            o["opened_at"] = FormatUtc(a.opened_at);
            o["closed_at"] = a.closed_at ? boost::json::value(FormatUtc(*a.closed_at)) : boost::json::value(nullptr);
            o["message"] = a.message;
            o["delivery"] = store::NameOf(a.delivery);
            o["attempts"] = a.attempts;
            list.push_back(std::move(o));
        }
        boost::json::object body = SettingsJson(*settings, s.config.idle_alert_minutes, caller.plan->idle_alerts);
        body["status"] = "success";
        body["alerts"] = std::move(list);
        co_return OkJson(body, version, caller.limit);
    };
}

http::Handler MakePutAlertsHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeWithBody(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const auto& body = std::get<JsonCaller>(auth).body;
        const Caller& caller = std::get<JsonCaller>(auth).caller;
        if (!caller.plan->idle_alerts) {
            co_return CallerError(
                {ErrorCode::kForbidden, "Idle alerts come with the Professional and Enterprise plans", {}}, caller,
                version);
        }
        auto current = s.store.alerts().GetAlertSettings(caller.account.id);
        if (!current) co_return CallerError(current.error(), caller, version);
        store::AlertSettings settings = current->value_or(
            store::AlertSettings{caller.account.id, "", s.config.idle_alert_minutes, caller.account.tier});
        const auto* url = body.if_contains("webhook_url");
        const auto* email = body.if_contains("email");
        if (url == nullptr && email == nullptr) {
            co_return CallerError(
                Error::Validation("webhook_url", "is required unless email is given (an empty string turns it off)"),
                caller, version);
        }
        if (url != nullptr) {
            if (!url->is_string()) {
                co_return CallerError(Error::Validation("webhook_url", "must be a string (empty turns it off)"), caller,
                                      version);
            }
            settings.webhook_url = std::string(url->get_string());
            if (!settings.webhook_url.empty()) {
                if (auto valid = alerts::ValidateWebhookUrl(settings.webhook_url, s.config.webhook_allow_private);
                    !valid) {
                    co_return CallerError(valid.error(), caller, version);
                }
            }
        }
        if (email != nullptr) {
            if (!email->is_bool())
                co_return CallerError(Error::Validation("email", "must be true or false"), caller, version);
            settings.email = email->get_bool();
        }
        if (const auto* minutes = body.if_contains("idle_minutes"); minutes != nullptr && !minutes->is_null()) {
            if (!minutes->is_int64() || minutes->get_int64() < 5 || minutes->get_int64() > 24 * 60) {
                co_return CallerError(
                    Error::Validation("idle_minutes", "must be a whole number of minutes from 5 to 1440"), caller,
                    version);
            }
            settings.idle_minutes = static_cast<int>(minutes->get_int64());
        }
        auto write = [&](store::Callback<store::AlertSettings> done) {
            s.store.alerts().SetAlertSettings(settings, std::move(done));
        };
        auto saved = co_await http::AwaitCallback<store::AlertSettings>(std::move(write));
        if (!saved) co_return CallerError(saved.error(), caller, version);
        boost::json::object out = SettingsJson(*saved, s.config.idle_alert_minutes, true);
        out["status"] = "success";
        co_return OkJson(out, version, caller.limit);
    };
}

}  // namespace gpuopt::api
