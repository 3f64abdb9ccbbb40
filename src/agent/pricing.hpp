// What each GPU costs per hour, decided once at start-up (SPEC §5): an explicit price, else the cloud
// instance the host runs on priced from the catalog, else the GPU model's default price. When none
// applies the report leaves cost_per_hour out and the server uses its configured default.
#pragma once

#include <optional>
#include <string>

#include "common/price_catalog.hpp"

namespace gpuopt::agent {

struct CloudInstance {
    std::string provider;  // "aws", "gcp", "azure", or as configured
    std::string instance_type;
    std::string region;
};

struct GpuPrice {
    std::optional<double> usd_per_hour;
    std::string source;  // where the figure comes from, for the log and the report
};

// `explicit_price` wins; then `cloud` when the catalog knows its instance type (the instance price
// divided by its GPUs); then the catalog's model matching `gpu_name` and `mem_total_mib`.
GpuPrice PriceGpu(const PriceCatalog& catalog, std::optional<double> explicit_price,
                  const std::optional<CloudInstance>& cloud, const std::string& gpu_name, double mem_total_mib);

}  // namespace gpuopt::agent
