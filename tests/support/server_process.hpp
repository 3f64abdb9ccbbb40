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

// Any program of ours run by a test: a clean environment (only PATH and what the test passes), stdout
// and stderr appended to `log_path`.
class ChildProcess {
public:
    ChildProcess(const std::string& binary, const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env, std::string log_path, const std::string& cwd = "");
    ~ChildProcess();  // SIGKILL if it still runs
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const { return pid_; }
    bool Running();
    // The exit code (128 + signal when killed), or -1 if it still runs after `timeout`.
    int Wait(std::chrono::milliseconds timeout);
    int Terminate(std::chrono::milliseconds timeout = std::chrono::seconds(15));  // SIGTERM, then wait
    void Kill9();
    std::string Log() const;

private:
    pid_t pid_ = -1;
    int exit_code_ = -1;
    std::string log_path_;
};

// A loopback port nothing listens on now; whoever binds it next may still lose the race (callers retry).
uint16_t FreeLoopbackPort();

class ServerProcess {
public:
    struct Options {
        std::string data_dir;                    // required
        std::map<std::string, std::string> env;  // extra environment
        std::vector<std::string> args;           // extra arguments after "serve"
        bool wait_ready = true;
        uint16_t port = 0;  // 0: any free port
        // RLIMIT_FSIZE for the server: no file it writes may grow past this many bytes, as on a full disk.
        uint64_t file_size_limit = 0;  // 0: none
    };

    // Starts `gpuopt serve --port <port>` with a port file in data_dir and waits (20 s at most) until it
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
int RunGpuopt(const std::vector<std::string>& args, const std::map<std::string, std::string>& env, std::string& output,
              const std::string& cwd = "");
// The same for any program.
int RunProgram(const std::string& binary, const std::vector<std::string>& args,
               const std::map<std::string, std::string>& env, std::string& output, const std::string& cwd = "",
               std::chrono::seconds timeout = std::chrono::seconds(30));

// Polls `condition` until it holds or `timeout` passes.
template <class F>
bool WaitFor(F condition, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        struct timespec ts {
            0, 10'000'000
        };
        nanosleep(&ts, nullptr);
    }
    return condition();
}

}  // namespace gpuopt::testing
