// Delivery of alerts to Slack-compatible incoming webhooks: POST {"text": ...} as JSON.
//
// A webhook URL is given by a customer, so the server must not become a way to reach its own network:
// unless allow_private is set, the URL must be https:// and every address its host resolves to must be
// public (not loopback, private, link-local, CGNAT or unique-local); the request then goes to the
// checked address only (no second lookup), with redirects off and short timeouts.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace gpuopt::alerts {

// Checks the form of a webhook URL (scheme, host, length). kValidation naming "webhook_url".
Result<void> ValidateWebhookUrl(std::string_view url, bool allow_private);

// True for addresses a customer's webhook must not reach.
bool IsPrivateAddress(std::string_view ip);

struct WebhookResult {
    bool delivered = false;
    long status = 0;    // HTTP status, 0 when no answer
    std::string error;  // why not, for the log
};

// Posts {"text": text} to `url`. Thread-safe (one libcurl handle per call).
WebhookResult PostToWebhook(const std::string& url, const std::string& text, bool allow_private,
                            std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Posts a JSON `body` to `url` with extra `headers` ("Name: value"), under the same rules.
WebhookResult PostJson(const std::string& url, const std::string& body, const std::vector<std::string>& headers,
                       bool allow_private, std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace gpuopt::alerts
