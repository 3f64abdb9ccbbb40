// Sends reports to POST /api/track-usage and says what to do with each answer: delivered, try again
// later (network errors, 5xx, 429 with its Retry-After), drop (the server refuses this report and
// always will), or stop (the server refuses the agent: a wrong key or a wrong address).
// Not thread-safe: the delivery thread owns it (it keeps one connection alive between reports).
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "common/result.hpp"
#include "net/http_client.hpp"

namespace gpuopt::agent {

enum class Outcome { kDelivered, kRetry, kDrop, kStop };

struct Attempt {
    Outcome outcome = Outcome::kRetry;
    long status = 0;                                   // HTTP status; 0 when no answer came
    std::string message;                               // for the log: the server's message or the network error
    std::optional<std::chrono::seconds> retry_after;   // from a 429 or 503
    bool duplicate = false;                            // the server had this report already
    std::optional<boost::json::object> idle_policy{};  // the customer's idle policy, when the answer has one
};

// The decision for an HTTP answer (status 0: no answer, `network_error` says why). Pure.
Attempt Classify(long status, std::string_view body, std::string_view retry_after_header, std::string network_error,
                 std::chrono::system_clock::time_point now);

// Retry-After as delta-seconds or an HTTP-date (RFC 9110), capped at one hour. nullopt when malformed.
using net::ParseRetryAfter;

// Exponential backoff with full jitter: min(max, initial * 2^attempt) scaled by a factor in [0.5, 1)
// drawn from `unit_random` in [0, 1). attempt counts from 0.
std::chrono::milliseconds Backoff(int attempt, std::chrono::milliseconds initial, std::chrono::milliseconds max,
                                  double unit_random);

struct UploaderOptions {
    std::string server_url;  // "http://localhost:5000"
    std::string api_key;     // sent as Authorization: Bearer, never logged
    std::string user_agent;
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds request_timeout{30000};
};

class Uploader {
public:
    explicit Uploader(UploaderOptions options);
    Uploader(const Uploader&) = delete;
    Uploader& operator=(const Uploader&) = delete;

    Attempt Send(const std::string& body);
    // Thread-safe: aborts the transfer in flight, and any later one (the agent's shutdown grace is over).
    // The aborted report is a retry: it stays in the spool for the next start.
    void Abort() { abort_ = true; }
    const std::string& endpoint() const { return endpoint_; }

private:
    UploaderOptions options_;
    std::string endpoint_;
    net::Client client_;
    std::atomic<bool> abort_{false};
};

}  // namespace gpuopt::agent
