#include <gtest/gtest.h>

#include "patchbay/error.hpp"
#include "patchbay/net.hpp"

using namespace patchbay;

TEST(Ipv4Addr, ParsesAndPrintsDottedQuad) {
  auto a = Ipv4Addr::parse("198.18.0.10");
  EXPECT_EQ(a.to_u32(), 0xC612000Au);
  EXPECT_EQ(a.to_string(), "198.18.0.10");
  EXPECT_EQ(Ipv4Addr(10, 0, 1, 2).to_string(), "10.0.1.2");
}

TEST(Ipv4Addr, RejectsMalformedTextNamingIt) {
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.x", "01.2.3.4", " 1.2.3.4"}) {
    EXPECT_FALSE(Ipv4Addr::try_parse(bad)) << bad;
  }
  try {
    Ipv4Addr::parse("1.2.3");
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("'1.2.3'"), std::string::npos);
  }
}

TEST(Ipv4Addr, RecognisesRfc1918) {
  EXPECT_TRUE(Ipv4Addr::parse("10.1.2.3").is_private());
  EXPECT_TRUE(Ipv4Addr::parse("172.16.0.1").is_private());
  EXPECT_TRUE(Ipv4Addr::parse("172.31.255.255").is_private());
  EXPECT_FALSE(Ipv4Addr::parse("172.32.0.1").is_private());
  EXPECT_TRUE(Ipv4Addr::parse("192.168.1.1").is_private());
  EXPECT_FALSE(Ipv4Addr::parse("100.64.0.1").is_private());
}

TEST(Ipv6Addr, PrintsRfc5952) {
  EXPECT_EQ(Ipv6Addr::parse("2001:0db8:0000:0000:0000:0000:0000:0001").to_string(), "2001:db8::1");
  EXPECT_EQ(Ipv6Addr::parse("2001:db8:0:1:1:1:1:1").to_string(), "2001:db8:0:1:1:1:1:1");  // one zero group
  EXPECT_EQ(Ipv6Addr::parse("2001:0:0:1:0:0:0:1").to_string(), "2001:0:0:1::1");           // longest run
  EXPECT_EQ(Ipv6Addr::parse("2001:db8:0:0:1:0:0:1").to_string(), "2001:db8::1:0:0:1");     // first of equals
  EXPECT_EQ(Ipv6Addr::parse("::").to_string(), "::");
  EXPECT_EQ(Ipv6Addr::parse("fe80::ABCD").to_string(), "fe80::abcd");
}

TEST(Ipv6Addr, HalvesRoundTrip) {
  auto a = Ipv6Addr::from_halves(0x20010db800000001ULL, 0x2);
  EXPECT_EQ(a.to_string(), "2001:db8:0:1::2");
  EXPECT_EQ(a.hi(), 0x20010db800000001ULL);
  EXPECT_EQ(a.lo(), 2u);
  EXPECT_TRUE(Ipv6Addr::parse("fe80::1").is_link_local());
  EXPECT_FALSE(Ipv6Addr::parse("fd10::1").is_link_local());
}

TEST(Ipv4Net, ClearsHostBitsAndComputesHosts) {
  auto n = Ipv4Net::parse("10.0.1.77/24");
  EXPECT_EQ(n.to_string(), "10.0.1.0/24");
  EXPECT_EQ(n.host(1).to_string(), "10.0.1.1");
  EXPECT_EQ(n.broadcast().to_string(), "10.0.1.255");
  EXPECT_EQ(n.size(), 256u);
  EXPECT_TRUE(n.contains(Ipv4Addr::parse("10.0.1.254")));
  EXPECT_FALSE(n.contains(Ipv4Addr::parse("10.0.2.1")));
  EXPECT_THROW(n.host(256), InvalidArgument);
}

TEST(Ipv4Net, DetectsOverlap) {
  auto a = Ipv4Net::parse("10.0.0.0/16");
  EXPECT_TRUE(a.overlaps(Ipv4Net::parse("10.0.5.0/24")));
  EXPECT_TRUE(Ipv4Net::parse("10.0.5.0/24").overlaps(a));
  EXPECT_FALSE(a.overlaps(Ipv4Net::parse("10.1.0.0/24")));
  EXPECT_THROW(Ipv4Net::parse("10.0.0.0/33"), InvalidArgument);
  EXPECT_THROW(Ipv4Net::parse("10.0.0.0"), InvalidArgument);
}

TEST(Ipv6Net, HostsAndContainment) {
  auto n = Ipv6Net::parse("fd10:0:0:1::/64");
  EXPECT_EQ(n.host(2).to_string(), "fd10:0:0:1::2");
  EXPECT_TRUE(n.contains(Ipv6Addr::parse("fd10:0:0:1:ffff::1")));
  EXPECT_FALSE(n.contains(Ipv6Addr::parse("fd10:0:0:2::1")));
  EXPECT_TRUE(Ipv6Net::parse("2001:db8::/32").overlaps(n) == false);
  EXPECT_TRUE(Ipv6Net::parse("fd10::/16").overlaps(n));
}

TEST(SocketAddr, ParsesBothFamilies) {
  auto a = SocketAddr::parse("1.2.3.4:5");
  EXPECT_TRUE(a.ip().is_v4());
  EXPECT_EQ(a.port(), 5);
  auto b = SocketAddr::parse("[2001:db8::1]:443");
  EXPECT_TRUE(b.ip().is_v6());
  EXPECT_EQ(b.to_string(), "[2001:db8::1]:443");
  for (const char* bad : {"1.2.3.4", "1.2.3.4:", "1.2.3.4:70000", "[::1]", "::1:80", "[::1]:x"})
    EXPECT_THROW(SocketAddr::parse(bad), InvalidArgument) << bad;
}

TEST(SocketAddr, ReportsV4MappedPeersAsV4) {
  sockaddr_in6 s{};
  s.sin6_family = AF_INET6;
  s.sin6_port = htons(99);
  s.sin6_addr = Ipv6Addr::parse("::ffff:10.0.0.2").to_in6_addr();
  auto a = SocketAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&s), sizeof s);
  EXPECT_EQ(a.to_string(), "10.0.0.2:99");
}
