// Which cloud instance the agent runs on, from the instance metadata services (AWS IMDSv2 with its
// token step, GCP, Azure), asked in parallel within a total time budget (300 ms by default), so that
// a host on no cloud, where 169.254.169.254 may swallow packets, starts promptly. Proxies are
// bypassed and redirects are not followed.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "agent/pricing.hpp"

namespace gpuopt::agent {

struct MetadataEndpoints {
    std::string aws = "http://169.254.169.254";
    std::string gcp = "http://169.254.169.254";
    std::string azure = "http://169.254.169.254";
    std::chrono::milliseconds budget{300};
};

// nullopt when no service answered like a cloud within the budget.
std::optional<CloudInstance> DetectCloud(const MetadataEndpoints& endpoints);

}  // namespace gpuopt::agent
