#include "common/crypto.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace gpuopt {
namespace {

class Crypto : public ::testing::Test {
protected:
    static void SetUpTestSuite() { InitCrypto(); }
};

TEST_F(Crypto, KeysHaveTheDocumentedShape) {
    for (int i = 0; i < 200; ++i) {
        const std::string key = GenerateApiKey();
        ASSERT_EQ(key.size(), 28u);
        EXPECT_EQ(key.substr(0, 5), "gopt_");
        EXPECT_TRUE(IsWellFormedApiKey(key)) << key;
    }
}

TEST_F(Crypto, KeysAreUniqueAndUseTheWholeAlphabet) {
    std::set<std::string> keys;
    std::set<char> chars;
    for (int i = 0; i < 2000; ++i) {
        auto k = GenerateApiKey();
        keys.insert(k);
        for (char c : k.substr(5)) chars.insert(c);
    }
    EXPECT_EQ(keys.size(), 2000u);
    EXPECT_EQ(chars.size(), 62u);
}

TEST_F(Crypto, RejectsMalformedKeys) {
    for (const char* bad :
         {"", "gopt_", "gopt_abc", "GOPT_AAAAAAAAAAAAAAAAAAAAAAA", "gopt_AAAAAAAAAAAAAAAAAAAAAA!",
          "gopt_AAAAAAAAAAAAAAAAAAAAAAAA", "xopt_AAAAAAAAAAAAAAAAAAAAAAA", "gopt_AAAAAAAAAAA AAAAAAAAAAA"}) {
        EXPECT_FALSE(IsWellFormedApiKey(bad)) << bad;
    }
}

TEST_F(Crypto, HashIsStableHexSha256) {
    EXPECT_EQ(HashApiKey("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const auto key = GenerateApiKey();
    EXPECT_EQ(HashApiKey(key), HashApiKey(key));
    EXPECT_NE(HashApiKey(key), HashApiKey(GenerateApiKey()));
}

TEST_F(Crypto, ConstantTimeEqualsComparesContentAndLength) {
    EXPECT_TRUE(ConstantTimeEquals("secret-token", "secret-token"));
    EXPECT_FALSE(ConstantTimeEquals("secret-token", "secret-tokeN"));
    EXPECT_FALSE(ConstantTimeEquals("secret-token", "secret-token-longer"));
    EXPECT_FALSE(ConstantTimeEquals("", "x"));
    EXPECT_TRUE(ConstantTimeEquals("", ""));
}

TEST_F(Crypto, HmacSha256MatchesRfc4231) {
    // RFC 4231 test case 2.
    EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_F(Crypto, RandomBase62HasTheLengthAskedAndDiffers) {
    const std::string a = RandomBase62(32);
    EXPECT_EQ(a.size(), 32u);
    EXPECT_TRUE(std::all_of(a.begin(), a.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); }));
    EXPECT_NE(a, RandomBase62(32));
}

}  // namespace
}  // namespace gpuopt
