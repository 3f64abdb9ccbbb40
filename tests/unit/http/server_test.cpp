// The HTTP server's session boundary: whatever ends a connection, the server forgets it, so shutdown never
// waits out its grace period for a connection that is gone.
#include "http/server.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "support/http_client.hpp"

namespace gpuopt::http {
namespace {

using namespace std::chrono_literals;

// Polls `done` until it holds or `limit` passes.
template <class Pred>
bool WaitFor(Pred done, std::chrono::milliseconds limit = 10s) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

TEST(Server, AnExceptionOutsideTheHandlersCatchEndsTheSessionAndIsForgotten) {
    Router router;
    router.Add(bhttp::verb::get, "/throws", [](RequestContext&) -> boost::asio::awaitable<Response> {
        throw 42;  // not a std::exception: it passes the handler's catch and reaches the session boundary
        co_return Response{};
    });
    router.Add(bhttp::verb::get, "/ok", [](RequestContext& ctx) -> boost::asio::awaitable<Response> {
        Response res{bhttp::status::ok, ctx.request.version()};
        res.body() = "fine";
        co_return res;
    });
    ServerOptions options;
    options.shutdown_grace = std::chrono::seconds(600);  // a leaked session would hold Stop() this long
    options.threads = 2;
    Server server(options, std::move(router), nullptr);
    auto port = server.Listen("127.0.0.1", 0);
    ASSERT_TRUE(port.ok());
    std::thread loop([&] { server.Run(); });

    // The connection is closed without an answer, and the server no longer counts it.
    const std::string answer = testing::RawExchange(*port, "GET /throws HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(testing::RawStatus(answer), 0) << answer;
    EXPECT_TRUE(WaitFor([&] { return server.OpenConnections() == 0; }));
    // Other connections are served as before.
    const std::string ok = testing::RawExchange(*port, "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(testing::RawStatus(ok), 200) << ok;

    // Nothing is left for Stop() to wait for: Run() returns at once, not after the grace period.
    EXPECT_TRUE(WaitFor([&] { return server.OpenConnections() == 0; }));
    server.Stop();
    loop.join();
    EXPECT_EQ(server.OpenConnections(), 0u);
}

}  // namespace
}  // namespace gpuopt::http
