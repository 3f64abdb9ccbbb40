#include "api/signup.hpp"

#include <gtest/gtest.h>

namespace gpuopt::api {
namespace {

Config Defaults() { return BuildConfig({}).value(); }

TEST(Signup, NormalisesTheEmail) {
    auto r = ParseSignup(R"({"email":"  Alice@Example.COM "})", Defaults());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->email, "alice@example.com");
    EXPECT_EQ(r->tier, Tier::kFree);
}

TEST(Signup, ValidatesEveryField) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"[]", "body"},
        {"{", "body"},
        {R"({})", "email"},
        {R"({"email":null})", "email"},
        {R"({"email":["a@example.com"]})", "email"},
        {R"({"email":"nope"})", "email"},
        {R"({"email":")" + std::string(250, 'a') + R"(@x.com"})", "email"},
        {R"({"email":"a@example.com","tier":5})", "tier"},
        {R"({"email":"a@example.com","tier":"platinum"})", "tier"},
        {R"({"email":"a@example.com","tier":"enterprise"})", "payment_method"},  // a paid plan needs a way to pay
        {R"({"email":"a@example.com","payment_method":"cash"})", "payment_method"},
    };
    for (const auto& [body, field] : cases) {
        auto r = ParseSignup(body, Defaults());
        ASSERT_FALSE(r.ok()) << body;
        EXPECT_EQ(r.error().details.begin()->first, field) << body;
    }
}

TEST(Signup, APaidTierWithAGatewayStartsFreeUntilPaid) {
    auto r = ParseSignup(R"({"email":"A@Example.com","tier":"enterprise","payment_method":"nowpayments"})", Defaults());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->email, "a@example.com");
    EXPECT_EQ(r->tier, Tier::kEnterprise);
    EXPECT_EQ(r->payment_method, "nowpayments");
}

TEST(Signup, AcceptsAnExplicitFreeTier) {
    EXPECT_TRUE(
        ParseSignup(R"({"email":"a@example.com","tier":"free","payment_method":"flutterwave"})", Defaults()).ok());
}

}  // namespace
}  // namespace gpuopt::api
