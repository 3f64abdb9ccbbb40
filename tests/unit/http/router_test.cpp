#include "http/router.hpp"

#include <gtest/gtest.h>

namespace gpuopt::http {
namespace {

Handler Noop() {
    return [](RequestContext&) -> boost::asio::awaitable<Response> { co_return Response{}; };
}

Router Table() {
    Router r;
    r.Add(bhttp::verb::post, "/api/signup", Noop());
    r.Add(bhttp::verb::get, "/api/health", Noop());
    r.Add(bhttp::verb::get, "/api/gpus/{uuid}", Noop());
    r.Add(bhttp::verb::delete_, "/api/gpus/{uuid}", Noop());
    return r;
}

TEST(Router, FindsExactRoutes) {
    auto r = Table();
    auto found = r.Find(bhttp::verb::post, "/api/signup");
    ASSERT_EQ(found.outcome, Router::Outcome::kFound);
    EXPECT_EQ(found.route->pattern, "/api/signup");
}

TEST(Router, CapturesParameters) {
    auto found = Table().Find(bhttp::verb::get, "/api/gpus/GPU-123");
    ASSERT_EQ(found.outcome, Router::Outcome::kFound);
    EXPECT_EQ(found.params.at("uuid"), "GPU-123");
    EXPECT_EQ(Table().Find(bhttp::verb::get, "/api/gpus/").outcome, Router::Outcome::kNotFound);
}

TEST(Router, TellsNotFoundFromMethodNotAllowed) {
    auto r = Table();
    EXPECT_EQ(r.Find(bhttp::verb::get, "/api/nope").outcome, Router::Outcome::kNotFound);
    EXPECT_EQ(r.Find(bhttp::verb::get, "/api/signup/extra").outcome, Router::Outcome::kNotFound);
    EXPECT_EQ(r.Find(bhttp::verb::get, "api/signup").outcome, Router::Outcome::kNotFound);
    auto m = r.Find(bhttp::verb::get, "/api/signup");
    EXPECT_EQ(m.outcome, Router::Outcome::kMethodNotAllowed);
    EXPECT_EQ(m.allow, "POST");
    auto g = r.Find(bhttp::verb::put, "/api/gpus/x");
    EXPECT_EQ(g.allow, "DELETE, GET, HEAD");
}

TEST(Router, HeadUsesTheGetRoute) {
    EXPECT_EQ(Table().Find(bhttp::verb::head, "/api/health").outcome, Router::Outcome::kFound);
}

TEST(Router, RefusesDuplicateAndRelativeRoutes) {
    Router r;
    r.Add(bhttp::verb::get, "/a", Noop());
    EXPECT_THROW(r.Add(bhttp::verb::get, "/a", Noop()), std::invalid_argument);
    EXPECT_THROW(r.Add(bhttp::verb::get, "a", Noop()), std::invalid_argument);
}

}  // namespace
}  // namespace gpuopt::http
