#include "agent/uploader.hpp"

#include <curl/curl.h>

#include <boost/json/object.hpp>

#include <algorithm>
#include <cmath>
#include <ctime>

#include "common/json.hpp"

namespace gpuopt::agent {

namespace {

std::string_view Trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

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

size_t Collect(char* data, size_t size, size_t count, void* out) {
    auto* s = static_cast<std::string*>(out);
    const size_t n = size * count;
    if (s->size() < 256 * 1024) s->append(data, std::min(n, 256 * 1024 - s->size()));
    return n;
}

size_t CollectRetryAfter(char* data, size_t size, size_t count, void* out) {
    const size_t n = size * count;
    std::string_view line(data, n);
    constexpr std::string_view kName = "retry-after:";
    if (line.size() > kName.size()) {
        bool match = true;
        for (size_t i = 0; i < kName.size(); ++i) {
            if (std::tolower(static_cast<unsigned char>(line[i])) != kName[i]) match = false;
        }
        if (match) *static_cast<std::string*>(out) = std::string(Trim(line.substr(kName.size())));
    }
    return n;
}

}  // namespace

std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value, std::chrono::system_clock::time_point now) {
    value = Trim(value);
    if (value.empty()) return std::nullopt;
    constexpr auto kCap = std::chrono::seconds(3600);
    if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        if (value.size() > 9) return kCap;
        return std::min(kCap, std::chrono::seconds(std::stol(std::string(value))));
    }
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    std::tm tm{};
    const std::string text(value);
    const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == nullptr || *end != '\0') return std::nullopt;
    const auto when = std::chrono::system_clock::from_time_t(timegm(&tm));
    const auto delta = std::chrono::duration_cast<std::chrono::seconds>(when - now);
    return std::clamp(delta, std::chrono::seconds(0), kCap);
}

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
    curl_ = curl_easy_init();
    headers_ = curl_slist_append(headers_, "Content-Type: application/json");
    headers_ = curl_slist_append(headers_, "Expect:");
    headers_ = curl_slist_append(headers_, ("Authorization: Bearer " + options_.api_key).c_str());
}

Uploader::~Uploader() {
    curl_slist_free_all(headers_);
    if (curl_) curl_easy_cleanup(curl_);
}

Attempt Uploader::Send(const std::string& body) {
    if (curl_ == nullptr) return Attempt{Outcome::kRetry, 0, "libcurl could not start", std::nullopt, false};
    std::string response;
    std::string retry_after;
    char error[CURL_ERROR_SIZE] = {};
    curl_easy_reset(curl_);  // keeps the connection cache
    curl_easy_setopt(curl_, CURLOPT_URL, endpoint_.c_str());
    curl_easy_setopt(curl_, CURLOPT_POST, 1L);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(curl_, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, Collect);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, CollectRetryAfter);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &retry_after);
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error);
    const CURLcode rc = curl_easy_perform(curl_);
    if (rc != CURLE_OK) {
        return Classify(0, {}, {}, error[0] != '\0' ? std::string(error) : curl_easy_strerror(rc),
                        std::chrono::system_clock::now());
    }
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    return Classify(status, response, retry_after, {}, std::chrono::system_clock::now());
}

}  // namespace gpuopt::agent
