#include "agent/cloud.hpp"

#include <spdlog/spdlog.h>

#include <boost/json/object.hpp>

#include <cctype>
#include <thread>

#include "common/json.hpp"
#include "net/http_client.hpp"

namespace gpuopt::agent {

namespace {

using Clock = std::chrono::steady_clock;

struct Answer {
    long status = 0;
    std::string body;
    bool google_flavor = false;  // the response carried Metadata-Flavor: Google
};

// One request that gives up at `deadline`; never through a proxy (the metadata services are link-local).
std::optional<Answer> Request(const std::string& url, const char* method, std::initializer_list<std::string> headers,
                              Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    net::HttpCall call;
    call.method = method;
    call.url = url;
    call.headers = headers;
    call.timeout = left;
    call.connect_timeout = left;
    call.no_proxy = true;
    call.max_body_bytes = 64 * 1024;
    const net::HttpAnswer got = net::Fetch(call);
    if (got.status == 0) return std::nullopt;
    Answer a;
    a.status = got.status;
    a.body = got.body;
    auto flavor = got.headers.find("metadata-flavor");
    if (flavor != got.headers.end()) {
        std::string value = flavor->second;
        for (auto& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        a.google_flavor = value.find("google") != std::string::npos;
    }
    return a;
}

std::string Base(std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
}

// Instance types and regions are short names; anything else is not a metadata answer.
bool Plausible(const std::string& s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') return false;
    }
    return true;
}

std::optional<CloudInstance> Aws(const std::string& base, Clock::time_point deadline) {
    auto token = Request(base + "/latest/api/token", "PUT", {"X-aws-ec2-metadata-token-ttl-seconds: 21600"}, deadline);
    if (!token || token->status != 200 || token->body.empty() || token->body.size() > 512) return std::nullopt;
    const std::string auth = "X-aws-ec2-metadata-token: " + token->body;
    auto type = Request(base + "/latest/meta-data/instance-type", "GET", {auth}, deadline);
    if (!type || type->status != 200 || !Plausible(type->body)) return std::nullopt;
    CloudInstance c{"aws", type->body, ""};
    if (auto region = Request(base + "/latest/meta-data/placement/region", "GET", {auth}, deadline);
        region && region->status == 200 && Plausible(region->body)) {
        c.region = region->body;
    }
    return c;
}

std::optional<CloudInstance> Gcp(const std::string& base, Clock::time_point deadline) {
    auto type =
        Request(base + "/computeMetadata/v1/instance/machine-type", "GET", {"Metadata-Flavor: Google"}, deadline);
    if (!type || type->status != 200 || !type->google_flavor) return std::nullopt;
    const std::string machine = type->body.substr(type->body.rfind('/') + 1);  // projects/N/machineTypes/a2-highgpu-1g
    if (!Plausible(machine)) return std::nullopt;
    CloudInstance c{"gcp", machine, ""};
    if (auto zone = Request(base + "/computeMetadata/v1/instance/zone", "GET", {"Metadata-Flavor: Google"}, deadline);
        zone && zone->status == 200) {
        std::string z = zone->body.substr(zone->body.rfind('/') + 1);  // projects/N/zones/us-central1-a
        if (const size_t dash = z.rfind('-'); dash != std::string::npos) z = z.substr(0, dash);
        if (Plausible(z)) c.region = z;
    }
    return c;
}

std::optional<CloudInstance> Azure(const std::string& base, Clock::time_point deadline) {
    auto a = Request(base + "/metadata/instance/compute?api-version=2021-02-01", "GET", {"Metadata: true"}, deadline);
    if (!a || a->status != 200) return std::nullopt;
    auto parsed = ParseJson(a->body, 8);
    if (!parsed || !parsed->is_object()) return std::nullopt;
    const auto& o = parsed->get_object();
    const auto* size = o.if_contains("vmSize");
    if (size == nullptr || !size->is_string() || !Plausible(std::string(size->get_string()))) return std::nullopt;
    CloudInstance c{"azure", std::string(size->get_string()), ""};
    if (const auto* loc = o.if_contains("location");
        loc && loc->is_string() && Plausible(std::string(loc->get_string()))) {
        c.region = std::string(loc->get_string());
    }
    return c;
}

}  // namespace

std::optional<CloudInstance> DetectCloud(const MetadataEndpoints& endpoints) {
    const auto deadline = Clock::now() + endpoints.budget;
    std::optional<CloudInstance> aws, gcp, azure;
    {
        std::jthread a([&] { aws = Aws(Base(endpoints.aws), deadline); });
        std::jthread g([&] { gcp = Gcp(Base(endpoints.gcp), deadline); });
        std::jthread z([&] { azure = Azure(Base(endpoints.azure), deadline); });
    }
    if (aws) return aws;
    if (gcp) return gcp;
    return azure;
}

}  // namespace gpuopt::agent
