// The operator's secrets (decision 0027): TOTP against RFC 6238's Appendix B and RFC 4648's base32
// vectors, the window of one step each side, and the provisioning URI; argon2id passwords and the rules a
// new one must meet; values sealed at rest under ENCRYPTION_KEY, opened, resealed under a new first key,
// and values stored in clear read as they are.
#include <gtest/gtest.h>

#include "common/at_rest.hpp"
#include "common/crypto.hpp"
#include "common/fernet.hpp"
#include "common/password.hpp"
#include "common/totp.hpp"

namespace gpuopt {
namespace {

SysSeconds At(int64_t epoch) { return SysSeconds(std::chrono::seconds(epoch)); }

class OperatorSecrets : public ::testing::Test {
protected:
    static void SetUpTestSuite() { InitCrypto(); }
};

TEST_F(OperatorSecrets, TotpMatchesRfc6238AppendixB) {
    const std::string key = "12345678901234567890";  // the RFC's SHA-1 seed
    const std::pair<int64_t, const char*> vectors[] = {{59, "94287082"},         {1111111109, "07081804"},
                                                       {1111111111, "14050471"}, {1234567890, "89005924"},
                                                       {2000000000, "69279037"}, {20000000000, "65353130"}};
    for (const auto& [time, code] : vectors) {
        EXPECT_EQ(totp::Hotp(key, totp::StepAt(At(time)), 8), code) << time;
    }
    // Six digits are the last six of the same value.
    EXPECT_EQ(totp::Hotp(key, totp::StepAt(At(59))), "287082");
}

TEST_F(OperatorSecrets, Base32FollowsRfc4648) {
    const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                           {"f", "MY"},
                                                           {"fo", "MZXQ"},
                                                           {"foo", "MZXW6"},
                                                           {"foob", "MZXW6YQ"},
                                                           {"fooba", "MZXW6YTB"},
                                                           {"foobar", "MZXW6YTBOI"}};
    for (const auto& [plain, encoded] : vectors) {
        EXPECT_EQ(totp::EncodeBase32(plain), encoded);
        EXPECT_EQ(totp::DecodeBase32(encoded).value(), plain);
    }
    EXPECT_EQ(totp::DecodeBase32("mzxw 6ytb oi======").value(), "foobar") << "case, spaces and padding";
    EXPECT_FALSE(totp::DecodeBase32("MZXW1").has_value()) << "1 is not in the alphabet";
    const std::string secret = totp::GenerateSecret();
    EXPECT_EQ(secret.size(), 32u);
    EXPECT_EQ(totp::DecodeBase32(secret)->size(), 20u);
    EXPECT_NE(secret, totp::GenerateSecret());
}

TEST_F(OperatorSecrets, TotpAcceptsOneStepEitherSideAndNoMore) {
    const std::string secret = totp::EncodeBase32("12345678901234567890");
    const auto now = At(1111111109);
    const int64_t step = totp::StepAt(now);
    const std::string key = "12345678901234567890";
    EXPECT_EQ(totp::Match(secret, totp::Hotp(key, step), now), step);
    EXPECT_EQ(totp::Match(secret, totp::Hotp(key, step - 1), now), step - 1);
    EXPECT_EQ(totp::Match(secret, totp::Hotp(key, step + 1), now), step + 1);
    EXPECT_FALSE(totp::Match(secret, totp::Hotp(key, step - 2), now).has_value());
    EXPECT_FALSE(totp::Match(secret, totp::Hotp(key, step + 2), now).has_value());
    EXPECT_FALSE(totp::Match(secret, "12345", now).has_value()) << "five digits";
    EXPECT_FALSE(totp::Match("not base32!", totp::Hotp(key, step), now).has_value());
    EXPECT_EQ(totp::ProvisioningUri("GPUOptimizer", "ops@example.com", "MZXW6YTBOI"),
              "otpauth://totp/GPUOptimizer:ops@example.com?secret=MZXW6YTBOI&issuer=GPUOptimizer&algorithm=SHA1"
              "&digits=6&period=30");
    EXPECT_EQ(totp::ProvisioningUri("GPU Optimizer", "a b", "X"),
              "otpauth://totp/GPU%20Optimizer:a%20b?secret=X&issuer=GPU%20Optimizer&algorithm=SHA1&digits=6&period=30");
}

TEST_F(OperatorSecrets, PasswordsAreArgon2idAndVerifyOnlyTheRightOne) {
    auto hash = password::Hash("correct horse battery staple");
    ASSERT_TRUE(hash.ok());
    EXPECT_TRUE(hash->starts_with("$argon2id$v=19$m=65536,t=2,p=1$")) << *hash;
    EXPECT_TRUE(password::Verify(*hash, "correct horse battery staple"));
    EXPECT_FALSE(password::Verify(*hash, "correct horse battery stapl"));
    EXPECT_FALSE(password::Verify("", "anything"));
    EXPECT_FALSE(password::Verify("$argon2id$garbage", "anything"));
    EXPECT_NE(*password::Hash("correct horse battery staple"), *hash) << "a fresh salt each time";
    EXPECT_FALSE(password::NeedsRehash(*hash));
    EXPECT_TRUE(password::NeedsRehash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNo"));
    EXPECT_FALSE(password::DummyHash().empty());
    EXPECT_FALSE(password::Verify(password::DummyHash(), ""));
}

TEST_F(OperatorSecrets, ANewPasswordIsLongAndNotAKnownOne) {
    EXPECT_FALSE(password::Weakness("correct horse battery staple", "ops@example.com").has_value());
    EXPECT_EQ(password::Weakness("short one", "ops@example.com").value(), "must be at least 15 characters");
    EXPECT_EQ(password::Weakness(std::string(1025, 'x') + "y", "ops@example.com").value(),
              "must be at most 1024 characters");
    EXPECT_EQ(password::Weakness("zzzzzzzzzzzzzzzzzzzz", "ops@example.com").value(),
              "must not be one character repeated");
    EXPECT_EQ(password::Weakness("PasswordPassword", "ops@example.com").value(), "is on the list of leaked passwords");
    EXPECT_EQ(password::Weakness("my-operator-mailbox-2026", "operator@example.com").value(),
              "must not contain the email address");
    const std::string generated = password::Generate();
    EXPECT_EQ(generated.size(), 24u);
    EXPECT_FALSE(password::Weakness(generated, "ops@example.com").has_value());
}

TEST_F(OperatorSecrets, ValuesAreSealedUnderTheFirstKeyAndOpenWithAny) {
    const std::string old_key = Fernet::GenerateKey();
    const std::string new_key = Fernet::GenerateKey();
    const auto now = At(1800000000);
    const std::string url = "https://hooks.slack.com/services/T000/B000/XXXX";
    // Without a key the value is stored as it is, and read back as it is.
    EXPECT_EQ(at_rest::Seal("", url, now).value(), url);
    EXPECT_EQ(at_rest::Open("", url).value(), url);
    auto sealed = at_rest::Seal(old_key, url, now);
    ASSERT_TRUE(sealed.ok());
    EXPECT_TRUE(at_rest::IsSealed(*sealed));
    EXPECT_EQ(sealed->find("hooks.slack.com"), std::string::npos);
    EXPECT_EQ(at_rest::Open(old_key, *sealed).value(), url);
    EXPECT_EQ(at_rest::Open(old_key, url).value(), url) << "a value stored before the key came";
    // A new first key: old tokens still open, and reseal moves them under it.
    const std::string both = new_key + "," + old_key;
    EXPECT_EQ(at_rest::Open(both, *sealed).value(), url);
    auto resealed = at_rest::Reseal(both, *sealed, now);
    ASSERT_TRUE(resealed.ok());
    EXPECT_NE(*resealed, *sealed);
    EXPECT_EQ(at_rest::Open(new_key, *resealed).value(), url);
    EXPECT_EQ(at_rest::Reseal(both, *resealed, now).value(), *resealed) << "already under the first key";
    EXPECT_TRUE(at_rest::IsSealed(at_rest::Reseal(both, url, now).value())) << "a clear value gets sealed";
    // Dropping the old key too soon: an error that names no value.
    auto lost = at_rest::Open(new_key, *sealed);
    ASSERT_FALSE(lost.ok());
    EXPECT_EQ(lost.error().code, ErrorCode::kInternal);
    EXPECT_EQ(lost.error().message.find("slack"), std::string::npos);
    EXPECT_FALSE(at_rest::Open("", *sealed).ok()) << "a token without any key";
    EXPECT_FALSE(at_rest::IsSealed("gAAAAAshort"));
}

}  // namespace
}  // namespace gpuopt
