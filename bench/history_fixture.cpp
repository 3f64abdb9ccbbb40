// Builds the history the analysis benchmark reads: one enterprise customer with 64 GPUs (8 hosts of 8)
// and 30 days of 60 s windows. The last 7 days go in as raw reports through the store's ingest path and
// are rolled up by the real roll-up job; the 23 days before them are rolled up from windows made in
// memory (raw windows that old are past retention anyway). Prints the customer's API key.
//   history_fixture DATA_DIR
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <random>

#include "analysis/history.hpp"
#include "common/crypto.hpp"
#include "jobs/history_jobs.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/wait.hpp"

using namespace gpuopt;
using namespace std::chrono;

namespace {

constexpr int kHosts = 8, kGpusPerHost = 8, kDays = 30, kRawDays = 7;

// Each GPU follows its own pattern: busy, idle, idle while holding memory, or a daily training run.
store::GpuWindow Gpu(int host, int gpu, SysSeconds end, std::mt19937& rng) {
    store::GpuWindow g;
    const int n = host * kGpusPerHost + gpu;
    g.gpu_index = gpu;
    g.uuid = "GPU-bench-" + std::to_string(n);
    g.gpu_key = "host-" + std::to_string(host) + "/" + g.uuid;
    g.name = n % 4 == 3 ? "NVIDIA H100 80GB HBM3" : "NVIDIA A100-SXM4-40GB";
    g.mem_total_mib = n % 4 == 3 ? 81559 : 40960;
    g.cost_per_hour = n % 4 == 3 ? 6.88 : 2.744705;
    const int hour = static_cast<int>(duration_cast<hours>(end.time_since_epoch()).count() % 24);
    std::uniform_real_distribution<double> noise(-3, 3);
    double util = 0;
    switch (n % 4) {
        case 0:
            util = 85 + noise(rng);
            g.mem_used_mib = 30000;
            break;
        case 1:
            util = 1;
            g.mem_used_mib = 4;
            break;
        case 2:
            util = 1;
            g.mem_used_mib = 25000;
            break;
        default:
            util = hour < 10 ? 95 : 2;
            g.mem_used_mib = hour < 10 ? 70000 : 10;
            break;
    }
    g.util_avg = std::max(0.0, util);
    g.util_max = g.util_avg + 2;
    g.idle_fraction = g.util_avg < 15 ? 1.0 : 0.0;
    g.idle_held_fraction = g.util_avg < 15 && g.mem_used_mib > 1024 ? 1.0 : 0.0;
    g.processes_json = "[]";
    return g;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: history_fixture DATA_DIR\n");
        return 2;
    }
    InitCrypto();
    spdlog::set_level(spdlog::level::warn);  // stdout carries the key only
    std::filesystem::create_directories(argv[1]);
    auto opened = store::sqlite::SqliteStore::Open({(std::filesystem::path(argv[1]) / "gpuopt.db").string()});
    if (!opened) return 1;
    auto& db = **opened;
    const std::string key = GenerateApiKey();
    const auto now = UtcNow();
    auto account = store::Wait<store::Account>([&](store::Callback<store::Account> done) {
        db.CreateAccount(
            {"bench@example.com", HashApiKey(key), key.substr(0, kApiKeyShownPrefix), Tier::kEnterprise, now, {}},
            std::move(done));
    });
    if (!account) return 1;
    std::mt19937 rng(1);
    const auto start = floor<minutes>(now) - days(kDays);
    const auto raw_from = floor<minutes>(now) - days(kRawDays);
    const analysis::IdleRules rules;

    // Older days: windows in memory, rolled up a day at a time.
    for (auto day = start; day < raw_from; day += days(1)) {
        std::vector<store::StoredWindow> windows;
        windows.reserve(1440 * kHosts * kGpusPerHost);
        for (auto end = day + minutes(1); end <= std::min(day + days(1), raw_from); end += minutes(1)) {
            for (int h = 0; h < kHosts; ++h) {
                for (int g = 0; g < kGpusPerHost; ++g) {
                    const store::GpuWindow gw = Gpu(h, g, end, rng);
                    store::StoredWindow w;
                    w.account_id = account->id;
                    w.gpu_key = gw.gpu_key;
                    w.host = "host-" + std::to_string(h);
                    w.uuid = gw.uuid;
                    w.name = gw.name;
                    w.gpu_index = g;
                    w.window_end = end;
                    w.util_avg = gw.util_avg;
                    w.util_max = gw.util_max;
                    w.idle_fraction = gw.idle_fraction;
                    w.idle_held_fraction = gw.idle_held_fraction;
                    w.mem_used_mib = gw.mem_used_mib;
                    w.mem_total_mib = gw.mem_total_mib;
                    w.cost_per_hour = gw.cost_per_hour;
                    windows.push_back(std::move(w));
                }
            }
        }
        auto hours_rows = analysis::RollUp(windows, rules);
        // Merged the way the roll-up job merges, leaving the watermark where it is.
        const int64_t watermark = db.RollupWatermark().value();
        auto applied = store::Wait<void>([&](store::Callback<void> done) {
            db.ApplyRollup(std::move(hours_rows), watermark, watermark, std::move(done));
        });
        if (!applied) return 1;
    }
    // The last week: raw reports through ingest (one per host per minute), then the roll-up job.
    int64_t n = 0;
    for (auto end = raw_from + minutes(1); end <= floor<minutes>(now); end += minutes(1)) {
        for (int h = 0; h < kHosts; ++h) {
            store::UsageReport r;
            r.report_id = "bench:" + std::to_string(++n);
            r.agent_id = r.hostname = "host-" + std::to_string(h);
            r.window_start = end - minutes(1);
            r.window_end = end;
            r.samples = 6;
            for (int g = 0; g < kGpusPerHost; ++g) r.gpus.push_back(Gpu(h, g, end, rng));
            db.IngestReport({account->id, std::move(r), std::nullopt, hours(24), end},
                            [](Result<store::IngestOutcome>) {});
        }
        if (n % 4000 == 0) {  // let the writer drain now and then
            (void)store::Wait<store::Account>([&](store::Callback<store::Account> done) {
                db.SetTier("bench@example.com", Tier::kEnterprise, std::move(done));
            });
        }
    }
    auto rolled = jobs::RunRollup(db, rules, 20000);
    if (!rolled) return 1;
    db.Close();
    std::printf("%s\n", key.c_str());
    return 0;
}
