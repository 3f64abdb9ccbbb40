// gpuopt: the server and operator command line in one binary.
//   gpuopt serve [--host H] [--port P] [--data-dir D] [--config FILE] [--threads N] [--port-file F]
//   gpuopt migrate [--data-dir D] [--config FILE]
//   gpuopt migrate --from sqlite:PATH [--to postgresql://...] [--force] [--max-rows N]
//   gpuopt admin set-tier --email E --tier T [--data-dir D] [--config FILE]
//   gpuopt admin create-user|reset-password|list-users|disable-user|enable-user|unlock-user|reset-totp|
//                verify-audit|generate-key|rotate-encryption (server/admin_cli.hpp)
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <future>
#include <iostream>

#include "common/crypto.hpp"
#include "common/email.hpp"
#include "common/log.hpp"
#include "net/http_client.hpp"
#include "server/acquire_cli.hpp"
#include "server/admin_cli.hpp"
#include "server/app.hpp"
#include "server/config_loader.hpp"
#include "store/copy/sqlite_to_postgres.hpp"
#include "store/postgres/connection.hpp"

using namespace gpuopt;

namespace {

int Fail(const Error& e) {
    std::string text = e.message;
    for (const auto& [field, what] : e.details) text = field + " " + what;
    std::cerr << "gpuopt: " << text << "\n";
    return 2;
}

// gpuopt migrate --from sqlite:PATH --to postgresql://...: 0 copied and verified, 3 stopped at --max-rows
// (run again), 1 copied but a table differs, 2 refused or failed.
int CopyDatabase(const std::string& from, const std::string& to, bool force, size_t max_rows) {
    if (from.rfind("sqlite:", 0) != 0) return Fail(Error::Validation("--from", "must be sqlite:PATH"));
    if (to.rfind("postgresql://", 0) != 0 && to.rfind("postgres://", 0) != 0) {
        return Fail(Error::Validation("--to", "must be postgresql://... (or set DATABASE_URL)"));
    }
    store::copy::CopyOptions options;
    options.sqlite_path = from.substr(7);
    options.postgres_url = to;
    options.force = force;
    options.max_rows = max_rows;
    std::cout << "copying " << options.sqlite_path << " into " << store::postgres::RedactUrl(to) << "\n";
    auto report =
        store::copy::CopySqliteToPostgres(options, [](const std::string& line) { std::cout << line << "\n"; });
    if (!report) return Fail(report.error());
    std::cout << report->rows_copied << " rows copied by this run\n";
    if (!report->finished) return 3;
    std::cout << "table                rows (sqlite)  rows (postgresql)  checksum (sqlite)  checksum (postgresql)\n";
    for (const auto& t : report->tables) {
        std::cout << t.table << std::string(t.table.size() < 21 ? 21 - t.table.size() : 1, ' ') << t.source_rows << "  "
                  << t.target_rows << "  " << t.source_hash.substr(0, 16) << "  " << t.target_hash.substr(0, 16)
                  << (t.Same() ? "  ok" : "  DIFFERENT") << "\n";
    }
    if (!report->Verified()) {
        std::cerr << "gpuopt: the copy differs from the source (see above); do not switch DATABASE_URL to it\n";
        return 1;
    }
    std::cout << "verified: every table has the same rows on both sides\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    InitCrypto();
    const net::CurlGlobal curl;  // once, before any thread: gateways, SendGrid, SMTP, alert webhooks
    CLI::App cli{"gpuopt: GPU cost optimisation server and operator tools"};
    cli.set_version_flag("--version", GPUOPT_VERSION);
    cli.require_subcommand(1);

    server::ConfigSources sources;
    std::string host, data_dir, port_file;
    int port = -1, threads = -1;
    auto add_common = [&](CLI::App* sub) {
        sub->add_option("--config", sources.config_file, "KEY=VALUE settings file (no secrets)");
        sub->add_option("--data-dir", data_dir, "folder for the SQLite file and local mail (default ./data)");
    };

    auto* serve = cli.add_subcommand("serve", "Serve the web app and API");
    add_common(serve);
    serve->add_option("--host", host, "address to listen on (default 127.0.0.1)");
    serve->add_option("--port", port, "port to listen on, 0 for any free one (default 5000)")
        ->check(CLI::Range(0, 65535));
    serve->add_option("--threads", threads, "I/O threads (default: one per core)")->check(CLI::Range(1, 256));
    serve->add_option("--port-file", port_file, "write the bound port here once listening");

    auto* migrate = cli.add_subcommand("migrate", "Apply database migrations and exit, or copy SQLite into PostgreSQL");
    add_common(migrate);
    std::string copy_from, copy_to;
    bool copy_force = false;
    size_t copy_max_rows = 0;
    migrate->add_option("--from", copy_from, "copy this database (sqlite:PATH) into --to, resumably, and verify");
    migrate->add_option("--to", copy_to, "the PostgreSQL database to copy into (default: DATABASE_URL)");
    migrate->add_flag("--force", copy_force, "copy into a target that already holds other data");
    migrate->add_option("--max-rows", copy_max_rows, "stop after about this many rows; run again to go on");

    auto* admin = cli.add_subcommand("admin", "Operator tasks");
    admin->require_subcommand(1);
    auto* set_tier = admin->add_subcommand("set-tier", "Change a customer's plan");
    add_common(set_tier);
    std::string email, tier;
    set_tier->add_option("--email", email, "the customer's email")->required();
    set_tier->add_option("--tier", tier, "free, professional or enterprise")->required();

    // Operator accounts and the audit log (server/admin_cli.hpp).
    server::AdminCommand admin_command;
    std::vector<CLI::App*> admin_commands;
    auto add_admin = [&](const char* name, const char* what, bool with_email, bool with_password) {
        auto* sub = admin->add_subcommand(name, what);
        add_common(sub);
        if (with_email) sub->add_option("--email", admin_command.email, "the operator's email")->required();
        if (with_password)
            sub->add_flag("--password-stdin", admin_command.password_stdin,
                          "read the password from stdin's first line");
        admin_commands.push_back(sub);
    };
    add_admin("create-user", "Add an operator account for the admin panel", true, true);
    add_admin("reset-password", "Set an operator's password (also unlocks it and ends its sessions)", true, true);
    add_admin("list-users", "List the operator accounts", false, false);
    add_admin("disable-user", "Stop an operator signing in (ends its sessions)", true, false);
    add_admin("enable-user", "Let a disabled operator sign in again", true, false);
    add_admin("unlock-user", "Clear an operator's failed sign-ins and lock", true, false);
    add_admin("reset-totp", "Remove an operator's second factor (a lost phone)", true, false);
    add_admin("verify-audit", "Check the audit log's hash chain", false, false);
    add_admin("generate-key", "Print a new ENCRYPTION_KEY (Fernet)", false, false);
    add_admin("rotate-encryption", "Seal every sensitive value under the first ENCRYPTION_KEY key", false, false);

    // The acquisition engine from a terminal (server/acquire_cli.hpp).
    auto* acquire = cli.add_subcommand("acquire", "Acquisition: sources, leads, sequences, funnel");
    acquire->require_subcommand(1);
    server::AcquireCommand acquire_command;
    std::vector<CLI::App*> acquire_commands;
    auto add_acquire = [&](const char* name, const char* what) {
        auto* sub = acquire->add_subcommand(name, what);
        add_common(sub);
        acquire_commands.push_back(sub);
        return sub;
    };
    add_acquire("discover", "Look at GitHub and Reddit now and list the best new prospects");
    auto* leads = add_acquire("leads", "List leads, newest first");
    leads->add_option("--source", acquire_command.source, "signup, audit, github, reddit or referral");
    leads->add_option("--status", acquire_command.status, "pending, active, unsubscribed, bounced, ...");
    leads->add_option("--limit", acquire_command.limit, "at most this many (50)")->check(CLI::Range(1, 10000));
    auto* sequences = add_acquire("sequences", "Show the sequences, or pause or resume one");
    sequences->add_option("--pause", acquire_command.pause, "pause this sequence");
    sequences->add_option("--resume", acquire_command.resume, "resume this sequence");
    sequences->add_option("--reason", acquire_command.reason, "why (for the audit log)");
    auto* funnel = add_acquire("funnel", "The funnel by source and by sequence");
    funnel->add_option("--days", acquire_command.days, "over the last N days (30)")->check(CLI::Range(1, 400));

    CLI11_PARSE(cli, argc, argv);

    if (!host.empty()) sources.flags["HOST"] = host;
    if (port >= 0) sources.flags["PORT"] = std::to_string(port);
    if (threads > 0) sources.flags["THREADS"] = std::to_string(threads);
    if (!data_dir.empty()) sources.flags["DATA_DIR"] = data_dir;
    auto config = server::LoadConfig(sources);
    if (!config) return Fail(config.error());
    config->port_file = port_file;
    if (auto r = InitLogging(config->log_level); !r) return Fail(r.error());

    if (serve->parsed()) {
        auto app = server::App::Create(std::move(*config));
        if (!app) return Fail(app.error());
        if (auto r = (*app)->Listen(); !r) return Fail(r.error());
        (*app)->Run();
        return 0;
    }

    if (migrate->parsed() && !copy_from.empty())
        return CopyDatabase(copy_from, copy_to.empty() ? config->database_url : copy_to, copy_force, copy_max_rows);

    auto store = server::OpenStore(*config);
    if (!store) return Fail(store.error());
    if (migrate->parsed()) {
        std::cout << server::DescribeStore(*config) << " is up to date\n";
        (*store)->Close();
        return 0;
    }
    for (auto* sub : acquire_commands) {
        if (!sub->parsed()) continue;
        acquire_command.name = sub->get_name();
        auto settings = acquisition::LoadSettings(config->acquisition.config_file);
        if (!settings) return Fail(settings.error());
        const int status =
            server::RunAcquireCommand(acquire_command, **store, *config, *settings, std::cout, std::cerr);
        (*store)->Close();
        return status;
    }
    for (auto* sub : admin_commands) {
        if (!sub->parsed()) continue;
        admin_command.name = sub->get_name();
        const int status = server::RunAdminCommand(admin_command, **store, *config, std::cin, std::cout, std::cerr);
        (*store)->Close();
        return status;
    }
    if (set_tier->parsed()) {
        const auto named = TierNamed(tier);
        if (!named || config->FindPlan(*named) == nullptr)
            return Fail(Error::Validation("--tier", "must be free, professional or enterprise"));
        std::promise<Result<store::Account>> done;
        (*store)->accounts().SetTier(NormalizeEmail(email), *named,
                                     [&](Result<store::Account> r) { done.set_value(std::move(r)); });
        auto result = done.get_future().get();
        (*store)->Close();
        if (!result) return Fail(result.error());
        std::cout << result->email << " is now on the " << NameOf(result->tier) << " plan\n";
        return 0;
    }
    return 0;
}
