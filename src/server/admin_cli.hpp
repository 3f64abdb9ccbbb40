// `gpuopt admin ...`: operator accounts and the audit log from the host, for when the panel cannot be
// reached or has nobody to sign in yet (decision 0027). Every change is an audit row whose actor is the
// host user ("cli").
//   create-user --email E [--password-stdin]   the password from the terminal (asked twice), from stdin, or
//                                             generated and printed once when stdin is neither
//   reset-password --email E [--password-stdin] also clears a lock and ends the operator's sessions
//   list-users
//   disable-user --email E / enable-user --email E
//   unlock-user --email E                     clears the failure count and lock
//   reset-totp --email E                      removes the second factor (a lost phone)
//   verify-audit                              walks the audit log's hash chain
//   generate-key                              prints a new ENCRYPTION_KEY
//   rotate-encryption                         seals every sensitive value under ENCRYPTION_KEY's first key
#pragma once

#include <iosfwd>
#include <string>

#include "common/config.hpp"
#include "store/database.hpp"

namespace gpuopt::server {

struct AdminCommand {
    std::string name;  // "create-user", "reset-password", ...
    std::string email;
    bool password_stdin = false;
};

// Runs the command; its report goes to `out`, problems to `err`. The exit status: 0 done, 1 the audit
// chain is broken, 2 refused or failed.
int RunAdminCommand(const AdminCommand& command, store::Database& store, const Config& config, std::istream& in,
                    std::ostream& out, std::ostream& err);

// An audit row for a command run on the host: actor type "cli", the host user, address "local".
store::AuditEntry CliAudit(std::string action, std::string target);

// The audit chain's HMAC key: derived from SECRET_KEY, or a fixed one without it (the chain then shows
// accidental edits, not deliberate ones by someone who can recompute it).
std::string AuditKeyFor(const Config& config);

}  // namespace gpuopt::server
