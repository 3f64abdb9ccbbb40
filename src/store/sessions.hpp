// Signing customers in to the web app: one-time sign-in links sent by mail, and server-side sessions.
// Neither secret is stored: a link's token and a session's id are kept as their SHA-256 (hex), so a copy of
// the database signs nobody in (the one exception: a link's mail waits in the outbox until it is sent, and
// the link stops working 15 minutes after it was asked for). A session's CSRF token is not a credential on its own (it
// is only accepted beside the session's cookie) and is stored as is, to be handed to the page.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.hpp"
#include "common/time.hpp"
#include "store/callback.hpp"
#include "store/outbox.hpp"

namespace gpuopt::store {

struct NewSignInLink {
    int64_t account_id = 0;
    std::string token_hash;  // SHA-256 of the token in the mailed link
    std::string ip;          // who asked, for the account's security view
    SysSeconds now;
    SysSeconds expires_at;
    std::optional<OutboxMessage> mail;  // the mail carrying the link, enqueued in the same transaction
};

struct Session {
    std::string id_hash;  // SHA-256 of the cookie's value
    int64_t account_id = 0;
    std::string csrf_token;
    SysSeconds created_at;
    SysSeconds last_seen_at;
    SysSeconds expires_at;  // the absolute end, whatever the activity
};

class SessionRepository {
public:
    virtual ~SessionRepository() = default;

    // The account that signs in with this (normalised) email, or nullopt when none does (a disabled one does not).
    virtual Result<std::optional<int64_t>> AccountIdForEmail(const std::string& email) = 0;
    // Stores a link; the account's earlier unused links stop working (only the newest signs in).
    virtual void CreateSignInLink(NewSignInLink link, Callback<void> done) = 0;
    // How many links were asked for the account since `since` (the per-address limit on requests).
    virtual Result<int64_t> CountSignInLinks(int64_t account_id, SysSeconds since) = 0;
    // Uses the link once: the account it signs in, or nullopt when the token is unknown, used, replaced by a
    // newer link or expired at `now`. Two redeemers at once: one gets the account.
    virtual void RedeemSignInLink(std::string token_hash, SysSeconds now, Callback<std::optional<int64_t>> done) = 0;

    virtual void CreateSession(Session session, Callback<void> done) = 0;
    // The live session with that id: nullopt when unknown, revoked, past its absolute end, or idle longer
    // than `idle` at `now`.
    virtual Result<std::optional<Session>> FindSession(const std::string& id_hash, SysSeconds now,
                                                       std::chrono::seconds idle) = 0;
    // Records activity (callers write it at most about once a minute per session).
    virtual void TouchSession(std::string id_hash, SysSeconds now, Callback<void> done) = 0;
    // Ends one session (sign out), or every session of the account (sign out everywhere); answers how many.
    virtual void RevokeSession(std::string id_hash, SysSeconds now, Callback<int64_t> done) = 0;
    virtual void RevokeAccountSessions(int64_t account_id, SysSeconds now, Callback<int64_t> done) = 0;
    // Deletes links and sessions that ended before `before`; answers how many rows went.
    virtual void PruneSessions(SysSeconds before, Callback<int64_t> done) = 0;
};

}  // namespace gpuopt::store
