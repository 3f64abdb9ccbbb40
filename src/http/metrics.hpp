// The server's own request metrics for GET /metrics: per route and method, requests by status class
// and a latency histogram. Slots are made once, when the route table is built, and then only atomics
// are touched, so counting costs a request no lock. Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "http/router.hpp"

namespace gpuopt::http {

class RequestMetrics {
public:
    static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                        0.05,   0.1,   0.25,   0.5,   1.0,  5.0};

    // One slot per route, plus "static" (files), "unmatched" (404, 405) and "rejected" (unreadable requests).
    explicit RequestMetrics(const Router& router);

    size_t StaticSlot() const { return routes_; }
    size_t UnmatchedSlot() const { return routes_ + 1; }
    size_t RejectedSlot() const { return routes_ + 2; }

    void Record(size_t slot, unsigned status, std::chrono::steady_clock::duration took);

    // Appends the Prometheus text of every slot that saw a request.
    void Write(std::string& out) const;

private:
    struct Slot {
        std::string route;
        std::string method;
        std::array<std::atomic<uint64_t>, 5> by_class{};  // 1xx .. 5xx
        std::array<std::atomic<uint64_t>, kBuckets.size()> buckets{};
        std::atomic<uint64_t> count{0};
        std::atomic<uint64_t> sum_us{0};
    };
    size_t routes_;
    std::deque<Slot> slots_;  // deque: atomics do not move
};

// Appends `value` as the inside of a Prometheus label value (backslash, quote and newline escaped).
void AppendLabelValue(std::string& out, std::string_view value);

}  // namespace gpuopt::http
