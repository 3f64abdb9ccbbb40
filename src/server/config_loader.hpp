// Gathers settings from their sources, in rising precedence: defaults, ./.env, --config FILE, the
// environment, command-line flags; then builds the typed Config (common/config.hpp).
#pragma once

#include <map>
#include <string>

#include "common/config.hpp"

namespace gpuopt::server {

struct ConfigSources {
    std::string dotenv_path = ".env";          // read when present
    std::string config_file;                   // --config; must exist when given
    std::map<std::string, std::string> flags;  // setting name -> value from the command line
    bool read_environment = true;
};

Result<Config> LoadConfig(const ConfigSources& sources);

}  // namespace gpuopt::server
