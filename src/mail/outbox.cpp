#include "mail/outbox.hpp"

#include <spdlog/spdlog.h>

#include "store/wait.hpp"

namespace gpuopt::mail {

Result<OutboxRun> RunOutbox(store::OutboxRepository& db, Transport& transport, const Sender& from, SysSeconds now,
                            const SuppressedCheck& suppressed) {
    constexpr int kMaxAttempts = 8;
    OutboxRun run;
    auto due = db.DueMail(now, 50);
    if (!due) return due.error();
    for (const auto& item : *due) {
        if (suppressed) {
            auto refused = suppressed(item.message);
            if (!refused) return refused.error();
            if (*refused) {
                ++run.failed;
                ++run.suppressed;
                spdlog::info("mail {} ({}) not sent: the address is suppressed", item.id, item.message.kind);
                auto recorded = store::Wait<void>([&](store::Callback<void> done) {
                    db.FinishMail(item.id, store::MailStatus::kFailed, item.attempts, now, "suppressed", std::string(),
                                  std::move(done));
                });
                if (!recorded) return recorded.error();
                continue;
            }
        }
        const BuiltMessage built = BuildMessage(item.message, from, now);
        const SendResult r = transport.Send(item.message, built);
        const int attempts = item.attempts + 1;
        store::MailStatus status = store::MailStatus::kSent;
        SysSeconds next = now;
        if (r.sent) {
            ++run.sent;
        } else if (r.permanent || attempts >= kMaxAttempts) {
            status = store::MailStatus::kFailed;
            ++run.failed;
            spdlog::error("mail {} ({}) to an account's address failed for good: {}", item.id, item.message.kind,
                          r.error);
        } else {
            status = store::MailStatus::kPending;
            next = now + std::chrono::minutes(1 << (attempts - 1));
            ++run.retried;
            spdlog::warn("mail {} ({}): attempt {} failed ({}); next in {} min", item.id, item.message.kind, attempts,
                         r.error, 1 << (attempts - 1));
        }
        auto recorded = store::Wait<void>([&](store::Callback<void> done) {
            db.FinishMail(item.id, status, attempts, next, r.sent ? std::string() : r.error,
                          r.sent ? built.message_id : std::string(), std::move(done));
        });
        if (!recorded) return recorded.error();
    }
    return run;
}

}  // namespace gpuopt::mail
