#include "net/redis.hpp"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <boost/url/parse.hpp>
#include <charconv>

namespace gpuopt::net {

namespace {

timeval ToTimeval(std::chrono::milliseconds ms) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
    return tv;
}

Error Unavailable(std::string what) { return Error{ErrorCode::kUnavailable, "Redis: " + std::move(what), {}}; }

// hiredis' reply tree, copied into ours (its reply is freed by the caller). An error reply is returned as
// its text with `is_error`.
RedisReply Convert(const redisReply* r, bool& is_error, std::string& error_text) {
    RedisReply out;
    switch (r->type) {
        case REDIS_REPLY_INTEGER:
            out.type = RedisReply::Type::kInteger;
            out.integer = r->integer;
            break;
        case REDIS_REPLY_STRING:
            out.type = RedisReply::Type::kString;
            out.text.assign(r->str, r->len);
            break;
        case REDIS_REPLY_STATUS:
            out.type = RedisReply::Type::kStatus;
            out.text.assign(r->str, r->len);
            break;
        case REDIS_REPLY_ARRAY:
            out.type = RedisReply::Type::kArray;
            out.elements.reserve(r->elements);
            for (size_t i = 0; i < r->elements; ++i)
                out.elements.push_back(Convert(r->element[i], is_error, error_text));
            break;
        case REDIS_REPLY_ERROR:
            is_error = true;
            error_text.assign(r->str, r->len);
            break;
        default:
            break;
    }
    return out;
}

int64_t NowNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(RedisClient::Clock::now().time_since_epoch()).count();
}

}  // namespace

Result<std::unique_ptr<RedisClient>> RedisClient::Create(std::string_view url, Options options) {
    auto u = boost::urls::parse_absolute_uri(url);
    if (!u || u->scheme() != "redis" || !u->has_authority() || u->host().empty()) {
        return Error::Validation("REDIS_URL", "must be redis://[[user]:password@]host[:port][/db]");
    }
    Target t;
    t.host = u->host();
    if (t.host.size() > 2 && t.host.front() == '[' && t.host.back() == ']')
        t.host = t.host.substr(1, t.host.size() - 2);
    if (u->has_port()) {
        const auto port = u->port();
        int p = 0;
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
        if (ec != std::errc() || end != port.data() + port.size() || p < 1 || p > 65535)
            return Error::Validation("REDIS_URL", "the port must be 1-65535");
        t.port = p;
    }
    if (u->has_userinfo()) {
        t.user = u->user();
        t.password = u->password();
    }
    std::string path = u->path();
    if (!path.empty() && path != "/") {
        const std::string db = path.substr(1);
        auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), t.db);
        if (ec != std::errc() || end != db.data() + db.size() || t.db < 0 || t.db > 255)
            return Error::Validation("REDIS_URL", "the path must be a database number, e.g. /0");
    }
    if (!u->query().empty()) return Error::Validation("REDIS_URL", "takes no query (TLS is not supported)");
    return std::unique_ptr<RedisClient>(new RedisClient(std::move(t), options));
}

RedisClient::RedisClient(Target target, Options options) : target_(std::move(target)), options_(options) {}

RedisClient::~RedisClient() {
    for (redisContext* c : idle_) redisFree(c);
}

std::string RedisClient::Describe() const {
    return target_.host + ":" + std::to_string(target_.port) + "/" + std::to_string(target_.db);
}

void RedisClient::Failed() {
    if (consecutive_failures_.fetch_add(1) + 1 >= options_.failures_to_open) {
        open_until_ns_.store(NowNs() + std::chrono::duration_cast<std::chrono::nanoseconds>(options_.open_for).count());
    }
}

void RedisClient::Succeeded() {
    consecutive_failures_.store(0);
    open_until_ns_.store(0);
}

Result<redisContext*> RedisClient::Borrow(bool& reused) {
    {
        std::lock_guard lock(mu_);
        reused = !idle_.empty();
        if (reused) {
            redisContext* c = idle_.back();
            idle_.pop_back();
            return c;
        }
    }
    const timeval tv = ToTimeval(options_.timeout);
    redisContext* c = redisConnectWithTimeout(target_.host.c_str(), target_.port, tv);
    if (c == nullptr) return Unavailable("cannot allocate a connection");
    if (c->err != 0) {
        std::string what = "cannot connect to " + Describe() + ": " + c->errstr;
        redisFree(c);
        return Unavailable(std::move(what));
    }
    redisSetTimeout(c, tv);
    redisEnableKeepAlive(c);
    // A fresh connection authenticates and selects its database before its first command.
    if (!target_.password.empty()) {
        std::vector<std::string> auth{"AUTH"};
        if (!target_.user.empty()) auth.push_back(target_.user);
        auth.push_back(target_.password);
        auto r = Run(c, auth);
        if (!r) {
            redisFree(c);
            return Unavailable("authentication to " + Describe() + " failed");
        }
    }
    if (target_.db != 0) {
        auto r = Run(c, {"SELECT", std::to_string(target_.db)});
        if (!r) {
            redisFree(c);
            return r.error();
        }
    }
    return c;
}

void RedisClient::GiveBack(redisContext* c) {
    std::lock_guard lock(mu_);
    if (idle_.size() < options_.max_idle) {
        idle_.push_back(c);
        return;
    }
    redisFree(c);
}

Result<RedisReply> RedisClient::Run(redisContext* c, const std::vector<std::string>& argv) {
    std::vector<const char*> args;
    std::vector<size_t> lengths;
    args.reserve(argv.size());
    lengths.reserve(argv.size());
    for (const auto& a : argv) {
        args.push_back(a.data());
        lengths.push_back(a.size());
    }
    auto* raw =
        static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(args.size()), args.data(), lengths.data()));
    if (raw == nullptr) return Unavailable(argv.front() + " failed: " + (c->err != 0 ? c->errstr : "no reply"));
    bool is_error = false;
    std::string error_text;
    RedisReply reply = Convert(raw, is_error, error_text);
    freeReplyObject(raw);
    if (is_error) return Error{ErrorCode::kUnavailable, "Redis: " + error_text, {}};
    return reply;
}

Result<RedisReply> RedisClient::Command(const std::vector<std::string>& argv) {
    if (argv.empty()) return Error::Validation("command", "is empty");
    const int64_t open_until = open_until_ns_.load();
    if (open_until != 0 && NowNs() < open_until) return Unavailable("skipped after repeated failures");
    // Past the open period one caller probes; the others keep answering at once until it succeeds.
    if (open_until != 0) {
        int64_t expected = open_until;
        const int64_t next = NowNs() + std::chrono::duration_cast<std::chrono::nanoseconds>(options_.open_for).count();
        if (!open_until_ns_.compare_exchange_strong(expected, next)) {
            return Unavailable("skipped after repeated failures");
        }
    }
    // A pooled connection may have died while idle (Redis restarted, a timeout closed it): one more try
    // on a fresh connection before the command counts as failed.
    for (int attempt = 0;; ++attempt) {
        bool reused = false;
        auto c = Borrow(reused);
        if (!c) {
            Failed();
            return c.error();
        }
        auto reply = Run(*c, argv);
        // An error reply (NOSCRIPT, WRONGTYPE) leaves the connection usable; a transport error does not.
        if (!reply && (*c)->err != 0) {
            redisFree(*c);
            if (reused && attempt == 0) continue;
            Failed();
            return reply;
        }
        GiveBack(*c);
        Succeeded();
        return reply;
    }
}

Result<RedisReply> RedisClient::Eval(RedisScript& script, const std::vector<std::string>& keys,
                                     const std::vector<std::string>& args) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        std::string sha;
        {
            std::lock_guard lock(script.mu_);
            sha = script.sha1_;
        }
        if (sha.empty()) {
            auto loaded = Command({"SCRIPT", "LOAD", script.source()});
            if (!loaded) return loaded.error();
            if (loaded->type != RedisReply::Type::kString) return Unavailable("SCRIPT LOAD answered no digest");
            sha = loaded->text;
            std::lock_guard lock(script.mu_);
            script.sha1_ = sha;
        }
        std::vector<std::string> argv{"EVALSHA", sha, std::to_string(keys.size())};
        argv.insert(argv.end(), keys.begin(), keys.end());
        argv.insert(argv.end(), args.begin(), args.end());
        auto reply = Command(argv);
        if (reply || reply.error().message.find("NOSCRIPT") == std::string::npos) return reply;
        std::lock_guard lock(script.mu_);  // the server forgot it: load it again, once
        if (script.sha1_ == sha) script.sha1_.clear();
    }
    return Unavailable("the script could not be loaded");
}

}  // namespace gpuopt::net
