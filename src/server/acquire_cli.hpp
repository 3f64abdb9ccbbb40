// `gpuopt acquire ...`: the acquisition engine from a terminal (SPEC §9), on the same store and settings as
// the server.
//   discover                                  looks at GitHub and Reddit now (each query once a day, rate
//                                             limits honoured) and prints the best new prospects
//   leads [--source S] [--status S] [--limit N]
//   sequences [--pause NAME | --resume NAME --reason R]   their steps and state; pausing is audited ("cli")
//   funnel [--days N]                         by source and by sequence, as the panel shows it
#pragma once

#include <iosfwd>
#include <string>

#include "acquisition/settings.hpp"
#include "common/config.hpp"
#include "store/database.hpp"

namespace gpuopt::server {

struct AcquireCommand {
    std::string name;  // discover, leads, sequences, funnel
    std::string source;
    std::string status;
    int limit = 50;
    int days = 30;
    std::string pause;
    std::string resume;
    std::string reason;
};

// Runs the command; 0 done, 2 refused or failed (the reason on `err`).
int RunAcquireCommand(const AcquireCommand& command, store::Database& store, const Config& config,
                      const acquisition::Settings& settings, std::ostream& out, std::ostream& err);

}  // namespace gpuopt::server
