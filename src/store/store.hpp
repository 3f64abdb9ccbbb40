// The Store interface: everything the server keeps, behind one contract that every backend
// (SqliteStore now, PostgreSQL later) implements and that one typed test suite checks.
//
// Writes are asynchronous: the backend batches writes that arrive together into one transaction
// (group commit) and calls `done` only after that transaction is durable, so a caller that answers
// its client from `done` never acknowledges data that a crash could lose. `done` runs on a store
// thread; it must be quick (post elsewhere for real work).
// Reads are synchronous, safe from any thread, and see every write whose `done` has run.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "common/time.hpp"

namespace gpuopt::store {

inline constexpr const char* kTiers[] = {"free", "professional", "enterprise"};

struct Account {
    int64_t id = 0;
    std::string email;
    std::string tier;
    std::string key_prefix;
    std::string created_at;
};

struct NewAccount {
    std::string email;       // normalised
    std::string key_hash;    // HashApiKey(key); the key itself is never stored
    std::string key_prefix;  // first characters of the key, for display
    std::string tier;
    SysSeconds now;
};

// One GPU's window statistics inside a report, already validated.
struct GpuWindow {
    std::string gpu_key;  // identity for limits: host + uuid, or host + index without uuid
    int gpu_index = 0;
    std::string uuid;
    std::string name;
    double util_avg = 0;
    std::optional<double> util_max;
    std::optional<double> idle_fraction;
    std::optional<double> idle_held_fraction;  // idle while processes held memory
    std::optional<double> mem_util;            // percent of time memory was read or written
    double mem_used_mib = 0;                   // the window's peak in full reports
    double mem_total_mib = 0;
    std::optional<double> temperature_c;
    std::optional<double> power_w;
    std::optional<double> power_limit_w;
    std::optional<double> sm_clock_mhz;
    double cost_per_hour = 0;
    std::string processes_json;  // "[]" when none were reported
};

struct UsageReport {
    std::optional<std::string> report_id;  // idempotency key; absent in the prototype's minimal form
    std::string agent_id;
    std::string hostname;
    std::string agent_version;
    std::string cloud_json;  // "" when absent
    SysSeconds window_start;
    SysSeconds window_end;
    int samples = 1;
    std::vector<GpuWindow> gpus;
};

struct IngestRequest {
    int64_t account_id = 0;
    UsageReport report;
    std::optional<int> gpu_limit;  // distinct GPUs allowed over limit_window; nullopt = unlimited
    std::chrono::hours limit_window{24};
    SysSeconds now;
};

struct IngestOutcome {
    bool duplicate = false;  // the report_id was stored before; nothing was written
};

struct DailyCount {
    std::string date;  // YYYY-MM-DD
    int64_t count = 0;
};

struct StatsQuery {
    SysSeconds now;
    int signup_days = 30;
    double idle_threshold_percent = 15;
    double recoverable_fraction = 0.5;
};

struct Stats {
    std::map<std::string, int64_t> customers_by_tier;  // every tier present, zero included
    int64_t total_customers = 0;
    std::vector<DailyCount> daily_signups;  // the last signup_days days, oldest first, gaps as zero
    int64_t gpus_last_24h = 0;
    double total_idle_cost = 0;          // Σ idle time × cost over stored history
    double total_customer_savings = 0;   // total_idle_cost × recoverable fraction
};

template <class T>
using Callback = std::function<void(Result<T>)>;

class Store {
public:
    virtual ~Store() = default;

    // Fails with kAlreadyExists when the email is taken (whatever the concurrency).
    virtual void CreateAccount(NewAccount account, Callback<Account> done) = 0;

    // Stores the report and its GPU windows once. A report_id already stored for the account gives
    // IngestOutcome{duplicate=true} and writes nothing. Fails with kTierLimitExceeded, writing nothing,
    // when the report would take the account over gpu_limit distinct GPUs in the window.
    virtual void IngestReport(IngestRequest request, Callback<IngestOutcome> done) = 0;

    // Fails with kNotFound for an unknown email.
    virtual void SetTier(std::string email, std::string tier, Callback<Account> done) = 0;

    // kNotFound when no account holds the key hash.
    virtual Result<Account> FindAccountByKeyHash(const std::string& key_hash) = 0;
    virtual Result<Stats> GetStats(const StatsQuery& query) = 0;

    // Ok when the store can read and its writer is healthy.
    virtual Result<void> Ping() = 0;

    // Finishes queued writes, then releases the database. Later calls fail with kUnavailable.
    virtual void Close() = 0;
};

}  // namespace gpuopt::store
