#include "jobs/leased.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <filesystem>

#include "common/time.hpp"
#include "store/wait.hpp"

namespace gpuopt::jobs {

std::string LeaseHolderName(const std::string& data_dir) {
    std::array<char, 256> host{};
    if (gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
    std::error_code ec;
    const auto dir = std::filesystem::weakly_canonical(data_dir, ec);
    return std::string(host.data()) + ":" + (ec ? data_dir : dir.string());
}

std::function<Result<void>()> Leased(store::LeaseRepository& leases, std::string job, std::string holder,
                                     std::chrono::milliseconds interval, std::function<Result<void>()> task) {
    const auto ttl = std::max(std::chrono::seconds(30), std::chrono::ceil<std::chrono::seconds>(interval * 3));
    return [&leases, job = std::move(job), holder = std::move(holder), ttl, task = std::move(task)]() -> Result<void> {
        const SysSeconds started = UtcNow();
        auto lease =
            store::Wait<std::optional<store::LeaseGrant>>([&](store::Callback<std::optional<store::LeaseGrant>> done) {
                leases.AcquireLease(job, holder, started, ttl, std::move(done));
            });
        if (!lease) return lease.error();
        if (!lease->has_value()) return {};  // another server runs it
        const int64_t token = (*lease)->token;
        auto result = task();
        std::string outcome = result.ok() ? std::string() : result.error().message;
        if (outcome.empty() && !result.ok()) outcome = "failed";
        auto recorded = store::Wait<bool>([&](store::Callback<bool> done) {
            leases.RecordJobRun({0, job, token, holder, started, UtcNow(), std::move(outcome)}, std::move(done));
        });
        if (recorded.ok() && !*recorded) {
            spdlog::warn("job {}: its lease (token {}) was taken over while it ran", job, token);
        }
        return result;
    };
}

}  // namespace gpuopt::jobs
