#include "agent/pricing.hpp"

namespace gpuopt::agent {

GpuPrice PriceGpu(const PriceCatalog& catalog, std::optional<double> explicit_price,
                  const std::optional<CloudInstance>& cloud, const std::string& gpu_name, double mem_total_mib) {
    if (explicit_price) return {explicit_price, "configured"};
    if (cloud) {
        if (const InstancePrice* p = catalog.FindInstance(cloud->provider, cloud->instance_type)) {
            return {p->UsdPerGpuHour(), cloud->provider + " " + p->instance_type + " on-demand, " + p->region + " (" +
                                            p->source + ", " + p->as_of + ")"};
        }
    }
    if (const GpuModel* m = catalog.MatchGpu(gpu_name, mem_total_mib)) {
        return {m->usd_per_gpu_hour, "default for " + m->model + " (" + m->source + ", " + m->as_of + ")"};
    }
    return {std::nullopt, "server default"};
}

}  // namespace gpuopt::agent
