// The address plan and host pools (SPEC 3.1-3.3, 17 items 23-28), without namespaces.
#include "core/addr_plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <unordered_set>

#include "patchbay/error.hpp"

namespace patchbay::core {
namespace {

Ipv4Net n4(const char* s) {
  return Ipv4Net::parse(s);
}
Ipv6Net n6(const char* s) {
  return Ipv6Net::parse(s);
}
Ipv4Addr a4(const char* s) {
  return Ipv4Addr::parse(s);
}
Ipv6Addr a6(const char* s) {
  return Ipv6Addr::parse(s);
}

// Runs `f`, expects exception E and returns its message.
template <class E, class Fn>
std::string message_of(Fn&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "unexpected exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no exception thrown";
  return {};
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

constexpr auto kPub = AddressPool::Public;
constexpr auto kPriv = AddressPool::Private;
constexpr auto kCgnat = AddressPool::Cgnat;
constexpr auto kNoRegion = std::nullopt;

// ---- IX ----

TEST(AddressPlan, FirstIxAllocationsAreSequential) {
  AddressPlan plan;
  for (int i = 0; i < 245; ++i) {
    auto lease = plan.alloc_ix_v4("router 'r'");
    EXPECT_EQ(lease.addr, Ipv4Addr(198, 18, 0, static_cast<std::uint8_t>(10 + i)));
    EXPECT_EQ(lease.subnet, n4("198.18.0.0/24"));
    EXPECT_EQ(lease.gw, a4("198.18.0.1"));
    EXPECT_FALSE(lease.new_subnet);
  }
  auto next = plan.alloc_ix_v4("router 'r'");
  EXPECT_EQ(next.addr, a4("198.19.0.10"));
  EXPECT_EQ(next.subnet, n4("198.19.0.0/24"));
  EXPECT_EQ(next.gw, a4("198.19.0.1"));
  EXPECT_TRUE(next.new_subnet);
  auto after = plan.alloc_ix_v4("router 'r'");
  EXPECT_EQ(after.addr, a4("198.19.0.11"));
  EXPECT_FALSE(after.new_subnet);
}

TEST(AddressPlan, FourThousandIxAllocationsAreUnique) {
  AddressPlan plan;
  std::set<Ipv4Addr> seen;
  for (int i = 0; i < 4096; ++i) {
    auto lease = plan.alloc_ix_v4("router 'r'");
    EXPECT_TRUE(lease.subnet.contains(lease.addr));
    EXPECT_TRUE(seen.insert(lease.addr).second) << lease.addr;
  }
  // 245 in 198.18.0.0/24, then 3851 more fill 15 extra subnets and part of a 16th.
  EXPECT_EQ(plan.ix_subnets().size(), 17u);
  EXPECT_EQ(plan.ix_subnets().back(), n4("198.19.15.0/24"));
}

TEST(AddressPlan, IxV6CountsToFffeThenContinuesInGroupSeven) {
  AddressPlan plan;
  std::set<Ipv6Addr> seen;
  for (std::uint64_t h = 0; h < 65519; ++h) {
    auto a = plan.alloc_ix_v6("router 'r'");
    ASSERT_EQ(a, Ipv6Addr::from_halves(0x20010db800000000ULL, 0x10 + h));
    seen.insert(a);
  }
  EXPECT_EQ(seen.size(), 65519u);
  EXPECT_EQ(seen.rbegin()->to_string(), "2001:db8::fffe");
  EXPECT_EQ(plan.alloc_ix_v6("router 'r'").to_string(), "2001:db8::1:0");
  EXPECT_EQ(plan.alloc_ix_v6("router 'r'").to_string(), "2001:db8::1:1");
}

TEST(AddressPlan, IxSubnetHeldByOverrideIsSkipped) {
  AddressPlan plan;
  plan.reserve_v4(n4("198.19.0.0/24"), "router 'custom'");
  for (int i = 0; i < 245; ++i) plan.alloc_ix_v4("router 'r'");
  auto lease = plan.alloc_ix_v4("router 'r'");
  EXPECT_EQ(lease.addr, a4("198.19.1.10"));
  EXPECT_TRUE(lease.new_subnet);
}

TEST(AddressPlan, ReleasedIxAddressIsReusedOnlyAfterExhaustionLowestFirst) {
  AddressPlan plan;
  for (int i = 0; i < 10; ++i) plan.alloc_ix_v4("router 'r'");
  plan.release_ix_v4(a4("198.18.0.12"));
  plan.release_ix_v4(a4("198.18.0.11"));
  EXPECT_EQ(plan.alloc_ix_v4("router 'r'").addr, a4("198.18.0.20"));
  Ipv4Addr last;
  for (int i = 11; i < 245 + 256 * 245; ++i) last = plan.alloc_ix_v4("router 'r'").addr;
  EXPECT_EQ(last, a4("198.19.255.254"));
  EXPECT_EQ(plan.alloc_ix_v4("router 'r'").addr, a4("198.18.0.11"));
  EXPECT_EQ(plan.alloc_ix_v4("router 'r'").addr, a4("198.18.0.12"));
  auto msg = message_of<PoolExhausted>([&] { plan.alloc_ix_v4("router 'late'"); });
  EXPECT_TRUE(contains(msg, "IX IPv4 pool")) << msg;
  EXPECT_TRUE(contains(msg, "router 'late'")) << msg;
}

TEST(AddressPlan, ReleasingUnleasedIxAddressIsRejected) {
  AddressPlan plan;
  EXPECT_THROW(plan.release_ix_v4(a4("198.18.0.10")), InvalidArgument);
  auto a = plan.alloc_ix_v4("router 'r'").addr;
  plan.release_ix_v4(a);
  EXPECT_THROW(plan.release_ix_v4(a), InvalidArgument);
  auto b = plan.alloc_ix_v6("router 'r'");
  plan.release_ix_v6(b);
  EXPECT_THROW(plan.release_ix_v6(b), InvalidArgument);
  EXPECT_THROW(plan.release_ix_v6(a6("2001:db8::ffff")), InvalidArgument);
}

// ---- downstream pools ----

TEST(AddressPlan, ThreeHundredHomeRoutersGetDistinctSubnetsAndThe256thIs10_1_0_0) {
  AddressPlan plan;
  std::vector<Ipv4Net> nets;
  for (int i = 0; i < 300; ++i) nets.push_back(plan.alloc_downstream_v4(kPriv, kNoRegion, "router 'home'"));
  EXPECT_EQ(nets[0], n4("10.0.1.0/24"));
  EXPECT_EQ(nets[254], n4("10.0.255.0/24"));
  EXPECT_EQ(nets[255], n4("10.1.0.0/24"));
  EXPECT_EQ(nets[299], n4("10.1.44.0/24"));
  EXPECT_EQ(std::set<Ipv4Net>(nets.begin(), nets.end()).size(), 300u);
}

TEST(AddressPlan, HomeDownstreamIsTenAndFd10) {
  AddressPlan plan;
  auto v4 = plan.alloc_downstream_v4(kPriv, kNoRegion, "router 'home'");
  auto v6 = plan.alloc_downstream_v6(false, "router 'home'");
  EXPECT_TRUE(v4.addr().is_private());
  EXPECT_TRUE(n4("10.0.0.0/8").contains(v4.addr()));
  EXPECT_EQ(v6, n6("fd10:0:0:1::/64"));
  EXPECT_TRUE(n6("fd10::/16").contains(v6.addr()));
}

TEST(AddressPlan, CgnatDownstreamIsInside100_64Slash10) {
  AddressPlan plan;
  auto first = plan.alloc_downstream_v4(kCgnat, kNoRegion, "router 'isp'");
  EXPECT_EQ(first, n4("100.64.1.0/24"));
  EXPECT_TRUE(n4("100.64.0.0/10").contains(first.addr()));
}

TEST(AddressPlan, PublicDownstreamIsNeitherPrivateNorCgnat) {
  AddressPlan plan;
  std::vector<Ipv4Net> nets;
  for (int i = 0; i < 17; ++i) nets.push_back(plan.alloc_downstream_v4(kPub, kNoRegion, "router 'dc'"));
  EXPECT_EQ(nets[0], n4("198.18.1.0/24"));
  EXPECT_EQ(nets[14], n4("198.18.15.0/24"));
  EXPECT_EQ(nets[15], n4("11.0.0.0/24"));
  EXPECT_EQ(nets[16], n4("11.0.1.0/24"));
  for (const auto& n : nets) {
    EXPECT_FALSE(n.addr().is_private()) << n;
    EXPECT_FALSE(n4("100.64.0.0/10").overlaps(n)) << n;
  }
  EXPECT_EQ(plan.alloc_downstream_v6(true, "router 'dc'"), n6("2001:db8:1:1::/64"));
}

TEST(AddressPlan, PrivateAndCgnatIgnoreRegionIndex) {
  AddressPlan plan;
  plan.alloc_region("router 'region_eu'");
  EXPECT_EQ(plan.alloc_downstream_v4(kPriv, 1u, "router 'home'"), n4("10.0.1.0/24"));
  EXPECT_EQ(plan.alloc_downstream_v4(kCgnat, 1u, "router 'isp'"), n4("100.64.1.0/24"));
}

TEST(AddressPlan, V6DownstreamMovesToGroupThreeAfterFfff) {
  AddressPlan plan;
  Ipv6Net ula, gua;
  for (int i = 0; i < 0xffff; ++i) {
    ula = plan.alloc_downstream_v6(false, "router 'home'");
    gua = plan.alloc_downstream_v6(true, "router 'dc'");
  }
  EXPECT_EQ(ula, n6("fd10:0:0:ffff::/64"));
  EXPECT_EQ(gua, n6("2001:db8:1:ffff::/64"));
  EXPECT_EQ(plan.alloc_downstream_v6(false, "router 'home'").to_string(), "fd10:0:1::/64");
  EXPECT_EQ(plan.alloc_downstream_v6(false, "router 'home'").to_string(), "fd10:0:1:1::/64");
  EXPECT_EQ(plan.alloc_downstream_v6(true, "router 'dc'").to_string(), "2001:db8:2::/64");
}

TEST(AddressPlan, GuaSkipsPrefixesUsedElsewhere) {
  AddressPlan plan;
  plan.reserve_v6(n6("2001:db8:1:2::/64"), "router 'custom'");
  EXPECT_EQ(plan.alloc_downstream_v6(true, "router 'a'"), n6("2001:db8:1:1::/64"));
  EXPECT_EQ(plan.alloc_downstream_v6(true, "router 'b'"), n6("2001:db8:1:3::/64"));
}

TEST(AddressPlan, GuaExtensionJumpsOverNptv6Block) {
  AddressPlan plan;
  // Fill groups 3 = 0x0001 ... 0x00fe with overrides so the next GUA prefix is past 2001:db8:ff::/48.
  for (const char* n :
       {"2001:db8:1::/48", "2001:db8:2::/47", "2001:db8:4::/46", "2001:db8:8::/45", "2001:db8:10::/44",
        "2001:db8:20::/43", "2001:db8:40::/42", "2001:db8:80::/42", "2001:db8:c0::/43", "2001:db8:e0::/44",
        "2001:db8:f0::/45", "2001:db8:f8::/46", "2001:db8:fc::/47", "2001:db8:fe::/48"}) {
    plan.reserve_v6(n6(n), "router 'custom'");
  }
  EXPECT_EQ(plan.alloc_downstream_v6(true, "router 'dc'").to_string(), "2001:db8:100::/64");
  EXPECT_EQ(plan.alloc_nptv6_external("router 'sub'").to_string(), "2001:db8:ff::/64");
}

// ---- overrides ----

TEST(AddressPlan, OverridesAreSkippedByLaterPoolAllocations) {
  AddressPlan plan;
  plan.reserve_v4(n4("10.0.1.0/24"), "router 'custom1'");
  plan.reserve_v4(n4("10.0.4.0/23"), "router 'custom2'");
  EXPECT_EQ(plan.alloc_downstream_v4(kPriv, kNoRegion, "router 'a'"), n4("10.0.2.0/24"));
  EXPECT_EQ(plan.alloc_downstream_v4(kPriv, kNoRegion, "router 'b'"), n4("10.0.3.0/24"));
  EXPECT_EQ(plan.alloc_downstream_v4(kPriv, kNoRegion, "router 'c'"), n4("10.0.6.0/24"));
  plan.reserve_v4(n4("198.18.1.0/24"), "router 'custom3'");
  EXPECT_EQ(plan.alloc_downstream_v4(kPub, kNoRegion, "router 'd'"), n4("198.18.2.0/24"));
}

TEST(AddressPlan, LargeOverrideIsSkippedInOneStep) {
  AddressPlan plan;
  plan.reserve_v4(n4("10.0.0.0/9"), "router 'big'");
  EXPECT_EQ(plan.alloc_downstream_v4(kPriv, kNoRegion, "router 'a'"), n4("10.128.0.0/24"));
}

TEST(AddressPlan, OverlappingOverrideIsRejectedNamingTheOwner) {
  AddressPlan plan;
  plan.alloc_downstream_v4(kPriv, kNoRegion, "router 'home'");
  auto msg = message_of<InvalidArgument>([&] { plan.reserve_v4(n4("10.0.0.0/16"), "router 'x'"); });
  EXPECT_EQ(
      msg,
      "10.0.0.0/16 requested by router 'x' overlaps 10.0.1.0/24 owned by router 'home' (downstream subnet)");

  plan.reserve_v4(n4("172.30.99.0/24"), "router 'custom'");
  msg = message_of<InvalidArgument>([&] { plan.reserve_v4(n4("172.30.0.0/16"), "router 'y'"); });
  EXPECT_TRUE(contains(msg, "router 'custom'")) << msg;

  plan.alloc_downstream_v6(false, "router 'home'");
  msg = message_of<InvalidArgument>([&] { plan.reserve_v6(n6("fd10::/16"), "router 'z'"); });
  EXPECT_TRUE(contains(msg, "fd10:0:0:1::/64 owned by router 'home'")) << msg;
}

TEST(AddressPlan, OverrideOverlappingIxRegionOrLinkIsRejected) {
  AddressPlan plan;
  auto region = plan.alloc_region("router 'region_eu'");
  auto link = plan.alloc_region_link("region link eu-us");
  auto msg = message_of<InvalidArgument>([&] { plan.reserve_v4(n4("198.18.0.128/25"), "router 'a'"); });
  EXPECT_TRUE(contains(msg, "owned by the IX (IX subnet)")) << msg;
  msg = message_of<InvalidArgument>([&] { plan.reserve_v4(n4("198.18.20.0/24"), "router 'b'"); });
  EXPECT_TRUE(contains(msg, region.block.to_string() + " owned by router 'region_eu' (region block)")) << msg;
  msg = message_of<InvalidArgument>([&] { plan.reserve_v4(n4("203.0.113.0/29"), "router 'c'"); });
  EXPECT_TRUE(contains(msg, "203.0.113.0/30 owned by region link eu-us (inter-region link)")) << msg;
  msg = message_of<InvalidArgument>([&] { plan.reserve_v6(link.net6, "router 'd'"); });
  EXPECT_TRUE(contains(msg, "inter-region link")) << msg;
  msg = message_of<InvalidArgument>([&] { plan.reserve_v6(n6("2001:db8::/48"), "router 'e'"); });
  EXPECT_TRUE(contains(msg, "the IX")) << msg;
}

TEST(AddressPlan, OverridePrefixLengthLimits) {
  AddressPlan plan;
  EXPECT_NO_THROW(plan.reserve_v4(n4("172.16.0.0/12"), "router 'a'"));
  EXPECT_NO_THROW(plan.reserve_v4(n4("44.0.0.0/8"), "router 'b'"));
  EXPECT_NO_THROW(plan.reserve_v4(n4("192.168.7.4/30"), "router 'c'"));
  EXPECT_THROW(plan.reserve_v4(n4("192.168.7.8/31"), "router 'd'"), InvalidArgument);
  EXPECT_NO_THROW(plan.reserve_v6(n6("fd20::/126"), "router 'e'"));
  EXPECT_THROW(plan.reserve_v6(n6("fd20::10/127"), "router 'f'"), InvalidArgument);
}

TEST(AddressPlan, ReleasedOverrideCanBeReservedAgain) {
  AddressPlan plan;
  plan.reserve_v4(n4("172.30.99.0/24"), "router 'a'");
  plan.release_v4(n4("172.30.99.0/24"));
  EXPECT_EQ(plan.find_conflict_v4(n4("172.30.99.0/24")), std::nullopt);
  EXPECT_NO_THROW(plan.reserve_v4(n4("172.30.0.0/16"), "router 'b'"));
}

TEST(AddressPlan, FindConflictDescribesTheHolder) {
  AddressPlan plan;
  plan.alloc_downstream_v4(kPriv, kNoRegion, "router 'home'");
  EXPECT_EQ(plan.find_conflict_v4(n4("10.0.0.0/8")),
            "10.0.1.0/24 owned by router 'home' (downstream subnet)");
  EXPECT_EQ(plan.find_conflict_v4(n4("10.0.2.0/24")), std::nullopt);
  EXPECT_EQ(plan.find_conflict_v4(n4("192.0.2.0/24")),
            "192.0.2.64/32 owned by NAT64 (router-internal source) (reserved)");
  EXPECT_TRUE(plan.find_conflict_v6(n6("64:ff9b::/96")).has_value());
}

// ---- release and reuse ----

TEST(AddressPlan, ReleasedSubnetIsReusedOnlyAfterPoolExhaustedLowestFirst) {
  AddressPlan plan;
  for (int i = 0; i < 3; ++i) plan.alloc_downstream_v4(kCgnat, kNoRegion, "router 'isp'");
  plan.release_v4(n4("100.64.2.0/24"));
  EXPECT_EQ(plan.alloc_downstream_v4(kCgnat, kNoRegion, "router 'isp'"), n4("100.64.4.0/24"));
  Ipv4Net last;
  for (int i = 4; i < 16383; ++i) last = plan.alloc_downstream_v4(kCgnat, kNoRegion, "router 'isp'");
  EXPECT_EQ(last, n4("100.127.255.0/24"));
  plan.release_v4(n4("100.64.3.0/24"));
  EXPECT_EQ(plan.alloc_downstream_v4(kCgnat, kNoRegion, "router 'isp'"), n4("100.64.2.0/24"));
  EXPECT_EQ(plan.alloc_downstream_v4(kCgnat, kNoRegion, "router 'isp'"), n4("100.64.3.0/24"));
  auto msg = message_of<PoolExhausted>([&] { plan.alloc_downstream_v4(kCgnat, kNoRegion, "router 'x'"); });
  EXPECT_EQ(msg, "CGNAT IPv4 pool exhausted while allocating for router 'x'");
}

TEST(AddressPlan, PublicReuseFollowsPoolOrderNotAddressOrder) {
  AddressPlan plan;
  for (int i = 0; i < 15 + 32768; ++i) plan.alloc_downstream_v4(kPub, kNoRegion, "router 'dc'");
  plan.release_v4(n4("11.0.0.0/24"));
  plan.release_v4(n4("198.18.5.0/24"));
  EXPECT_EQ(plan.alloc_downstream_v4(kPub, kNoRegion, "router 'dc'"), n4("198.18.5.0/24"));
  EXPECT_EQ(plan.alloc_downstream_v4(kPub, kNoRegion, "router 'dc'"), n4("11.0.0.0/24"));
  EXPECT_THROW(plan.alloc_downstream_v4(kPub, kNoRegion, "router 'dc'"), PoolExhausted);
}

TEST(AddressPlan, ReleasingUnknownOrPermanentSubnetIsRejected) {
  AddressPlan plan;
  EXPECT_THROW(plan.release_v4(n4("10.0.9.0/24")), InvalidArgument);
  EXPECT_THROW(plan.release_v4(AddressPlan::ix_cidr()), InvalidArgument);
  EXPECT_THROW(plan.release_v6(AddressPlan::ix_cidr_v6()), InvalidArgument);
  auto n = plan.alloc_downstream_v4(kPriv, kNoRegion, "router 'a'");
  plan.release_v4(n);
  EXPECT_THROW(plan.release_v4(n), InvalidArgument);
}

// ---- regions ----

TEST(AddressPlan, RegionlessPublicRoutersNeverOverlapRegionBlock) {
  AddressPlan plan;
  std::vector<Ipv4Net> pub;
  for (int i = 0; i < 20; ++i) pub.push_back(plan.alloc_downstream_v4(kPub, kNoRegion, "router 'dc'"));
  auto region = plan.alloc_region("router 'region_eu'");
  EXPECT_EQ(region.index, 1u);
  EXPECT_EQ(region.block, n4("198.18.16.0/20"));
  EXPECT_EQ(region.bridge_subnet, n4("198.18.16.0/24"));
  for (int i = 0; i < 5; ++i) pub.push_back(plan.alloc_downstream_v4(kPub, kNoRegion, "router 'dc'"));
  for (const auto& n : pub) EXPECT_FALSE(region.block.overlaps(n)) << n;
  EXPECT_EQ(plan.alloc_downstream_v4(kPub, region.index, "router 'dc-eu'"), n4("198.18.17.0/24"));
}

TEST(AddressPlan, RegionBridgeV6IsTheNextPublicSlash64) {
  AddressPlan plan;
  EXPECT_EQ(plan.alloc_downstream_v6(true, "router 'dc'"), n6("2001:db8:1:1::/64"));
  EXPECT_EQ(plan.alloc_region("router 'region_us'").bridge_v6, n6("2001:db8:1:2::/64"));
}

TEST(AddressPlan, RegionsBeyondFifteenTakeBlocksFromThirdQuarterOfE) {
  AddressPlan plan;
  for (std::uint32_t r = 1; r <= 15; ++r) {
    auto region = plan.alloc_region("router 'region'");
    EXPECT_EQ(region.index, r);
    EXPECT_EQ(region.block, Ipv4Net(Ipv4Addr(198, 18, static_cast<std::uint8_t>(16 * r), 0), 20));
  }
  auto r16 = plan.alloc_region("router 'region_16'");
  EXPECT_EQ(r16.index, 16u);
  EXPECT_EQ(r16.block, n4("11.128.0.0/20"));
  EXPECT_EQ(r16.bridge_subnet, n4("11.128.0.0/24"));
  EXPECT_EQ(plan.alloc_region("router 'region_17'").block, n4("11.128.16.0/20"));
  EXPECT_EQ(plan.alloc_downstream_v4(kPub, 16u, "router 'dc16'"), n4("11.128.1.0/24"));
}

TEST(AddressPlan, RegionSkipsFixedBlockHeldByOverride) {
  AddressPlan plan;
  plan.reserve_v4(n4("198.18.16.0/24"), "router 'custom'");
  EXPECT_EQ(plan.alloc_region("router 'region_eu'").block, n4("11.128.0.0/20"));
  EXPECT_EQ(plan.alloc_region("router 'region_us'").block, n4("198.18.32.0/20"));
}

TEST(AddressPlan, FullRegionReusesReleasedSubnetThenOpensAnotherBlock) {
  AddressPlan plan;
  auto region = plan.alloc_region("router 'region_eu'");
  std::vector<Ipv4Net> nets;
  for (int i = 0; i < 3; ++i) nets.push_back(plan.alloc_downstream_v4(kPub, region.index, "router 'eu'"));
  EXPECT_EQ(nets[2], n4("198.18.19.0/24"));
  plan.release_v4(n4("198.18.18.0/24"));
  EXPECT_EQ(plan.alloc_downstream_v4(kPub, region.index, "router 'eu'"), n4("198.18.20.0/24"));
  Ipv4Net last;
  for (int i = 0; i < 11; ++i) last = plan.alloc_downstream_v4(kPub, region.index, "router 'eu'");
  EXPECT_EQ(last, n4("198.18.31.0/24"));
  EXPECT_EQ(plan.alloc_downstream_v4(kPub, region.index, "router 'eu'"), n4("198.18.18.0/24"));
  EXPECT_EQ(plan.alloc_downstream_v4(kPub, region.index, "router 'eu'"), n4("11.128.0.0/24"));
  EXPECT_EQ(plan.alloc_downstream_v4(kPub, region.index, "router 'eu'"), n4("11.128.1.0/24"));
  EXPECT_EQ(plan.region_blocks(region.index),
            (std::vector<Ipv4Net>{n4("198.18.16.0/20"), n4("11.128.0.0/20")}));
  EXPECT_THROW(plan.release_v4(region.bridge_subnet), InvalidArgument);
  EXPECT_THROW(plan.alloc_downstream_v4(kPub, 2u, "router 'nowhere'"), InvalidArgument);
}

// ---- inter-region links ----

TEST(AddressPlan, FirstInterRegionLinksUseTestNet3AndFd11) {
  AddressPlan plan;
  auto l0 = plan.alloc_region_link("link us-eu");
  EXPECT_EQ(l0.k, 0u);
  EXPECT_EQ(l0.net, n4("203.0.113.0/30"));
  EXPECT_EQ(l0.a, a4("203.0.113.1"));
  EXPECT_EQ(l0.b, a4("203.0.113.2"));
  EXPECT_EQ(l0.net6.to_string(), "fd11::/126");
  EXPECT_EQ(l0.a6.to_string(), "fd11::1");
  EXPECT_EQ(l0.b6.to_string(), "fd11::2");
  auto l1 = plan.alloc_region_link("link us-asia");
  EXPECT_EQ(l1.net, n4("203.0.113.4/30"));
  EXPECT_EQ(l1.a, a4("203.0.113.5"));
  EXPECT_EQ(l1.net6.to_string(), "fd11:0:0:1::/126");
}

TEST(AddressPlan, InterRegionLinksBeyondSixtyThreeUseLastQuarterOfE) {
  AddressPlan plan;
  AddressPlan::RegionLinkAlloc l;
  for (int i = 0; i < 64; ++i) l = plan.alloc_region_link("link");
  EXPECT_EQ(l.net, n4("203.0.113.252/30"));
  l = plan.alloc_region_link("link");
  EXPECT_EQ(l.k, 64u);
  EXPECT_EQ(l.net, n4("11.192.0.0/30"));
  EXPECT_EQ(l.a, a4("11.192.0.1"));
  EXPECT_EQ(l.b, a4("11.192.0.2"));
  EXPECT_EQ(l.net6.to_string(), "fd11:0:0:40::/126");
}

TEST(AddressPlan, InterRegionV6MovesToGroupThreeAfter65536Links) {
  AddressPlan plan;
  AddressPlan::RegionLinkAlloc l;
  for (int i = 0; i <= 65536; ++i) l = plan.alloc_region_link("link");
  EXPECT_EQ(l.k, 65536u);
  EXPECT_EQ(l.net6.to_string(), "fd11:0:1::/126");
  EXPECT_EQ(l.a6.to_string(), "fd11:0:1::1");
  EXPECT_EQ(l.net, n4("11.195.255.0/30"));
}

TEST(AddressPlan, ReleasedLinkIsReusedAfterExhaustionLowestFirst) {
  AddressPlan::Options opts;
  opts.extended_public_v4 = n4("44.0.0.0/18");  // last quarter holds 1024 /30s
  AddressPlan plan(opts);
  for (int i = 0; i < 64 + 1024; ++i) plan.alloc_region_link("link");
  EXPECT_THROW(plan.alloc_region_link("link late"), PoolExhausted);
  plan.release_region_link(70);
  plan.release_v4(n4("203.0.113.20/30"));  // link 5, released through its subnet
  EXPECT_EQ(plan.find_conflict_v6(n6("fd11:0:0:5::/126")), std::nullopt);
  auto a = plan.alloc_region_link("link");
  EXPECT_EQ(a.k, 5u);
  EXPECT_EQ(a.net, n4("203.0.113.20/30"));
  auto b = plan.alloc_region_link("link");
  EXPECT_EQ(b.k, 70u);
  EXPECT_EQ(b.net, n4("44.0.48.24/30"));
  EXPECT_THROW(plan.release_region_link(5000), InvalidArgument);
}

// ---- NPTv6 ----

TEST(AddressPlan, Nptv6PrefixForIxMovesLastGroupToGroupFour) {
  EXPECT_EQ(AddressPlan::nptv6_prefix_for_ix(a6("2001:db8::10"), 64).to_string(), "2001:db8:0:10::/64");
  EXPECT_EQ(AddressPlan::nptv6_prefix_for_ix(a6("2001:db8::fffe"), 64).to_string(), "2001:db8:0:fffe::/64");
}

TEST(AddressPlan, Nptv6ForIxUsesFormulaThenExternalPoolOnOverflow) {
  AddressPlan plan;
  EXPECT_EQ(plan.alloc_nptv6_ix(a6("2001:db8::10"), 64, "router 'a'").to_string(), "2001:db8:0:10::/64");
  // The formula prefix is taken: fall back to the external pool.
  EXPECT_EQ(plan.alloc_nptv6_ix(a6("2001:db8::10"), 64, "router 'b'").to_string(), "2001:db8:ff::/64");
  // Identifier beyond one group (IX overflow).
  EXPECT_EQ(plan.alloc_nptv6_ix(a6("2001:db8::1:0"), 64, "router 'c'").to_string(), "2001:db8:ff:1::/64");
  auto p80 = plan.alloc_nptv6_ix(a6("2001:db8::11"), 80, "router 'd'");
  EXPECT_EQ(p80.to_string(), "2001:db8:0:11::/80");
  plan.release_v6(p80);
  EXPECT_EQ(plan.alloc_nptv6_ix(a6("2001:db8::11"), 80, "router 'd'"), p80);
  auto msg = message_of<InvalidArgument>([&] { plan.reserve_v6(n6("2001:db8:0:10::/120"), "router 'e'"); });
  EXPECT_TRUE(contains(msg, "router 'a' (NPTv6 prefix)")) << msg;
}

TEST(AddressPlan, Nptv6ExternalPrefixesAreSequentialAndAligned) {
  AddressPlan plan;
  EXPECT_EQ(plan.alloc_nptv6_external("router 's1'").to_string(), "2001:db8:ff::/64");
  EXPECT_EQ(plan.alloc_nptv6_external("router 's2'").to_string(), "2001:db8:ff:1::/64");
  auto p60 = plan.alloc_nptv6_external("router 's3'", 60);
  EXPECT_EQ(p60.to_string(), "2001:db8:ff:10::/60");
  EXPECT_EQ(plan.alloc_nptv6_external("router 's4'").to_string(), "2001:db8:ff:20::/64");
  EXPECT_EQ(plan.alloc_nptv6_external("router 's5'", 96).to_string(), "2001:db8:ff:21::/96");
  plan.release_v6(p60);
  EXPECT_EQ(plan.find_conflict_v6(p60), std::nullopt);
  EXPECT_THROW(plan.alloc_nptv6_external("router 's6'", 40), InvalidArgument);
}

// ---- extended range ----

TEST(AddressPlan, ExtendedRangeIsConfigurableAndValidated) {
  AddressPlan::Options opts;
  opts.extended_public_v4 = n4("44.0.0.0/16");
  AddressPlan plan(opts);
  for (int i = 0; i < 15; ++i) plan.alloc_downstream_v4(kPub, kNoRegion, "router 'dc'");
  EXPECT_EQ(plan.alloc_downstream_v4(kPub, kNoRegion, "router 'dc'"), n4("44.0.0.0/24"));
  for (int i = 0; i < 15; ++i) plan.alloc_region("router 'region'");
  EXPECT_EQ(plan.alloc_region("router 'region_16'").block, n4("44.0.128.0/20"));

  for (const char* bad : {"10.0.0.0/8", "198.0.0.0/8", "172.0.0.0/8", "11.0.0.0/20"}) {
    opts.extended_public_v4 = n4(bad);
    EXPECT_THROW(AddressPlan{opts}, InvalidArgument) << bad;
  }
}

// ---- determinism and scale ----

std::vector<std::string> build_sequence() {
  AddressPlan plan;
  std::vector<std::string> out;
  auto region = plan.alloc_region("router 'region_eu'");
  out.push_back(region.block.to_string() + region.bridge_v6.to_string());
  for (int i = 0; i < 50; ++i) {
    out.push_back(plan.alloc_ix_v4("router").addr.to_string());
    out.push_back(plan.alloc_ix_v6("router").to_string());
    out.push_back(plan.alloc_downstream_v4(static_cast<AddressPool>(i % 3),
                                           i % 2 ? std::optional(1u) : std::nullopt, "router")
                      .to_string());
    out.push_back(plan.alloc_downstream_v6(i % 2, "router").to_string());
    if (i % 7 == 0) out.push_back(plan.alloc_region_link("link").net.to_string());
  }
  return out;
}

TEST(AddressPlan, SameCallSequenceGivesSameAddresses) {
  auto first = build_sequence();
  EXPECT_EQ(first.size(), 209u);
  EXPECT_EQ(first, build_sequence());
}

template <class Net>
void expect_disjoint(std::vector<Net> nets) {
  std::sort(nets.begin(), nets.end());
  // Sorted by address then length, any overlap shows up between neighbours.
  for (std::size_t i = 1; i < nets.size(); ++i)
    EXPECT_FALSE(nets[i - 1].overlaps(nets[i])) << nets[i - 1] << " " << nets[i];
}

TEST(AddressPlan, Serves4096RoutersAnd65536DevicesWithoutCollision) {
  auto start = std::chrono::steady_clock::now();
  AddressPlan plan;
  std::vector<Ipv4Net> subnets4;
  std::vector<Ipv6Net> subnets6{AddressPlan::ix_cidr_v6()};
  std::vector<Ipv4Addr> addrs4;
  std::vector<Ipv6Addr> addrs6;

  struct Lan {
    HostPoolV4 v4;
    HostPoolV6 v6;
  };
  std::vector<Lan> bridges, lans;
  std::vector<std::uint32_t> region_of_lan;
  for (int r = 0; r < 40; ++r) {
    auto reg = plan.alloc_region("router 'region_" + std::to_string(r) + "'");
    subnets4.push_back(reg.bridge_subnet);
    subnets6.push_back(reg.bridge_v6);
    bridges.push_back(
        {HostPoolV4(reg.bridge_subnet, 10, "bridge"), HostPoolV6(reg.bridge_v6, 0x10, "bridge")});
  }
  for (int a = 0; a < 40; ++a) {
    for (int b = a + 1; b < 40; ++b) {
      auto l = plan.alloc_region_link("link");
      subnets4.push_back(l.net);
      subnets6.push_back(l.net6);
      addrs4.insert(addrs4.end(), {l.a, l.b});
      addrs6.insert(addrs6.end(), {l.a6, l.b6});
    }
  }
  std::vector<Ipv4Net> region_nets;
  for (int i = 0; i < 4096; ++i) {
    std::string owner = "router 'r" + std::to_string(i) + "'";
    int kind = i % 8;
    // Uplink: IX, a region bridge, or the LAN of an earlier router (nesting).
    if (kind <= 2 || kind == 6) {
      auto lease = plan.alloc_ix_v4(owner);
      addrs4.push_back(lease.addr);
      if (lease.new_subnet) subnets4.push_back(lease.subnet);
      auto wan6 = plan.alloc_ix_v6(owner);
      addrs6.push_back(wan6);
      if (i % 16 == 0) subnets6.push_back(plan.alloc_nptv6_ix(wan6, 64, owner));
    } else if (kind == 3) {
      auto& br = bridges[static_cast<std::size_t>(i / 8 % 40)];
      addrs4.push_back(br.v4.alloc());
      addrs6.push_back(br.v6.alloc());
    } else {
      auto& parent = lans[static_cast<std::size_t>(i / 3)];
      addrs4.push_back(parent.v4.alloc());
      addrs6.push_back(parent.v6.alloc());
      if (kind == 4) subnets6.push_back(plan.alloc_nptv6_external(owner));
    }
    // Downstream.
    Ipv4Net lan4;
    Ipv6Net lan6;
    if (kind == 6) {
      lan4 = Ipv4Net(
          Ipv4Addr(172, static_cast<std::uint8_t>(16 + i / 256 % 16), static_cast<std::uint8_t>(i % 256), 0),
          24);
      lan6 = Ipv6Net(Ipv6Addr::from_halves(0xfd20000000000000ULL | static_cast<std::uint64_t>(i), 0), 64);
      plan.reserve_v4(lan4, owner);
      plan.reserve_v6(lan6, owner);
    } else {
      static constexpr AddressPool kPools[] = {kPriv, kPub, kCgnat, kPub, kPriv, kPriv, kPub, kPub};
      std::optional<std::uint32_t> region;
      if (kind == 3) region = static_cast<std::uint32_t>(i / 8 % 40 + 1);
      lan4 = plan.alloc_downstream_v4(kPools[kind], region, owner);
      lan6 = plan.alloc_downstream_v6(kPools[kind] == kPub, owner);
      if (region) {
        auto blocks = plan.region_blocks(*region);
        EXPECT_TRUE(std::any_of(blocks.begin(), blocks.end(),
                                [&](const Ipv4Net& b) { return b.contains(lan4.addr()); }));
      }
    }
    subnets4.push_back(lan4);
    subnets6.push_back(lan6);
    lans.push_back({HostPoolV4(lan4, 2, lan_exhausted_message(owner, 253)), HostPoolV6(lan6, 2, "lan v6")});
    addrs4.push_back(lans.back().v4.gateway());
    addrs6.push_back(lans.back().v6.gateway());
  }
  for (int d = 0; d < 65536; ++d) {
    auto& lan = lans[static_cast<std::size_t>(d % 4096)];
    auto ip = lan.v4.alloc();
    ASSERT_TRUE(lan.v4.net().contains(ip));
    addrs4.push_back(ip);
    addrs6.push_back(lan.v6.alloc());
  }
  auto elapsed = std::chrono::steady_clock::now() - start;

  // Region subnets live inside region blocks; everything else must be pairwise disjoint.
  expect_disjoint(subnets4);
  expect_disjoint(subnets6);
  EXPECT_EQ(std::unordered_set<Ipv4Addr>(addrs4.begin(), addrs4.end()).size(), addrs4.size());
  EXPECT_EQ(std::unordered_set<Ipv6Addr>(addrs6.begin(), addrs6.end()).size(), addrs6.size());
  EXPECT_GE(addrs4.size(), 4096u + 65536u);
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count(), 3000);
}

// ---- host pools ----

TEST(HostPoolV4, HandsOutGatewayPlusOneUpToBroadcastMinusOne) {
  HostPoolV4 pool(n4("10.0.1.0/24"), 2, lan_exhausted_message("router 'home'", 253));
  EXPECT_EQ(pool.gateway(), a4("10.0.1.1"));
  EXPECT_EQ(pool.capacity(), 253u);
  EXPECT_EQ(pool.alloc(), a4("10.0.1.2"));
  EXPECT_EQ(pool.alloc(), a4("10.0.1.3"));
  Ipv4Addr last;
  for (int i = 0; i < 251; ++i) last = pool.alloc();
  EXPECT_EQ(last, a4("10.0.1.254"));
  auto msg = message_of<PoolExhausted>([&] { pool.alloc(); });
  EXPECT_EQ(
      msg,
      "downstream subnet of router 'home' exhausted (253 hosts); use downstream_cidr with a shorter prefix");
}

TEST(HostPoolV4, Slash30HoldsOneHostThenThrowsNamingTheRouter) {
  HostPoolV4 pool(n4("172.30.99.0/30"), 2, lan_exhausted_message("router 'tiny'", 1));
  EXPECT_EQ(pool.gateway(), a4("172.30.99.1"));
  EXPECT_EQ(pool.capacity(), 1u);
  EXPECT_EQ(pool.alloc(), a4("172.30.99.2"));
  auto msg = message_of<PoolExhausted>([&] { pool.alloc(); });
  EXPECT_TRUE(contains(msg, "router 'tiny'")) << msg;
  // renew has nowhere to go and leaves the old address in place.
  EXPECT_THROW(pool.renew(a4("172.30.99.2")), PoolExhausted);
  EXPECT_TRUE(pool.in_use(a4("172.30.99.2")));
}

TEST(HostPoolV4, Slash16Holds65533Devices) {
  HostPoolV4 pool(n4("10.9.0.0/16"), 2, "full");
  EXPECT_EQ(pool.capacity(), 65533u);
  std::unordered_set<Ipv4Addr> seen;
  Ipv4Addr last;
  for (int i = 0; i < 65533; ++i) {
    last = pool.alloc();
    seen.insert(last);
  }
  EXPECT_EQ(seen.size(), 65533u);
  EXPECT_EQ(last, a4("10.9.255.254"));
  EXPECT_THROW(pool.alloc(), PoolExhausted);
}

TEST(HostPoolV4, RegionBridgeStartsAtTen) {
  HostPoolV4 pool(n4("198.18.16.0/24"), 10, "bridge");
  EXPECT_EQ(pool.gateway(), a4("198.18.16.1"));
  EXPECT_EQ(pool.alloc(), a4("198.18.16.10"));
  EXPECT_EQ(pool.capacity(), 245u);
}

TEST(HostPoolV4, RenewNeverReturnsTheOldAddress) {
  HostPoolV4 pool(n4("10.0.1.0/29"), 2, "full");
  for (int i = 0; i < 5; ++i) pool.alloc();  // .2 ... .6, pool full
  pool.release(a4("10.0.1.3"));
  EXPECT_EQ(pool.renew(a4("10.0.1.2")), a4("10.0.1.3"));
  EXPECT_FALSE(pool.in_use(a4("10.0.1.2")));
  EXPECT_EQ(pool.renew(a4("10.0.1.3")), a4("10.0.1.2"));
  EXPECT_FALSE(pool.in_use(a4("10.0.1.3")));
  EXPECT_THROW(pool.renew(a4("10.0.1.3")), InvalidArgument);
}

TEST(HostPoolV4, RenewInFreshPoolTakesNextNeverUsedAddress) {
  HostPoolV4 pool(n4("10.0.1.0/24"), 2, "full");
  auto a = pool.alloc();
  pool.alloc();
  EXPECT_EQ(pool.renew(a), a4("10.0.1.4"));
  EXPECT_EQ(pool.alloc(), a4("10.0.1.5"));  // .2 waits until the never-used space is gone
}

TEST(HostPoolV4, ReleasedAddressesAreReusedAfterExhaustionLowestFirst) {
  HostPoolV4 pool(n4("10.0.1.0/28"), 2, "full");  // .2 ... .14
  for (int i = 0; i < 4; ++i) pool.alloc();       // .2 ... .5
  pool.release(a4("10.0.1.4"));
  pool.release(a4("10.0.1.3"));
  EXPECT_EQ(pool.alloc(), a4("10.0.1.6"));
  for (int i = 0; i < 8; ++i) pool.alloc();  // .7 ... .14
  EXPECT_EQ(pool.alloc(), a4("10.0.1.3"));
  EXPECT_EQ(pool.alloc(), a4("10.0.1.4"));
  EXPECT_THROW(pool.alloc(), PoolExhausted);
  EXPECT_THROW(pool.release(a4("10.0.1.15")), InvalidArgument);  // broadcast
  pool.release(a4("10.0.1.9"));
  EXPECT_THROW(pool.release(a4("10.0.1.9")), InvalidArgument);
}

TEST(HostPoolV4, ReservedAddressIsSkippedByAlloc) {
  HostPoolV4 pool(n4("10.0.1.0/29"), 2, "full");
  pool.reserve(a4("10.0.1.3"));
  EXPECT_EQ(pool.alloc(), a4("10.0.1.2"));
  EXPECT_EQ(pool.alloc(), a4("10.0.1.4"));
  EXPECT_THROW(pool.reserve(a4("10.0.1.3")), InvalidArgument);
  EXPECT_THROW(pool.reserve(a4("10.0.1.1")), InvalidArgument);  // gateway
  EXPECT_THROW(pool.reserve(a4("10.0.1.7")), InvalidArgument);  // broadcast
  EXPECT_THROW(pool.reserve(a4("10.0.2.3")), InvalidArgument);  // outside
  pool.release(a4("10.0.1.3"));
  EXPECT_EQ(pool.alloc(), a4("10.0.1.5"));
  EXPECT_EQ(pool.alloc(), a4("10.0.1.6"));
  EXPECT_EQ(pool.alloc(), a4("10.0.1.3"));
}

TEST(HostPoolV4, RejectsPrefixesLongerThanSlash30) {
  EXPECT_THROW(HostPoolV4(n4("10.0.1.0/31"), 2, "x"), InvalidArgument);
}

TEST(HostPoolV6, HandsOutFromTwoAndRegionBridgesFromHex10) {
  HostPoolV6 lan(n6("fd10:0:0:1::/64"), 2, "lan");
  EXPECT_EQ(lan.gateway().to_string(), "fd10:0:0:1::1");
  EXPECT_EQ(lan.alloc().to_string(), "fd10:0:0:1::2");
  EXPECT_EQ(lan.alloc().to_string(), "fd10:0:0:1::3");
  HostPoolV6 bridge(n6("2001:db8:1:1::/64"), 0x10, "bridge");
  EXPECT_EQ(bridge.alloc().to_string(), "2001:db8:1:1::10");
}

TEST(HostPoolV6, Slash126HoldsOneHost) {
  HostPoolV6 pool(n6("fd20::/126"), 2, "tiny v6 full");
  EXPECT_EQ(pool.capacity(), 1u);
  EXPECT_EQ(pool.alloc().to_string(), "fd20::2");
  EXPECT_EQ(message_of<PoolExhausted>([&] { pool.alloc(); }), "tiny v6 full");
}

TEST(HostPoolV6, CounterIs64Bit) {
  HostPoolV6 pool(n6("fd10:0:0:1::/64"), 2, "lan");
  EXPECT_EQ(pool.capacity(), ~std::uint64_t{0} - 2);
  EXPECT_NO_THROW(pool.reserve(a6("fd10:0:0:1:ffff:ffff:ffff:fffe")));
  EXPECT_THROW(pool.reserve(a6("fd10:0:0:1:ffff:ffff:ffff:ffff")), InvalidArgument);
  auto old = pool.alloc();
  auto fresh = pool.renew(old);
  EXPECT_NE(fresh, old);
  EXPECT_EQ(fresh.to_string(), "fd10:0:0:1::3");
  EXPECT_FALSE(pool.in_use(old));
}

TEST(HostPoolV6, ShortPrefixUsesFirstSlash64) {
  HostPoolV6 pool(n6("fd30::/48"), 2, "lan");
  EXPECT_EQ(pool.alloc().to_string(), "fd30::2");
  EXPECT_THROW(pool.reserve(a6("fd30:0:0:1::5")), InvalidArgument);
}

}  // namespace
}  // namespace patchbay::core
