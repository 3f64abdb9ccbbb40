// A readable route table: method + path pattern -> handler. Patterns are literal segments and
// {name} captures ("/api/gpus/{uuid}"). Lookups distinguish "no such path" (404) from "path exists,
// not with this method" (405, with the Allow list). Built at start-up, then read-only and thread-safe.
#pragma once

#include <string>
#include <vector>

#include "http/types.hpp"

namespace gpuopt::http {

struct RouteOptions {
    bool json_body = false;    // requests must carry Content-Type: application/json (else 415)
    std::string summary;       // one line for the route listing and docs
    bool always_open = false;  // answered even from an address blocked for failed authentication (health)
};

struct Route {
    bhttp::verb method;
    std::string pattern;
    Handler handler;
    RouteOptions options;
    std::vector<std::string> segments;
};

class Router {
public:
    void Add(bhttp::verb method, std::string pattern, Handler handler, RouteOptions options = {});

    enum class Outcome { kFound, kNotFound, kMethodNotAllowed };
    struct Lookup {
        Outcome outcome = Outcome::kNotFound;
        const Route* route = nullptr;
        std::map<std::string, std::string> params;
        std::string allow;  // for kMethodNotAllowed: "GET, POST"
    };

    // HEAD finds the GET route of the same path.
    Lookup Find(bhttp::verb method, std::string_view path) const;

    const std::vector<Route>& routes() const { return routes_; }

private:
    std::vector<Route> routes_;
};

}  // namespace gpuopt::http
