// A scripted HTTP/1.1 server on 127.0.0.1 for tests: the fakes of services we cannot reach (cloud
// metadata, gateways, webhooks receivers) and scripted answers (5xx, 429) for our own clients. Each
// connection runs on its own thread; the handler runs there and may block. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gpuopt::testing {

struct FakeRequest {
    std::string method;
    std::string target;                          // path and query
    std::map<std::string, std::string> headers;  // names lowercased
    std::string body;
    std::chrono::steady_clock::time_point received;

    std::string Header(const std::string& lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? std::string() : it->second;
    }
};

struct FakeResponse {
    int status = 200;
    std::string body;
    std::map<std::string, std::string> headers;
    bool hang = false;  // never answer (until the server is destroyed): a black hole
};

class FakeHttpServer {
public:
    using Handler = std::function<FakeResponse(const FakeRequest&)>;

    explicit FakeHttpServer(Handler handler);
    ~FakeHttpServer();
    FakeHttpServer(const FakeHttpServer&) = delete;
    FakeHttpServer& operator=(const FakeHttpServer&) = delete;

    uint16_t port() const { return port_; }
    std::string Url(const std::string& path = "") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

    std::vector<FakeRequest> Requests() const;
    size_t Count() const;

private:
    struct Impl;
    void Serve(int fd);

    Handler handler_;
    uint16_t port_ = 0;
    int listen_fd_ = -1;
    std::atomic<bool> stopping_{false};
    std::thread acceptor_;
    mutable std::mutex mu_;
    std::condition_variable stop_cv_;
    std::vector<FakeRequest> requests_;
    std::vector<std::thread> connections_;
    std::vector<int> open_fds_;
};

}  // namespace gpuopt::testing
