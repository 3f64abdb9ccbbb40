// .env / --config parsing, then the typed configuration: errors are values, never crashes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto kv = gpuopt::ParseKeyValueFile(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.env");
    if (!kv.ok()) return 0;
    std::map<std::string, gpuopt::ConfigValue> values;
    for (const auto& [k, v] : *kv) values[k] = gpuopt::ConfigValue{v, gpuopt::ConfigOrigin::kDotEnv, "fuzz.env"};
    auto config = gpuopt::BuildConfig(values);
    if (!config.ok() && config.error().details.empty()) std::abort();
    return 0;
}
