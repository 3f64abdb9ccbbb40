#include "http/client_ip.hpp"

#include <gtest/gtest.h>

namespace gpuopt::http {
namespace {

std::vector<Cidr> Trusted(std::initializer_list<const char*> nets) {
    std::vector<Cidr> out;
    for (const char* n : nets) out.push_back(*Cidr::Parse(n));
    return out;
}

TEST(ClientIp, IgnoresForwardedForFromUntrustedPeers) {
    EXPECT_EQ(ClientIp("203.0.113.9", "1.2.3.4", {}), "203.0.113.9");
    EXPECT_EQ(ClientIp("203.0.113.9", "1.2.3.4", Trusted({"10.0.0.0/8"})), "203.0.113.9");
}

TEST(ClientIp, TakesTheFirstUntrustedHopFromTheRight) {
    const auto trusted = Trusted({"10.0.0.0/8"});
    EXPECT_EQ(ClientIp("10.0.0.2", "1.2.3.4", trusted), "1.2.3.4");
    EXPECT_EQ(ClientIp("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.7", trusted), "1.2.3.4");
    EXPECT_EQ(ClientIp("10.0.0.2", " 1.2.3.4 ,10.0.0.3", trusted), "1.2.3.4");
    EXPECT_EQ(ClientIp("10.0.0.2", "2001:db8::1", trusted), "2001:db8::1");
}

TEST(ClientIp, StopsAtGarbage) {
    const auto trusted = Trusted({"10.0.0.0/8"});
    EXPECT_EQ(ClientIp("10.0.0.2", "1.2.3.4, not-an-ip", trusted), "10.0.0.2");
    EXPECT_EQ(ClientIp("10.0.0.2", "10.0.0.0/8", trusted), "10.0.0.2");
    EXPECT_EQ(ClientIp("10.0.0.2", "", trusted), "10.0.0.2");
}

TEST(ClientIp, AllTrustedChainGivesTheLeftmost) {
    EXPECT_EQ(ClientIp("10.0.0.2", "10.0.0.5, 10.0.0.6", Trusted({"10.0.0.0/8"})), "10.0.0.5");
}

}  // namespace
}  // namespace gpuopt::http
