// GET /api/me: the caller's account.
#include <boost/json/object.hpp>

#include "api/api.hpp"
#include "api/auth.hpp"
#include "http/error_response.hpp"

namespace gpuopt::api {

http::Handler MakeMeHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto account = co_await AuthenticateRequest(s, ctx, nullptr);
        if (!account) co_return http::ErrorResponse(account.error(), version);
        ctx.principal = account->key_prefix;
        auto limit = CheckKeyLimit(s, *account);
        if (limit && !limit->allowed) co_return RateLimitedResponse(*limit, version);

        const Plan* plan = s.config.FindPlan(account->tier);
        boost::json::object body;
        body["status"] = "success";
        body["email"] = account->email;
        body["tier"] = NameOf(account->tier);
        body["key_prefix"] = account->key_prefix;
        body["created_at"] = account->created_at;
        if (plan != nullptr && plan->gpu_limit) {
            body["gpu_limit"] = *plan->gpu_limit;
        } else {
            body["gpu_limit"] = nullptr;
        }
        if (plan != nullptr && plan->requests_per_hour) {
            body["requests_per_hour"] = *plan->requests_per_hour;
        } else {
            body["requests_per_hour"] = nullptr;
        }
        co_return OkJson(body, version, limit);
    };
}

}  // namespace gpuopt::api
