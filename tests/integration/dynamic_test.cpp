// Dynamic topology operations: link down/up, default-route switching, adding, removing and
// replugging interfaces, renewing and adding addresses (SPEC 2.6, 17.6).
#include <gtest/gtest.h>

#include "nat_fixture.hpp"
#include "patchbay/patchbay.hpp"

using namespace patchbay;
using namespace std::chrono_literals;
namespace pt = patchbay::testing;

namespace {

// One echo reply within two seconds; ping sends a request every second until then, so a lost
// first ARP request on a loaded machine does not fail the check.
bool pings(Node& from, const IpAddr& to) {
  auto out = from.output(Command("ping").args({"-c", "1", "-w", "2", to.to_string()}));
  return out.status.success();
}

// dc with a server (UDP + TCP reflectors), two home NATs, a phone on both.
struct TwoHomes {
  Lab lab{LabOpts{}.seed(3)};
  Router dc = lab.add_router("dc").build();
  Router h1 = lab.add_router("h1").preset(RouterPreset::Home).build();
  Router h2 = lab.add_router("h2").preset(RouterPreset::Home).build();
  Device srv = lab.add_device("srv").iface("eth0", dc.id()).build();
  Device phone = lab.add_device("phone").iface("eth0", h1.id()).iface("eth1", h2.id()).build();
  SocketAddr udp{*srv.ip(), 3478}, tcp{*srv.ip(), 3479};
  ReflectorGuard g1 = srv.spawn_reflector(udp);
  ReflectorGuard g2 = srv.spawn_reflector(tcp, Proto::Tcp);

  IpAddr seen_udp() {
    return phone.run([&] { return pt::udp_roundtrip(udp); }).ip();
  }
  IpAddr seen_tcp() {
    return phone.run([&] { return pt::tcp_probe(tcp); }).ip();
  }
};

}  // namespace

TEST(Dynamic, DefaultRouteSwitchChangesTheReflexiveAddress) {
  TwoHomes t;
  for (int round = 0; round < 3; ++round) {
    t.phone.set_default_route("eth0");
    EXPECT_EQ(t.seen_udp(), IpAddr(*t.h1.uplink_ip()));
    EXPECT_EQ(t.seen_tcp(), IpAddr(*t.h1.uplink_ip()));
    t.phone.set_default_route("eth1");
    EXPECT_EQ(t.seen_udp(), IpAddr(*t.h2.uplink_ip()));
    EXPECT_EQ(t.seen_tcp(), IpAddr(*t.h2.uplink_ip()));
  }
  EXPECT_TRUE(t.phone.iface("eth1")->is_default());
  EXPECT_EQ(t.lab.state().devices["phone"]["default_via"], "eth1");
  EXPECT_THROW(t.phone.set_default_route("wlan9"), NotFound);
}

TEST(Dynamic, DefaultRouteSwitchKeepsTheInterfaceCondition) {
  TwoHomes t;
  LinkLimits l;
  l.latency_ms = 25;
  t.phone.iface("eth1")->set_condition(LinkCondition::manual(l), LinkDirection::Up);
  auto rtt = [&] { return t.phone.run([&] { return pt::udp_rtt_median(t.udp, 7, 2); }).count() / 1000.0; };
  EXPECT_LT(rtt(), 5.0);
  t.phone.set_default_route("eth1");
  EXPECT_NEAR(rtt(), 25.0, 3.0);
  EXPECT_EQ(t.phone.iface("eth1")->condition(LinkDirection::Up), LinkCondition::manual(l));
}

TEST(Dynamic, LinkDownBreaksProbesAndLinkUpRestoresThem) {
  TwoHomes t;
  EXPECT_NO_THROW(t.seen_udp());
  t.phone.iface("eth0")->link_down();
  EXPECT_FALSE(t.phone.iface("eth0")->is_up());
  EXPECT_THROW(t.phone.run([&] { return pt::probe_udp(t.udp, 500ms); }),
               SystemError);  // no route once the link is down: ENETUNREACH, not a timeout
  EXPECT_THROW(t.phone.run([&] { pt::tcp_probe(t.tcp, 500ms); }), SystemError);
  t.phone.iface("eth0")->link_up();
  // Routes come back with the link: poll until a probe gets through (bounded), then check both.
  for (auto end = std::chrono::steady_clock::now() + 3s; std::chrono::steady_clock::now() < end;) {
    try {
      t.phone.run([&] { return pt::probe_udp(t.udp, 200ms); });
      break;
    } catch (const Error&) {  // unreachable or no answer yet
    }
  }
  EXPECT_EQ(t.seen_udp(), IpAddr(*t.h1.uplink_ip()));
  EXPECT_EQ(t.seen_tcp(), IpAddr(*t.h1.uplink_ip()));
}

TEST(Dynamic, AddAndRemoveInterfaces) {
  TwoHomes t;
  auto dc2 = t.lab.add_router("dc2").build();
  auto i = t.phone.add_iface("eth2", dc2.id());
  ASSERT_TRUE(i.ip());
  EXPECT_TRUE(dc2.downstream_cidr()->contains(*i.ip()));
  EXPECT_TRUE(pings(t.phone, IpAddr(*dc2.downstream_gw())));  // the new link works
  EXPECT_THROW(t.phone.add_iface("eth2", dc2.id()), AlreadyExists);
  EXPECT_THROW(t.phone.add_iface("eth3", NodeId{9999}), NotFound);

  // Removing the default interface moves the default route to a remaining one.
  t.phone.remove_iface("eth0");
  EXPECT_FALSE(t.phone.iface("eth0"));
  EXPECT_EQ(t.phone.default_iface().name(), "eth1");
  EXPECT_EQ(t.seen_udp(), IpAddr(*t.h2.uplink_ip()));
  t.phone.remove_iface("eth2");
  EXPECT_THROW(t.phone.remove_iface("eth1"), InvalidArgument);  // the last one
  EXPECT_THROW(t.phone.remove_iface("eth7"), NotFound);
  auto st = t.lab.state();
  EXPECT_EQ(st.devices["phone"]["interfaces"].size(), 1u);
}

TEST(Dynamic, ReplugMovesTheInterfaceToAnotherSubnetKeepingItsCondition) {
  Lab lab(LabOpts{}.seed(3));
  auto dc = lab.add_router("dc").build();
  auto a = lab.add_router("a").build();
  auto b = lab.add_router("b").build();
  auto srv = lab.add_device("srv").iface("eth0", dc.id()).build();
  LinkLimits l;
  l.latency_ms = 20;
  auto dev = lab.add_device("dev").mtu(1400).iface("eth0", a.id(), LinkCondition::manual(l)).build();
  SocketAddr refl(*srv.ip(), 3478);
  auto g = srv.spawn_reflector(refl);
  auto before = *dev.ip();
  EXPECT_TRUE(a.downstream_cidr()->contains(before));
  dev.replug_iface("eth0", b.id());
  auto after = *dev.ip();
  EXPECT_TRUE(b.downstream_cidr()->contains(after)) << after.to_string();
  EXPECT_EQ(dev.iface("eth0")->router(), b.id());
  EXPECT_EQ(dev.run([&] { return pt::udp_roundtrip(refl); }).ip(), IpAddr(after));
  EXPECT_NEAR(dev.run([&] { return pt::udp_rtt_median(refl, 7, 2); }).count() / 1000.0, 20.0, 3.0);
  auto out = dev.output(Command("ip").args({"-o", "link", "show", "dev", "eth0"})).out;
  EXPECT_NE(out.find(" mtu 1400 "), std::string::npos) << out;
  EXPECT_EQ(lab.state().devices["dev"]["interfaces"][0]["router"], "b");
}

TEST(Dynamic, RenewedAndAddedAddressesAreReachable) {
  Lab lab(LabOpts{}.seed(3));
  auto r = lab.add_router("r").build();
  auto a = lab.add_device("a").iface("eth0", r.id()).build();
  auto b = lab.add_device("b").iface("eth0", r.id()).build();
  auto old = *a.ip();
  auto fresh = a.renew_ip("eth0");
  EXPECT_NE(fresh, old);
  EXPECT_EQ(*a.ip(), fresh);
  EXPECT_TRUE(pings(b, IpAddr(fresh)));
  EXPECT_FALSE(pings(b, IpAddr(old)));
  // A secondary address in the same LAN.
  auto net = r.downstream_cidr()->to_string();  // "a.b.c.0/24"
  auto extra = Ipv4Addr::parse(net.substr(0, net.rfind('.') + 1) + "200");
  a.add_ip("eth0", IpAddr(extra), r.downstream_cidr()->prefix_len());
  EXPECT_TRUE(pings(b, IpAddr(extra)));
  // Renewing the primary keeps the secondary (the kernel drops it with the old primary).
  auto third = a.renew_ip("eth0");
  EXPECT_TRUE(pings(b, IpAddr(third)));
  EXPECT_TRUE(pings(b, IpAddr(extra)));
  EXPECT_THROW(a.renew_ip("nope"), NotFound);
}
