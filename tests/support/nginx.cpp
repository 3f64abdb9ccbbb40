#include "support/nginx.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/http_client.hpp"

namespace gpuopt::testing {

namespace {

constexpr const char* kReadyPath = "/__nginx_ready";

std::string FindNginx() {
    std::vector<std::string> dirs = {"/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin", "/sbin"};
    if (const char* path = std::getenv("PATH"); path != nullptr) {
        std::stringstream ss(path);
        for (std::string d; std::getline(ss, d, ':');) {
            if (!d.empty()) dirs.push_back(d);
        }
    }
    for (const auto& d : dirs) {
        const std::string candidate = d + "/nginx";
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return {};
}

std::string ReadAll(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The processes whose parent is `parent` (nginx's worker, under its master).
std::vector<pid_t> ChildrenOf(pid_t parent) {
    std::vector<pid_t> out;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        const std::string stat = ReadAll(entry.path().string() + "/stat");
        const size_t paren = stat.rfind(')');  // "pid (comm) state ppid ..."
        if (paren == std::string::npos) continue;
        std::istringstream rest(stat.substr(paren + 1));
        char state = 0;
        pid_t ppid = 0;
        if (rest >> state >> ppid && ppid == parent) out.push_back(static_cast<pid_t>(std::stoi(name)));
    }
    return out;
}

std::string Config(const std::string& dir, uint16_t port, const std::vector<uint16_t>& upstreams) {
    std::ostringstream c;
    c << "worker_processes 1;\n"
         "daemon off;\n"
         "master_process on;\n"
      << "pid " << dir << "/nginx.pid;\n"
      << "error_log " << dir << "/error.log info;\n"
      << "events { worker_connections 1024; }\n"
         "http {\n"
      << "  log_format upstreams '$remote_addr \"$request\" $status upstream=$upstream_addr "
         "upstream_status=$upstream_status';\n"
      << "  access_log " << dir << "/access.log upstreams;\n"
      << "  client_body_temp_path " << dir << "/tmp/body;\n"
      << "  proxy_temp_path " << dir << "/tmp/proxy;\n"
      << "  client_max_body_size 64m;\n"  // the servers' own body limit is the one that answers
         "  upstream gpuopt {\n";
    for (uint16_t p : upstreams) c << "    server 127.0.0.1:" << p << " max_fails=1 fail_timeout=2s;\n";
    c << "    keepalive 16;\n"
         "  }\n"
         "  server {\n"
      << "    listen 127.0.0.1:" << port << ";\n"
      << "    location = " << kReadyPath << " { return 204; }\n"
      << "    location / {\n"
         "      proxy_pass http://gpuopt;\n"
         "      proxy_http_version 1.1;\n"
         "      proxy_set_header Connection \"\";\n"
         "      proxy_set_header Host $http_host;\n"
         "      proxy_set_header X-Forwarded-For $remote_addr;\n"
         // A refused connection or a timeout goes to the next server; a POST already sent does not
         // (no non_idempotent): the server may have acted on it, and the client decides.
         "      proxy_next_upstream error timeout http_502;\n"
         "      proxy_connect_timeout 1s;\n"
         "      proxy_send_timeout 30s;\n"
         "      proxy_read_timeout 30s;\n"
         "      add_header X-Upstream $upstream_addr always;\n"
         "    }\n"
         "  }\n"
         "}\n";
    return c.str();
}

}  // namespace

bool NginxProcess::Available() { return !FindNginx().empty(); }

NginxProcess::NginxProcess(std::vector<uint16_t> upstreams) : upstreams_(std::move(upstreams)) {
    const std::string binary = FindNginx();
    if (binary.empty()) {
        ADD_FAILURE() << "nginx is not installed (scripts/setup --test)";
        return;
    }
    // Run as root, the master reads the config and opens the logs, and the worker runs as nobody: it must
    // reach the folder (mkdtemp makes it 0700) for the temp files of large bodies.
    ::chmod(dir_.path().c_str(), 0755);
    std::filesystem::create_directories(dir_.path() + "/tmp");
    ::chmod((dir_.path() + "/tmp").c_str(), 0755);
    const std::string conf = dir_.path() + "/nginx.conf";
    for (int attempt = 0; attempt < 3 && !started_; ++attempt) {
        Stop();
        port_ = FreeLoopbackPort();
        {
            std::ofstream out(conf, std::ios::trunc);
            out << Config(dir_.path(), port_, upstreams_);
        }
        // -e: its own error log from the start, before the config names one (the default is /var/log).
        process_ = std::make_unique<ChildProcess>(
            binary, std::vector<std::string>{"-e", dir_.path() + "/error.log", "-p", dir_.path(), "-c", conf},
            std::map<std::string, std::string>{}, dir_.path() + "/nginx.out", dir_.path());
        started_ = WaitFor(
                       [&] {
                           if (!process_->Running()) return true;  // exited: the port was taken, or a bad config
                           return Get(Url(kReadyPath)).status == 204;
                       },
                       std::chrono::seconds(20)) &&
                   process_->Running();
    }
    if (!started_) ADD_FAILURE() << "nginx did not start:\n" << Log();
}

NginxProcess::~NginxProcess() { Stop(); }

void NginxProcess::Stop() {
    if (!process_) return;
    // The worker, in case the master has to be killed and cannot stop it itself.
    const std::vector<pid_t> workers = process_->Running() ? ChildrenOf(process_->pid()) : std::vector<pid_t>{};
    process_->Terminate(std::chrono::seconds(10));  // SIGTERM: the master stops its worker and exits
    for (pid_t w : workers) {
        // Still there, and still nginx (not a new process that took the id): orphaned by a master that did
        // not stop in time.
        if (ReadAll("/proc/" + std::to_string(w) + "/comm").rfind("nginx", 0) == 0) ::kill(w, SIGKILL);
    }
    process_.reset();
}

std::string NginxProcess::Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::string NginxProcess::Log() const {
    std::string out = ReadAll(dir_.path() + "/error.log");
    const std::string stdout_text = ReadAll(dir_.path() + "/nginx.out");
    if (!stdout_text.empty()) out += "\n[stdout/stderr]\n" + stdout_text;
    return out;
}

uint16_t NginxProcess::AnsweredBy(const std::string& x_upstream) {
    const size_t colon = x_upstream.rfind(':');
    if (colon == std::string::npos) return 0;
    const int port = std::atoi(x_upstream.c_str() + colon + 1);
    return port > 0 && port < 65536 ? static_cast<uint16_t>(port) : 0;
}

}  // namespace gpuopt::testing
