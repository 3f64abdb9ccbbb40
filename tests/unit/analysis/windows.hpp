// Synthetic GPU windows for the analysis tests: one minute each, figures set per minute.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/history.hpp"
#include "store/usage.hpp"

namespace gpuopt::analysis::testing {

inline const SysSeconds kDay = std::chrono::sys_days{std::chrono::year(2026) / 11 / 1};  // midnight
inline const IdleRules kRules{15, 1024};

struct Gpu {
    std::string key = "h/GPU-1";
    std::string host = "h";
    std::string name = "NVIDIA A100-SXM4-40GB";
    double mem_total = 40960;
    double cost = 2.74;
};

inline int64_t NextWindowId() {
    static int64_t next = 1;
    return next++;
}

// 60 s windows for one GPU from `start`: `fill(minute, window)` sets each window's figures.
template <class F>
std::vector<store::StoredWindow> Windows(const Gpu& gpu, SysSeconds start, int minutes, F fill) {
    std::vector<store::StoredWindow> out;
    out.reserve(static_cast<size_t>(minutes));
    for (int m = 0; m < minutes; ++m) {
        store::StoredWindow w;
        w.id = NextWindowId();
        w.account_id = 1;
        w.gpu_key = gpu.key;
        w.host = gpu.host;
        w.uuid = gpu.key.substr(gpu.key.find('/') + 1);
        w.name = gpu.name;
        w.window_end = start + std::chrono::seconds(60 * (m + 1));
        w.window_seconds = 60;
        w.util_avg = 50;
        w.mem_used_mib = 1000;
        w.mem_total_mib = gpu.mem_total;
        w.cost_per_hour = gpu.cost;
        fill(m, w);
        out.push_back(w);
    }
    return out;
}

}  // namespace gpuopt::analysis::testing
