// The JSON API: one thin handler per endpoint (parse -> call domain -> build JSON), and the route
// table that wires them. Handlers share a Services bundle built once in server/app.cpp.
#pragma once

#include "common/config.hpp"
#include "http/rate_limiter.hpp"
#include "http/router.hpp"
#include "store/store.hpp"

namespace gpuopt::api {

struct Services {
    const Config& config;
    store::Store& store;
    http::RateLimiter& key_limiter;  // requests per API key, by plan
    http::RateLimiter& ip_limiter;   // public endpoints, per client IP
};

http::Handler MakeSignupHandler(Services& s);
http::Handler MakeTrackUsageHandler(Services& s);
http::Handler MakeHealthHandler(Services& s);
http::Handler MakeMeHandler(Services& s);
http::Handler MakeStatsHandler(Services& s);
http::Handler MakePlansHandler(Services& s);

// Adds every API route to `router`. `services` must outlive the router.
void RegisterRoutes(http::Router& router, Services& services);

}  // namespace gpuopt::api
