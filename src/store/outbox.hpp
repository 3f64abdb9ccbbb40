// The mail outbox (SPEC §8): a message is enqueued in the transaction that causes it and sent later by
// the outbox job, once per dedup key.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "common/time.hpp"
#include "store/callback.hpp"

namespace gpuopt::store {

// A message for the outbox (SPEC §8). dedup_key makes enqueueing idempotent ("receipt:42").
struct OutboxMessage {
    std::string dedup_key;
    int64_t account_id = 0;  // 0: not an account's
    std::string to;
    std::string subject;
    std::string text;
    std::string html;
    std::string kind;  // "welcome", "receipt", "upgrade", "renewal_reminder", "downgrade", ...
    std::map<std::string, std::string> headers;  // extra headers (List-Unsubscribe ...)
};

// A mail waits pending (retried with backoff) until it is sent or has failed for good.
enum class MailStatus { kPending, kSent, kFailed };

// "pending", "sent", "failed".
constexpr std::string_view NameOf(MailStatus s) {
    switch (s) {
        case MailStatus::kPending:
            return "pending";
        case MailStatus::kSent:
            return "sent";
        case MailStatus::kFailed:
            return "failed";
    }
    return "pending";
}

constexpr std::optional<MailStatus> MailStatusNamed(std::string_view name) {
    for (auto s : {MailStatus::kPending, MailStatus::kSent, MailStatus::kFailed}) {
        if (NameOf(s) == name) return s;
    }
    return std::nullopt;
}

struct OutboxItem {
    int64_t id = 0;
    OutboxMessage message;
    MailStatus status = MailStatus::kPending;
    int attempts = 0;
    SysSeconds next_attempt;
    std::string last_error;
};

class OutboxRepository {
public:
    virtual ~OutboxRepository() = default;

    // Answers false when a message with the same dedup key was enqueued before.
    virtual void EnqueueMail(OutboxMessage message, SysSeconds now, Callback<bool> done) = 0;
    // True when a message with this dedup key was enqueued (whatever became of it).
    virtual Result<bool> MailExists(const std::string& dedup_key) = 0;
    virtual Result<std::vector<OutboxItem>> DueMail(SysSeconds now, size_t limit) = 0;
    virtual void FinishMail(int64_t id, MailStatus status, int attempts, SysSeconds next_attempt, std::string error,
                            std::string message_id, Callback<void> done) = 0;
};

}  // namespace gpuopt::store
