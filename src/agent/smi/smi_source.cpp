#include "agent/smi/smi_source.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

extern char** environ;

namespace gpuopt::agent {

namespace {

std::string_view Trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> SplitFields(std::string_view line) {
    std::vector<std::string_view> out;
    size_t start = 0;
    for (;;) {
        const size_t comma = line.find(',', start);
        out.push_back(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return out;
}

// Rejoins the free-text field at `at` when a line has more fields than `expected`.
std::vector<std::string_view> Fields(std::string_view line, size_t expected, size_t at, std::string& joined) {
    auto f = SplitFields(line);
    if (f.size() > expected) {
        const size_t extra = f.size() - expected;
        const char* begin = f[at].data();
        const char* end = f[at + extra].data() + f[at + extra].size();
        joined.assign(begin, end);
        f.erase(f.begin() + static_cast<long>(at) + 1, f.begin() + static_cast<long>(at + extra) + 1);
        f[at] = joined;
    }
    for (auto& x : f) x = Trim(x);
    return f;
}

std::optional<double> Number(std::string_view s) {
    s = Trim(s);
    if (s.empty() || s.front() == '[') return std::nullopt;  // [N/A], [Not Supported], [Unknown Error] ...
    double v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

template <class F>
void ForEachLine(std::string_view text, F f) {
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = Trim(text.substr(start, end - start));
        if (!line.empty()) f(line);
        start = end + 1;
    }
}

constexpr size_t kGpuFieldCount = 11;

}  // namespace

std::vector<GpuSample> ParseSmiGpus(std::string_view csv, std::vector<std::string>* warnings) {
    std::vector<GpuSample> out;
    ForEachLine(csv, [&](std::string_view line) {
        std::string joined;
        const auto f = Fields(line, kGpuFieldCount, 2, joined);
        const auto index = Number(f[0]);
        if (f.size() != kGpuFieldCount || !index || *index < 0 || *index != static_cast<unsigned>(*index)) {
            if (warnings)
                warnings->push_back("nvidia-smi: cannot read line '" + std::string(line.substr(0, 200)) + "'");
            return;
        }
        GpuSample s;
        s.index = static_cast<unsigned>(*index);
        if (!f[1].empty() && f[1].front() != '[') s.uuid = std::string(f[1]);
        s.name = f[2].empty() || f[2].front() == '[' ? "NVIDIA GPU" : std::string(f[2]);
        s.util_gpu = Number(f[3]);
        s.util_mem = Number(f[4]);
        s.mem_used_mib = Number(f[5]);
        s.mem_total_mib = Number(f[6]);
        s.temperature_c = Number(f[7]);
        s.power_w = Number(f[8]);
        s.power_limit_w = Number(f[9]);
        s.sm_clock_mhz = Number(f[10]);
        out.push_back(std::move(s));
    });
    return out;
}

void AttachSmiProcesses(std::string_view csv, std::vector<GpuSample>& gpus, std::vector<std::string>* warnings) {
    for (auto& g : gpus) g.processes.emplace();
    ForEachLine(csv, [&](std::string_view line) {
        if (line.find("No running") != std::string_view::npos) return;  // older drivers print a sentence
        std::string joined;
        const auto f = Fields(line, 4, 2, joined);
        const auto pid = Number(f.size() == 4 ? f[1] : std::string_view{});
        if (f.size() != 4 || !pid || *pid < 0) {
            if (warnings)
                warnings->push_back("nvidia-smi: cannot read process line '" + std::string(line.substr(0, 200)) + "'");
            return;
        }
        for (auto& g : gpus) {
            if (g.uuid != f[0]) continue;
            GpuProcess p;
            p.pid = static_cast<uint32_t>(*pid);
            p.name = f[2].empty() || f[2].front() == '[' ? std::string() : std::string(f[2]);
            p.used_mib = Number(f[3]);
            g.processes->push_back(std::move(p));
        }
    });
}

Result<std::string> RunCapture(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
    int out_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0)
        return Error{ErrorCode::kInternal, "pipe: " + std::string(strerror(errno)), {}};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out_pipe[1]);
    if (rc != 0) {
        close(out_pipe[0]);
        return Error{ErrorCode::kUnavailable, "cannot run " + argv[0] + ": " + strerror(rc), {}};
    }
    std::string output;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool timed_out = false;
    char buffer[4096];
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            timed_out = true;
            break;
        }
        pollfd p{out_pipe[0], POLLIN, 0};
        const int ready = poll(&p, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) {
            timed_out = ready == 0;
            break;
        }
        const ssize_t n = read(out_pipe[0], buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        output.append(buffer, static_cast<size_t>(n));
        if (output.size() > 16 * 1024 * 1024) {
            timed_out = true;  // not a CSV we want
            break;
        }
    }
    close(out_pipe[0]);
    if (timed_out) kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out)
        return Error{
            ErrorCode::kUnavailable, argv[0] + " did not answer within " + std::to_string(timeout.count()) + " ms", {}};
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return Error{ErrorCode::kUnavailable, argv[0] + " failed (status " + std::to_string(status) + ")", {}};
    }
    return output;
}

Result<std::unique_ptr<SmiSource>> SmiSource::Open(std::string program, std::chrono::milliseconds timeout) {
    std::unique_ptr<SmiSource> source(new SmiSource(std::move(program), timeout));
    auto first = source->Sample(std::chrono::system_clock::now());
    if (!first) return first.error();
    if (first->gpus.empty()) return Error{ErrorCode::kUnavailable, source->program_ + " lists no GPU", {}};
    return source;
}

std::string SmiSource::Describe() const {
    return program_ + " (NVML could not be loaded), " + std::to_string(gpus_seen_) + " GPU(s)";
}

Result<SampleSet> SmiSource::Sample(std::chrono::system_clock::time_point) {
    auto gpus_csv =
        RunCapture({program_, "--query-gpu=" + std::string(kSmiGpuFields), "--format=csv,noheader,nounits"}, timeout_);
    if (!gpus_csv) return gpus_csv.error();
    std::vector<std::string> warnings;
    SampleSet set;
    set.gpus = ParseSmiGpus(*gpus_csv, &warnings);
    auto apps_csv = RunCapture(
        {program_, "--query-compute-apps=" + std::string(kSmiProcessFields), "--format=csv,noheader,nounits"},
        timeout_);
    if (apps_csv) {
        AttachSmiProcesses(*apps_csv, set.gpus, &warnings);
    } else {
        spdlog::debug("{}: no process list: {}", program_, apps_csv.error().message);
    }
    for (const auto& w : warnings) spdlog::warn("{}", w);
    gpus_seen_ = set.gpus.size();
    return set;
}

}  // namespace gpuopt::agent
