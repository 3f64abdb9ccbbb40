// Outgoing HTTP calls to the services we use (payment gateways, SendGrid): libcurl, one handle per
// call, no proxies from the environment are bypassed, redirects are not followed, and every call has
// a total timeout. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace gpuopt::net {

struct HttpCall {
    std::string method = "GET";
    std::string url;
    std::vector<std::string> headers;  // "Name: value"
    std::string body;
    std::chrono::milliseconds timeout{15000};
};

struct HttpAnswer {
    long status = 0;  // 0: no answer (error says why)
    std::string body;
    std::string error;
    std::map<std::string, std::string> headers;  // names lowercased

    bool Ok() const { return status >= 200 && status < 300; }
};

HttpAnswer Fetch(const HttpCall& call);

// "https://api.flutterwave.com" + "/v3/payments", whatever slashes each side has.
std::string JoinUrl(const std::string& base, const std::string& path);

// Percent-encodes a query value.
std::string UrlEncode(const std::string& value);

}  // namespace gpuopt::net
