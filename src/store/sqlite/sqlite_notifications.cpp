// SqliteStore: report mail settings and outgoing webhooks (store/notifications.hpp).
#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"

#include "store/sealing.hpp"

namespace gpuopt::store::sqlite {

namespace {

ReportSettings ReadSettings(const Statement& s) {
    return ReportSettings{s.Int(0), s.Int(1) != 0, s.Int(2) != 0, s.Text(3)};
}

constexpr const char* kEndpointColumns = "id, account_id, url, secret, events, created_at";

WebhookEndpoint ReadEndpoint(const Statement& s) {
    WebhookEndpoint e;
    e.id = s.Int(0);
    e.account_id = s.Int(1);
    e.url = s.Text(2);
    e.secret = s.Text(3);
    e.events = SplitEventTypes(s.TextView(4));
    e.created_at = ParseUtc(s.Text(5)).value_or(SysSeconds{});
    return e;
}

constexpr const char* kDeliveryColumns =
    "d.id, d.endpoint_id, d.account_id, d.event_id, d.type, d.payload, d.state, d.attempts, d.next_attempt,"
    " d.last_status, d.last_error, d.created_at, d.finished_at";

WebhookDelivery ReadDelivery(const Statement& s) {
    WebhookDelivery d;
    d.id = s.Int(0);
    d.endpoint_id = s.Int(1);
    d.account_id = s.Int(2);
    d.event_id = s.Text(3);
    d.type = s.Text(4);
    d.payload = s.Text(5);
    d.state = WebhookStateNamed(s.TextView(6)).value_or(WebhookState::kPending);
    d.attempts = static_cast<int>(s.Int(7));
    d.next_attempt = ParseUtc(s.Text(8)).value_or(SysSeconds{});
    d.last_status = static_cast<int>(s.Int(9));
    d.last_error = s.Text(10);
    d.created_at = ParseUtc(s.Text(11)).value_or(SysSeconds{});
    if (!s.IsNull(12)) d.finished_at = ParseUtc(s.Text(12));
    return d;
}

}  // namespace

Result<ReportSettings> SqliteStore::GetReportSettings(int64_t account_id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto st = (*db)->Prepare(
        "SELECT account_id, weekly, daily, unsubscribe_token FROM report_settings WHERE account_id = ?1");
    if (!st) return st.error();
    st->Bind(1, account_id);
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) return ReportSettings{account_id, true, true, ""};
    return ReadSettings(*st);
}

void SqliteStore::SetReportSettings(ReportSettings settings, std::string new_token, Callback<ReportSettings> done) {
    Submit<ReportSettings>(
        [settings, token = std::move(new_token)](Connection& db) -> Result<ReportSettings> {
            auto st = db.Prepare(
                "INSERT INTO report_settings (account_id, weekly, daily, unsubscribe_token, updated_at)"
                " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (account_id) DO UPDATE SET weekly = excluded.weekly,"
                " daily = excluded.daily, updated_at = excluded.updated_at"
                " RETURNING account_id, weekly, daily, unsubscribe_token");
            if (!st) return st.error();
            st->Bind(1, settings.account_id)
                .Bind(2, static_cast<int64_t>(settings.weekly ? 1 : 0))
                .Bind(3, static_cast<int64_t>(settings.daily ? 1 : 0))
                .Bind(4, std::string_view(token))
                .Bind(5, FormatUtc(UtcNow()));
            auto row = st->Step();
            if (!row) return row.error();
            if (!*row) return Error{ErrorCode::kInternal, "the report settings were not stored", {}};
            return ReadSettings(*st);
        },
        std::move(done));
}

void SqliteStore::UnsubscribeReports(std::string token, Callback<ReportSettings> done) {
    Submit<ReportSettings>(
        [token = std::move(token)](Connection& db) -> Result<ReportSettings> {
            auto st = db.Prepare(
                "UPDATE report_settings SET weekly = 0, daily = 0, updated_at = ?2 WHERE unsubscribe_token = ?1"
                " RETURNING account_id, weekly, daily, unsubscribe_token");
            if (!st) return st.error();
            st->Bind(1, std::string_view(token)).Bind(2, FormatUtc(UtcNow()));
            auto row = st->Step();
            if (!row) return row.error();
            if (!*row) return Error{ErrorCode::kNotFound, "No reports are sent with that link", {}};
            return ReadSettings(*st);
        },
        std::move(done));
}

Result<std::vector<WebhookEndpoint>> SqliteStore::ListWebhookEndpoints(int64_t account_id) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kEndpointColumns + " FROM webhook_endpoints WHERE account_id = ?1 ORDER BY id";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, account_id);
    return OpenEndpoints(encryption_keys_, Collect<WebhookEndpoint>(*st, ReadEndpoint));
}

Result<std::vector<WebhookEndpoint>> SqliteStore::AllWebhookEndpoints(size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql =
        std::string("SELECT ") + kEndpointColumns + " FROM webhook_endpoints ORDER BY id LIMIT ?1";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, static_cast<int64_t>(limit));
    return OpenEndpoints(encryption_keys_, Collect<WebhookEndpoint>(*st, ReadEndpoint));
}

void SqliteStore::AddWebhookEndpoint(WebhookEndpoint endpoint, size_t max_per_account, Callback<WebhookEndpoint> done) {
    auto url = Seal(endpoint.url);
    auto secret = url ? Seal(endpoint.secret) : Result<std::string>(url.error());
    if (!secret) return done(secret.error());
    Submit<WebhookEndpoint>(
        [endpoint, max_per_account, url = std::move(*url),
         secret = std::move(*secret)](Connection& db) mutable -> Result<WebhookEndpoint> {
            auto count = db.Prepare("SELECT COUNT(*) FROM webhook_endpoints WHERE account_id = ?1");
            if (!count) return count.error();
            count->Bind(1, endpoint.account_id);
            if (auto row = count->Step(); !row) return row.error();
            if (static_cast<size_t>(count->Int(0)) >= max_per_account) {
                return Error{ErrorCode::kTierLimitExceeded,
                             "An account has at most " + std::to_string(max_per_account) + " webhook endpoints",
                             {}};
            }
            auto st = db.Prepare(
                "INSERT INTO webhook_endpoints (account_id, url, secret, events, created_at)"
                " VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id");
            if (!st) return st.error();
            st->Bind(1, endpoint.account_id)
                .Bind(2, std::string_view(url))
                .Bind(3, std::string_view(secret))
                .Bind(4, JoinEventTypes(endpoint.events))
                .Bind(5, FormatUtc(endpoint.created_at));
            auto row = st->Step();
            if (!row) return row.error();
            if (!*row) return Error{ErrorCode::kInternal, "the webhook endpoint was not stored", {}};
            endpoint.id = st->Int(0);
            return endpoint;
        },
        std::move(done));
}

void SqliteStore::DeleteWebhookEndpoint(int64_t account_id, int64_t endpoint_id, Callback<bool> done) {
    Submit<bool>(
        [account_id, endpoint_id](Connection& db) -> Result<bool> {
            auto log = db.Prepare("DELETE FROM webhook_deliveries WHERE endpoint_id = ?1 AND account_id = ?2");
            if (!log) return log.error();
            log->Bind(1, endpoint_id).Bind(2, account_id);
            if (auto r = log->Run(); !r) return r.error();
            auto st = db.Prepare("DELETE FROM webhook_endpoints WHERE id = ?1 AND account_id = ?2");
            if (!st) return st.error();
            st->Bind(1, endpoint_id).Bind(2, account_id);
            if (auto r = st->Run(); !r) return r.error();
            return db.Changes() > 0;
        },
        std::move(done));
}

Result<std::optional<SysSeconds>> SqliteStore::WebhookScanMark() {
    auto db = LeaseReader();
    if (!db) return db.error();
    auto st = (*db)->Prepare("SELECT mark FROM webhook_scan WHERE id = 1");
    if (!st) return st.error();
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) return std::optional<SysSeconds>{};
    return ParseUtc(st->Text(0));
}

void SqliteStore::EnqueueWebhookEvents(std::vector<WebhookEvent> events, SysSeconds mark, Callback<int> done) {
    Submit<int>(
        [events = std::move(events), mark](Connection& db) -> Result<int> {
            int added = 0;
            for (const auto& e : events) {
                auto st = db.Prepare(
                    "INSERT INTO webhook_deliveries (endpoint_id, account_id, event_id, type, payload, state,"
                    " attempts, next_attempt, last_status, last_error, created_at)"
                    " SELECT ?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, 0, '', ?6"
                    " WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = ?1)"
                    " ON CONFLICT (endpoint_id, event_id) DO NOTHING");
                if (!st) return st.error();
                const std::string at = FormatUtc(e.at);
                st->Bind(1, e.endpoint_id)
                    .Bind(2, e.account_id)
                    .Bind(3, std::string_view(e.event_id))
                    .Bind(4, std::string_view(e.type))
                    .Bind(5, std::string_view(e.payload))
                    .Bind(6, std::string_view(at));
                if (auto r = st->Run(); !r) return r.error();
                added += static_cast<int>(db.Changes());
            }
            auto st = db.Prepare(
                "INSERT INTO webhook_scan (id, mark) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET mark = "
                "excluded.mark");
            if (!st) return st.error();
            st->Bind(1, FormatUtc(mark));
            if (auto r = st->Run(); !r) return r.error();
            return added;
        },
        std::move(done));
}

Result<std::vector<WebhookDelivery>> SqliteStore::DueWebhookDeliveries(SysSeconds now, size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string("SELECT ") + kDeliveryColumns +
                                   ", e.url, e.secret FROM webhook_deliveries d JOIN webhook_endpoints e"
                                   " ON e.id = d.endpoint_id WHERE d.state = 'pending' AND d.next_attempt <= ?1"
                                   " ORDER BY d.next_attempt, d.id LIMIT ?2";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, FormatUtc(now)).Bind(2, static_cast<int64_t>(limit));
    auto due = Collect<WebhookDelivery>(*st, [](const Statement& s) {
        WebhookDelivery d = ReadDelivery(s);
        d.url = s.Text(13);
        d.secret = s.Text(14);
        return d;
    });
    if (!due) return due;
    if (auto r = OpenFields(encryption_keys_, *due, &WebhookDelivery::url, &WebhookDelivery::secret); !r)
        return r.error();
    return due;
}

void SqliteStore::RecordWebhookAttempt(int64_t delivery_id, WebhookState state, int attempts, SysSeconds next_attempt,
                                       int status, std::string error, SysSeconds now, Callback<void> done) {
    Submit<void>(
        [=, error = std::move(error)](Connection& db) -> Result<void> {
            auto st = db.Prepare(
                "UPDATE webhook_deliveries SET state = ?2, attempts = ?3, next_attempt = ?4, last_status = ?5,"
                " last_error = ?6, finished_at = ?7 WHERE id = ?1 AND state = 'pending'");
            if (!st) return st.error();
            st->Bind(1, delivery_id)
                .Bind(2, NameOf(state))
                .Bind(3, static_cast<int64_t>(attempts))
                .Bind(4, FormatUtc(next_attempt))
                .Bind(5, static_cast<int64_t>(status))
                .Bind(6, std::string_view(error));
            if (state == WebhookState::kPending) {
                st->BindNull(7);
            } else {
                st->Bind(7, FormatUtc(now));
            }
            return st->Run();
        },
        std::move(done));
}

Result<std::vector<WebhookDelivery>> SqliteStore::ListWebhookDeliveries(int64_t account_id, int64_t endpoint_id,
                                                                        size_t limit) {
    auto db = LeaseReader();
    if (!db) return db.error();
    static const std::string sql = std::string("SELECT ") + kDeliveryColumns +
                                   " FROM webhook_deliveries d WHERE d.account_id = ?1 AND d.endpoint_id = ?2"
                                   " ORDER BY d.id DESC LIMIT ?3";
    auto st = (*db)->Prepare(sql.c_str());
    if (!st) return st.error();
    st->Bind(1, account_id).Bind(2, endpoint_id).Bind(3, static_cast<int64_t>(limit));
    return Collect<WebhookDelivery>(*st, ReadDelivery);
}

}  // namespace gpuopt::store::sqlite
