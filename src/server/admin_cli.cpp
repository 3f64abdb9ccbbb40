#include "server/admin_cli.hpp"

#include <pwd.h>
#include <termios.h>
#include <unistd.h>

#include <future>
#include <iostream>

#include "common/crypto.hpp"
#include "common/email.hpp"
#include "common/fernet.hpp"
#include "common/json.hpp"
#include "common/password.hpp"

namespace gpuopt::server {

namespace {

std::string HostUser() {
    if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr && pw->pw_name != nullptr) return pw->pw_name;
    return "uid " + std::to_string(::getuid());
}

// One line from the terminal with echo off.
std::optional<std::string> ReadHidden(const std::string& prompt, std::ostream& err) {
    termios old{};
    if (::tcgetattr(STDIN_FILENO, &old) != 0) return std::nullopt;
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    err << prompt << std::flush;
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    std::string line;
    const bool got = static_cast<bool>(std::getline(std::cin, line));
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    err << "\n";
    if (!got) return std::nullopt;
    return line;
}

// The new password: from stdin (--password-stdin), asked twice on a terminal, or generated and printed once.
Result<std::string> NewPassword(const AdminCommand& command, std::istream& in, std::ostream& out, std::ostream& err) {
    std::string chosen;
    if (command.password_stdin) {
        if (!std::getline(in, chosen)) return Error::Validation("--password-stdin", "read no line from stdin");
        if (!chosen.empty() && chosen.back() == '\r') chosen.pop_back();
    } else if (::isatty(STDIN_FILENO) != 0) {
        auto first = ReadHidden(
            "New password (at least " + std::to_string(password::kMinLength) + " characters; empty to generate one): ",
            err);
        if (!first) return Error::Validation("password", "could not be read from the terminal");
        if (!first->empty()) {
            auto again = ReadHidden("The same again: ", err);
            if (!again || *again != *first) return Error::Validation("password", "the two entries differ");
        }
        chosen = std::move(*first);
    }
    if (chosen.empty()) {
        chosen = password::Generate();
        out << "generated password (shown once; keep it in your password manager): " << chosen << "\n";
    }
    if (auto weak = password::Weakness(chosen, command.email)) return Error::Validation("password", *weak);
    return chosen;
}

template <class T, class Start>
Result<T> Wait(Start start) {
    std::promise<Result<T>> done;
    start([&done](Result<T> r) { done.set_value(std::move(r)); });
    return done.get_future().get();
}

int Fail(std::ostream& err, const Error& e) {
    std::string text = e.message;
    for (const auto& [field, what] : e.details) text = field + " " + what;
    err << "gpuopt: " << text << "\n";
    return 2;
}

std::string Describe(const store::AdminUser& u, SysSeconds now) {
    std::string state = u.disabled ? "disabled" : "active";
    if (u.locked_until && *u.locked_until > now) state = "locked until " + FormatUtc(*u.locked_until);
    return std::to_string(u.id) + "  " + u.email + "  " + state +
           "  second factor: " + (u.totp_secret.empty() ? "off" : "on") +
           "  last sign-in: " + (u.last_login_at ? FormatUtc(*u.last_login_at) : std::string("never"));
}

}  // namespace

std::string AuditKeyFor(const Config& config) {
    return config.secret_key.empty() ? std::string("gpuopt audit log (no SECRET_KEY)")
                                     : HmacSha256Hex(config.secret_key, "gpuopt audit log");
}

store::AuditEntry CliAudit(std::string action, std::string target) {
    store::AuditEntry entry;
    entry.at = UtcNow();
    entry.actor_type = "cli";
    entry.actor = HostUser();
    entry.action = std::move(action);
    entry.target = std::move(target);
    entry.ip = "local";
    return entry;
}

int RunAdminCommand(const AdminCommand& command, store::Database& store, const Config& config, std::istream& in,
                    std::ostream& out, std::ostream& err) {
    auto& admin = store.admin();
    const std::string email = NormalizeEmail(command.email);
    const auto now = UtcNow();

    if (command.name == "generate-key") {
        out << Fernet::GenerateKey() << "\n";
        return 0;
    }
    if (command.name == "rotate-encryption") {
        if (config.encryption_key.empty()) {
            return Fail(err, Error::Validation("ENCRYPTION_KEY", "is not set: there is no key to encrypt with"));
        }
        auto rotated = Wait<int64_t>(
            [&](auto done) { admin.RotateEncryption(CliAudit("crypto.rotate", "encryption_key"), std::move(done)); });
        if (!rotated) return Fail(err, rotated.error());
        out << *rotated << " value(s) sealed under the first ENCRYPTION_KEY key; keys after it can be dropped once "
            << "backups made before now have expired\n";
        return 0;
    }
    if (command.name == "list-users") {
        auto users = admin.ListAdminUsers();
        if (!users) return Fail(err, users.error());
        if (users->empty()) out << "no operator accounts yet: gpuopt admin create-user --email you@example.com\n";
        for (const auto& u : *users) out << Describe(u, now) << "\n";
        return 0;
    }
    if (command.name == "verify-audit") {
        auto checked = admin.VerifyAuditChain();
        if (!checked) return Fail(err, checked.error());
        if (checked->first_broken_id) {
            err << "gpuopt: the audit log's chain breaks at row " << *checked->first_broken_id << " of "
                << checked->rows << ": a row was changed or removed outside gpuopt (or SECRET_KEY changed)\n";
            return 1;
        }
        out << checked->rows << " audit rows, chain intact\n";
        return 0;
    }

    if (!IsValidEmail(email)) return Fail(err, Error::Validation("--email", "is not a valid e-mail address"));
    if (command.name == "create-user") {
        auto existing = admin.FindAdminUser(email);
        if (!existing) return Fail(err, existing.error());
        if (*existing) return Fail(err, Error{ErrorCode::kAlreadyExists, email + " is an operator already", {}});
        auto chosen = NewPassword(command, in, out, err);
        if (!chosen) return Fail(err, chosen.error());
        auto hash = password::Hash(*chosen);
        if (!hash) return Fail(err, hash.error());
        store::AdminUser user;
        user.email = email;
        user.password_hash = std::move(*hash);
        user.created_at = now;
        auto audit = CliAudit("admin.create", "");
        audit.after = ToJson(boost::json::object{{"email", email}});
        auto made = Wait<store::AdminUser>(
            [&](auto done) { admin.CreateAdminUser(std::move(user), std::move(audit), std::move(done)); });
        if (!made) return Fail(err, made.error());
        out << "operator " << made->email << " created (id " << made->id << "); sign in at " << config.base_url
            << "/admin and turn on the second factor there\n";
        return 0;
    }

    auto found = admin.FindAdminUser(email);
    if (!found) return Fail(err, found.error());
    if (!*found) return Fail(err, Error{ErrorCode::kNotFound, "no operator account for " + email, {}});
    const store::AdminUser& user = **found;
    store::AdminUserChange change;
    change.admin_id = user.id;
    change.now = now;
    std::string action;
    std::string before, after;
    if (command.name == "reset-password") {
        auto chosen = NewPassword(command, in, out, err);
        if (!chosen) return Fail(err, chosen.error());
        auto hash = password::Hash(*chosen);
        if (!hash) return Fail(err, hash.error());
        change.password_hash = std::move(*hash);
        change.unlock = true;
        action = "admin.password.reset";
    } else if (command.name == "disable-user" || command.name == "enable-user") {
        change.disabled = command.name == "disable-user";
        action = *change.disabled ? "admin.disable" : "admin.enable";
        before = std::string(R"({"disabled":)") + (user.disabled ? "true" : "false") + "}";
        after = std::string(R"({"disabled":)") + (*change.disabled ? "true" : "false") + "}";
    } else if (command.name == "unlock-user") {
        change.unlock = true;
        action = "admin.unlock";
        before = R"({"failed_logins":)" + std::to_string(user.failed_logins) + R"(,"locked_until":)" +
                 (user.locked_until ? "\"" + FormatUtc(*user.locked_until) + "\"" : std::string("null")) + "}";
        after = R"({"failed_logins":0,"locked_until":null})";
    } else if (command.name == "reset-totp") {
        change.totp_secret = std::string();
        action = "admin.totp.reset";
        before = std::string(R"({"second_factor":)") + (user.totp_secret.empty() ? "false" : "true") + "}";
        after = R"({"second_factor":false})";
    } else {
        return Fail(err, Error::Validation("command", "unknown: " + command.name));
    }
    auto audit = CliAudit(action, "admin:" + std::to_string(user.id));
    audit.before = std::move(before);
    audit.after = std::move(after);
    auto changed = Wait<store::AdminUser>(
        [&](auto done) { admin.ChangeAdminUser(std::move(change), std::move(audit), std::move(done)); });
    if (!changed) return Fail(err, changed.error());
    out << Describe(*changed, now) << "\n";
    return 0;
}

}  // namespace gpuopt::server
