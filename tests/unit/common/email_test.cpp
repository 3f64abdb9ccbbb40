#include "common/email.hpp"

#include <gtest/gtest.h>

namespace gpuopt {
namespace {

TEST(Email, AcceptsOrdinaryAddresses) {
    for (const char* ok : {"a@example.com", "first.last@example.co.uk", "x+tag@sub.domain.io", "o'brien@example.ie",
                           "user_1-2@my-company.com", "UPPER@EXAMPLE.COM"}) {
        EXPECT_TRUE(IsValidEmail(ok)) << ok;
    }
}

TEST(Email, RejectsWhatAMailServerWouldNot) {
    const std::string long_local(65, 'a');
    const std::string long_total = std::string(64, 'a') + "@" + std::string(185, 'b') + ".com";
    for (const std::string& bad : {std::string(""),
                                   std::string("plain"),
                                   std::string("@example.com"),
                                   std::string("a@"),
                                   std::string("a@b"),
                                   std::string("a@@example.com"),
                                   std::string("a@b@example.com"),
                                   std::string(".a@example.com"),
                                   std::string("a.@example.com"),
                                   std::string("a..b@example.com"),
                                   std::string("a b@example.com"),
                                   std::string("a@exa mple.com"),
                                   std::string("a@-example.com"),
                                   std::string("a@example-.com"),
                                   std::string("a@example.c"),
                                   std::string("a@example.c0m"),
                                   std::string("a@example..com"),
                                   std::string("\"quoted\"@example.com"),
                                   std::string("a@[127.0.0.1]"),
                                   long_local + "@example.com",
                                   long_total,
                                   std::string("a@example.com\r\nBcc: x@y.com"),
                                   std::string("a\0b@example.com", 15)}) {
        EXPECT_FALSE(IsValidEmail(bad)) << bad;
    }
}

TEST(Email, NormalisesCaseAndSurroundingSpace) {
    EXPECT_EQ(NormalizeEmail("  Alice@Example.COM \t"), "alice@example.com");
}

}  // namespace
}  // namespace gpuopt
