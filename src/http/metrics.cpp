#include "http/metrics.hpp"

#include <cstdio>

namespace gpuopt::http {

RequestMetrics::RequestMetrics(const Router& router) : routes_(router.routes().size()) {
    for (const auto& r : router.routes()) {
        auto& s = slots_.emplace_back();
        s.route = r.pattern;
        s.method = std::string(bhttp::to_string(r.method));
    }
    for (const char* name : {"static", "unmatched", "rejected"}) {
        auto& s = slots_.emplace_back();
        s.route = name;
        s.method = "*";
    }
}

void RequestMetrics::Record(size_t slot, unsigned status, std::chrono::steady_clock::duration took) {
    if (slot >= slots_.size()) return;
    Slot& s = slots_[slot];
    const unsigned cls = status / 100;
    if (cls >= 1 && cls <= 5) s.by_class[cls - 1].fetch_add(1, std::memory_order_relaxed);
    const double seconds = std::chrono::duration<double>(took).count();
    for (size_t i = 0; i < kBuckets.size(); ++i) {
        if (seconds <= kBuckets[i]) {
            s.buckets[i].fetch_add(1, std::memory_order_relaxed);
            break;
        }
    }
    s.count.fetch_add(1, std::memory_order_relaxed);
    s.sum_us.fetch_add(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(took).count()),
                       std::memory_order_relaxed);
}

void AppendLabelValue(std::string& out, std::string_view value) {
    for (char c : value) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
}

void RequestMetrics::Write(std::string& out) const {
    auto labels = [](std::string& o, const Slot& s) {
        o += "route=\"";
        AppendLabelValue(o, s.route);
        o += "\",method=\"";
        AppendLabelValue(o, s.method);
        o += '"';
    };
    out += "# HELP gpuopt_http_requests_total HTTP requests answered, by route, method and status class.\n";
    out += "# TYPE gpuopt_http_requests_total counter\n";
    for (const auto& s : slots_) {
        if (s.count.load(std::memory_order_relaxed) == 0) continue;
        for (size_t c = 0; c < s.by_class.size(); ++c) {
            const uint64_t n = s.by_class[c].load(std::memory_order_relaxed);
            if (n == 0) continue;
            out += "gpuopt_http_requests_total{";
            labels(out, s);
            out += ",code=\"" + std::to_string(c + 1) + "xx\"} " + std::to_string(n) + "\n";
        }
    }
    out += "# HELP gpuopt_http_request_duration_seconds Time from a request's head to its answer.\n";
    out += "# TYPE gpuopt_http_request_duration_seconds histogram\n";
    for (const auto& s : slots_) {
        const uint64_t count = s.count.load(std::memory_order_relaxed);
        if (count == 0) continue;
        uint64_t cumulative = 0;
        char le[32];
        for (size_t i = 0; i < kBuckets.size(); ++i) {
            cumulative += s.buckets[i].load(std::memory_order_relaxed);
            std::snprintf(le, sizeof le, "%g", kBuckets[i]);
            out += "gpuopt_http_request_duration_seconds_bucket{";
            labels(out, s);
            out += ",le=\"" + std::string(le) + "\"} " + std::to_string(cumulative) + "\n";
        }
        out += "gpuopt_http_request_duration_seconds_bucket{";
        labels(out, s);
        out += ",le=\"+Inf\"} " + std::to_string(count) + "\n";
        char sum[48];
        std::snprintf(sum, sizeof sum, "%.6f", static_cast<double>(s.sum_us.load(std::memory_order_relaxed)) / 1e6);
        out += "gpuopt_http_request_duration_seconds_sum{";
        labels(out, s);
        out += "} " + std::string(sum) + "\n";
        out += "gpuopt_http_request_duration_seconds_count{";
        labels(out, s);
        out += "} " + std::to_string(count) + "\n";
    }
}

}  // namespace gpuopt::http
