#include "http/server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <array>
#include <cstdio>
#include <thread>

#include "common/time.hpp"
#include "http/client_ip.hpp"
#include "http/error_response.hpp"

namespace gpuopt::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr size_t kLingerBytes = 8 * 1024 * 1024;

namespace {

constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

bool IsJsonContentType(std::string_view value) {
    const size_t semi = value.find(';');
    std::string_view media = value.substr(0, semi);
    while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
    while (!media.empty() && media.front() == ' ') media.remove_prefix(1);
    constexpr std::string_view kJson = "application/json";
    if (media.size() != kJson.size()) return false;
    for (size_t i = 0; i < media.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(media[i])) != kJson[i]) return false;
    }
    return true;
}

// Syntax errors in what the client sent, as opposed to the connection ending or timing out.
bool IsMalformedRequest(const boost::system::error_code& ec) {
    return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
           ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message && ec != bhttp::error::need_more &&
           ec != bhttp::error::body_limit && ec != bhttp::error::header_limit;
}

Error TooLarge(size_t limit) {
    return Error{ErrorCode::kPayloadTooLarge, "Request body exceeds " + std::to_string(limit) + " bytes", {}};
}

bool ExpectsContinue(const Request& req) {
    auto it = req.find(bhttp::field::expect);
    if (it == req.end()) return false;
    std::string v(it->value());
    for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return v == "100-continue";
}

}  // namespace

struct Server::Session {
    explicit Session(tcp::socket socket) : stream(std::move(socket)) {}
    beast::tcp_stream stream;
    bool idle = true;  // waiting for the next request; touched only on the session's own loop
};

Server::Server(ServerOptions options, Router router, AccessLog* access_log, RequestMetrics* metrics)
    : options_(std::move(options)),
      router_(std::move(router)),
      static_files_(options_.web_dir),
      access_log_(access_log),
      metrics_(metrics),
      acceptor_(io_),
      grace_timer_(io_) {
    for (int i = 1; i < options_.threads; ++i) {
        workers_.push_back(std::make_unique<asio::io_context>(1));
        worker_guards_.push_back(asio::make_work_guard(*workers_.back()));
    }
}

Server::~Server() = default;

Result<uint16_t> Server::Listen(const std::string& host, uint16_t port) {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec) return Error::Validation("HOST", "'" + host + "' is not an IP address");
    const tcp::endpoint endpoint(address, port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        return Error{
            ErrorCode::kInternal, "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message(), {}};
    }
    asio::co_spawn(io_, AcceptLoop(), asio::detached);
    return acceptor_.local_endpoint().port();
}

void Server::Run() {
    std::vector<std::thread> pool;
    for (auto& worker : workers_) pool.emplace_back([&worker] { worker->run(); });
    io_.run();
    for (auto& t : pool) t.join();
}

void Server::Stop() {
    if (stopping_.exchange(true)) return;
    asio::post(io_, [this] {
        boost::system::error_code ec;
        acceptor_.close(ec);
        for (auto& guard : worker_guards_) guard.reset();  // each loop ends once its connections have
        std::lock_guard lock(sessions_mu_);
        if (sessions_.empty()) return;
        grace_timer_.expires_after(options_.shutdown_grace);
        grace_timer_.async_wait([this](boost::system::error_code wait_ec) {
            if (wait_ec) return;  // every session ended in time
            std::lock_guard inner(sessions_mu_);
            spdlog::warn("shutdown: closing {} connection(s) still open after the grace period", sessions_.size());
            for (auto& [raw, weak] : sessions_) {
                if (auto s = weak.lock()) asio::post(s->stream.get_executor(), [s] { s->stream.close(); });
            }
        });
        for (auto& [raw, weak] : sessions_) {
            if (auto s = weak.lock()) {
                asio::post(s->stream.get_executor(), [s] {
                    if (s->idle) s->stream.close();
                });
            }
        }
    });
}

void Server::SessionEnded(Session* session) {
    std::lock_guard lock(sessions_mu_);
    sessions_.erase(session);
    if (stopping_ && sessions_.empty()) {
        asio::post(io_, [this] { grace_timer_.cancel(); });
    }
}

asio::awaitable<void> Server::AcceptLoop() {
    for (;;) {
        // Connections are dealt to the loops in turn. (Temporaries are kept out of co_await
        // expressions throughout: GCC 12 can destroy them twice.)
        const size_t loop = next_loop_++ % (workers_.size() + 1);
        auto executor = loop == 0 ? io_.get_executor() : workers_[loop - 1]->get_executor();
        auto [ec, socket] = co_await acceptor_.async_accept(executor, kNoThrow);
        if (stopping_ || ec == asio::error::operation_aborted) co_return;
        if (ec) {
            spdlog::warn("accept failed: {}", ec.message());
            asio::steady_timer backoff(io_, std::chrono::milliseconds(50));  // e.g. out of file descriptors
            co_await backoff.async_wait(kNoThrow);
            continue;
        }
        boost::system::error_code opt_ec;
        socket.set_option(tcp::no_delay(true), opt_ec);
        auto session = std::make_shared<Session>(std::move(socket));
        {
            std::lock_guard lock(sessions_mu_);
            sessions_.emplace(session.get(), session);
        }
        auto session_executor = session->stream.get_executor();
        asio::co_spawn(session_executor, RunSession(std::move(session)), asio::detached);
    }
}

void Server::Finish(Response& res, bool head, bool keep_alive) const {
    res.set("Content-Security-Policy", kContentSecurityPolicy);
    res.set(bhttp::field::x_frame_options, "DENY");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Referrer-Policy", "no-referrer");
    res.set("Cross-Origin-Opener-Policy", "same-origin");
    res.set("Permissions-Policy", "camera=(), microphone=(), geolocation=()");
    if (res.find(bhttp::field::cache_control) == res.end()) res.set(bhttp::field::cache_control, "no-store");
    res.keep_alive(keep_alive);
    if (head) {
        const auto size = res.body().size();
        res.body().clear();
        res.content_length(size);
    } else {
        res.prepare_payload();
    }
}

void Server::LogAccess(const Request* req, std::string_view client_ip, const Response& res,
                       std::chrono::steady_clock::time_point start, std::string_view principal) const {
    if (access_log_ == nullptr || !access_log_->enabled()) return;
    // Written by hand rather than through a JSON DOM: this runs for every request.
    std::string line;
    line.reserve(256);
    line += R"({"ts":")";
    line += FormatUtc(UtcNow());
    line += R"(","ip":")";
    AppendJsonEscaped(line, client_ip);
    line += '"';
    if (req != nullptr) {
        const std::string_view target = req->target();
        line += R"(,"method":")";
        AppendJsonEscaped(line, std::string_view(req->method_string()));
        line += R"(","path":")";
        AppendJsonEscaped(line, target.substr(0, std::min(target.find('?'), size_t{512})));
        line += '"';
        if (auto ua = req->find(bhttp::field::user_agent); ua != req->end()) {
            line += R"(,"ua":")";
            AppendJsonEscaped(line, std::string_view(ua->value()).substr(0, 200));
            line += '"';
        }
    }
    char numbers[96];
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::snprintf(numbers, sizeof numbers, R"(,"status":%u,"bytes":%zu,"ms":%.3f)", res.result_int(), res.body().size(),
                  ms);
    line += numbers;
    if (!principal.empty()) {
        line += R"(,"principal":")";
        AppendJsonEscaped(line, principal);
        line += '"';
    }
    line += '}';
    access_log_->Write(line);
}

asio::awaitable<Response> Server::Dispatch(Request& req, RequestContext& ctx) {
    const std::string_view target = req.target();
    if (target.empty() || target.front() != '/') {
        co_return ErrorResponse(Error::Validation("target", "the request target must be an absolute path"),
                                req.version());
    }
    const size_t q = target.find('?');
    ctx.path = target.substr(0, q);
    ctx.query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);

    auto found = router_.Find(req.method(), ctx.path);
    if (found.outcome == Router::Outcome::kMethodNotAllowed) {
        auto res = ErrorResponse({ErrorCode::kMethodNotAllowed, "Method not allowed for this path", {}}, req.version());
        res.set(bhttp::field::allow, found.allow);
        co_return res;
    }
    if (metrics_ != nullptr) ctx.metrics_slot = metrics_->UnmatchedSlot();
    if (found.outcome == Router::Outcome::kNotFound) {
        const bool get = req.method() == bhttp::verb::get || req.method() == bhttp::verb::head;
        if (get && !options_.web_dir.empty() && ctx.path.substr(0, 5) != "/api/") {
            if (auto file = static_files_.Serve(ctx.path, req.version())) {
                if (metrics_ != nullptr) ctx.metrics_slot = metrics_->StaticSlot();
                co_return std::move(*file);
            }
        }
        co_return ErrorResponse({ErrorCode::kNotFound, "No such resource", {}}, req.version());
    }
    const Route& route = *found.route;
    ctx.metrics_slot = static_cast<size_t>(&route - router_.routes().data());
    if (options_.guard != nullptr && !route.options.always_open) {
        if (auto blocked = options_.guard->BlockedFor(ctx.client_ip)) {
            auto res = ErrorResponse(
                {ErrorCode::kRateLimited,
                 "Too many failed authentications from this address; retry after " + std::to_string(*blocked) + " s",
                 {}},
                req.version());
            res.set(bhttp::field::retry_after, std::to_string(*blocked));
            co_return res;
        }
    }
    if (route.options.json_body) {
        auto ct = req.find(bhttp::field::content_type);
        if (ct == req.end() || !IsJsonContentType(ct->value())) {
            co_return ErrorResponse({ErrorCode::kUnsupportedMediaType, "Content-Type must be application/json", {}},
                                    req.version());
        }
    }
    ctx.params = std::move(found.params);
    try {
        co_return co_await route.handler(ctx);
    } catch (const std::exception& e) {
        // A broken invariant: logged with detail, answered without any.
        spdlog::error("handler {} {} threw: {}", std::string_view(req.method_string()), route.pattern, e.what());
    }
    co_return ErrorResponse({ErrorCode::kInternal, "Internal server error", {}}, req.version());
}

asio::awaitable<void> Server::RunSession(std::shared_ptr<Session> s) {
    // The session boundary: whatever ends the connection (its loop returning, or an exception from any
    // part of it: a handler's non-standard exception, the access log, bad_alloc), the session is
    // forgotten here, so Stop() never waits out its grace for a connection that is gone.
    struct Ended {
        Server* server;
        Session* session;
        ~Ended() { server->SessionEnded(session); }
    } ended{this, s.get()};
    try {
        co_await ServeConnection(s);
    } catch (const std::exception& e) {
        spdlog::error("connection ended by an exception: {}", e.what());
    } catch (...) {
        spdlog::error("connection ended by an exception that is not a std::exception");
    }
    boost::system::error_code ignored;
    s->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

size_t Server::OpenConnections() {
    std::lock_guard lock(sessions_mu_);
    return sessions_.size();
}

asio::awaitable<void> Server::ServeConnection(std::shared_ptr<Session> s) {
    beast::flat_buffer buffer;
    boost::system::error_code ep_ec;
    const auto remote = s->stream.socket().remote_endpoint(ep_ec);
    std::string peer = ep_ec ? std::string("unknown") : remote.address().to_string();
    if (peer.rfind("::ffff:", 0) == 0) peer = peer.substr(7);
    bool first = true;

    // A request that could not be read whole is answered after the loop; then the connection closes.
    std::optional<Error> rejection;
    std::optional<Request> rejected_head;

    for (;;) {
        if (stopping_) break;
        s->idle = true;
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
        parser.body_limit(options_.max_body_bytes);
        s->stream.expires_after(first ? options_.read_timeout : options_.keepalive_timeout);
        auto [ec, n] = co_await bhttp::async_read_header(s->stream, buffer, parser, kNoThrow);
        s->idle = false;
        if (ec) {
            if (ec == bhttp::error::header_limit) {
                rejection = Error{ErrorCode::kHeadersTooLarge, "Request headers are too large", {}};
            } else if (ec == bhttp::error::body_limit) {  // a Content-Length over the limit
                rejection = TooLarge(options_.max_body_bytes);
                rejected_head = parser.get();
            } else if (IsMalformedRequest(ec)) {
                rejection = Error::Validation("request", "malformed HTTP request: " + ec.message());
            }
            break;  // end of stream, timeout, reset or shutdown
        }
        const auto start = std::chrono::steady_clock::now();
        const auto& head = parser.get();
        if (parser.content_length() && *parser.content_length() > options_.max_body_bytes) {
            rejection = TooLarge(options_.max_body_bytes);
            rejected_head = head;
            break;
        }
        if (ExpectsContinue(head)) {
            bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, head.version()};
            co_await bhttp::async_write(s->stream, cont, kNoThrow);
        }
        s->stream.expires_after(options_.read_timeout);
        std::tie(ec, n) = co_await bhttp::async_read(s->stream, buffer, parser, kNoThrow);
        if (ec) {
            if (ec == bhttp::error::body_limit) {
                rejection = TooLarge(options_.max_body_bytes);
                rejected_head = parser.get();
            } else if (IsMalformedRequest(ec)) {
                rejection = Error::Validation("request", "malformed HTTP request: " + ec.message());
                rejected_head = parser.get();
            }
            break;
        }
        Request req = parser.release();
        auto xff = req.find("X-Forwarded-For");
        RequestContext ctx{
            req,
            ClientIp(peer, xff == req.end() ? std::string_view{} : std::string_view(xff->value()), options_.trusted_proxies),
            {},
            {},
            {},
            {}};
        Response res = co_await Dispatch(req, ctx);
        const bool keep_alive = req.keep_alive() && !stopping_;
        Finish(res, req.method() == bhttp::verb::head, keep_alive);
        if (res.result_int() >= 400) {
            spdlog::info("{} {} {} -> {} {}", ctx.client_ip, std::string_view(req.method_string()), ctx.path,
                         res.result_int(), std::string_view(res.body()).substr(0, 300));
        }
        LogAccess(&req, ctx.client_ip, res, start, ctx.principal);
        if (metrics_ != nullptr)
            metrics_->Record(ctx.metrics_slot, res.result_int(), std::chrono::steady_clock::now() - start);
        s->stream.expires_after(options_.read_timeout);
        std::tie(ec, n) = co_await bhttp::async_write(s->stream, res, kNoThrow);
        if (ec || !keep_alive) break;
        first = false;
    }
    if (rejection) {
        const auto start = std::chrono::steady_clock::now();
        const Request* head = rejected_head ? &*rejected_head : nullptr;
        auto res = ErrorResponse(*rejection, head != nullptr ? head->version() : 11);
        Finish(res, false, false);
        spdlog::info("rejected request from {}: {} {}", peer, res.result_int(), res.body());
        LogAccess(head, peer, res, start, {});
        if (metrics_ != nullptr)
            metrics_->Record(metrics_->RejectedSlot(), res.result_int(), std::chrono::steady_clock::now() - start);
        s->stream.expires_after(options_.read_timeout);
        co_await bhttp::async_write(s->stream, res, kNoThrow);
        // Lingering close: the client may still be sending the body we refused. Closing now would
        // reset the connection and lose our answer, so read and drop what follows, briefly and boundedly.
        boost::system::error_code ignored;
        s->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        s->stream.expires_after(std::chrono::seconds(2));
        std::array<char, 16384> sink{};
        for (size_t drained = 0; drained < kLingerBytes;) {
            auto [read_ec, n] = co_await s->stream.async_read_some(asio::buffer(sink), kNoThrow);
            if (read_ec) break;
            drained += n;
        }
    }
}

}  // namespace gpuopt::http
