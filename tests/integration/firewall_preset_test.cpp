// SPEC 17.8 (firewalls) and 17.14 (router presets).
#include <gtest/gtest.h>

#include "nat_fixture.hpp"

using namespace patchbay;
using namespace pbtest;
using namespace std::chrono_literals;

namespace {

// A device behind a router with `fw`, and a server on a public router with listeners.
struct FwLab {
  Lab lab;
  Router dc, fw;
  Device dev, server;
  std::vector<ReflectorGuard> guards;

  explicit FwLab(Firewall f, Nat n = Nat::none())
      : dc(lab.add_router("dc").build()),
        fw(lab.add_router("fw").nat(std::move(n)).firewall(std::move(f)).build()),
        dev(lab.add_device("dev").iface("eth0", fw.id()).build()),
        server(lab.add_device("server").iface("eth0", dc.id()).build()) {}

  SocketAddr at(std::uint16_t port) { return {*server.ip(), port}; }
  void udp(std::uint16_t port) { guards.push_back(server.spawn_reflector(at(port))); }
  void tcp(std::uint16_t port) { guards.push_back(server.spawn_reflector(at(port), Proto::Tcp)); }
  bool udp_ok(std::uint16_t port) {
    auto s = udp_socket(dev, 0);
    return probe_from(s.get(), at(port), 500ms).has_value();
  }
  bool tcp_ok(std::uint16_t port) { return tcp_probe_from(dev, at(port), std::nullopt, 700ms).has_value(); }
};

}  // namespace

TEST(Firewall, CorporateBlocksUdpExceptDnsAndTcpExceptWeb) {
  FwLab l(Firewall::corporate());
  l.udp(9200);
  l.udp(53);
  l.tcp(9200);
  l.tcp(443);
  l.tcp(80);
  // Positive control: the server at 9200 is up and reachable by a permitted path (the server's
  // own LAN neighbour).
  auto neighbour = l.lab.add_device("neighbour").iface("eth0", l.dc.id()).build();
  auto ns = udp_socket(neighbour, 0);
  EXPECT_TRUE(probe_from(ns.get(), l.at(9200)));
  EXPECT_FALSE(l.udp_ok(9200));
  EXPECT_TRUE(l.udp_ok(53));
  EXPECT_TRUE(l.tcp_ok(443));
  EXPECT_TRUE(l.tcp_ok(80));
  EXPECT_FALSE(l.tcp_ok(9200));
}

TEST(Firewall, CaptivePortalBlocksUdpButNotTcp) {
  FwLab l(Firewall::captive_portal());
  l.udp(9201);
  l.tcp(8080);
  EXPECT_FALSE(l.udp_ok(9201));
  EXPECT_TRUE(l.tcp_ok(8080));
  FwLab open(Firewall::none());
  open.udp(9201);
  auto rtt = open.dev.run([&] { return patchbay::testing::udp_rtt(open.at(9201)); });
  EXPECT_LT(rtt, 500ms);
}

TEST(Firewall, CustomAllowUdpPortAndBlockTcp) {
  FwLab l(Firewall::custom(FirewallConfig::builder().allow_udp({5000}).block_tcp().build()));
  l.udp(5000);
  l.udp(9203);
  l.tcp(443);
  EXPECT_TRUE(l.udp_ok(5000));
  EXPECT_FALSE(l.udp_ok(9203));
  EXPECT_FALSE(l.tcp_ok(443));
  // Control: the same servers answer once the rule set is gone, so the silence was the firewall.
  l.fw.set_firewall(Firewall::none());
  EXPECT_TRUE(l.udp_ok(9203));
  EXPECT_TRUE(l.tcp_ok(443));
}

TEST(Firewall, BlockInboundAdmitsRepliesButNotUnsolicitedTraffic) {
  FwLab l(Firewall::block_inbound());
  l.udp(3478);
  EXPECT_TRUE(l.udp_ok(3478));  // outbound works, replies come back
  // A listener bound before anything is sent: unsolicited datagrams from the server never arrive.
  auto listener = udp_socket(l.dev, 6000);
  auto from_server = udp_socket(l.server, 6001);
  send_to(from_server.get(), {*l.dev.ip(), 6000}, "unsolicited");
  EXPECT_FALSE(recv_from(listener.get(), 500ms));
  // ...while the reply to the device's own flow is admitted (same sockets, other direction first).
  send_to(listener.get(), {*l.server.ip(), 6001}, "hello");
  ASSERT_TRUE(recv_from(from_server.get(), 1s));
  send_to(from_server.get(), {*l.dev.ip(), 6000}, "reply");
  EXPECT_TRUE(recv_from(listener.get(), 1s));
}

TEST(Firewall, BlockInboundOverridesEndpointIndependentFiltering) {
  FwLab l(Firewall::block_inbound(), Nat::full_cone());
  l.udp(3478);
  auto s = udp_socket(l.dev, 7000);
  auto mapped = probe_from(s.get(), l.at(3478));
  ASSERT_TRUE(mapped);
  auto other = udp_socket(l.server, 9999);
  send_to(other.get(), *mapped, "unsolicited");
  EXPECT_FALSE(recv_from(s.get(), 500ms));
  // Control: without the firewall the full cone admits it.
  l.fw.set_firewall(Firewall::none());
  send_to(other.get(), *mapped, "unsolicited");
  EXPECT_TRUE(recv_from(s.get(), 1s));
}

TEST(Firewall, CustomBlockInboundWithDnsOnly) {
  FwLab l(Firewall::custom(FirewallConfig::builder().block_inbound().allow_udp({53}).block_tcp().build()));
  l.udp(53);
  l.udp(9999);
  EXPECT_TRUE(l.udp_ok(53));
  EXPECT_FALSE(l.udp_ok(9999));
  l.fw.set_firewall(Firewall::none());  // control: the server on 9999 is there
  EXPECT_TRUE(l.udp_ok(9999));
}

TEST(Firewall, ChangesAtRuntime) {
  FwLab l(Firewall::none());
  l.udp(9200);
  auto sub = l.lab.subscribe();
  EXPECT_TRUE(l.udp_ok(9200));
  l.fw.set_firewall(Firewall::corporate());
  EXPECT_FALSE(l.udp_ok(9200));
  l.fw.set_firewall(Firewall::none());
  EXPECT_TRUE(l.udp_ok(9200));
  int changes = 0;
  while (auto ev = sub.next(200ms))
    if (ev->kind == "firewall_changed") ++changes;
  EXPECT_EQ(changes, 2);
  EXPECT_EQ(l.lab.state().routers["fw"]["firewall"], "none");
}

// ---- Presets ----

TEST(Presets, HomeIsDualStackPrivateAndReachesTheDataCentre) {
  Lab lab;
  auto dc = lab.add_router("dc").preset(RouterPreset::Public).build();
  auto home = lab.add_router("home").preset(RouterPreset::Home).build();
  auto d = lab.add_device("d").iface("eth0", home.id()).build();
  EXPECT_EQ(home.ip_support(), IpSupport::DualStack);
  EXPECT_EQ(home.nat_mode(), Nat::home());
  EXPECT_EQ(home.firewall(), Firewall::block_inbound());
  EXPECT_EQ(home.preset(), RouterPreset::Home);
  ASSERT_TRUE(d.ip());
  EXPECT_TRUE(d.ip()->is_private());
  ASSERT_TRUE(d.ip6());
  EXPECT_EQ(d.ip6()->groups()[0], 0xfd10);
  auto g = dc.spawn_reflector({*dc.uplink_ip(), 3478});
  // SPEC 17 convention: warm the path (ARP, the NAT's first-packet handling), then measure.
  auto rtt = d.run([&] { return patchbay::testing::udp_rtt_median({*dc.uplink_ip(), 3478}, 3, 3); });
  EXPECT_LT(rtt, 500ms);
}

TEST(Presets, PublicIsDualStackWithPublicAddresses) {
  Lab lab;
  auto dc = lab.add_router("dc").preset(RouterPreset::Public).build();
  auto d = lab.add_device("d").iface("eth0", dc.id()).build();
  EXPECT_EQ(dc.ip_support(), IpSupport::DualStack);
  EXPECT_FALSE(d.ip()->is_private());
  EXPECT_FALSE(Ipv4Net::parse("100.64.0.0/10").contains(*d.ip()));
  ASSERT_TRUE(d.ip6());
  EXPECT_TRUE(Ipv6Net::parse("2001:db8:1::/48").contains(*d.ip6()));
}

TEST(Presets, V4OnlyPresetsHaveNoIpv6) {
  Lab lab;
  auto hotel = lab.add_router("hotel").preset(RouterPreset::Hotel).build();
  auto pv4 = lab.add_router("pv4").preset(RouterPreset::PublicV4).build();
  auto h = lab.add_device("h").iface("eth0", hotel.id()).build();
  auto p = lab.add_device("p").iface("eth0", pv4.id()).build();
  EXPECT_TRUE(h.ip().has_value());
  EXPECT_FALSE(h.ip6().has_value());
  EXPECT_EQ(hotel.firewall(), Firewall::captive_portal());
  EXPECT_FALSE(p.ip()->is_private());
  EXPECT_FALSE(p.ip6().has_value());
}

TEST(Presets, IspCgnatHandsOutSharedAddressSpace) {
  Lab lab;
  auto dc = lab.add_router("dc").preset(RouterPreset::Public).build();
  auto isp = lab.add_router("isp").preset(RouterPreset::IspCgnat).build();
  auto d = lab.add_device("d").iface("eth0", isp.id()).build();
  EXPECT_EQ(isp.ip_support(), IpSupport::DualStack);
  EXPECT_TRUE(Ipv4Net::parse("100.64.0.0/10").contains(*d.ip()));
  auto g = dc.spawn_reflector({*dc.uplink_ip(), 3478});
  EXPECT_EQ(d.probe_udp_mapping({*dc.uplink_ip(), 3478}).ip(), IpAddr(*isp.uplink_ip()));
}

TEST(Presets, CorporateBlocksUdpAndAllowsWeb) {
  Lab lab;
  auto dc = lab.add_router("dc").preset(RouterPreset::Public).build();
  auto corp = lab.add_router("corp").preset(RouterPreset::Corporate).build();
  auto d = lab.add_device("d").iface("eth0", corp.id()).build();
  auto server = lab.add_device("server").iface("eth0", dc.id()).build();
  auto gu = server.spawn_reflector({*server.ip(), 9000});
  auto gt = server.spawn_reflector({*server.ip(), 443}, Proto::Tcp);
  auto s = udp_socket(d, 0);
  EXPECT_FALSE(probe_from(s.get(), {*server.ip(), 9000}, 500ms));
  EXPECT_TRUE(tcp_probe_from(d, {*server.ip(), 443}, std::nullopt));
}

TEST(Presets, SettersAfterAPresetOverrideOneColumn) {
  Lab lab;
  auto dc = lab.add_router("dc").preset(RouterPreset::Public).build();
  auto r = lab.add_router("r").preset(RouterPreset::Home).nat(Nat::full_cone()).build();
  EXPECT_EQ(r.nat_mode(), Nat::full_cone());
  EXPECT_EQ(r.ip_support(), IpSupport::DualStack);  // other columns keep the preset
  EXPECT_EQ(r.firewall(), Firewall::block_inbound());
  auto d = lab.add_device("d").iface("eth0", r.id()).build();
  auto g = dc.spawn_reflector({*dc.uplink_ip(), 3478});
  EXPECT_EQ(d.probe_udp_mapping({*dc.uplink_ip(), 3478}).ip(), IpAddr(*r.uplink_ip()));
  auto v4 = lab.add_router("v4").preset(RouterPreset::Home).ip_support(IpSupport::V4Only).build();
  EXPECT_FALSE(v4.downstream_cidr_v6());
}

TEST(Presets, IspV6IsV6OnlyWithNat64AndBlockInbound) {
  Lab lab;
  auto carrier = lab.add_router("carrier").preset(RouterPreset::IspV6).build();
  EXPECT_EQ(carrier.ip_support(), IpSupport::V6Only);
  EXPECT_EQ(carrier.nat_v6_mode(), NatV6Mode::Nat64);
  EXPECT_EQ(carrier.firewall(), Firewall::block_inbound());
  EXPECT_TRUE(carrier.uplink_ip());  // the translator's IPv4 uplink
  EXPECT_TRUE(carrier.downstream_cidr_v6());
}
