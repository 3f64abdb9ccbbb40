// Outgoing calls to the services we use (payment gateways, SendGrid, alert webhooks, the agent's
// server, SMTP): the one place that owns libcurl. Handles and header lists are RAII objects; a program
// calls CurlGlobal once in main() before any thread starts. Redirects are never followed and every
// call has a total timeout. Fetch is thread-safe; a Client is owned by one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

typedef void CURL;  // NOLINT(modernize-use-using): libcurl's own declaration
struct curl_slist;

namespace gpuopt::net {

// curl_global_init on construction, curl_global_cleanup on destruction: one, in main().
class CurlGlobal {
public:
    CurlGlobal();
    ~CurlGlobal();
    CurlGlobal(const CurlGlobal&) = delete;
    CurlGlobal& operator=(const CurlGlobal&) = delete;
};

struct EasyDeleter {
    void operator()(CURL* curl) const;
};
// An easy handle; null when libcurl could not make one.
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;
EasyHandle NewEasy();

// A curl_slist that frees itself.
class HeaderList {
public:
    HeaderList() = default;
    ~HeaderList();
    HeaderList(const HeaderList&) = delete;
    HeaderList& operator=(const HeaderList&) = delete;
    void Append(const std::string& line);
    curl_slist* get() const { return list_; }

private:
    curl_slist* list_ = nullptr;
};

struct HttpCall {
    std::string method = "GET";
    std::string url;
    std::vector<std::string> headers;  // "Name: value"
    std::string body;
    std::chrono::milliseconds timeout{15000};
    std::chrono::milliseconds connect_timeout{10000};  // capped by `timeout`
    // Polled while the call runs: true aborts it (the agent stopping within its grace period).
    const std::atomic<bool>* cancel = nullptr;
    std::string user_agent{};  // default "gpuopt/<version>"
    bool no_proxy = false;     // ignore proxy settings of the environment (link-local metadata services)
    size_t max_body_bytes = 4 * 1024 * 1024;
};

struct HttpAnswer {
    long status = 0;  // 0: no answer (error says why)
    std::string body;
    std::string error;
    bool cancelled = false;                      // aborted through HttpCall::cancel
    std::map<std::string, std::string> headers;  // names lowercased

    bool Ok() const { return status >= 200 && status < 300; }
};

// One call on a fresh handle.
HttpAnswer Fetch(const HttpCall& call);

// Calls on one handle, so that the connection is kept between them (the agent and its server).
class Client {
public:
    Client();
    HttpAnswer Fetch(const HttpCall& call);

private:
    EasyHandle curl_;
};

// "https://api.flutterwave.com" + "/v3/payments", whatever slashes each side has.
std::string JoinUrl(const std::string& base, const std::string& path);

// Percent-encodes a query value.
std::string UrlEncode(const std::string& value);

// Retry-After as delta-seconds or an HTTP-date (RFC 9110), capped at one hour. nullopt when malformed.
std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value, std::chrono::system_clock::time_point now);
// The answer's Retry-After, when it has a readable one.
std::optional<std::chrono::seconds> RetryAfter(const HttpAnswer& answer);

// Whether an answer means "the service could not answer now" rather than anything about the request:
// no answer, 408, 425, 429 and 5xx.
bool IsTransientStatus(long status);

}  // namespace gpuopt::net
