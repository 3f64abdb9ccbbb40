// A small synchronous Redis client over hiredis for the limits several servers share (SPEC §11).
// Thread-safe: each command borrows a connection from a pool and gives it back only when the command
// succeeded (hiredis cannot reuse a connection after an error). Every call is bounded by a short timeout,
// and after a few failures in a row the client stops trying for a moment (a circuit breaker), so an outage
// costs callers one fast answer, not a timeout per request. The password never reaches a log.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"

struct redisContext;

namespace gpuopt::net {

struct RedisReply {
    enum class Type { kNil, kInteger, kString, kStatus, kArray };
    Type type = Type::kNil;
    long long integer = 0;
    std::string text;  // kString and kStatus
    std::vector<RedisReply> elements;
};

// A Lua script run by EVALSHA: loaded with SCRIPT LOAD on first use, and again when the server answers
// NOSCRIPT (its script cache is empty after a restart or SCRIPT FLUSH).
class RedisScript {
public:
    explicit RedisScript(std::string source) : source_(std::move(source)) {}
    const std::string& source() const { return source_; }

private:
    friend class RedisClient;
    std::string source_;
    std::mutex mu_;
    std::string sha1_;  // as SCRIPT LOAD answered; empty until then
};

class RedisClient {
public:
    struct Options {
        std::chrono::milliseconds timeout{50};     // connect, and each command's reply
        size_t max_idle = 16;                      // connections kept between commands
        int failures_to_open = 3;                  // failures in a row before the breaker opens
        std::chrono::milliseconds open_for{2000};  // calls answered kUnavailable at once, then one probe
    };
    using Clock = std::chrono::steady_clock;

    // Parses redis://[[user]:password@]host[:port][/db]; connects lazily, on the first command.
    static Result<std::unique_ptr<RedisClient>> Create(std::string_view url, Options options);
    ~RedisClient();
    RedisClient(const RedisClient&) = delete;
    RedisClient& operator=(const RedisClient&) = delete;

    // Runs one command (binary-safe arguments). A Redis error reply, a timeout, a refused connection
    // or an open breaker are kUnavailable, with what happened in the message (never the password).
    Result<RedisReply> Command(const std::vector<std::string>& argv);
    Result<RedisReply> Eval(RedisScript& script, const std::vector<std::string>& keys,
                            const std::vector<std::string>& args);

    std::string Describe() const;  // host:port/db, without credentials
    // False while the breaker is open (the last commands failed).
    bool Healthy() const { return consecutive_failures_.load() < options_.failures_to_open; }

private:
    struct Target {
        std::string host;
        int port = 6379;
        int db = 0;
        std::string user;
        std::string password;
    };
    RedisClient(Target target, Options options);

    Result<redisContext*> Borrow(bool& reused);
    void GiveBack(redisContext* c);
    Result<RedisReply> Run(redisContext* c, const std::vector<std::string>& argv);
    void Failed();
    void Succeeded();

    Target target_;
    Options options_;
    std::mutex mu_;
    std::vector<redisContext*> idle_;
    std::atomic<int> consecutive_failures_{0};
    std::atomic<int64_t> open_until_ns_{0};  // steady clock; 0 when closed
};

}  // namespace gpuopt::net
