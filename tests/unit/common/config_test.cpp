#include "common/config.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace gpuopt {
namespace {

std::map<std::string, ConfigValue> Values(std::initializer_list<std::pair<const std::string, std::string>> kv,
                                          ConfigOrigin origin = ConfigOrigin::kEnvironment) {
    std::map<std::string, ConfigValue> out;
    for (const auto& [k, v] : kv) out[k] = ConfigValue{v, origin, "test.conf"};
    return out;
}

std::string FieldOf(const Result<Config>& r) { return r.ok() ? "" : r.error().details.begin()->first; }

TEST(Config, DefaultsFollowTheSpec) {
    auto c = BuildConfig({});
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->port, 5000);
    EXPECT_EQ(c->data_dir, "./data");
    ASSERT_NE(c->FindPlan(Tier::kFree), nullptr);
    EXPECT_EQ(c->FindPlan(Tier::kFree)->gpu_limit, 2);
    EXPECT_EQ(c->FindPlan(Tier::kFree)->requests_per_hour, 100);
    EXPECT_EQ(c->FindPlan(Tier::kProfessional)->price_usd, 49);
    EXPECT_EQ(c->FindPlan(Tier::kProfessional)->requests_per_hour, 1000);
    EXPECT_EQ(c->FindPlan(Tier::kEnterprise)->price_usd, 199);
    EXPECT_FALSE(c->FindPlan(Tier::kEnterprise)->requests_per_hour.has_value());
    EXPECT_EQ(c->signup_per_minute_per_ip, 5);
    EXPECT_DOUBLE_EQ(c->idle_threshold_percent, 15);
    EXPECT_DOUBLE_EQ(c->recoverable_fraction, 0.5);
}

TEST(Config, AppliesTypedValues) {
    auto c = BuildConfig(Values({{"PORT", "8080"},
                                 {"RATE_LIMIT_FREE", "0"},
                                 {"PROFESSIONAL_PRICE", "59.5"},
                                 {"TRUSTED_PROXIES", "10.0.0.0/8, ::1"},
                                 {"BASE_URL", "https://gpu.example.com/"}}));
    ASSERT_TRUE(c.ok()) << c.error().details.begin()->second;
    EXPECT_EQ(c->port, 8080);
    EXPECT_FALSE(c->FindPlan(Tier::kFree)->requests_per_hour.has_value());
    EXPECT_DOUBLE_EQ(c->FindPlan(Tier::kProfessional)->price_usd, 59.5);
    EXPECT_EQ(c->trusted_proxies.size(), 2u);
    EXPECT_EQ(c->base_url, "https://gpu.example.com");
}

TEST(Config, BillingAndMailGetTheirOwnTypedSettings) {
    auto c = BuildConfig(Values({{"FLUTTERWAVE_SECRET_KEY", "FLWSECK-1"},
                                 {"FLUTTERWAVE_SECRET_HASH", "hash"},
                                 {"NOWPAYMENTS_API_KEY", "np-key"},
                                 {"NOWPAYMENTS_IPN_SECRET", "ipn"},
                                 {"NOWPAYMENTS_SANDBOX", "1"},
                                 {"NOWPAYMENTS_BASE_URL", "http://127.0.0.1:9/v1"},
                                 {"PAYMENT_EXPIRY_HOURS", "12"},
                                 {"BILLING_INTERVAL_SECONDS", "7"},
                                 {"SMTP_SERVER", "mail.example.com"},
                                 {"SMTP_PORT", "2525"},
                                 {"SMTP_TLS", "smtps"},
                                 {"SENDER_EMAIL", "billing@example.com"},
                                 {"SENDER_PASSWORD", "pw"},
                                 {"MAIL_INTERVAL_SECONDS", "9"},
                                 {"GITHUB_TOKEN", "ghp_x"},
                                 {"POSTAL_ADDRESS", "1 Main St, Springfield"},
                                 {"SEQUENCE_INTERVAL_SECONDS", "30"},
                                 {"GPU_OPTIMIZER_API_KEY", "gopt_agent"}}));
    ASSERT_TRUE(c.ok()) << c.error().details.begin()->second;
    EXPECT_EQ(c->billing.flutterwave_secret_key, "FLWSECK-1");
    EXPECT_EQ(c->billing.flutterwave_secret_hash, "hash");
    EXPECT_EQ(c->billing.nowpayments_api_key, "np-key");
    EXPECT_EQ(c->billing.nowpayments_ipn_secret, "ipn");
    EXPECT_TRUE(c->billing.nowpayments_sandbox);
    EXPECT_EQ(c->billing.nowpayments_base_url, "http://127.0.0.1:9/v1");
    EXPECT_EQ(c->billing.payment_expiry_hours, 12);
    EXPECT_EQ(c->billing.billing_interval_seconds, 7);
    EXPECT_EQ(c->billing.payment_currency, "USD");
    EXPECT_EQ(c->mail.smtp_server, "mail.example.com");
    EXPECT_EQ(c->mail.smtp_port, 2525);
    EXPECT_EQ(c->mail.smtp_tls, "smtps");
    EXPECT_EQ(c->mail.sender_email, "billing@example.com");
    EXPECT_EQ(c->mail.sender_password, "pw");
    EXPECT_EQ(c->mail.mail_interval_seconds, 9);
    // Only the settings of features still to come are kept by name.
    EXPECT_EQ(c->acquisition.github_token, "ghp_x");
    EXPECT_EQ(c->acquisition.github_api_url, "https://api.github.com");
    EXPECT_EQ(c->acquisition.postal_address, "1 Main St, Springfield");
    EXPECT_EQ(c->acquisition.sequence_interval_seconds, 30);
    EXPECT_EQ(c->integrations.size(), 1u);
    EXPECT_EQ(c->integrations.at("GPU_OPTIMIZER_API_KEY"), "gopt_agent");
    auto defaults = BuildConfig({});
    ASSERT_TRUE(defaults.ok());
    EXPECT_FALSE(defaults->billing.nowpayments_sandbox);
    EXPECT_EQ(defaults->mail.smtp_port, 587);
    EXPECT_TRUE(defaults->billing.flutterwave_secret_key.empty());
}

TEST(Config, MalformedValuesNameTheSetting) {
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"PORT", "eighty"},
        {"PORT", "70000"},
        {"PORT", "-1"},
        {"THREADS", "1.5"},
        {"IDLE_THRESHOLD", "101"},
        {"RECOVERABLE_FRACTION", "nan"},
        {"TRUSTED_PROXIES", "1.2.3.4/40"},
        {"TRUSTED_PROXIES", "not-an-ip"},
        {"BASE_URL", "ftp://x"},
        {"BASE_URL", "localhost:5000"},
        {"ADMIN_TOKEN", "short"},
        {"ENCRYPTION_KEY", "abc"},
        {"SMTP_PORT", "0"},
        {"SENDER_EMAIL", "nobody"},
        {"NOWPAYMENTS_SANDBOX", "maybe"},
        {"PAYMENT_EXPIRY_HOURS", "0"},
        {"FLUTTERWAVE_BASE_URL", "not a url"},
        {"DATABASE_URL", "mysql://x"},
        {"REDIS_URL", "http://x"},
        {"LOG_LEVEL", "loud"},
        {"FREE_GPU_LIMIT", "0"},
        {"SESSION_TIMEOUT", "5"},
        {"REDDIT_USER_AGENT", "Mozilla/5.0"},
        {"POSTAL_ADDRESS", "1 Main St\nSpringfield"},
        {"UNSUBSCRIBE_EMAIL", "not an address"},
        {"GITHUB_API_URL", ""},
        {"SEQUENCE_INTERVAL_SECONDS", "0"},
        {"DISCOVERY_INTERVAL_SECONDS", "5"},
    };
    for (const auto& [name, value] : bad) {
        auto c = BuildConfig(Values({{name, value}}));
        EXPECT_FALSE(c.ok()) << name << "=" << value;
        EXPECT_EQ(FieldOf(c), name);
    }
}

TEST(Config, AcceptsAFernetKey) {
    // 32 bytes in URL-safe base64, as Fernet.generate_key() prints them.
    auto c = BuildConfig(Values({{"ENCRYPTION_KEY", "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="}}));
    EXPECT_TRUE(c.ok());
}

TEST(Config, UnknownNamesInFilesStopStartup) {
    auto c = BuildConfig(Values({{"PORTT", "1"}}, ConfigOrigin::kConfigFile));
    EXPECT_EQ(FieldOf(c), "PORTT");
    auto env = BuildConfig(Values({{"PORTT", "1"}}, ConfigOrigin::kEnvironment));
    EXPECT_TRUE(env.ok()) << "the environment holds unrelated names";
}

TEST(Config, SecretsAreRefusedFromConfigFiles) {
    auto c = BuildConfig(Values({{"ADMIN_TOKEN", "0123456789abcdef0123"}}, ConfigOrigin::kConfigFile));
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(FieldOf(c), "ADMIN_TOKEN");
    EXPECT_TRUE(BuildConfig(Values({{"ADMIN_TOKEN", "0123456789abcdef0123"}}, ConfigOrigin::kDotEnv)).ok());
}

TEST(Config, DatabaseUrlSelectsTheBackend) {
    auto pg = BuildConfig(Values({{"DATABASE_URL", "postgresql://u@h/db"}}));
    ASSERT_TRUE(pg.ok());
    EXPECT_EQ(pg->database_url, "postgresql://u@h/db");
    auto sqlite = BuildConfig(Values({{"DATABASE_URL", "sqlite:/var/lib/gpuopt/x.db"}}));
    ASSERT_TRUE(sqlite.ok());
    EXPECT_EQ(sqlite->database_url, "sqlite:/var/lib/gpuopt/x.db");
    auto other = BuildConfig(Values({{"DATABASE_URL", "mysql://u@h/db"}}));
    ASSERT_FALSE(other.ok());
    EXPECT_NE(other.error().details.at("DATABASE_URL").find("postgresql://"), std::string::npos);
}

TEST(KeyValueFile, ParsesDotEnvSyntax) {
    auto kv = ParseKeyValueFile(
        "# comment\n\nA=1\nexport B = two \nC=\"quoted # not a comment\"\nD='x'\nE=v # note\r\n", ".env");
    ASSERT_TRUE(kv.ok());
    EXPECT_EQ(kv->at("A"), "1");
    EXPECT_EQ(kv->at("B"), "two");
    EXPECT_EQ(kv->at("C"), "quoted # not a comment");
    EXPECT_EQ(kv->at("D"), "x");
    EXPECT_EQ(kv->at("E"), "v");
}

TEST(KeyValueFile, NamesTheBadLine) {
    auto kv = ParseKeyValueFile("A=1\nthis is not a setting\n", "x.env");
    ASSERT_FALSE(kv.ok());
    EXPECT_EQ(kv.error().details.begin()->first, "x.env:2");
    EXPECT_FALSE(ParseKeyValueFile("lower=1\n", "x.env").ok());
}

TEST(Cidr, MatchesNetworksOfBothFamilies) {
    auto v4 = Cidr::Parse("10.1.0.0/16");
    ASSERT_TRUE(v4);
    EXPECT_TRUE(v4->Contains("10.1.200.3"));
    EXPECT_FALSE(v4->Contains("10.2.0.1"));
    EXPECT_FALSE(v4->Contains("::1"));
    auto host = Cidr::Parse("127.0.0.1");
    EXPECT_TRUE(host->Contains("127.0.0.1"));
    EXPECT_FALSE(host->Contains("127.0.0.2"));
    auto v6 = Cidr::Parse("fd00::/8");
    EXPECT_TRUE(v6->Contains("fd12:3456::1"));
    EXPECT_FALSE(v6->Contains("fe80::1"));
    EXPECT_TRUE(Cidr::Parse("0.0.0.0/0")->Contains("8.8.8.8"));
    EXPECT_FALSE(Cidr::Parse("1.2.3.4/33"));
    EXPECT_FALSE(Cidr::Parse("1.2.3/8"));
    EXPECT_FALSE(Cidr::Parse("1.2.3.4/x"));
}

}  // namespace
}  // namespace gpuopt

namespace gpuopt {
namespace {

TEST(EnvExample, ListsEverySettingAndLoadsAsIs) {
    std::ifstream in(std::string(GPUOPT_SOURCE_DIR) + "/.env.example");
    ASSERT_TRUE(in) << ".env.example is missing";
    std::string text((std::istreambuf_iterator<char>(in)), {});
    auto kv = ParseKeyValueFile(text, ".env.example");
    ASSERT_TRUE(kv.ok());
    for (const auto& name : KnownSettingNames()) EXPECT_TRUE(kv->count(name)) << name << " is not in .env.example";
    std::map<std::string, ConfigValue> values;
    for (const auto& [k, v] : *kv) values[k] = ConfigValue{v, ConfigOrigin::kDotEnv, ".env.example"};
    auto config = BuildConfig(values);
    EXPECT_TRUE(config.ok()) << (config.ok() ? "" : config.error().details.begin()->first);
}

}  // namespace
}  // namespace gpuopt
