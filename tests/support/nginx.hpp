// nginx in front of several servers, as a deployment puts it (SPEC §12, docs/deploy.md): Debian's nginx
// (scripts/setup --test) with a config of its own in a fresh folder, one worker, listening on a free
// loopback port and proxying every path to the given upstream ports round-robin, over keep-alive
// connections. An upstream that refuses a connection is marked down for 2 s and the request goes to the
// next one; a request already sent (a POST whose server died) is not sent again: the client gets the 502.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/server_process.hpp"

namespace gpuopt::testing {

class NginxProcess {
public:
    // Whether an nginx binary is installed (tests skip without one).
    static bool Available();

    // Starts nginx in front of 127.0.0.1:<each upstream port> and waits (20 s at most) until it answers.
    // Fails the current test (ADD_FAILURE) if it does not.
    explicit NginxProcess(std::vector<uint16_t> upstreams);
    ~NginxProcess();  // stops the master and its worker
    NginxProcess(const NginxProcess&) = delete;
    NginxProcess& operator=(const NginxProcess&) = delete;

    bool Started() const { return started_; }
    uint16_t port() const { return port_; }
    std::string Url(const std::string& path) const;
    // Its error log (upstream failures, at info level and above) and what it wrote to stdout/stderr.
    std::string Log() const;

    // Every response carries X-Upstream: the upstream address(es) nginx tried, "127.0.0.1:PORT[, ...]".
    // The port of the last one (the one that answered), or 0 for none (nginx answered itself).
    static uint16_t AnsweredBy(const std::string& x_upstream);

private:
    void Stop();

    TempDir dir_;
    std::vector<uint16_t> upstreams_;
    std::unique_ptr<ChildProcess> process_;
    uint16_t port_ = 0;
    bool started_ = false;
};

}  // namespace gpuopt::testing
