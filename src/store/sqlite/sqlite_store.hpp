// SqliteStore: the embedded Store backend (SQLite in WAL mode, synchronous=FULL).
//
// All writes run on one writer thread that takes every write queued at that moment (up to
// max_batch), runs them in one transaction, commits once, and only then completes the callbacks:
// group commit, so concurrent writers share one fsync. A write that fails leaves the others in the
// batch intact (see RunBatch for how, without a savepoint per write).
// Reads use a small pool of connections and never wait for the writer (WAL readers see the last
// committed state). A third thread copies the WAL back into the database (passive checkpoints), so
// commits never wait for that either. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "store/account_cache.hpp"
#include "store/coverage.hpp"
#include "store/database.hpp"
#include "store/sql_session.hpp"
#include "store/sqlite/connection.hpp"

namespace gpuopt::store::sqlite {

class SqliteStore final : public Database,
                          public AccountRepository,
                          public UsageRepository,
                          public BillingRepository,
                          public OperatorEventRepository,
                          public OutboxRepository,
                          public SecurityLog,
                          public AlertRepository,
                          public StatsReader,
                          public LeaseRepository,
                          public RecommendationRepository,
                          public IdleActionRepository,
                          public NotificationRepository,
                          public SessionRepository,
                          public AdminRepository,
                          public PanelRepository,
                          public SqlRunner {
public:
    struct Options {
        std::string path;             // the database file; created when missing
        size_t max_batch = 1024;      // writes per transaction at most
        size_t read_connections = 8;  // pooled read connections at most
        // Accounts found by key hash are remembered this long, so an agent's every report does not
        // cost a database read. Changes made through this store clear the cache at once; changes by
        // another process (the operator CLI) show within this time. Zero turns the cache off.
        std::chrono::milliseconds account_cache_ttl{5000};
        // Once the WAL holds this many frames (32 MiB of 4 KiB pages), the checkpointer holds the
        // writer for a moment so that the log can be rewound (see CheckpointLoop).
        int wal_restart_frames = 8192;
        std::chrono::milliseconds checkpoint_interval{250};
    };

    // Opens the file, applies migrations, starts the writer thread.
    static Result<std::unique_ptr<SqliteStore>> Open(const Options& options);
    ~SqliteStore() override;

    // One object serves every domain for now; each accessor is a view of it through one interface.
    AccountRepository& accounts() override { return *this; }
    UsageRepository& usage() override { return *this; }
    BillingRepository& billing() override { return *this; }
    OperatorEventRepository& operator_events() override { return *this; }
    OutboxRepository& outbox() override { return *this; }
    SecurityLog& security() override { return *this; }
    AlertRepository& alerts() override { return *this; }
    StatsReader& stats() override { return *this; }
    LeaseRepository& leases() override { return *this; }
    RecommendationRepository& recommendations() override { return *this; }
    IdleActionRepository& idle_actions() override { return *this; }
    NotificationRepository& notifications() override { return *this; }
    SessionRepository& sessions() override { return *this; }
    AdminRepository& admin() override { return *this; }
    PanelRepository& panel() override { return *this; }
    AcquisitionStore& acquisition() override { return *acquisition_; }

    // SqlRunner: the portable domains' statements on this store's connections (sqlite_acquisition.cpp).
    Result<void> Read(const std::function<Result<void>(SqlSession&)>& work) override;
    void Write(std::function<Result<void>(SqlSession&)> work, Callback<void> done) override;

    void CreateAccount(NewAccount account, Callback<Account> done) override;
    void IngestReport(IngestRequest request, Callback<IngestOutcome> done) override;
    void SetTier(std::string email, Tier tier, Callback<Account> done) override;
    Result<Account> FindAccountByKeyHash(const std::string& key_hash) override;
    std::optional<Account> CachedAccountByKeyHash(const std::string& key_hash) override;
    void CreateApiKey(NewApiKey key, Callback<ApiKeyInfo> done) override;
    Result<std::vector<ApiKeyInfo>> ListApiKeys(int64_t account_id) override;
    void RevokeApiKey(int64_t account_id, int64_t id, SysSeconds now, Callback<bool> done) override;
    void RotateApiKey(int64_t account_id, int64_t id, NewApiKey replacement,
                      Callback<std::optional<ApiKeyInfo>> done) override;
    void TouchApiKey(std::string key_hash, SysSeconds now, Callback<void> done) override;
    void DeleteAccount(AccountDeletion deletion, Callback<DeletedAccount> done) override;
    Result<Account> GetAccount(int64_t id) override;
    Result<Stats> GetStats(const StatsQuery& query) override;
    Result<void> Ping() override;
    void Close() override;

    Result<std::vector<StoredWindow>> ReadWindows(int64_t account_id, SysSeconds from, SysSeconds to,
                                                  const std::string& gpu_key) override;
    Result<RolledHistory> ReadRolledHistory(int64_t account_id, SysSeconds from, SysSeconds to,
                                            const std::string& gpu_key) override;
    Result<std::vector<FleetGpu>> ReadFleet(int64_t account_id, SysSeconds since) override;
    Result<std::vector<StoredWindow>> ReadRecentGpus(SysSeconds since) override;
    Result<std::vector<StoredWindow>> ReadWindowsAfter(int64_t after_id, size_t limit) override;
    Result<int64_t> RollupWatermark() override;
    void ApplyRollup(std::vector<HourlyRow> hours, int64_t expected_watermark, int64_t new_watermark,
                     Callback<void> done) override;
    void PruneHistory(SysSeconds raw_before, SysSeconds hourly_before, size_t max_rows,
                      Callback<int64_t> done) override;

    void CreatePayment(NewPayment payment, Callback<Payment> done) override;
    void SetPaymentCheckout(int64_t payment_id, std::string gateway_id, std::string checkout_url,
                            Callback<void> done) override;
    Result<Payment> FindPaymentByReference(const std::string& reference) override;
    Result<std::vector<Payment>> ListPayments(int64_t account_id, size_t limit) override;
    Result<std::vector<Payment>> ListPendingPayments(SysSeconds from, SysSeconds to, size_t limit) override;
    Result<std::vector<Payment>> ListExpiringPayments(SysSeconds now, size_t limit) override;
    Result<std::optional<Payment>> FindRenewalPayment(int64_t account_id, SysSeconds period_end) override;
    void DiscardPayment(int64_t payment_id, Callback<bool> done) override;
    void SetGatewayPaymentId(int64_t payment_id, std::string gateway_payment_id, Callback<void> done) override;
    void CompletePayment(Completion completion, Callback<CompletionOutcome> done) override;
    void HoldUnappliedPayment(int64_t payment_id, std::string gateway_id, double paid_amount, std::string paid_currency,
                              std::string note, OperatorEvent event, std::optional<OutboxMessage> mail, SysSeconds now,
                              Callback<bool> done) override;
    void RecordOperatorEvent(OperatorEvent event, std::optional<OutboxMessage> mail, Callback<bool> done) override;
    Result<std::vector<OperatorEvent>> ListOperatorEvents(size_t limit) override;
    void EndPayment(int64_t payment_id, PaymentEnd end, SysSeconds now, Callback<bool> done) override;
    void RecordRefund(int64_t payment_id, SysSeconds now, Callback<bool> done) override;
    void RecordGatewayEvent(GatewayEvent event, Callback<bool> done) override;
    Result<std::vector<GatewayEvent>> DueGatewayEvents(SysSeconds now, size_t limit) override;
    void FinishGatewayEvent(int64_t id, GatewayEventState state, std::string result, int attempts,
                            std::optional<SysSeconds> next_attempt, Callback<void> done) override;
    Result<std::vector<Subscription>> ListSubscriptionsEndingBefore(SysSeconds before) override;
    Result<std::optional<Subscription>> GetSubscription(int64_t account_id) override;
    void MarkRenewalReminder(int64_t account_id, int days, SysSeconds period_end, OutboxMessage mail,
                             Callback<bool> done) override;
    void EnterGrace(int64_t account_id, SysSeconds period_end, Callback<bool> done) override;
    void EndSubscription(int64_t account_id, SysSeconds period_end, SysSeconds now, OutboxMessage mail,
                         Callback<bool> done) override;
    Result<std::vector<RevenueEvent>> ListRevenueEvents(int64_t account_id, size_t limit) override;
    void EnqueueMail(OutboxMessage message, SysSeconds now, Callback<bool> done) override;
    Result<bool> MailExists(const std::string& dedup_key) override;
    Result<std::vector<OutboxItem>> DueMail(SysSeconds now, size_t limit) override;
    void FinishMail(int64_t id, MailStatus status, int attempts, SysSeconds next_attempt, std::string error,
                    std::string message_id, Callback<void> done) override;
    void RecordSecurityEvent(std::string kind, std::string ip, std::string detail, SysSeconds now,
                             Callback<void> done) override;

    Result<std::optional<AlertSettings>> GetAlertSettings(int64_t account_id) override;
    void SetAlertSettings(AlertSettings settings, Callback<AlertSettings> done) override;
    Result<std::vector<AlertSettings>> ListAlertSettings() override;
    Result<std::vector<Alert>> OpenAlerts(int64_t account_id) override;
    void OpenAlert(Alert alert, Callback<Alert> done) override;
    void CloseAlert(int64_t alert_id, SysSeconds at, Callback<void> done) override;
    Result<std::vector<Alert>> DueAlertDeliveries(SysSeconds now, size_t limit) override;
    void RecordAlertDelivery(int64_t alert_id, AlertDelivery delivery, int attempts,
                             std::optional<SysSeconds> next_attempt, Callback<void> done) override;
    Result<std::vector<Alert>> ListAlerts(int64_t account_id, size_t limit) override;

    void AcquireLease(std::string job, std::string holder, SysSeconds now, std::chrono::seconds ttl,
                      Callback<std::optional<LeaseGrant>> done) override;
    void ReleaseLease(std::string job, std::string holder, Callback<void> done) override;
    void RecordJobRun(JobRun run, Callback<bool> done) override;
    Result<std::vector<JobRun>> ListJobRuns(const std::string& job, size_t limit) override;

    void RecordRecommended(int64_t account_id, std::vector<TrackedRecommendation> recommended, SysSeconds now,
                           Callback<void> done) override;
    void RecordRealized(std::vector<Realization> realized, Callback<void> done) override;
    Result<std::vector<TrackedRecommendation>> ListTracked(int64_t account_id, std::optional<TrackState> state,
                                                           size_t limit) override;
    Result<std::vector<int64_t>> AccountsWithOpenTracks(size_t limit) override;
    void MarkRecommendation(RecommendationMark mark, Callback<void> done) override;
    void UnmarkRecommendation(int64_t account_id, std::string action, std::string target, Callback<bool> done) override;
    Result<std::vector<RecommendationMark>> ListRecommendationMarks(int64_t account_id) override;

    Result<std::optional<IdlePolicy>> GetIdlePolicy(int64_t account_id) override;
    void SetIdlePolicy(IdlePolicy policy, SysSeconds now, Callback<IdlePolicy> done) override;
    void SnoozeGpu(IdleSnooze snooze, Callback<void> done) override;
    Result<std::vector<IdleSnooze>> ActiveSnoozes(int64_t account_id, SysSeconds now) override;
    void RecordIdleEvents(std::vector<IdleEvent> events, Callback<int> done) override;
    Result<std::vector<IdleEvent>> ListIdleEvents(int64_t account_id, size_t limit) override;

    Result<ReportSettings> GetReportSettings(int64_t account_id) override;
    void SetReportSettings(ReportSettings settings, std::string new_token, Callback<ReportSettings> done) override;
    void UnsubscribeReports(std::string token, Callback<ReportSettings> done) override;
    Result<std::vector<WebhookEndpoint>> ListWebhookEndpoints(int64_t account_id) override;
    Result<std::vector<WebhookEndpoint>> AllWebhookEndpoints(size_t limit) override;
    void AddWebhookEndpoint(WebhookEndpoint endpoint, size_t max_per_account, Callback<WebhookEndpoint> done) override;
    void DeleteWebhookEndpoint(int64_t account_id, int64_t endpoint_id, Callback<bool> done) override;
    Result<std::optional<SysSeconds>> WebhookScanMark() override;
    void EnqueueWebhookEvents(std::vector<WebhookEvent> events, SysSeconds mark, Callback<int> done) override;
    Result<std::vector<WebhookDelivery>> DueWebhookDeliveries(SysSeconds now, size_t limit) override;
    void RecordWebhookAttempt(int64_t delivery_id, WebhookState state, int attempts, SysSeconds next_attempt,
                              int status, std::string error, SysSeconds now, Callback<void> done) override;
    Result<std::vector<WebhookDelivery>> ListWebhookDeliveries(int64_t account_id, int64_t endpoint_id,
                                                               size_t limit) override;

    // Number of transactions the writer has committed; lets tests and benchmarks see batching.
    uint64_t CommittedTransactions() const { return commits_.load(); }

    Result<std::optional<int64_t>> AccountIdForEmail(const std::string& email) override;
    void CreateSignInLink(NewSignInLink link, Callback<void> done) override;
    Result<int64_t> CountSignInLinks(int64_t account_id, SysSeconds since) override;
    void RedeemSignInLink(std::string token_hash, SysSeconds now, Callback<std::optional<int64_t>> done) override;
    void CreateSession(Session session, Callback<void> done) override;
    Result<std::optional<Session>> FindSession(const std::string& id_hash, SysSeconds now,
                                               std::chrono::seconds idle) override;
    void TouchSession(std::string id_hash, SysSeconds now, Callback<void> done) override;
    void RevokeSession(std::string id_hash, SysSeconds now, Callback<int64_t> done) override;
    void RevokeAccountSessions(int64_t account_id, SysSeconds now, Callback<int64_t> done) override;
    void PruneSessions(SysSeconds before, Callback<int64_t> done) override;

    void SetAuditKey(std::string key) override;
    void SetEncryptionKeys(std::string keys) override;
    void RotateEncryption(AuditEntry audit, Callback<int64_t> done) override;
    void CreateAdminUser(AdminUser user, AuditEntry audit, Callback<AdminUser> done) override;
    Result<std::optional<AdminUser>> FindAdminUser(const std::string& email) override;
    Result<std::optional<AdminUser>> GetAdminUser(int64_t admin_id) override;
    Result<std::vector<AdminUser>> ListAdminUsers() override;
    void ChangeAdminUser(AdminUserChange change, AuditEntry audit, Callback<AdminUser> done) override;
    void RecordAdminLoginFailure(int64_t admin_id, SysSeconds now, AdminLockPolicy policy, AuditEntry audit,
                                 Callback<AdminUser> done) override;
    void AcceptTotpStep(int64_t admin_id, int64_t step, Callback<bool> done) override;
    void SignInAdmin(AdminSession session, AuditEntry audit, Callback<void> done) override;
    Result<std::optional<AdminSession>> FindAdminSession(const std::string& id_hash, SysSeconds now,
                                                         std::chrono::seconds idle) override;
    void TouchAdminSession(std::string id_hash, SysSeconds now, Callback<void> done) override;
    void RevokeAdminSession(std::string id_hash, SysSeconds now, AuditEntry audit, Callback<int64_t> done) override;
    void AppendAudit(AuditEntry entry, Callback<AuditEntry> done) override;
    Result<std::vector<AuditEntry>> ListAudit(const AuditQuery& query) override;
    Result<AuditVerification> VerifyAuditChain() override;

    Result<std::vector<CustomerRow>> ListCustomers(const CustomerQuery& query) override;
    Result<std::optional<CustomerRow>> GetCustomer(int64_t account_id) override;
    Result<std::vector<PaymentRow>> ListAllPayments(const PaymentQuery& query) override;
    Result<std::optional<PaymentRow>> GetPaymentRow(int64_t payment_id) override;
    Result<std::vector<GatewayEvent>> ListGatewayEvents(const GatewayEventQuery& query) override;
    Result<std::vector<MailRow>> ListMail(const MailQuery& query) override;
    Result<std::vector<SecurityEvent>> ListSecurityEvents(const SecurityEventQuery& query) override;
    Result<std::vector<LedgerRow>> ListLedger(int64_t after_id, size_t limit) override;
    Result<std::vector<JobRun>> LatestJobRuns() override;
    Result<StorageSize> GetStorageSize() override;
    void ChangeCustomerPlan(CustomerPlanChange change, AuditEntry audit, Callback<CustomerRow> done) override;
    void SetCustomerDisabled(int64_t account_id, bool disabled, std::string reason, SysSeconds now, AuditEntry audit,
                             Callback<CustomerRow> done) override;
    void EnqueueOperatorMail(OutboxMessage mail, SysSeconds now, AuditEntry audit, Callback<bool> done) override;
    void RetryMail(int64_t mail_id, SysSeconds now, AuditEntry audit, Callback<MailRow> done) override;
    void CancelMail(int64_t mail_id, std::string why, AuditEntry audit, Callback<MailRow> done) override;
    void RecordOperatorRefund(int64_t payment_id, SysSeconds now, AuditEntry audit, Callback<PaymentRow> done) override;
    void BlockAddress(AddressBlock block, AuditEntry audit, Callback<void> done) override;
    void UnblockAddress(std::string ip, AuditEntry audit, Callback<bool> done) override;
    Result<std::vector<AddressBlock>> ListAddressBlocks(SysSeconds now) override;

private:
    // The audit chain's HMAC key (SetAuditKey), copied into each write that appends to the log.
    std::string AuditKey();
    std::mutex audit_key_mu_;
    std::string audit_key_;
    // ENCRYPTION_KEY (SetEncryptionKeys): Seal before a sensitive value is written, Unseal after it is read.
    std::string encryption_keys_;                    // written once before the first write, read by every thread after
    std::unique_ptr<AcquisitionStore> acquisition_;  // over this store as its SqlRunner
    Result<std::string> Seal(std::string_view plain) const;
    Result<std::string> Unseal(std::string_view stored) const;

    struct Job {
        virtual ~Job() = default;
        // Records its own result. Contract: a failure other than kInternal has written nothing.
        virtual void Run(Connection& db) = 0;
        virtual bool Succeeded() const = 0;
        virtual bool FailedInternally() const = 0;
        virtual void Complete() = 0;                // after commit
        virtual void Fail(const Error& error) = 0;  // the transaction did not commit
    };
    template <class T>
    struct TypedJob;

    class ReadLease;

    explicit SqliteStore(Options options);
    template <class T, class Work>
    void Submit(Work work, Callback<T> done);
    void WriterLoop();
    void CheckpointLoop();
    void RunBatch(std::vector<std::unique_ptr<Job>>& batch);
    Result<IngestOutcome> IngestOne(Connection& db, const IngestRequest& request);  // writer thread
    Result<ReadLease> LeaseReader();
    void ReturnReader(std::unique_ptr<Connection> conn);

    Options options_;
    std::unique_ptr<Connection> writer_db_;
    std::thread writer_;
    // WAL checkpoints run here, on their own connection, so the writer never stalls behind one.
    std::unique_ptr<Connection> checkpoint_db_;
    std::thread checkpointer_;
    std::condition_variable checkpoint_cv_;
    uint64_t commits_at_last_checkpoint_ = 0;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::unique_ptr<Job>> queue_;
    bool stopping_ = false;
    std::atomic<bool> closed_{false};
    std::atomic<bool> writer_healthy_{true};
    std::atomic<uint64_t> commits_{0};
    std::atomic<int> wal_frames_{0};  // frames in the WAL after the last commit
    std::mutex write_gate_;           // held by the writer around each batch

    // Writer-thread state: when each (account, GPU) was last written to gpus_seen, and the multi-row
    // INSERT text for each GPU count.
    static constexpr std::chrono::seconds kSeenRefresh{60};
    static constexpr size_t kMaxSeenEntries = 200000;
    std::unordered_map<std::string, SysSeconds> seen_written_;
    // Writer-thread state: the time each (account, GPU) has had counted, so overlapping windows are
    // merged, not added, in whatever order they arrive. Everything up to `floor` counts as covered (what
    // was stored before this process knew the GPU, read back from gpus_seen and the GPU's newest
    // windows); `spans` are the disjoint intervals counted since, in epoch ms. Cleared with seen_written_
    // whenever a transaction rolls back.
    std::unordered_map<std::string, Coverage> coverage_;
    Result<Coverage*> CoverageOf(Connection& db, int64_t account_id, const std::string& gpu_key,
                                 const std::string& key);
    std::vector<std::string> gpu_insert_sql_;

    AccountCache account_cache_{options_.account_cache_ttl};
    void ForgetCachedAccounts();

    std::mutex read_mu_;
    std::condition_variable read_cv_;
    std::vector<std::unique_ptr<Connection>> readers_;
    size_t readers_open_ = 0;
};

}  // namespace gpuopt::store::sqlite
