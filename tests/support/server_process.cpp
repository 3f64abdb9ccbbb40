#include "support/server_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "support/db_snapshot.hpp"

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace gpuopt::testing {

namespace {

std::string ReadAll(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Forks and execs `binary` with the given arguments; stdout/stderr go to log_path.
pid_t Spawn(const std::string& binary, const std::vector<std::string>& args,
            const std::map<std::string, std::string>& env, const std::string& log_path, const std::string& cwd,
            uint64_t file_size_limit = 0) {
    // Everything the child needs is made before fork(): between fork and exec only async-signal-safe
    // calls, since another thread of the test (a fake server) may hold the allocator's lock at the fork.
    // A clean environment: only what the test asks for, so the developer's own settings never leak in.
    std::vector<std::string> env_text;
    for (const auto& [k, v] : env) env_text.push_back(k + "=" + v);
    if (env.count("PATH") == 0) env_text.emplace_back("PATH=/usr/bin:/bin");
    std::vector<char*> envp;
    for (auto& e : env_text) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string bin = binary;
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    argv.push_back(bin.data());
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    const rlimit limit{file_size_limit, file_size_limit};

    const pid_t pid = fork();
    if (pid != 0) return pid;
    if (file_size_limit > 0) {
        // A write past the limit fails (EFBIG, or a short write) instead of raising SIGXFSZ.
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &limit);
    }
    const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
    const int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(127);
    execve(bin.c_str(), argv.data(), envp.data());
    _exit(127);
}

int WaitExit(pid_t pid, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        const pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        struct timespec ts {
            0, 10'000'000
        };
        nanosleep(&ts, nullptr);
    }
    return -1;
}

}  // namespace

TempDir::TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "gpuopt-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
}

TempDir::~TempDir() {
    ReleaseStore(path_);
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

ServerProcess::ServerProcess(Options options) : options_(std::move(options)) {
    const std::string port_file = options_.data_dir + "/port";
    std::filesystem::remove(port_file);
    log_path_ = options_.data_dir + "/server.log";
    std::vector<std::string> args = {
        "serve", "--port", std::to_string(options_.port), "--data-dir", options_.data_dir, "--port-file", port_file};
    for (const auto& a : options_.args) args.push_back(a);
    auto env = options_.env;
    env.emplace("WEB_DIR", std::string(GPUOPT_SOURCE_DIR) + "/web");
    env.emplace("ACCESS_LOG", options_.data_dir + "/access.log");
    env.emplace("LOG_LEVEL", "info");
    if (TestOnPostgres()) env.emplace("DATABASE_URL", StoreLocation(options_.data_dir));
    pid_ = Spawn(GPUOPT_SERVER_BIN, args, env, log_path_, options_.data_dir, options_.file_size_limit);
    if (!options_.wait_ready) return;
    const bool ready = WaitFor([&] {
        std::ifstream in(port_file);
        int p = 0;
        if (in >> p && p > 0) {
            port_ = static_cast<uint16_t>(p);
            return true;
        }
        return waitpid(pid_, nullptr, WNOHANG) == pid_;  // exited early: stop waiting
    });
    if (!ready || port_ == 0) {
        ADD_FAILURE() << "gpuopt did not start; its log:\n" << Log();
    }
}

ServerProcess::~ServerProcess() {
    if (pid_ > 0) Terminate();
}

std::string ServerProcess::Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void ServerProcess::Kill9() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    WaitExit(pid_, std::chrono::seconds(10));
    pid_ = -1;
}

int ServerProcess::Terminate() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int code = WaitExit(pid_, std::chrono::seconds(15));
    if (code == -1) {
        kill(pid_, SIGKILL);
        WaitExit(pid_, std::chrono::seconds(5));
    }
    pid_ = -1;
    return code;
}

std::string ServerProcess::Log() const { return ReadAll(log_path_); }

int RunGpuopt(const std::vector<std::string>& args, const std::map<std::string, std::string>& env, std::string& output,
              const std::string& cwd) {
    auto with_store = env;
    // The command works on the database of the folder it names, as a server started there would.
    for (size_t i = 0; TestOnPostgres() && i + 1 < args.size(); ++i) {
        if (args[i] == "--data-dir") with_store.emplace("DATABASE_URL", StoreLocation(args[i + 1]));
    }
    return RunProgram(GPUOPT_SERVER_BIN, args, with_store, output, cwd);
}

int RunProgram(const std::string& binary, const std::vector<std::string>& args,
               const std::map<std::string, std::string>& env, std::string& output, const std::string& cwd,
               std::chrono::seconds timeout) {
    TempDir tmp;
    const std::string log = tmp.path() + "/out.log";
    const pid_t pid = Spawn(binary, args, env, log, cwd);
    const int code = WaitExit(pid, timeout);
    if (code == -1) {
        kill(pid, SIGKILL);
        WaitExit(pid, std::chrono::seconds(5));
    }
    output = ReadAll(log);
    return code;
}

ChildProcess::ChildProcess(const std::string& binary, const std::vector<std::string>& args,
                           const std::map<std::string, std::string>& env, std::string log_path, const std::string& cwd)
    : log_path_(std::move(log_path)) {
    pid_ = Spawn(binary, args, env, log_path_, cwd);
}

ChildProcess::~ChildProcess() {
    if (pid_ > 0 && exit_code_ == -1) Kill9();
}

bool ChildProcess::Running() {
    if (pid_ <= 0 || exit_code_ != -1) return false;
    return Wait(std::chrono::milliseconds(0)) == -1;
}

int ChildProcess::Wait(std::chrono::milliseconds timeout) {
    if (exit_code_ != -1) return exit_code_;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        const pid_t r = waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            return exit_code_;
        }
        if (std::chrono::steady_clock::now() >= deadline) return -1;
        struct timespec ts {
            0, 5'000'000
        };
        nanosleep(&ts, nullptr);
    }
}

int ChildProcess::Terminate(std::chrono::milliseconds timeout) {
    if (exit_code_ != -1) return exit_code_;
    kill(pid_, SIGTERM);
    const int code = Wait(timeout);
    if (code == -1) Kill9();
    return code;
}

void ChildProcess::Kill9() {
    if (exit_code_ != -1) return;
    kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
}

std::string ChildProcess::Log() const { return ReadAll(log_path_); }

uint16_t FreeLoopbackPort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

}  // namespace gpuopt::testing
