// Starts the real gpuopt binary for a test and stops it again.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace gpuopt::testing {

// A fresh folder under the system temp dir, removed by the destructor.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

class ServerProcess {
public:
    struct Options {
        std::string data_dir;                    // required
        std::map<std::string, std::string> env;  // extra environment
        std::vector<std::string> args;           // extra arguments after "serve"
        bool wait_ready = true;
    };

    // Starts `gpuopt serve --port 0` with a port file in data_dir and waits (20 s at most) until it
    // listens. Fails the current test (ADD_FAILURE) if it does not.
    explicit ServerProcess(Options options);
    ~ServerProcess();  // SIGTERM, then SIGKILL after 10 s

    uint16_t port() const { return port_; }
    std::string Url(const std::string& path) const;
    pid_t pid() const { return pid_; }

    void Kill9();             // abrupt: no cleanup at all
    int Terminate();          // SIGTERM and wait; returns the exit status (-1 on timeout)
    std::string Log() const;  // everything it wrote to stdout and stderr

private:
    Options options_;
    pid_t pid_ = -1;
    uint16_t port_ = 0;
    std::string log_path_;
};

// Runs gpuopt with `args` to completion; returns the exit code and fills `output` (stdout+stderr).
int RunGpuopt(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
              std::string& output, const std::string& cwd = "");

// Polls `condition` until it holds or `timeout` passes.
template <class F>
bool WaitFor(F condition, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        struct timespec ts{0, 10'000'000};
        nanosleep(&ts, nullptr);
    }
    return condition();
}

}  // namespace gpuopt::testing
