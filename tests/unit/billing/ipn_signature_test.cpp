// NOWPayments' IPN signature: the canonical form (keys sorted at every level, compact, every number and
// string exactly as written) and HMAC-SHA512 over it. The expected MACs were computed outside the product
// with `printf '%s' CANONICAL | openssl dgst -sha512 -hmac SECRET`.
#include "billing/ipn_signature.hpp"

#include <gtest/gtest.h>

#include "common/crypto.hpp"

namespace gpuopt::billing {
namespace {

constexpr const char* kSecret = "np-ipn-secret-for-tests-a8d3e";

struct Vector {
    const char* name;
    const char* body;
    const char* canonical;
    const char* mac;
};

const Vector kVectors[] = {
    {"nested object, 49.0 and 1e-8 kept, URL slashes and UTF-8 as written, a 33-bit id",
     "{\"payment_status\":\"finished\",\"fee\":{\"serviceFee\":1e-8,\"currency\":\"btc\",\"depositFee\":0},\"price_"
     "amount\":49.0,"
     "\"payment_id\":5077125051,\"order_description\":\"Plan Pro \xE2\x80\x94 "
     "r\xC3\xA9sum\xC3\xA9\",\"ipn_callback_url\":\"https://a.test/x/y\"}",
     "{\"fee\":{\"currency\":\"btc\",\"depositFee\":0,\"serviceFee\":1e-8},\"ipn_callback_url\":\"https://a.test/x/y\","
     "\"order_description\":\"Plan Pro \xE2\x80\x94 "
     "r\xC3\xA9sum\xC3\xA9\",\"payment_id\":5077125051,\"payment_status\":\"finished\","
     "\"price_amount\":49.0}",
     "96c5ad9ded4512320d33695f06cdc4129a88c1118c3129a4335913e479c8cba4e0a2281202c1b2aad4f7118f2cd94bf7a3f7a44182c0206fe"
     "3edb801ce5e3236"},
    {"whitespace removed, arrays keep their order, objects inside arrays sorted",
     " { \"b\" : [ {\"z\":1, \"a\":2}, 3, [ {\"y\":true,\"x\":false} ] ],\n\t\"a\": null } ",
     "{\"a\":null,\"b\":[{\"a\":2,\"z\":1},3,[{\"x\":false,\"y\":true}]]}",
     "c5a1cadd0eb6568fdeba955f8f9bc6d2887a03a958cc1497efeea559104f0bb6a62318ce638fba0a9c4bd1c7c6853392d0103c78e882319c6"
     "1217471382a33b6"},
    {"keys in JavaScript's order: UTF-16 code units, so U+1F600 sorts before U+FF5A",
     "{\"\xEF\xBD\x9A\":5,\"\xF0\x9F\x98\x80\":4,\"\xC3\xA9\":3,\"z\":2,\"Z\":1}",
     "{\"Z\":1,\"z\":2,\"\xC3\xA9\":3,\"\xF0\x9F\x98\x80\":4,\"\xEF\xBD\x9A\":5}",
     "f53beb005203a1c9fb4dd2f7306df917ab92c6fb65c7a9b57e93cae17046e560ad1879089058e78c8b8b070ab8225ef9226d4c48e9e2d92cf"
     "b8a0c0d4e6e2865"},
    {"integers past 64 bits, -0.0, 1E+2 and escapes kept byte for byte",
     "{\"s\":\"\\u00e9\\n\\/\",\"exp\":1E+2,\"neg\":-0.0,\"big\":18446744073709551616123}",
     "{\"big\":18446744073709551616123,\"exp\":1E+2,\"neg\":-0.0,\"s\":\"\\u00e9\\n\\/\"}",
     "34853f3f31fc7dcdb1da3c1f45be80ecf4af0764a045377d9de30882e9b63dd61169df542069865f9054dbb23b90f6ba5ed6ce7d846a52ad7"
     "0b2edbddf186d47"},
};

class IpnSignature : public ::testing::Test {
protected:
    void SetUp() override { InitCrypto(); }
};

TEST_F(IpnSignature, CanonicalFormMatchesTheVectors) {
    for (const auto& v : kVectors) {
        auto c = CanonicalJson(v.body);
        ASSERT_TRUE(c.ok()) << v.name;
        EXPECT_EQ(*c, v.canonical) << v.name;
    }
}

TEST_F(IpnSignature, MacsMatchAnIndependentHmac) {
    for (const auto& v : kVectors) {
        EXPECT_EQ(HmacSha512Hex(kSecret, v.canonical), v.mac) << v.name;
        EXPECT_TRUE(VerifyNowPaymentsSignature(v.body, v.mac, kSecret)) << v.name;
    }
}

TEST_F(IpnSignature, UppercaseHexAndAPaddedSecretAreAccepted) {
    std::string upper = kVectors[0].mac;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_TRUE(VerifyNowPaymentsSignature(kVectors[0].body, upper, kSecret));
    EXPECT_TRUE(VerifyNowPaymentsSignature(kVectors[0].body, kVectors[0].mac, std::string("  ") + kSecret + "\n"));
}

TEST_F(IpnSignature, AnyChangeBreaksTheSignature) {
    const Vector& v = kVectors[0];
    EXPECT_FALSE(VerifyNowPaymentsSignature(v.body, v.mac, "another-secret"));
    EXPECT_FALSE(VerifyNowPaymentsSignature(v.body, "", kSecret));
    EXPECT_FALSE(VerifyNowPaymentsSignature(v.body, std::string(v.mac).substr(0, 127), kSecret));
    std::string flipped = v.mac;
    flipped[5] = flipped[5] == 'a' ? 'b' : 'a';
    EXPECT_FALSE(VerifyNowPaymentsSignature(v.body, flipped, kSecret));
    // The same document with 49 instead of 49.0 is another message: re-serialising numbers would break real signatures.
    std::string body = v.body;
    body.replace(body.find("49.0"), 4, "49");
    EXPECT_FALSE(VerifyNowPaymentsSignature(body, v.mac, kSecret));
    body = v.body;
    body.replace(body.find("finished"), 8, "finishee");
    EXPECT_FALSE(VerifyNowPaymentsSignature(body, v.mac, kSecret));
    // An empty secret never verifies anything, whatever the signature.
    EXPECT_FALSE(VerifyNowPaymentsSignature(v.body, HmacSha512Hex("", v.canonical), ""));
}

TEST_F(IpnSignature, WhatIsNotOneJsonValueIsRefused) {
    for (const char* bad : {"", "{", "{\"a\":1}x", "{\"a\":1,}", "{'a':1}", "[1,2", "{\"a\":01}", "{\"a\":1.}",
                            "\"\\x\"", "{\"a\":\"\x01\"}", "nul", "{\"a\":1}{\"b\":2}"}) {
        EXPECT_FALSE(CanonicalJson(bad).ok()) << bad;
        EXPECT_FALSE(VerifyNowPaymentsSignature(bad, HmacSha512Hex(kSecret, bad), kSecret)) << bad;
    }
}

TEST_F(IpnSignature, DeepNestingIsRefusedNotOverflowed) {
    std::string deep(100000, '[');
    deep += std::string(100000, ']');
    EXPECT_FALSE(CanonicalJson(deep).ok());
}

TEST_F(IpnSignature, DuplicateKeysAreRefused) {
    // Two readings of one document could grant on one and verify the other.
    EXPECT_FALSE(CanonicalJson("{\"payment_status\":\"failed\",\"payment_status\":\"finished\"}").ok());
}

}  // namespace
}  // namespace gpuopt::billing
