// Report mails and outgoing webhooks, as the customer sets them:
//
//   GET  /api/me/reports                     the weekly and daily report settings
//   PUT  /api/me/reports {"weekly": false}   turns a report off (or on); a field left out keeps its value
//   GET  /api/reports/unsubscribe?token=     the page a report's link opens: one button that turns reports off
//   POST /api/reports/unsubscribe?token=     turns them off (the button, and mail clients' one-click
//                                            unsubscribe, RFC 8058); no sign-in: the token is the mail's
//   GET    /api/me/webhooks                  the account's endpoints (Enterprise)
//   POST   /api/me/webhooks {"url", "events"} adds one; its signing secret is shown in this answer only
//   DELETE /api/me/webhooks/{id}             removes it and its delivery log
//   GET    /api/me/webhooks/{id}/deliveries  the delivery log, newest first
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>

#include "alerts/outgoing_webhooks.hpp"
#include "alerts/webhook.hpp"
#include "api/api.hpp"
#include "api/auth.hpp"
#include "api/html_page.hpp"
#include "common/crypto.hpp"
#include "common/json.hpp"
#include "http/await.hpp"
#include "http/error_response.hpp"
#include "http/query.hpp"
#include "mail/templates.hpp"

namespace gpuopt::api {

namespace {

boost::json::object ReportsJson(const store::ReportSettings& r, const Plan& plan) {
    return boost::json::object{{"status", "success"},
                               {"weekly", r.weekly},
                               {"daily", r.daily && plan.daily_reports},
                               {"daily_available_on_plan", plan.daily_reports}};
}

// The token a report's link carries: 32 base62 characters, or nothing worth looking up.
std::optional<std::string> TokenOf(const http::RequestContext& ctx) {
    auto query = http::ParseQuery(ctx.query);
    if (!query) return std::nullopt;
    auto it = query->find("token");
    if (it == query->end() || it->second.size() != 32) return std::nullopt;
    if (!std::all_of(it->second.begin(), it->second.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; })) {
        return std::nullopt;
    }
    return it->second;
}

http::Response Page(http::bhttp::status status, const std::string& headline, const std::string& detail,
                    const std::string& form_action, unsigned version) {
    const PageButton button{form_action, "Turn report mails off"};
    return HtmlPage(status, "GPUOptimizer reports", headline, detail, form_action.empty() ? nullptr : &button, version);
}

boost::json::object EndpointJson(const store::WebhookEndpoint& e) {
    boost::json::array events;
    for (const auto& t : e.events) events.emplace_back(t);
    return boost::json::object{
        {"id", e.id}, {"url", e.url}, {"events", std::move(events)}, {"created_at", FormatUtc(e.created_at)}};
}

constexpr const char* kEnterpriseOnly = "Outgoing webhooks come with the Enterprise plan";

}  // namespace

http::Handler MakeGetReportsHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeCustomer(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const Caller& caller = std::get<Caller>(auth);
        auto settings = s.store.notifications().GetReportSettings(caller.account.id);
        if (!settings) co_return CallerError(settings.error(), caller, version);
        co_return OkJson(ReportsJson(*settings, *caller.plan), version, caller.limit);
    };
}

http::Handler MakePutReportsHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeWithBody(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const auto& body = std::get<JsonCaller>(auth).body;
        const Caller& caller = std::get<JsonCaller>(auth).caller;
        auto current = s.store.notifications().GetReportSettings(caller.account.id);
        if (!current) co_return CallerError(current.error(), caller, version);
        store::ReportSettings settings = *current;
        for (const auto& [name, value] : body) {
            if (name != "weekly" && name != "daily") {
                co_return CallerError(Error::Validation(std::string(name), "is not a report setting"), caller, version);
            }
            if (!value.is_bool()) {
                co_return CallerError(Error::Validation(std::string(name), "must be true or false"), caller, version);
            }
            (name == "weekly" ? settings.weekly : settings.daily) = value.get_bool();
        }
        if (body.contains("daily") && settings.daily && !caller.plan->daily_reports) {
            co_return CallerError({ErrorCode::kForbidden, "Daily reports come with the paid plans", {}}, caller,
                                  version);
        }
        const std::string token = RandomBase62(32);
        auto write = [&](store::Callback<store::ReportSettings> done) {
            s.store.notifications().SetReportSettings(settings, token, std::move(done));
        };
        auto saved = co_await http::AwaitCallback<store::ReportSettings>(std::move(write));
        if (!saved) co_return CallerError(saved.error(), caller, version);
        co_return OkJson(ReportsJson(*saved, *caller.plan), version, caller.limit);
    };
}

http::Handler MakeUnsubscribePageHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        ctx.principal = "unsubscribe";
        (void)s;
        auto token = TokenOf(ctx);
        if (!token) {
            co_return http::ErrorResponse(Error::Validation("token", "must be the token from a report's link"),
                                          version);
        }
        // Opening the link changes nothing (mail scanners open links): the button does.
        co_return Page(http::bhttp::status::ok, "Stop report mails?",
                       "The weekly and daily GPU reports for this account will stop. Idle alerts and receipts are "
                       "not affected, and you can turn reports on again with PUT /api/me/reports.",
                       "/api/reports/unsubscribe?token=" + *token, version);
    };
}

http::Handler MakeUnsubscribeHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        ctx.principal = "unsubscribe";
        if (auto limit = CheckIpLimit(s, "unsubscribe", ctx.client_ip, 30); limit && !limit->allowed) {
            co_return RateLimitedResponse(*limit, version);
        }
        auto token = TokenOf(ctx);
        if (!token) {
            co_return http::ErrorResponse(Error::Validation("token", "must be the token from a report's link"),
                                          version);
        }
        auto write = [&](store::Callback<store::ReportSettings> done) {
            s.store.notifications().UnsubscribeReports(*token, std::move(done));
        };
        auto saved = co_await http::AwaitCallback<store::ReportSettings>(std::move(write));
        if (!saved) co_return http::ErrorResponse(saved.error(), version);
        if (WantsHtml(ctx.request)) {
            co_return Page(http::bhttp::status::ok, "Report mails are off",
                           "No more weekly or daily reports will be sent to this account.", "", version);
        }
        co_return OkJson(boost::json::object{{"status", "success"}, {"weekly", false}, {"daily", false}}, version,
                         std::nullopt);
    };
}

http::Handler MakeListWebhooksHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeCustomer(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const Caller& caller = std::get<Caller>(auth);
        auto endpoints = s.store.notifications().ListWebhookEndpoints(caller.account.id);
        if (!endpoints) co_return CallerError(endpoints.error(), caller, version);
        boost::json::array list;
        for (const auto& e : *endpoints) list.push_back(EndpointJson(e));
        boost::json::array types;
        for (auto t : alerts::kWebhookEventTypes) types.emplace_back(t);
        co_return OkJson(boost::json::object{{"status", "success"},
                                             {"available_on_plan", caller.plan->outgoing_webhooks},
                                             {"event_types", std::move(types)},
                                             {"webhooks", std::move(list)}},
                         version, caller.limit);
    };
}

http::Handler MakeAddWebhookHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeWithBody(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const auto& body = std::get<JsonCaller>(auth).body;
        const Caller& caller = std::get<JsonCaller>(auth).caller;
        if (!caller.plan->outgoing_webhooks) {
            co_return CallerError({ErrorCode::kForbidden, kEnterpriseOnly, {}}, caller, version);
        }
        store::WebhookEndpoint endpoint;
        endpoint.account_id = caller.account.id;
        const auto* url = body.if_contains("url");
        if (url == nullptr || !url->is_string()) {
            co_return CallerError(Error::Validation("url", "is required"), caller, version);
        }
        endpoint.url = std::string(url->get_string());
        if (auto valid = alerts::ValidateWebhookUrl(endpoint.url, s.config.webhook_allow_private); !valid) {
            co_return CallerError(Error::Validation("url", valid.error().details.begin()->second), caller, version);
        }
        if (const auto* events = body.if_contains("events"); events != nullptr && !events->is_null()) {
            if (!events->is_array()) {
                co_return CallerError(Error::Validation("events", "must be a list of event types"), caller, version);
            }
            for (const auto& e : events->get_array()) {
                const bool known =
                    e.is_string() && std::find(alerts::kWebhookEventTypes.begin(), alerts::kWebhookEventTypes.end(),
                                               std::string_view(e.get_string())) != alerts::kWebhookEventTypes.end();
                if (!known) {
                    co_return CallerError(Error::Validation("events",
                                                            "lists an unknown event type (see GET "
                                                            "/api/me/webhooks for the list)"),
                                          caller, version);
                }
                std::string type(e.get_string());
                if (std::find(endpoint.events.begin(), endpoint.events.end(), type) == endpoint.events.end()) {
                    endpoint.events.push_back(std::move(type));
                }
            }
        }
        endpoint.secret = "whsec_" + RandomBase62(32);
        endpoint.created_at = UtcNow();
        auto write = [&](store::Callback<store::WebhookEndpoint> done) {
            s.store.notifications().AddWebhookEndpoint(endpoint, alerts::kMaxWebhookEndpoints, std::move(done));
        };
        auto saved = co_await http::AwaitCallback<store::WebhookEndpoint>(std::move(write));
        if (!saved) co_return CallerError(saved.error(), caller, version);
        boost::json::object out = EndpointJson(*saved);
        out["status"] = "success";
        out["secret"] = saved->secret;  // shown here only
        http::Response res = OkJson(out, version, caller.limit);
        res.result(http::bhttp::status::created);
        co_return res;
    };
}

http::Handler MakeDeleteWebhookHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeCustomer(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const Caller& caller = std::get<Caller>(auth);
        const auto id = IdParam(ctx);
        if (!id) co_return CallerError(Error::Validation("id", "must be a webhook id"), caller, version);
        auto write = [&](store::Callback<bool> done) {
            s.store.notifications().DeleteWebhookEndpoint(caller.account.id, *id, std::move(done));
        };
        auto deleted = co_await http::AwaitCallback<bool>(std::move(write));
        if (!deleted) co_return CallerError(deleted.error(), caller, version);
        if (!*deleted) co_return CallerError({ErrorCode::kNotFound, "No such webhook", {}}, caller, version);
        co_return OkJson(boost::json::object{{"status", "success"}, {"deleted", *id}}, version, caller.limit);
    };
}

http::Handler MakeWebhookDeliveriesHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeCustomer(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const Caller& caller = std::get<Caller>(auth);
        const auto id = IdParam(ctx);
        if (!id) co_return CallerError(Error::Validation("id", "must be a webhook id"), caller, version);
        auto endpoints = s.store.notifications().ListWebhookEndpoints(caller.account.id);
        if (!endpoints) co_return CallerError(endpoints.error(), caller, version);
        if (std::none_of(endpoints->begin(), endpoints->end(), [&](const auto& e) { return e.id == *id; })) {
            co_return CallerError({ErrorCode::kNotFound, "No such webhook", {}}, caller, version);
        }
        auto log = s.store.notifications().ListWebhookDeliveries(caller.account.id, *id, 100);
        if (!log) co_return CallerError(log.error(), caller, version);
        boost::json::array list;
        for (const auto& d : *log) {
            boost::json::object o{{"id", d.id},
                                  {"event_id", d.event_id},
                                  {"type", d.type},
                                  {"state", store::NameOf(d.state)},
                                  {"attempts", d.attempts},
                                  {"last_status", d.last_status},
                                  {"last_error", d.last_error},
                                  {"created_at", FormatUtc(d.created_at)}};
            o["next_attempt"] = d.state == store::WebhookState::kPending ? boost::json::value(FormatUtc(d.next_attempt))
                                                                         : boost::json::value(nullptr);
            o["finished_at"] =
                d.finished_at ? boost::json::value(FormatUtc(*d.finished_at)) : boost::json::value(nullptr);
            list.push_back(std::move(o));
        }
        co_return OkJson(boost::json::object{{"status", "success"}, {"deliveries", std::move(list)}}, version,
                         caller.limit);
    };
}

}  // namespace gpuopt::api
