// gpuopt: the server and operator command line in one binary.
//   gpuopt serve [--host H] [--port P] [--data-dir D] [--config FILE] [--threads N] [--port-file F]
//   gpuopt migrate [--data-dir D] [--config FILE]
//   gpuopt admin set-tier --email E --tier T [--data-dir D] [--config FILE]
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <future>
#include <iostream>

#include "common/crypto.hpp"
#include "common/email.hpp"
#include "common/log.hpp"
#include "net/http_client.hpp"
#include "server/app.hpp"
#include "server/config_loader.hpp"

using namespace gpuopt;

namespace {

int Fail(const Error& e) {
    std::string text = e.message;
    for (const auto& [field, what] : e.details) text = field + " " + what;
    std::cerr << "gpuopt: " << text << "\n";
    return 2;
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

    auto* migrate = cli.add_subcommand("migrate", "Apply database migrations and exit");
    add_common(migrate);

    auto* admin = cli.add_subcommand("admin", "Operator tasks");
    admin->require_subcommand(1);
    auto* set_tier = admin->add_subcommand("set-tier", "Change a customer's plan");
    add_common(set_tier);
    std::string email, tier;
    set_tier->add_option("--email", email, "the customer's email")->required();
    set_tier->add_option("--tier", tier, "free, professional or enterprise")->required();

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

    auto store = server::OpenStore(*config);
    if (!store) return Fail(store.error());
    if (migrate->parsed()) {
        std::cout << server::DescribeStore(*config) << " is up to date\n";
        (*store)->Close();
        return 0;
    }
    if (set_tier->parsed()) {
        if (config->FindPlan(tier) == nullptr)
            return Fail(Error::Validation("--tier", "must be free, professional or enterprise"));
        std::promise<Result<store::Account>> done;
        (*store)->accounts().SetTier(NormalizeEmail(email), tier,
                                     [&](Result<store::Account> r) { done.set_value(std::move(r)); });
        auto result = done.get_future().get();
        (*store)->Close();
        if (!result) return Fail(result.error());
        std::cout << result->email << " is now on the " << result->tier << " plan\n";
        return 0;
    }
    return 0;
}
