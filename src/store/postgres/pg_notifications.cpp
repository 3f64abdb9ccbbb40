// PgStore: report mail settings and outgoing webhooks (store/notifications.hpp).
#include "store/postgres/connection.hpp"
#include "store/postgres/pg_store.hpp"
#include "store/postgres/pg_store_internal.hpp"

#include "store/sealing.hpp"

namespace gpuopt::store::postgres {

namespace {

ReportSettings ReadSettings(const Rows& r, int i) {
    return ReportSettings{r.Int(i, 0), r.Int(i, 1) != 0, r.Int(i, 2) != 0, std::string(r.Text(i, 3))};
}

constexpr const char* kEndpointColumns = "id, account_id, url, secret, events, created_at";

WebhookEndpoint ReadEndpoint(const Rows& r, int i) {
    WebhookEndpoint e;
    e.id = r.Int(i, 0);
    e.account_id = r.Int(i, 1);
    e.url = std::string(r.Text(i, 2));
    e.secret = std::string(r.Text(i, 3));
    e.events = SplitEventTypes(r.Text(i, 4));
    e.created_at = TimeAt(r, i, 5);
    return e;
}

constexpr const char* kDeliveryColumns =
    "d.id, d.endpoint_id, d.account_id, d.event_id, d.type, d.payload, d.state, d.attempts, d.next_attempt,"
    " d.last_status, d.last_error, d.created_at, d.finished_at";

WebhookDelivery ReadDelivery(const Rows& r, int i) {
    WebhookDelivery d;
    d.id = r.Int(i, 0);
    d.endpoint_id = r.Int(i, 1);
    d.account_id = r.Int(i, 2);
    d.event_id = std::string(r.Text(i, 3));
    d.type = std::string(r.Text(i, 4));
    d.payload = std::string(r.Text(i, 5));
    d.state = WebhookStateNamed(r.Text(i, 6)).value_or(WebhookState::kPending);
    d.attempts = static_cast<int>(r.Int(i, 7));
    d.next_attempt = TimeAt(r, i, 8);
    d.last_status = static_cast<int>(r.Int(i, 9));
    d.last_error = std::string(r.Text(i, 10));
    d.created_at = TimeAt(r, i, 11);
    d.finished_at = OptTimeAt(r, i, 12);
    return d;
}

}  // namespace

Result<ReportSettings> PgStore::GetReportSettings(int64_t account_id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows =
        (*db)->Query("SELECT account_id, weekly, daily, unsubscribe_token FROM report_settings WHERE account_id = $1",
                     Params().Add(account_id));
    if (!rows) return rows.error();
    if (rows->empty()) return ReportSettings{account_id, true, true, ""};
    return ReadSettings(*rows, 0);
}

void PgStore::SetReportSettings(ReportSettings settings, std::string new_token, Callback<ReportSettings> done) {
    Submit<ReportSettings>(
        [settings, token = std::move(new_token)](Connection& db) -> Result<ReportSettings> {
            auto rows = db.Query(
                "INSERT INTO report_settings (account_id, weekly, daily, unsubscribe_token, updated_at)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id) DO UPDATE SET weekly = excluded.weekly,"
                " daily = excluded.daily, updated_at = excluded.updated_at"
                " RETURNING account_id, weekly, daily, unsubscribe_token",
                Params()
                    .Add(settings.account_id)
                    .Add(static_cast<int64_t>(settings.weekly ? 1 : 0))
                    .Add(static_cast<int64_t>(settings.daily ? 1 : 0))
                    .Add(token)
                    .Add(FormatUtc(UtcNow())));
            if (!rows) return rows.error();
            if (rows->empty()) return Error{ErrorCode::kInternal, "the report settings were not stored", {}};
            return ReadSettings(*rows, 0);
        },
        std::move(done));
}

void PgStore::UnsubscribeReports(std::string token, Callback<ReportSettings> done) {
    Submit<ReportSettings>(
        [token = std::move(token)](Connection& db) -> Result<ReportSettings> {
            auto rows = db.Query(
                "UPDATE report_settings SET weekly = 0, daily = 0, updated_at = $2 WHERE unsubscribe_token = $1"
                " RETURNING account_id, weekly, daily, unsubscribe_token",
                Params().Add(token).Add(FormatUtc(UtcNow())));
            if (!rows) return rows.error();
            if (rows->empty()) return Error{ErrorCode::kNotFound, "No reports are sent with that link", {}};
            return ReadSettings(*rows, 0);
        },
        std::move(done));
}

Result<std::vector<WebhookEndpoint>> PgStore::ListWebhookEndpoints(int64_t account_id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kEndpointColumns + " FROM webhook_endpoints WHERE account_id = $1 ORDER BY id";
    auto rows = (*db)->Query(sql, Params().Add(account_id));
    if (!rows) return rows.error();
    return OpenEndpoints(encryption_keys_, CollectRows<WebhookEndpoint>(*rows, ReadEndpoint));
}

Result<std::vector<WebhookEndpoint>> PgStore::AllWebhookEndpoints(size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kEndpointColumns + " FROM webhook_endpoints ORDER BY id LIMIT $1";
    auto rows = (*db)->Query(sql, Params().Add(static_cast<int64_t>(limit)));
    if (!rows) return rows.error();
    return OpenEndpoints(encryption_keys_, CollectRows<WebhookEndpoint>(*rows, ReadEndpoint));
}

void PgStore::AddWebhookEndpoint(WebhookEndpoint endpoint, size_t max_per_account, Callback<WebhookEndpoint> done) {
    auto url = Seal(endpoint.url);
    auto secret = url ? Seal(endpoint.secret) : Result<std::string>(url.error());
    if (!secret) return done(secret.error());
    Submit<WebhookEndpoint>(
        [endpoint, max_per_account, url = std::move(*url),
         secret = std::move(*secret)](Connection& db) mutable -> Result<WebhookEndpoint> {
            // Two requests adding at once are counted one after the other: the account's row is the lock.
            auto lock = db.Query("SELECT id FROM accounts WHERE id = $1 FOR UPDATE", Params().Add(endpoint.account_id));
            if (!lock) return lock.error();
            auto count = db.Query("SELECT COUNT(*) FROM webhook_endpoints WHERE account_id = $1",
                                  Params().Add(endpoint.account_id));
            if (!count) return count.error();
            if (static_cast<size_t>(count->Int(0, 0)) >= max_per_account) {
                return Error{ErrorCode::kTierLimitExceeded,
                             "An account has at most " + std::to_string(max_per_account) + " webhook endpoints",
                             {}};
            }
            auto rows = db.Query(
                "INSERT INTO webhook_endpoints (account_id, url, secret, events, created_at)"
                " VALUES ($1, $2, $3, $4, $5) RETURNING id",
                Params()
                    .Add(endpoint.account_id)
                    .Add(url)
                    .Add(secret)
                    .Add(JoinEventTypes(endpoint.events))
                    .Add(FormatUtc(endpoint.created_at)));
            if (!rows) return rows.error();
            if (rows->empty()) return Error{ErrorCode::kInternal, "the webhook endpoint was not stored", {}};
            endpoint.id = rows->Int(0, 0);
            return endpoint;
        },
        std::move(done));
}

void PgStore::DeleteWebhookEndpoint(int64_t account_id, int64_t endpoint_id, Callback<bool> done) {
    Submit<bool>(
        [account_id, endpoint_id](Connection& db) -> Result<bool> {
            auto log = db.Query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1 AND account_id = $2",
                                Params().Add(endpoint_id).Add(account_id));
            if (!log) return log.error();
            auto rows = db.Query("DELETE FROM webhook_endpoints WHERE id = $1 AND account_id = $2",
                                 Params().Add(endpoint_id).Add(account_id));
            if (!rows) return rows.error();
            return rows->Affected() > 0;
        },
        std::move(done));
}

Result<std::optional<SysSeconds>> PgStore::WebhookScanMark() {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto rows = (*db)->Query("SELECT mark FROM webhook_scan WHERE id = 1", Params());
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<SysSeconds>{};
    return std::optional<SysSeconds>(TimeAt(*rows, 0, 0));
}

void PgStore::EnqueueWebhookEvents(std::vector<WebhookEvent> events, SysSeconds mark, Callback<int> done) {
    Submit<int>(
        [events = std::move(events), mark](Connection& db) -> Result<int> {
            int added = 0;
            for (const auto& e : events) {
                const std::string at = FormatUtc(e.at);
                auto rows = db.Query(
                    "INSERT INTO webhook_deliveries (endpoint_id, account_id, event_id, type, payload, state,"
                    " attempts, next_attempt, last_status, last_error, created_at)"
                    " SELECT $1, $2, $3, $4, $5, 'pending', 0, $6, 0, '', $6"
                    " WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = $1)"
                    " ON CONFLICT (endpoint_id, event_id) DO NOTHING",
                    Params().Add(e.endpoint_id).Add(e.account_id).Add(e.event_id).Add(e.type).Add(e.payload).Add(at));
                if (!rows) return rows.error();
                added += static_cast<int>(rows->Affected());
            }
            auto rows = db.Query(
                "INSERT INTO webhook_scan (id, mark) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET mark = "
                "excluded.mark",
                Params().Add(FormatUtc(mark)));
            if (!rows) return rows.error();
            return added;
        },
        std::move(done));
}

Result<std::vector<WebhookDelivery>> PgStore::DueWebhookDeliveries(SysSeconds now, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string("SELECT ") + kDeliveryColumns +
                                   ", e.url, e.secret FROM webhook_deliveries d JOIN webhook_endpoints e"
                                   " ON e.id = d.endpoint_id WHERE d.state = 'pending' AND d.next_attempt <= $1"
                                   " ORDER BY d.next_attempt, d.id LIMIT $2";
    auto rows = (*db)->Query(sql, Params().Add(FormatUtc(now)).Add(static_cast<int64_t>(limit)));
    if (!rows) return rows.error();
    auto due = CollectRows<WebhookDelivery>(*rows, [](const Rows& r, int i) {
        WebhookDelivery d = ReadDelivery(r, i);
        d.url = std::string(r.Text(i, 13));
        d.secret = std::string(r.Text(i, 14));
        return d;
    });
    if (auto r = OpenFields(encryption_keys_, due, &WebhookDelivery::url, &WebhookDelivery::secret); !r)
        return r.error();
    return due;
}

void PgStore::RecordWebhookAttempt(int64_t delivery_id, WebhookState state, int attempts, SysSeconds next_attempt,
                                   int status, std::string error, SysSeconds now, Callback<void> done) {
    Submit<void>(
        [=, error = std::move(error)](Connection& db) -> Result<void> {
            std::optional<std::string> finished;
            if (state != WebhookState::kPending) finished = FormatUtc(now);
            auto rows = db.Query(
                "UPDATE webhook_deliveries SET state = $2, attempts = $3, next_attempt = $4, last_status = $5,"
                " last_error = $6, finished_at = $7 WHERE id = $1 AND state = 'pending'",
                Params()
                    .Add(delivery_id)
                    .Add(NameOf(state))
                    .Add(static_cast<int64_t>(attempts))
                    .Add(FormatUtc(next_attempt))
                    .Add(static_cast<int64_t>(status))
                    .Add(error)
                    .Add(finished));
            if (!rows) return rows.error();
            return {};
        },
        std::move(done));
}

Result<std::vector<WebhookDelivery>> PgStore::ListWebhookDeliveries(int64_t account_id, int64_t endpoint_id,
                                                                    size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string("SELECT ") + kDeliveryColumns +
                                   " FROM webhook_deliveries d WHERE d.account_id = $1 AND d.endpoint_id = $2"
                                   " ORDER BY d.id DESC LIMIT $3";
    auto rows = (*db)->Query(sql, Params().Add(account_id).Add(endpoint_id).Add(static_cast<int64_t>(limit)));
    if (!rows) return rows.error();
    return CollectRows<WebhookDelivery>(*rows, ReadDelivery);
}

}  // namespace gpuopt::store::postgres
