#include "agent/uploader.hpp"

#include <boost/json/object.hpp>

#include <algorithm>
#include <cmath>
#include <ctime>

#include "common/json.hpp"

namespace gpuopt::agent {

namespace {

// The error envelope's message and code, when the body is one.
std::string ServerMessage(std::string_view body) {
    auto parsed = ParseJson(body.substr(0, 64 * 1024));
    if (parsed && parsed->is_object()) {
        const auto& o = parsed->get_object();
        std::string out;
        if (const auto* code = o.if_contains("code"); code && code->is_string())
            out += std::string(code->get_string()) + ": ";
        if (const auto* msg = o.if_contains("message"); msg && msg->is_string()) out += std::string(msg->get_string());
        if (const auto* details = o.if_contains("details"); details && details->is_object()) {
            for (const auto& kv : details->get_object()) {
                if (kv.value().is_string())
                    out += " (" + std::string(kv.key()) + " " + std::string(kv.value().get_string()) + ")";
            }
        }
        if (!out.empty()) return out;
    }
    std::string text(body.substr(0, 200));
    for (auto& c : text) {
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    }
    return text;
}

}  // namespace

std::chrono::milliseconds Backoff(int attempt, std::chrono::milliseconds initial, std::chrono::milliseconds max,
                                  double unit_random) {
    const double base = static_cast<double>(initial.count()) * std::pow(2.0, std::min(attempt, 30));
    const double capped = std::min(base, static_cast<double>(max.count()));
    return std::chrono::milliseconds(static_cast<int64_t>(capped * (0.5 + 0.5 * std::clamp(unit_random, 0.0, 1.0))));
}

Attempt Classify(long status, std::string_view body, std::string_view retry_after_header, std::string network_error,
                 std::chrono::system_clock::time_point now) {
    Attempt a;
    a.status = status;
    if (status == 0) {
        a.outcome = Outcome::kRetry;
        a.message = network_error.empty() ? "no answer" : std::move(network_error);
        return a;
    }
    if (status >= 200 && status < 300) {
        a.outcome = Outcome::kDelivered;
        auto parsed = ParseJson(body.substr(0, 64 * 1024));
        if (parsed && parsed->is_object()) {
            if (const auto* d = parsed->get_object().if_contains("duplicate"); d && d->is_bool())
                a.duplicate = d->get_bool();
            if (const auto* p = parsed->get_object().if_contains("idle_policy"); p && p->is_object())
                a.idle_policy = p->get_object();
        }
        return a;
    }
    a.message = ServerMessage(body);
    if (status == 429 || status == 503) a.retry_after = ParseRetryAfter(retry_after_header, now);
    if (status == 429 || status == 408 || status >= 500) {
        a.outcome = Outcome::kRetry;
    } else if (status == 401 || status == 404 || status == 405) {
        // The key is wrong, or this is not a GPUOptimizer server: no report will be taken until a
        // person changes the settings, so stop rather than throw reports away.
        a.outcome = Outcome::kStop;
    } else {
        // 400, 403 (plan limit), 413, 415 ...: the server will never take this report.
        a.outcome = Outcome::kDrop;
    }
    return a;
}

Uploader::Uploader(UploaderOptions options) : options_(std::move(options)) {
    endpoint_ = options_.server_url;
    while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();
    endpoint_ += "/api/track-usage";
}

Attempt Uploader::Send(const std::string& body) {
    net::HttpCall call;
    call.method = "POST";
    call.url = endpoint_;
    call.headers = {"Content-Type: application/json", "Authorization: Bearer " + options_.api_key};
    call.body = body;
    call.timeout = options_.request_timeout;
    call.connect_timeout = options_.connect_timeout;
    call.cancel = &abort_;
    call.user_agent = options_.user_agent;
    call.max_body_bytes = 256 * 1024;
    const net::HttpAnswer answer = client_.Fetch(call);
    if (answer.cancelled)
        return Attempt{Outcome::kRetry, 0, "aborted: the shutdown grace period is over", std::nullopt, false};
    auto retry_after = answer.headers.find("retry-after");
    return Classify(answer.status, answer.body,
                    retry_after == answer.headers.end() ? std::string_view{} : retry_after->second, answer.error,
                    std::chrono::system_clock::now());
}

}  // namespace gpuopt::agent
