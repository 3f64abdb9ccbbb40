// GET /api/plans: the plans of SPEC §3 as configured, for the landing page and scripts.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "api/api.hpp"
#include "billing/billing.hpp"
#include "http/error_response.hpp"

namespace gpuopt::api {

http::Handler MakePlansHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        boost::json::array plans;
        for (const auto& p : s.config.plans) {
            boost::json::object o;
            o["tier"] = NameOf(p.tier);
            o["name"] = p.display_name;
            o["price_usd"] = p.price_usd;
            o["gpu_limit"] = p.gpu_limit ? boost::json::value(*p.gpu_limit) : boost::json::value(nullptr);
            o["requests_per_hour"] =
                p.requests_per_hour ? boost::json::value(*p.requests_per_hour) : boost::json::value(nullptr);
            boost::json::array features;
            for (const auto& f : p.features) features.emplace_back(f);
            o["features"] = std::move(features);
            plans.push_back(std::move(o));
        }
        boost::json::object body;
        body["status"] = "success";
        body["plans"] = std::move(plans);
        body["gpu_limit_window_hours"] = s.config.gpu_limit_window_hours;
        // Paid plans can be bought here when at least one gateway is configured (GET /api/payment/gateways).
        bool checkout = false;
        if (s.billing != nullptr) {
            for (const auto& g : s.billing->Gateways()) checkout = checkout || g.enabled;
        }
        body["paid_checkout_available"] = checkout;
        co_return http::JsonResponse(http::bhttp::status::ok, body, ctx.request.version());
    };
}

}  // namespace gpuopt::api
