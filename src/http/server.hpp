// The HTTP server: an acceptor and one C++20 coroutine per connection, on a pool of threads.
// Each connection is a keep-alive loop with a read timeout on every read, limits on header and body
// size, security headers on every response, a JSON access-log line per request, and the JSON error
// envelope for every failure (including the ones found before routing: 400, 404, 405, 413, 415, 431).
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/config.hpp"
#include "common/log.hpp"
#include "common/result.hpp"
#include "http/address_guard.hpp"
#include "http/metrics.hpp"
#include "http/router.hpp"
#include "http/static_files.hpp"

namespace gpuopt::http {

struct ServerOptions {
    size_t max_body_bytes = 1024 * 1024;
    size_t max_header_bytes = 8 * 1024;
    std::chrono::seconds read_timeout{30};
    std::chrono::seconds keepalive_timeout{75};
    std::chrono::seconds shutdown_grace{10};
    std::vector<Cidr> trusted_proxies;
    std::filesystem::path web_dir;  // empty: no static files
    int threads = 1;                // one event loop per thread, connections spread across them
    // Addresses blocked after repeated authentication failures get 429 on every route but the always-open
    // ones (may be null). Must outlive the server.
    AddressGuard* guard = nullptr;
};

class Server {
public:
    // `metrics` (may be null) must be made from the same route table and outlive the server.
    Server(ServerOptions options, Router router, AccessLog* access_log, RequestMetrics* metrics = nullptr);
    ~Server();

    // Binds and starts accepting. Returns the bound port (useful with port 0).
    Result<uint16_t> Listen(const std::string& host, uint16_t port);

    // Runs the event loops, one per thread (this one included), until Stop() has finished.
    void Run();

    // Thread-safe and idempotent. Stops accepting, lets requests in flight finish (their responses
    // say Connection: close), closes idle connections, and force-closes whatever is left after the
    // grace period. Run() returns once every connection has ended.
    void Stop();

    // The loop that runs the acceptor, signals and timers (connections run on all loops).
    boost::asio::io_context& io() { return io_; }
    const Router& router() const { return router_; }
    // Connections open now (thread-safe).
    size_t OpenConnections();

private:
    struct Session;
    boost::asio::awaitable<void> AcceptLoop();
    boost::asio::awaitable<void> RunSession(std::shared_ptr<Session> session);
    boost::asio::awaitable<void> ServeConnection(std::shared_ptr<Session> session);
    boost::asio::awaitable<Response> Dispatch(Request& request, RequestContext& ctx);
    void Finish(Response& res, bool head, bool keep_alive) const;
    void LogAccess(const Request* req, std::string_view client_ip, const Response& res,
                   std::chrono::steady_clock::time_point start, std::string_view principal) const;
    void SessionEnded(Session* session);

    ServerOptions options_;
    Router router_;
    StaticFiles static_files_;
    AccessLog* access_log_;
    RequestMetrics* metrics_;
    // One io_context per thread, each run by exactly that thread: connections need no strand and the
    // loops share no locks. io_ is loop 0 and also owns the acceptor.
    boost::asio::io_context io_{1};
    std::vector<std::unique_ptr<boost::asio::io_context>> workers_;
    std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> worker_guards_;
    size_t next_loop_ = 0;
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::steady_timer grace_timer_;
    std::atomic<bool> stopping_{false};
    std::mutex sessions_mu_;
    std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
};

}  // namespace gpuopt::http
