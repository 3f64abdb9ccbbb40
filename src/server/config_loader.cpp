#include "server/config_loader.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace gpuopt::server {

namespace {

Result<std::string> ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error::Validation("--config", "cannot read " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

Result<void> AddFile(const std::string& path, ConfigOrigin origin, std::map<std::string, ConfigValue>& values) {
    auto text = ReadFile(path);
    if (!text) return text.error();
    auto kv = ParseKeyValueFile(*text, path);
    if (!kv) return kv.error();
    for (auto& [k, v] : *kv) values[k] = ConfigValue{std::move(v), origin, path};
    return {};
}

}  // namespace

Result<Config> LoadConfig(const ConfigSources& sources) {
    std::map<std::string, ConfigValue> values;
    std::error_code ec;
    if (!sources.dotenv_path.empty() && std::filesystem::is_regular_file(sources.dotenv_path, ec)) {
        if (auto r = AddFile(sources.dotenv_path, ConfigOrigin::kDotEnv, values); !r) return r.error();
    }
    if (!sources.config_file.empty()) {
        if (auto r = AddFile(sources.config_file, ConfigOrigin::kConfigFile, values); !r) return r.error();
    }
    if (sources.read_environment) {
        for (const auto& name : KnownSettingNames()) {
            if (const char* v = std::getenv(name.c_str()); v != nullptr) {
                values[name] = ConfigValue{v, ConfigOrigin::kEnvironment, "the environment"};
            }
        }
    }
    for (const auto& [k, v] : sources.flags) values[k] = ConfigValue{v, ConfigOrigin::kFlag, "the command line"};
    return BuildConfig(values);
}

}  // namespace gpuopt::server
