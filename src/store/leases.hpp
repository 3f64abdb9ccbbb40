// Periodic jobs across several servers (decision 0016): a job runs where its lease is held. A lease is
// held until it expires; its holder renews it at every run; another process takes it only once it has
// expired (a holder that crashed or was stopped) or was given back. Every change of hands gets a fencing
// token greater than any before, and every run is recorded with the token it ran under: a run whose token
// is no longer the lease's (its holder stalled past the expiry and another took over) is told so.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "common/time.hpp"
#include "store/callback.hpp"

namespace gpuopt::store {

struct LeaseGrant {
    int64_t token = 0;  // the same while one holder keeps renewing; greater after every change of hands
    SysSeconds expires;
};

struct JobRun {
    int64_t id = 0;
    std::string job;
    int64_t token = 0;
    std::string holder;
    SysSeconds started;
    SysSeconds finished;
    std::string result;  // "" when the run succeeded, else its error (at most 500 bytes)
};

class LeaseRepository {
public:
    virtual ~LeaseRepository() = default;

    // Takes or renews the lease `job` for `holder` until now + ttl: granted when it is free, expired, or
    // held by `holder` already; nullopt while another holder's lease runs.
    virtual void AcquireLease(std::string job, std::string holder, SysSeconds now, std::chrono::seconds ttl,
                              Callback<std::optional<LeaseGrant>> done) = 0;
    // Gives the lease back (only its holder can), so that another process takes over at once.
    virtual void ReleaseLease(std::string job, std::string holder, Callback<void> done) = 0;
    // Records a finished run. False when `token` is no longer the lease's: the run was fenced off (another
    // holder took over while it ran), and it is recorded as such.
    virtual void RecordJobRun(JobRun run, Callback<bool> done) = 0;
    // The job's latest runs, newest first.
    virtual Result<std::vector<JobRun>> ListJobRuns(const std::string& job, size_t limit) = 0;
};

}  // namespace gpuopt::store
