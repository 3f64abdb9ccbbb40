// gpuopt-demo backfill: a week of a scenario's history for a new demo account, before `gpuopt serve`
// starts (make demo). Prints the account's API key and the scenario's time zero, for the live agents.
//   gpuopt-demo backfill --scenario scenarios/demo.json [--email E] [--tier T] [--days 7] [--start TIME]
//                        [--data-dir D] [--config FILE]
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <iostream>

#include "common/crypto.hpp"
#include "common/log.hpp"
#include "demo/backfill.hpp"
#include "server/app.hpp"
#include "server/config_loader.hpp"

using namespace gpuopt;

namespace {

int Fail(const Error& e) {
    std::string text = e.message;
    for (const auto& [field, what] : e.details) text = field + " " + what;
    std::cerr << "gpuopt-demo: " << text << "\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    InitCrypto();
    CLI::App cli{"gpuopt-demo: demo data for a GPUOptimizer server"};
    cli.set_version_flag("--version", GPUOPT_VERSION);
    cli.require_subcommand(1);
    auto* backfill = cli.add_subcommand("backfill", "Store a week of a scenario's history for a new account");
    server::ConfigSources sources;
    std::string data_dir, scenario_path, email = "demo@example.com", tier = "professional", start;
    int days = 7;
    backfill->add_option("--config", sources.config_file, "KEY=VALUE settings file (no secrets)");
    backfill->add_option("--data-dir", data_dir, "the server's folder (default ./data)");
    backfill->add_option("--scenario", scenario_path, "the scenario file the live agents replay")->required();
    backfill->add_option("--email", email, "the demo account, created here (default demo@example.com)");
    backfill->add_option("--tier", tier, "its plan (default professional)");
    backfill->add_option("--days", days, "how much history, up to now (default 7)")->check(CLI::Range(1, 7));
    backfill->add_option("--start", start, "the scenario's time zero, RFC 3339 (default --days ago)");
    CLI11_PARSE(cli, argc, argv);

    if (!data_dir.empty()) sources.flags["DATA_DIR"] = data_dir;
    auto config = server::LoadConfig(sources);
    if (!config) return Fail(config.error());
    if (auto r = InitLogging(config->log_level); !r) return Fail(r.error());
    auto scenario = agent::LoadScenario(scenario_path);
    if (!scenario) return Fail(scenario.error());
    demo::BackfillOptions options;
    options.email = email;
    const auto named = TierNamed(tier);
    if (!named || config->FindPlan(*named) == nullptr)
        return Fail(Error::Validation("--tier", "must be free, professional or enterprise"));
    options.tier = *named;
    options.end = UtcNow();
    options.start = options.end - std::chrono::days(days);
    if (!start.empty()) {
        auto t = ParseUtc(start);
        if (!t || *t >= options.end || *t < options.end - std::chrono::days(7))
            return Fail(Error::Validation("--start", "must be a UTC time within the last 7 days"));
        options.start = *t;
    }
    auto catalog = PriceCatalog::Load(config->price_catalog, config->gpu_catalog);
    if (!catalog) return Fail(catalog.error());
    auto store = server::OpenStore(*config);
    if (!store) return Fail(store.error());
    auto done = demo::Backfill(**store, *config, *catalog, *scenario, options);
    (*store)->Close();
    if (!done) return Fail(done.error());
    std::cout << "api_key=" << done->api_key << "\nstart=" << FormatUtc(options.start) << "\nreports=" << done->reports
              << "\nrealized=" << done->tracks_realized << "\n";
    return 0;
}
