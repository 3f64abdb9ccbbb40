// The operator's side of the store: admin accounts (a password, an optional TOTP second factor, the
// lockout counters), their sessions (a table of their own: an admin session never signs a customer in,
// nor the reverse), and the audit log of every operator action.
//
// The audit log is append-only: the schema refuses UPDATE and DELETE on it (triggers on both backends,
// TRUNCATE too on PostgreSQL), and each row carries row_hash = HMAC-SHA256(key, prev_hash | the row), so a
// row changed or removed behind the program's back breaks the chain that VerifyAuditChain walks. Writes
// that change what the operator administers take the audit row with them and store both in one
// transaction: an action is never done without its row, nor recorded without being done.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "common/time.hpp"
#include "store/callback.hpp"

namespace gpuopt::store {

struct AdminUser {
    int64_t id = 0;
    std::string email;           // normalised; the sign-in name
    std::string password_hash;   // argon2id, libsodium's crypto_pwhash_str string
    std::string totp_secret;     // base32, sealed at rest with ENCRYPTION_KEY; empty: no second factor
    int64_t totp_last_step = 0;  // the newest TOTP step accepted: a code is never accepted twice
    bool disabled = false;
    int failed_logins = 0;  // consecutive failures since the last lock or good sign-in
    int lockouts = 0;       // locks since the last good sign-in: each one lasts twice the one before
    std::optional<SysSeconds> locked_until;
    SysSeconds created_at;
    std::optional<SysSeconds> last_login_at;
};

// One row of the audit log: who did what to what, when, from where, and the changed fields before and after.
struct AuditEntry {
    int64_t id = 0;  // set by the store
    SysSeconds at;
    std::string actor_type;          // "admin" (the panel), "cli" (gpuopt admin on the host), "token" (ADMIN_TOKEN)
    std::string actor;               // the admin's email, the host user, "ADMIN_TOKEN"
    std::string action;              // dotted verb: "admin.create", "admin.sign_in", "customer.plan.change", ...
    std::string target;              // "admin:3", "customer:42", "ip:203.0.113.9"; "" when none
    std::string before;              // JSON object of the changed fields before, "" when none; secrets never
    std::string after;               // ... and after
    std::string result = "success";  // "success", "failure" or "denied"
    std::string ip;
    std::string session_ref;  // the first 16 hex digits of the admin session's hash: one sign-in's actions
    std::string prev_hash;    // set by the store: the previous row's row_hash ("" for the first)
    std::string row_hash;     // set by the store
};

struct AuditQuery {
    std::string action_prefix;         // "customer." matches every customer action; "" matches all
    std::string actor;                 // exact; "" matches all
    std::string target;                // exact; "" matches all
    std::optional<int64_t> before_id;  // older than this row (paging back); nullopt: from the newest
    size_t limit = 100;
};

// VerifyAuditChain's answer: how many rows were checked, and the first whose hash does not follow.
struct AuditVerification {
    int64_t rows = 0;
    std::optional<int64_t> first_broken_id;
};

struct AdminSession {
    std::string id_hash;  // SHA-256 of the cookie's value
    int64_t admin_id = 0;
    std::string csrf_token;
    std::string ip;
    std::string user_agent;
    SysSeconds created_at;
    SysSeconds last_seen_at;
    SysSeconds expires_at;  // the absolute end, whatever the activity
};

// A change to an admin account. Each set field changes; a password, factor or disabled change ends every
// session of the account in the same transaction.
struct AdminUserChange {
    int64_t admin_id = 0;
    std::optional<std::string> password_hash;
    std::optional<std::string> totp_secret;  // "" removes the second factor
    std::optional<bool> disabled;
    bool unlock = false;  // clears the failure count and any lock
    SysSeconds now;
};

// How failed sign-ins lock an account: after `max_attempts` consecutive failures, for `first_lock`, twice as
// long for each lock since the last good sign-in, at most `longest_lock`.
struct AdminLockPolicy {
    int max_attempts = 5;
    std::chrono::seconds first_lock{15 * 60};
    std::chrono::seconds longest_lock{24 * 3600};
};

class AdminRepository {
public:
    virtual ~AdminRepository() = default;

    // The key of the audit chain's HMAC (derived from SECRET_KEY). Set once, before the first audit write.
    virtual void SetAuditKey(std::string key) = 0;
    // ENCRYPTION_KEY (decision 0026): the store seals the sensitive columns (alert webhook URLs, outgoing
    // webhook URLs and secrets, TOTP secrets, raw gateway payloads) with the first key as it writes them,
    // and opens them with any key as it reads them; callers see clear values only. Empty: stored in clear.
    // Set once, before the first write.
    virtual void SetEncryptionKeys(std::string keys) = 0;
    // Seals every sensitive value under the first key (a value stored in clear is sealed, a token under an
    // older key re-encrypted) and records `audit` with the count; answers how many values changed.
    virtual void RotateEncryption(AuditEntry audit, Callback<int64_t> done) = 0;

    // Adds an admin (kAlreadyExists when the email is taken) and its audit row; answers it with its id.
    virtual void CreateAdminUser(AdminUser user, AuditEntry audit, Callback<AdminUser> done) = 0;
    virtual Result<std::optional<AdminUser>> FindAdminUser(const std::string& email) = 0;
    virtual Result<std::optional<AdminUser>> GetAdminUser(int64_t admin_id) = 0;
    virtual Result<std::vector<AdminUser>> ListAdminUsers() = 0;
    // Applies the change and its audit row (kNotFound for an unknown admin); answers the account after it.
    virtual void ChangeAdminUser(AdminUserChange change, AuditEntry audit, Callback<AdminUser> done) = 0;

    // A failed sign-in (a wrong password or code): counts it, locks the account when the count reaches the
    // policy's limit, and records `audit`. Answers the account after it.
    virtual void RecordAdminLoginFailure(int64_t admin_id, SysSeconds now, AdminLockPolicy policy, AuditEntry audit,
                                         Callback<AdminUser> done) = 0;
    // Accepts TOTP step `step` for the admin only when it is newer than every step accepted before (one
    // statement, so two requests with one code cannot both pass).
    virtual void AcceptTotpStep(int64_t admin_id, int64_t step, Callback<bool> done) = 0;
    // A good sign-in: clears the failure count and lock, notes the time, starts `session`, writes `audit`.
    virtual void SignInAdmin(AdminSession session, AuditEntry audit, Callback<void> done) = 0;

    // The live admin session with that id: nullopt when unknown, revoked, past its absolute end, idle
    // longer than `idle` at `now`, or when its admin has been disabled since.
    virtual Result<std::optional<AdminSession>> FindAdminSession(const std::string& id_hash, SysSeconds now,
                                                                 std::chrono::seconds idle) = 0;
    virtual void TouchAdminSession(std::string id_hash, SysSeconds now, Callback<void> done) = 0;
    // Ends one session (sign out) and writes `audit`; answers how many ended (0 or 1).
    virtual void RevokeAdminSession(std::string id_hash, SysSeconds now, AuditEntry audit, Callback<int64_t> done) = 0;

    // Appends one row (an action whose effect is stored elsewhere, or a refusal); answers it as stored.
    virtual void AppendAudit(AuditEntry entry, Callback<AuditEntry> done) = 0;
    // Newest first.
    virtual Result<std::vector<AuditEntry>> ListAudit(const AuditQuery& query) = 0;
    // Walks the whole chain with the audit key.
    virtual Result<AuditVerification> VerifyAuditChain() = 0;
};

}  // namespace gpuopt::store
