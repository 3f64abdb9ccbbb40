// Periodic jobs on several servers: each run of a job first takes (or renews) the job's lease in the
// database (store/leases.hpp, decision 0016), so that across the cluster one process runs it. The lease
// lasts three intervals (at least 30 s): a holder that crashed is replaced within that time.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "common/result.hpp"
#include "store/leases.hpp"

namespace gpuopt::jobs {

// A server's name as a lease holder: "<host>:<data dir>". The same after a restart, so a server that
// crashed takes its own leases back at once instead of waiting for them to run out; different for every
// server of a cluster (another host, or another data dir on the same host).
std::string LeaseHolderName(const std::string& data_dir);

// `task`, run only while this process holds the job's lease; skipped (not a failure) while another holds
// it. Each run is recorded with its lease token; a run whose lease was taken over meanwhile is logged.
std::function<Result<void>()> Leased(store::LeaseRepository& leases, std::string job, std::string holder,
                                     std::chrono::milliseconds interval, std::function<Result<void>()> task);

}  // namespace gpuopt::jobs
