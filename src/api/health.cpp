// GET /api/health: 200 when the store reads and writes, 503 (error envelope) otherwise.
#include <boost/json/object.hpp>

#include "api/api.hpp"
#include "common/time.hpp"
#include "http/error_response.hpp"

namespace gpuopt::api {

http::Handler MakeHealthHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        auto ping = s.store.Ping();
        boost::json::object body;
        boost::json::object services;
        if (ping) {
            body["status"] = "healthy";
            services["database"] = "healthy";
        } else {
            body["status"] = "error";
            body["code"] = "UNAVAILABLE";
            body["message"] = "The database is unavailable";
            services["database"] = "unhealthy";
        }
        body["timestamp"] = FormatUtc(UtcNow());
        body["version"] = GPUOPT_VERSION;
        body["services"] = std::move(services);
        co_return http::JsonResponse(ping ? http::bhttp::status::ok : http::bhttp::status::service_unavailable, body,
                                     ctx.request.version());
    };
}

}  // namespace gpuopt::api
