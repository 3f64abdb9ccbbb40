// What the operator must look at: money that could not be applied, deliveries that keep failing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "common/time.hpp"
#include "store/callback.hpp"
#include "store/outbox.hpp"

namespace gpuopt::store {

// Something the operator must look at (money that could not be applied, events that keep failing).
// Recorded once per dedup_key.
struct OperatorEvent {
    int64_t id = 0;
    // "payment_unapplied", "payment_unmatched", "gateway_event_stuck", "gateway_event_failed"
    std::string kind;
    std::string dedup_key;
    std::optional<int64_t> account_id;
    std::optional<int64_t> payment_id;
    std::string detail;
    SysSeconds at;
};

class OperatorEventRepository {
public:
    virtual ~OperatorEventRepository() = default;

    // Records the event and enqueues `mail`, once per dedup key (false: recorded before).
    virtual void RecordOperatorEvent(OperatorEvent event, std::optional<OutboxMessage> mail, Callback<bool> done) = 0;
    virtual Result<std::vector<OperatorEvent>> ListOperatorEvents(size_t limit) = 0;
};

}  // namespace gpuopt::store
