// Fernet against the public spec's test vectors (generate, verify and the eight invalid tokens), then
// what ENCRYPTION_KEY relies on: round trips of any size, several keys, rotation keeping the timestamp,
// and keys that are not Fernet keys refused without being echoed.
#include "common/fernet.hpp"

#include <gtest/gtest.h>

#include <set>

#include "common/crypto.hpp"

namespace gpuopt {
namespace {

constexpr std::string_view kSpecKey = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
constexpr std::string_view kSpecToken =
    "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==";
constexpr int64_t kSpecNow = 499162800;  // 1985-10-26T01:20:00-07:00

SysSeconds At(int64_t epoch) { return SysSeconds(std::chrono::seconds(epoch)); }

Fernet Make(std::string_view keys) {
    auto f = Fernet::FromKeys(keys);
    EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().message);
    return std::move(*f);
}

class FernetTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { InitCrypto(); }
};

TEST_F(FernetTest, MakesTheSpecsTokenAndReadsItBack) {
    const Fernet f = Make(kSpecKey);
    std::array<unsigned char, 16> iv{};
    for (unsigned char i = 0; i < 16; ++i) iv[i] = i;
    EXPECT_EQ(f.EncryptWith("hello", kSpecNow, iv), kSpecToken);
    auto read = f.Decrypt(kSpecToken, std::chrono::seconds(60), At(kSpecNow + 1));
    ASSERT_TRUE(read.ok()) << read.error().message;
    EXPECT_EQ(*read, "hello");
}

TEST_F(FernetTest, RefusesEachOfTheSpecsInvalidTokensWithOneError) {
    const Fernet f = Make(kSpecKey);
    struct Case {
        const char* what;
        const char* token;
        int64_t now;
    };
    const Case cases[] = {
        {"incorrect mac",
         "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykQUFBQUFBQUFBQQ==",
         kSpecNow + 1},
        {"too short", "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPA==", kSpecNow + 1},
        {"invalid base64",
         "%%%%%%%%%%%%%AECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykRtfsH-p1YsUD2Q==",
         kSpecNow + 1},
        {"payload size not multiple of block size",
         "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPOm73QeoCk9uGib28Xe5vz6oxq5nmxbx_v7mrfyudzUm",
         kSpecNow + 1},
        {"payload padding error",
         "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0ODz4LEpdELGQAad7aNEHbf-JkLPIpuiYRLQ3RtXatOYREu2FWke6CnJNYIbkuKNqOhw==",
         kSpecNow + 1},
        {"far-future timestamp",
         "gAAAAAAdwStRAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAnja1xKYyhd-Y6mSkTOyTGJmw2Xc2a6kBd-iX9b_qXQcw==",
         kSpecNow + 1},
        {"expired TTL",
         "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykRtfsH-p1YsUD2Q==",
         kSpecNow + 91},
        {"incorrect IV (a padding error)",
         "gAAAAAAdwJ6xBQECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAkLhFLHpGtDBRLRTZeUfWgHSv49TF2AUEZ1TIvcZjK1zQ==",
         kSpecNow + 1},
    };
    std::set<std::string> messages;
    for (const auto& c : cases) {
        auto read = f.Decrypt(c.token, std::chrono::seconds(60), At(c.now));
        ASSERT_FALSE(read.ok()) << c.what;
        EXPECT_EQ(read.error().code, ErrorCode::kValidation) << c.what;
        messages.insert(read.error().message);
    }
    EXPECT_EQ(messages.size(), 1u) << "every failure says the same";
    // The expired one is authentic: read without a TTL, as data at rest is, it decrypts.
    EXPECT_TRUE(f.Decrypt(cases[6].token).ok());
}

TEST_F(FernetTest, AnyPlaintextRoundTripsAndNoTwoTokensAreAlike) {
    const Fernet f = Make(Fernet::GenerateKey());
    std::set<std::string> tokens;
    for (const std::string& plain :
         {std::string(), std::string(15, 'a'), std::string(16, 'b'), std::string(1000, 'c'), std::string("a\0b\xff", 4),
          std::string("https://hooks.slack.com/services/T000/B000/secret")}) {
        const std::string token = f.Encrypt(plain, UtcNow());
        EXPECT_EQ(token.find(plain.empty() ? "\x01" : plain), std::string::npos);
        EXPECT_EQ(f.Decrypt(token).value(), plain);
        EXPECT_TRUE(tokens.insert(token).second);
    }
    // The same text twice: different IVs, different tokens.
    EXPECT_NE(f.Encrypt("same", At(kSpecNow)), f.Encrypt("same", At(kSpecNow)));
    // Another key reads none of them.
    const Fernet other = Make(Fernet::GenerateKey());
    for (const auto& t : tokens) EXPECT_FALSE(other.Decrypt(t).ok());
}

TEST_F(FernetTest, TheFirstKeyEncryptsEveryKeyDecryptsAndRotationKeepsTheTimestamp) {
    const std::string old_key = Fernet::GenerateKey();
    const std::string new_key = Fernet::GenerateKey();
    const Fernet before = Make(old_key);
    const std::string token = before.Encrypt("a webhook secret", At(kSpecNow));

    const Fernet both = Make(" " + new_key + " , " + old_key + " ");
    EXPECT_EQ(both.key_count(), 2u);
    EXPECT_EQ(both.Decrypt(token).value(), "a webhook secret");
    EXPECT_FALSE(both.UnderFirstKey(token));
    EXPECT_TRUE(both.UnderFirstKey(both.Encrypt("x", UtcNow())));

    auto rotated = both.Rotate(token);
    ASSERT_TRUE(rotated.ok());
    EXPECT_TRUE(both.UnderFirstKey(*rotated));
    EXPECT_EQ(rotated->substr(0, 12), token.substr(0, 12)) << "version and timestamp kept";
    const Fernet after = Make(new_key);
    EXPECT_EQ(after.Decrypt(*rotated).value(), "a webhook secret");
    EXPECT_FALSE(after.Decrypt(token).ok()) << "the old key is gone";
    EXPECT_FALSE(after.Rotate(token).ok());
}

TEST_F(FernetTest, KeysThatAreNotFernetKeysAreRefusedByPositionWithoutEchoingThem) {
    for (const std::string& keys :
         {std::string(), std::string("your-32-character-encryption-key"), std::string("c2hvcnQ="),
          std::string(kSpecKey) + ",", std::string(kSpecKey) + ",not-a-key"}) {
        auto f = Fernet::FromKeys(keys);
        ASSERT_FALSE(f.ok()) << keys;
        EXPECT_EQ(f.error().code, ErrorCode::kValidation);
        const std::string said = f.error().message + f.error().details.begin()->second;
        EXPECT_EQ(said.find("encryption-key"), std::string::npos) << said;
        EXPECT_EQ(said.find("not-a-key"), std::string::npos) << said;
    }
    auto second = Fernet::FromKeys(std::string(kSpecKey) + ",not-a-key");
    EXPECT_NE(second.error().details.at("ENCRYPTION_KEY").find("key 2"), std::string::npos);
    EXPECT_EQ(Fernet::GenerateKey().size(), 44u);
}

}  // namespace
}  // namespace gpuopt
