#include "api/api.hpp"

namespace gpuopt::api {

void RegisterRoutes(http::Router& router, Services& s) {
    using http::bhttp::verb;
    // method  path                 handler                    options
    router.Add(verb::post, "/api/signup", MakeSignupHandler(s), {true, "Create an account and its API key"});
    router.Add(verb::post, "/api/track-usage", MakeTrackUsageHandler(s), {true, "Store an agent report"});
    router.Add(verb::get, "/api/health", MakeHealthHandler(s), {false, "Liveness and store health"});
    router.Add(verb::get, "/api/me", MakeMeHandler(s), {false, "The caller's account"});
    router.Add(verb::get, "/api/stats", MakeStatsHandler(s), {false, "Operator statistics (ADMIN_TOKEN)"});
    router.Add(verb::get, "/api/plans", MakePlansHandler(s), {false, "Plans and prices from configuration"});
}

}  // namespace gpuopt::api
