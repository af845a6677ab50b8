// SPEC 17.2: smoke behaviours of the lab core.
#include <gtest/gtest.h>

#include "patchbay/patchbay.hpp"

using namespace patchbay;
using namespace std::chrono_literals;
namespace pt = patchbay::testing;

namespace {

bool pings(Node& from, const IpAddr& to) {
  auto out =
      from.output(Command("ping").args({to.is_v4() ? "-4" : "-6", "-c", "1", "-W", "2", to.to_string()}));
  return out.status.success();
}

}  // namespace

TEST(Smoke, DeviceBehindSubRouterPingsItsGateway) {
  Lab lab;
  auto isp = lab.add_router("isp").build();
  auto home = lab.add_router("home").upstream(isp.id()).downstream_pool(AddressPool::Private).build();
  auto dev = lab.add_device("dev").iface("eth0", home.id()).build();
  ASSERT_TRUE(home.downstream_gw());
  EXPECT_TRUE(pings(dev, *home.downstream_gw()));
  // Positive control for the helper: an address nobody has does not answer.
  EXPECT_FALSE(pings(dev, Ipv4Addr::parse("10.0.1.250")));
}

TEST(Smoke, UdpAndTcpRoundTripsAcrossRouters) {
  Lab lab;
  auto dc = lab.add_router("dc").build();
  auto isp = lab.add_router("isp").build();
  auto home = lab.add_router("home").upstream(isp.id()).build();
  auto server = lab.add_device("server").iface("eth0", dc.id()).build();
  auto dev = lab.add_device("dev").iface("eth0", home.id()).build();

  SocketAddr udp{*server.ip(), 3478}, tcp{*server.ip(), 3479}, echo{*server.ip(), 7};
  auto r1 = server.spawn_reflector(udp);
  auto r2 = server.spawn_reflector(tcp, Proto::Tcp);
  auto r3 = pt::spawn_tcp_echo_server(server, echo);

  auto observed = dev.run([&] { return pt::udp_roundtrip(udp); });
  EXPECT_EQ(observed.ip(), IpAddr(*dev.ip()));  // no NAT on these routers
  EXPECT_NE(observed.port(), 0);

  dev.run([&] { pt::tcp_roundtrip(echo); });
  auto via_tcp = dev.run([&] { return pt::tcp_probe(tcp); });
  EXPECT_EQ(via_tcp.ip(), IpAddr(*dev.ip()));
  EXPECT_NE(via_tcp.port(), 0);
}

TEST(Smoke, SubRouterAndIxRoutersReachTheirNeighbours) {
  Lab lab;
  auto a = lab.add_router("a").build();
  auto b = lab.add_router("b").build();
  auto sub = lab.add_router("sub").upstream(a.id()).build();
  EXPECT_TRUE(pings(sub, *a.downstream_gw()));
  EXPECT_TRUE(pings(a, lab.ix().gw()));
  EXPECT_TRUE(pings(a, *b.uplink_ip()));
}

TEST(Smoke, DevicesBehindTwoRoutersReachARelay) {
  Lab lab;
  auto dc = lab.add_router("dc").build();
  auto h1 = lab.add_router("h1").upstream(dc.id()).build();
  auto h2 = lab.add_router("h2").build();
  auto relay = lab.add_device("relay").iface("eth0", dc.id()).build();
  auto d1 = lab.add_device("d1").iface("eth0", h1.id()).build();
  auto d2 = lab.add_device("d2").iface("eth0", h2.id()).build();
  EXPECT_TRUE(pings(d1, *relay.ip()));
  EXPECT_TRUE(pings(d2, *relay.ip()));
}

TEST(Smoke, TwoDevicesOnOneLanPingEachOther) {
  Lab lab;
  auto home = lab.add_router("home").downstream_pool(AddressPool::Private).build();
  auto a = lab.add_device("a").iface("eth0", home.id()).build();
  auto b = lab.add_device("b").iface("eth0", home.id()).build();
  EXPECT_TRUE(pings(a, *b.ip()));
  EXPECT_TRUE(pings(b, *a.ip()));
}

TEST(Smoke, DualStackDeviceIsObservedWithItsOwnAddresses) {
  Lab lab;
  auto dc = lab.add_router("dc").ip_support(IpSupport::DualStack).build();
  auto server = lab.add_device("server").iface("eth0", dc.id()).build();
  auto dev = lab.add_device("dev").iface("eth0", dc.id()).build();
  ASSERT_TRUE(dev.ip());
  ASSERT_TRUE(dev.ip6());
  auto r4 = server.spawn_reflector({*server.ip(), 4000});
  auto r6 = server.spawn_reflector({*server.ip6(), 4000});
  auto o4 = dev.run([&] { return pt::udp_roundtrip({*server.ip(), 4000}); });
  auto o6 = dev.run([&] { return pt::udp_roundtrip({*server.ip6(), 4000}); });
  EXPECT_EQ(o4.ip(), IpAddr(*dev.ip()));
  EXPECT_EQ(o6.ip(), IpAddr(*dev.ip6()));
}

TEST(Smoke, V6OnlyDeviceHasNoIpv4) {
  Lab lab;
  auto dc = lab.add_router("dc").ip_support(IpSupport::V6Only).build();
  auto server = lab.add_device("server").iface("eth0", dc.id()).build();
  auto dev = lab.add_device("dev").iface("eth0", dc.id()).build();
  EXPECT_FALSE(dev.ip());
  ASSERT_TRUE(dev.ip6());
  EXPECT_FALSE(dev.ip6()->is_unspecified());
  EXPECT_FALSE(dc.uplink_ip());
  ASSERT_TRUE(dc.uplink_ip_v6());
  auto r = server.spawn_reflector({*server.ip6(), 5000});
  auto o = dev.run([&] { return pt::udp_roundtrip({*server.ip6(), 5000}); });
  EXPECT_EQ(o.ip(), IpAddr(*dev.ip6()));
  EXPECT_FALSE(pings(dev, Ipv4Addr::parse("198.18.0.1")));
}

TEST(Smoke, ThreeLevelRouterChainRoutesEndToEnd) {
  Lab lab;
  auto l1 = lab.add_router("l1").ip_support(IpSupport::DualStack).build();
  auto l2 = lab.add_router("l2").upstream(l1.id()).ip_support(IpSupport::DualStack).build();
  auto l3 = lab.add_router("l3").upstream(l2.id()).ip_support(IpSupport::DualStack).build();
  auto deep = lab.add_device("deep").iface("eth0", l3.id()).build();
  auto dc = lab.add_router("dc").ip_support(IpSupport::DualStack).build();
  auto server = lab.add_device("server").iface("eth0", dc.id()).build();
  auto r = server.spawn_reflector({*server.ip(), 6000});
  auto r6 = server.spawn_reflector({*server.ip6(), 6000});
  EXPECT_EQ(deep.run([&] { return pt::udp_roundtrip({*server.ip(), 6000}); }).ip(), IpAddr(*deep.ip()));
  EXPECT_EQ(deep.run([&] { return pt::udp_roundtrip({*server.ip6(), 6000}); }).ip(), IpAddr(*deep.ip6()));
  // And the other way round: the deep public address is reachable from the data centre.
  EXPECT_TRUE(pings(server, *deep.ip()));
  EXPECT_TRUE(pings(server, *deep.ip6()));
}

TEST(Smoke, RegionlessIxRoutersHaveLanLatency) {
  Lab lab;
  auto a = lab.add_router("a").build();
  auto b = lab.add_router("b").build();
  auto da = lab.add_device("da").iface("eth0", a.id()).build();
  auto db = lab.add_device("db").iface("eth0", b.id()).build();
  auto r = db.spawn_reflector({*db.ip(), 7000});
  auto rtt = da.run([&] { return pt::udp_rtt_median({*db.ip(), 7000}, 5, 3); });
  EXPECT_LT(rtt, 10ms);
}
