#include "http/router.hpp"

#include <set>
#include <stdexcept>

namespace gpuopt::http {

namespace {

std::vector<std::string_view> Split(std::string_view path) {
    std::vector<std::string_view> out;
    size_t start = 1;  // paths begin with '/'
    while (start <= path.size()) {
        const size_t slash = path.find('/', start);
        out.push_back(path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return out;
}

bool Matches(const Route& route, const std::vector<std::string_view>& parts,
             std::map<std::string, std::string>& params) {
    if (route.segments.size() != parts.size()) return false;
    for (size_t i = 0; i < parts.size(); ++i) {
        const std::string& seg = route.segments[i];
        if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
            if (parts[i].empty()) return false;
            params[seg.substr(1, seg.size() - 2)] = std::string(parts[i]);
        } else if (seg != parts[i]) {
            return false;
        }
    }
    return true;
}

}  // namespace

void Router::Add(bhttp::verb method, std::string pattern, Handler handler, RouteOptions options) {
    if (pattern.empty() || pattern.front() != '/') throw std::invalid_argument("route must start with /: " + pattern);
    for (const auto& r : routes_) {
        if (r.method == method && r.pattern == pattern) throw std::invalid_argument("duplicate route: " + pattern);
    }
    Route route{method, std::move(pattern), std::move(handler), std::move(options), {}};
    for (auto part : Split(route.pattern)) route.segments.emplace_back(part);
    routes_.push_back(std::move(route));
}

Router::Lookup Router::Find(bhttp::verb method, std::string_view path) const {
    Lookup result;
    if (path.empty() || path.front() != '/') return result;
    const auto parts = Split(path);
    const bhttp::verb wanted = method == bhttp::verb::head ? bhttp::verb::get : method;
    std::set<std::string> allowed;
    for (const auto& route : routes_) {
        std::map<std::string, std::string> params;
        if (!Matches(route, parts, params)) continue;
        if (route.method == wanted) {
            result.outcome = Outcome::kFound;
            result.route = &route;
            result.params = std::move(params);
            return result;
        }
        allowed.insert(std::string(bhttp::to_string(route.method)));
        if (route.method == bhttp::verb::get) allowed.insert("HEAD");
    }
    if (!allowed.empty()) {
        result.outcome = Outcome::kMethodNotAllowed;
        for (const auto& m : allowed) {
            if (!result.allow.empty()) result.allow += ", ";
            result.allow += m;
        }
    }
    return result;
}

}  // namespace gpuopt::http
