// Acting on idle GPUs: each customer's policy (what idle means, how long before a warning, the grace
// before acting, what to do), the GPUs a customer snoozed, and what agents warned of, held back or did.
// Agents carry out the policy on their hosts; the server stores it, hands it to them with each report's
// answer, and records what they say happened (idempotently: an event is keyed by the report that carried
// it and its place there).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "common/time.hpp"
#include "store/callback.hpp"

namespace gpuopt::store {

enum class IdleTrigger { kIdle, kIdleHoldingMemory };
enum class IdleAction { kNotify, kSignal, kExec };
enum class IdleEventKind { kWarned, kSnoozed, kActed, kWouldAct, kFailed, kCleared };

constexpr std::string_view NameOf(IdleTrigger t) { return t == IdleTrigger::kIdle ? "idle" : "idle_holding_memory"; }
constexpr std::optional<IdleTrigger> IdleTriggerNamed(std::string_view s) {
    if (s == "idle") return IdleTrigger::kIdle;
    if (s == "idle_holding_memory") return IdleTrigger::kIdleHoldingMemory;
    return std::nullopt;
}
constexpr std::string_view NameOf(IdleAction a) {
    switch (a) {
        case IdleAction::kNotify:
            return "notify";
        case IdleAction::kSignal:
            return "signal";
        case IdleAction::kExec:
            return "exec";
    }
    return "notify";
}
constexpr std::optional<IdleAction> IdleActionNamed(std::string_view s) {
    for (IdleAction a : {IdleAction::kNotify, IdleAction::kSignal, IdleAction::kExec}) {
        if (NameOf(a) == s) return a;
    }
    return std::nullopt;
}
constexpr std::string_view NameOf(IdleEventKind k) {
    switch (k) {
        case IdleEventKind::kWarned:
            return "warned";
        case IdleEventKind::kSnoozed:
            return "snoozed";
        case IdleEventKind::kActed:
            return "acted";
        case IdleEventKind::kWouldAct:
            return "would_act";
        case IdleEventKind::kFailed:
            return "failed";
        case IdleEventKind::kCleared:
            return "cleared";
    }
    return "warned";
}
constexpr std::optional<IdleEventKind> IdleEventKindNamed(std::string_view s) {
    for (IdleEventKind k : {IdleEventKind::kWarned, IdleEventKind::kSnoozed, IdleEventKind::kActed,
                            IdleEventKind::kWouldAct, IdleEventKind::kFailed, IdleEventKind::kCleared}) {
        if (NameOf(k) == s) return k;
    }
    return std::nullopt;
}

struct IdlePolicy {
    int64_t account_id = 0;
    bool enabled = false;
    bool dry_run = true;  // record what would have happened, do nothing
    IdleTrigger trigger = IdleTrigger::kIdleHoldingMemory;
    double idle_minutes = 30;   // continuously idle this long: a warning
    double grace_minutes = 15;  // then this long without a snooze: the action
    IdleAction action = IdleAction::kNotify;
    int kill_after_seconds = 30;  // signal: SIGTERM, then SIGKILL after this if it still runs
    int64_t version = 0;          // set by the store, one more with each change
    SysSeconds updated_at;
};

// No action on this GPU until `until`.
struct IdleSnooze {
    int64_t account_id = 0;
    std::string gpu_key;  // host/uuid
    std::string host;
    std::string uuid;
    SysSeconds until;
    SysSeconds created_at;
};

struct IdleEvent {
    int64_t id = 0;
    int64_t account_id = 0;
    std::string event_key;  // "<report_id>#<n>": a report replayed records nothing twice
    std::string host;
    std::string gpu_key;
    std::string uuid;
    IdleEventKind kind = IdleEventKind::kWarned;
    std::string action;  // the policy's action, "" for a warning
    bool dry_run = true;
    std::string detail;          // what the agent says happened
    std::string processes_json;  // the processes concerned: [{"pid","name","user","used_mem"}]
    SysSeconds at;
    SysSeconds received_at;
};

class IdleActionRepository {
public:
    virtual ~IdleActionRepository() = default;

    virtual Result<std::optional<IdlePolicy>> GetIdlePolicy(int64_t account_id) = 0;
    // Stores `policy` with the next version; `done` gets it as stored.
    virtual void SetIdlePolicy(IdlePolicy policy, SysSeconds now, Callback<IdlePolicy> done) = 0;
    // A later snooze of the same GPU replaces the earlier one (an `until` in the past ends it).
    virtual void SnoozeGpu(IdleSnooze snooze, Callback<void> done) = 0;
    virtual Result<std::vector<IdleSnooze>> ActiveSnoozes(int64_t account_id, SysSeconds now) = 0;
    // Events already recorded (same account and event_key) are skipped; `done` gets how many were new.
    virtual void RecordIdleEvents(std::vector<IdleEvent> events, Callback<int> done) = 0;
    virtual Result<std::vector<IdleEvent>> ListIdleEvents(int64_t account_id, size_t limit) = 0;
};

}  // namespace gpuopt::store
