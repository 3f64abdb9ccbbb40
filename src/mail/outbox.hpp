// The outbox worker: sends what is due, oldest first, and records each result. A failure is retried
// with backoff (1, 2, 4 ... minutes, at most 8 attempts); a permanent refusal ends at once. Messages
// live in the store, so nothing enqueued is lost to a restart.
#pragma once

#include <functional>

#include "mail/transport.hpp"
#include "store/outbox.hpp"

namespace gpuopt::mail {

struct OutboxRun {
    int sent = 0;
    int retried = 0;
    int failed = 0;
    int suppressed = 0;  // of the failed: not sent, the address suppressed
};

// Answers true for a mail that must not go (its address is suppressed); asked right before each send.
using SuppressedCheck = std::function<Result<bool>(const store::OutboxMessage&)>;

// `suppressed`, when set, is asked before each send: a suppressed mail fails for good, unsent.
Result<OutboxRun> RunOutbox(store::OutboxRepository& db, Transport& transport, const Sender& from, SysSeconds now,
                            const SuppressedCheck& suppressed = {});

}  // namespace gpuopt::mail
