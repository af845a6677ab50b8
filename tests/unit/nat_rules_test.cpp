// The generated nftables text: the structure each NAT/firewall choice must produce. (That the
// kernel accepts it and behaves is proven by the integration tests.)
#include <gtest/gtest.h>

#include "nat/rules.hpp"

using namespace patchbay;
using namespace patchbay::nat;

namespace {

NatParams params(Nat n) {
  return NatParams{"ix", "br-lan", Ipv4Addr::parse("198.18.0.11"), *n.to_config()};
}

bool has(const std::string& s, const std::string& needle) {
  return s.find(needle) != std::string::npos;
}

std::string nat_ruleset_r(const NatParams& p) {
  return nat_ruleset(p, true);
}

}  // namespace

TEST(NatRules, ReplaceTheWholeTableInOneScript) {
  auto s = nat_ruleset_r(params(Nat::home()));
  EXPECT_EQ(s.rfind("add table ip pb_nat\ndelete table ip pb_nat\ntable ip pb_nat {", 0), 0u) << s;
  // First creation deletes nothing (deletions leave destroy work the xtables rule would wait for).
  EXPECT_EQ(nat_ruleset(params(Nat::home()), false).rfind("table ip pb_nat {", 0), 0u);
}

TEST(NatRules, NewMappingsAreMarkedForTheQueueTable) {
  auto s = nat_ruleset_r(params(Nat::home()));
  EXPECT_TRUE(has(s, "!= @map_udp meta mark set meta mark | 0x00800000")) << s;
  auto q = nat_queue_table();
  EXPECT_TRUE(
      has(q, "meta mark & 0x00800000 == 0x00800000 meta mark set meta mark & 0xff7fffff jump to_ctrl"))
      << q;
  EXPECT_TRUE(has(q, "priority -149"));
}

TEST(NatRules, EndpointIndependentMappingIsKeyedByTheInternalEndpointOnly) {
  auto s = nat_ruleset_r(params(Nat::home()));
  EXPECT_TRUE(has(s, "map map_udp { type ipv4_addr . inet_service : ipv4_addr . inet_service;")) << s;
  EXPECT_TRUE(has(s, "snat ip to ct original ip saddr . ct original proto-src map @map_udp")) << s;
}

TEST(NatRules, SymmetricMappingKeysIncludeTheRemoteEndpoint) {
  auto s = nat_ruleset_r(params(Nat::corporate()));
  EXPECT_TRUE(has(s, "type ipv4_addr . inet_service . ipv4_addr . inet_service : ipv4_addr . inet_service"))
      << s;
  EXPECT_TRUE(
      has(s, "ct original ip saddr . ct original proto-src . ct original ip daddr . ct original proto-dst"));
}

TEST(NatRules, AddressDependentMappingKeysIncludeTheRemoteAddress) {
  auto cfg = NatConfig::builder().mapping(NatMapping::AddressDependent).build();
  auto s = nat_ruleset_r(NatParams{"wan", "br-lan", Ipv4Addr::parse("10.0.1.2"), cfg});
  EXPECT_TRUE(has(s, "type ipv4_addr . inet_service . ipv4_addr : ipv4_addr . inet_service")) << s;
}

TEST(NatRules, FilteringDecidesWhatInboundIsTranslated) {
  auto eif = nat_ruleset_r(params(Nat::full_cone()));
  EXPECT_TRUE(has(eif, "chain in_udp {\n    dnat ip to udp dport map @own_udp\n  }")) << eif;
  auto adf_cfg = NatConfig::builder().filtering(NatFiltering::AddressDependent).build();
  auto adf = nat_ruleset_r(NatParams{"ix", "br-lan", Ipv4Addr::parse("198.18.0.11"), adf_cfg});
  EXPECT_TRUE(has(adf, "udp dport . ip saddr @perm_udp dnat ip to udp dport map @own_udp")) << adf;
  EXPECT_TRUE(has(adf, "set perm_udp")) << adf;
  auto apdf = nat_ruleset_r(params(Nat::home()));
  EXPECT_FALSE(has(apdf, "jump in_udp")) << apdf;  // conntrack alone admits replies
  EXPECT_FALSE(has(apdf, "perm_udp"));
  // The prerouting nat chain exists even when empty.
  EXPECT_TRUE(has(apdf, "type nat hook prerouting priority dstnat"));
}

TEST(NatRules, HairpinTranslatesOrDropsLanTrafficToTheWanAddress) {
  auto on = nat_ruleset_r(params(Nat::full_cone()));
  EXPECT_TRUE(
      has(on, "iifname \"br-lan\" ip daddr 198.18.0.11 meta l4proto udp dnat ip to udp dport map @own_udp"));
  EXPECT_TRUE(has(on, "iifname \"br-lan\" oifname \"br-lan\" ct status dnat meta l4proto udp snat ip to"));
  EXPECT_FALSE(has(on, "drop\n    iifname \"br-lan\" ip daddr"));
  auto off = nat_ruleset_r(params(Nat::home()));
  EXPECT_TRUE(has(off, "iifname \"br-lan\" ip daddr 198.18.0.11 udp dport @own_udp drop")) << off;
  EXPECT_FALSE(has(off, "udp dport @own_udp ct original"));  // no hairpin mappings either
  EXPECT_FALSE(has(off, "oifname \"br-lan\" ct status dnat"));
}

TEST(NatRules, NewMappingsGoToTheControllerAndTimeoutsComeFromTheConfig) {
  auto cfg = NatConfig::builder().udp_timeout(7).udp_stream_timeout(77).tcp_established_timeout(777).build();
  auto s = nat_ruleset_r(NatParams{"ix", "br-lan", Ipv4Addr::parse("198.18.0.11"), cfg});
  EXPECT_TRUE(has(s, "timeout 7s")) << s;
  EXPECT_TRUE(has(s, "timeout 77s"));
  EXPECT_TRUE(has(s, "timeout 777s"));
  EXPECT_FALSE(has(s, "timeout 30s"));  // never a fixed value
}

TEST(NatRules, InboundRefreshIsOptional) {
  auto with = nat_ruleset_r(params(Nat::home()));
  EXPECT_TRUE(has(with, "iifname \"ix\" meta l4proto udp ct status snat"));
  auto cfg = *Nat::home().to_config();
  cfg.inbound_refresh = false;
  auto without = nat_ruleset_r(NatParams{"ix", "br-lan", Ipv4Addr::parse("198.18.0.11"), cfg});
  EXPECT_FALSE(has(without, "iifname \"ix\" meta l4proto udp ct status snat"));
}

TEST(FirewallRules, CorporateAllowsOnlyWebAndDns) {
  auto s = firewall_ruleset(FirewallParams{"ix", Firewall::corporate().to_config()}, true);
  EXPECT_TRUE(has(s, "ct state established,related accept"));
  EXPECT_TRUE(has(s, "meta l4proto { icmp, ipv6-icmp } accept"));
  EXPECT_TRUE(has(s, "iifname \"ix\" drop"));
  EXPECT_TRUE(has(s, "tcp dport != { 80, 443 } drop")) << s;
  EXPECT_TRUE(has(s, "udp dport != { 53 } drop")) << s;
}

TEST(FirewallRules, BlockAllAndAllowAll) {
  auto cfg = FirewallConfig::builder().block_tcp().build();
  auto s = firewall_ruleset(FirewallParams{"wan", cfg}, false);
  EXPECT_TRUE(has(s, "iifname != \"wan\" meta l4proto tcp drop")) << s;
  EXPECT_FALSE(has(s, "meta l4proto udp drop"));
  EXPECT_FALSE(has(s, "iifname \"wan\" drop"));
}

TEST(NatRules, ConntrackTimeoutsFollowTheConfig) {
  auto kv = conntrack_sysctls(ConntrackTimeouts{2, 3, 4, 5, 6});
  ASSERT_EQ(kv.size(), 5u);
  EXPECT_EQ(kv[0].path, "net/netfilter/nf_conntrack_udp_timeout");
  EXPECT_EQ(kv[0].value, "2");
  EXPECT_EQ(kv[1].value, "3");
  EXPECT_EQ(kv[2].value, "4");
  EXPECT_EQ(kv[3].value, "6");
  EXPECT_EQ(kv[4].path, "net/netfilter/nf_conntrack_tcp_loose");
  EXPECT_EQ(kv[4].value, "0");
}
