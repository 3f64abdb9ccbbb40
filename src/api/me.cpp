// GET /api/me: the caller's account.
#include <boost/json/object.hpp>

#include "api/api.hpp"
#include "api/auth.hpp"
#include "http/error_response.hpp"

namespace gpuopt::api {

http::Handler MakeMeHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeCustomer(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const Caller& caller = std::get<Caller>(auth);
        const store::Account* account = &caller.account;
        const Plan* plan = caller.plan;
        const auto& limit = caller.limit;
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
