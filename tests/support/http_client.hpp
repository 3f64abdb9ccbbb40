// A small libcurl client for integration tests, plus raw-socket requests for malformed HTTP.
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gpuopt::testing {

struct HttpResponse {
    long status = 0;  // 0: no response (connection failed)
    std::string body;
    std::map<std::string, std::string> headers;  // names lowercased
    std::string error;                           // curl's message when status is 0

    boost::json::value Json() const;  // parses body; null on failure
    std::string Header(const std::string& lower_name) const;
};

struct HttpRequest {
    std::string method = "GET";
    std::string url;
    std::string body;
    std::vector<std::string> headers;  // "Name: value"
};

HttpResponse Send(const HttpRequest& request);
HttpResponse Get(const std::string& url, std::vector<std::string> headers = {});
HttpResponse PostJson(const std::string& url, const std::string& body, std::vector<std::string> headers = {});

// Sends every request at once (one connection each) and returns the responses in the same order.
std::vector<HttpResponse> SendParallel(const std::vector<HttpRequest>& requests);

// Writes `bytes` to 127.0.0.1:port, half-closes nothing, reads until the server closes or 5 s pass.
// Returns what the server sent.
std::string RawExchange(uint16_t port, const std::string& bytes);

// The status code of a raw HTTP response ("HTTP/1.1 400 ..."), 0 if none.
int RawStatus(const std::string& response);

}  // namespace gpuopt::testing
