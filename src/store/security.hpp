// The security log (SPEC §11): refused deliveries, blocked addresses, payments that do not match.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.hpp"
#include "common/time.hpp"
#include "store/callback.hpp"

namespace gpuopt::store {

class SecurityLog {
public:
    virtual ~SecurityLog() = default;

    virtual void RecordSecurityEvent(std::string kind, std::string ip, std::string detail, SysSeconds now,
                                     Callback<void> done) = 0;
};

}  // namespace gpuopt::store
