// One database: the repositories of every domain over one backend (SqliteDatabase now, PostgreSQL
// next), opened and closed as one.
//
// Writes are asynchronous: the backend batches writes that arrive together into one transaction
// (group commit) and calls `done` only after that transaction is durable, so a caller that answers its
// client from `done` never acknowledges data that a crash could lose. Each write is one transaction of
// its own in effect, and a write that spans domains (a completed payment: payment, account,
// subscription, ledger, mails) is one write of the repository that owns the rule. `done` runs on a store
// thread; it must be quick (post elsewhere for real work).
// Reads are synchronous, safe from any thread, and see every write whose `done` has run.
#pragma once

#include <functional>
#include <string>

#include "common/result.hpp"
#include "store/accounts.hpp"
#include "store/admin.hpp"
#include "store/alerts.hpp"
#include "store/billing.hpp"
#include "store/idle_actions.hpp"
#include "store/leases.hpp"
#include "store/notifications.hpp"
#include "store/operator_events.hpp"
#include "store/outbox.hpp"
#include "store/panel.hpp"
#include "store/recommendations.hpp"
#include "store/security.hpp"
#include "store/sessions.hpp"
#include "store/stats.hpp"
#include "store/usage.hpp"

namespace gpuopt::store {

class AcquisitionStore;  // store/acquisition.hpp

class Database {
public:
    virtual ~Database() = default;

    virtual AccountRepository& accounts() = 0;
    virtual UsageRepository& usage() = 0;
    virtual BillingRepository& billing() = 0;
    virtual OperatorEventRepository& operator_events() = 0;
    virtual OutboxRepository& outbox() = 0;
    virtual SecurityLog& security() = 0;
    virtual AlertRepository& alerts() = 0;
    virtual StatsReader& stats() = 0;
    virtual LeaseRepository& leases() = 0;
    virtual RecommendationRepository& recommendations() = 0;
    virtual IdleActionRepository& idle_actions() = 0;
    virtual NotificationRepository& notifications() = 0;
    virtual SessionRepository& sessions() = 0;
    virtual AdminRepository& admin() = 0;
    virtual PanelRepository& panel() = 0;
    virtual AcquisitionStore& acquisition() = 0;

    // Tells every server sharing this database that work waits for the job named `topic` (PostgreSQL
    // NOTIFY), so the one holding its lease runs it now rather than at its next interval. A store of one
    // process has nobody else to tell: by default this does nothing.
    virtual void Announce(const std::string& topic) { (void)topic; }
    // Calls `heard(topic)`, on a thread of the store's, for each topic any server announces (this one's
    // too), until Close(). Call once. By default nothing is ever heard.
    virtual void Listen(std::function<void(const std::string&)> heard) { (void)heard; }

    // Ok when the database can read and its writer is healthy.
    virtual Result<void> Ping() = 0;
    // Finishes queued writes, then releases the database. Later calls fail with kUnavailable.
    virtual void Close() = 0;
};

}  // namespace gpuopt::store
