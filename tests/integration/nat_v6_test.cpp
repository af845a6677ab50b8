// SPEC 4.6 / 17.10: IPv6 NAT modes (NPTv6, masquerade) and their runtime changes.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "nat_fixture.hpp"
#include "patchbay/patchbay.hpp"

using namespace patchbay;
using namespace std::chrono_literals;
namespace pt = patchbay::testing;

namespace {

bool same_iid(const Ipv6Addr& a, const Ipv6Addr& b) {
  return std::equal(a.bytes().begin() + 8, a.bytes().end(), b.bytes().begin() + 8);
}
bool in_net(const Ipv6Net& n, const Ipv6Addr& a) {
  return n.contains(a);
}

struct V6Lab {
  Lab lab{LabOpts{}.seed(5)};
  Router dc = lab.add_router("dc").ip_support(IpSupport::DualStack).build();
  Router home;
  Device srv = lab.add_device("srv").iface("eth0", dc.id()).build();
  Device dev;
  SocketAddr refl4, refl6;
  ReflectorGuard g4, g6;

  explicit V6Lab(NatV6Mode m)
      : home(lab.add_router("home")
                 .preset(RouterPreset::Home)
                 .ip_support(IpSupport::DualStack)
                 .nat_v6(m)
                 .firewall(Firewall::none())
                 .build()),
        dev(lab.add_device("dev").iface("eth0", home.id()).build()),
        refl4(*srv.ip(), 3478),
        refl6(*srv.ip6(), 3478),
        g4(srv.spawn_reflector(refl4)),
        g6(srv.spawn_reflector(refl6)) {}

  Ipv6Addr seen6() {
    return dev.run([&] { return pt::udp_roundtrip(refl6); }).ip().v6();
  }
};

}  // namespace

TEST(NatV6, Nptv6MapsThePrefixAndKeepsTheInterfaceIdentifier) {
  V6Lab t(NatV6Mode::Nptv6);
  auto ext = t.home.nptv6_prefix();
  ASSERT_TRUE(ext);
  auto seen = t.seen6();
  EXPECT_TRUE(in_net(*ext, seen)) << seen.to_string() << " not in " << ext->to_string();
  EXPECT_TRUE(same_iid(seen, *t.dev.ip6())) << seen.to_string() << " vs " << t.dev.ip6()->to_string();
  // The v4 side is still the home NAT.
  auto seen4 = t.dev.run([&] { return pt::udp_roundtrip(t.refl4); }).ip();
  EXPECT_EQ(seen4, IpAddr(*t.home.uplink_ip()));
  EXPECT_NE(seen4, IpAddr(*t.dev.ip()));
  // Inbound to <ext prefix>::IID reaches the device.
  auto rx = pbtest::udp_socket(t.dev, 7000, IpAddr(Ipv6Addr()));
  auto tx = pbtest::udp_socket(t.srv, 0, IpAddr(Ipv6Addr()));
  pbtest::send_to(tx.get(), SocketAddr(IpAddr(seen), 7000), "hello");
  auto got = pbtest::recv_from(rx.get(), 1000ms);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->data, "hello");
}

TEST(NatV6, MasqueradeShowsTheWanAddressAndFiltersInbound) {
  V6Lab t(NatV6Mode::Masquerade);
  EXPECT_EQ(t.seen6(), *t.home.uplink_ip_v6());
  EXPECT_FALSE(t.home.nptv6_prefix());
  // Unsolicited inbound to the WAN address does not reach a listener on the device...
  auto rx = pbtest::udp_socket(t.dev, 7000, IpAddr(Ipv6Addr()));
  auto tx = pbtest::udp_socket(t.srv, 0, IpAddr(Ipv6Addr()));
  pbtest::send_to(tx.get(), SocketAddr(IpAddr(*t.home.uplink_ip_v6()), 7000), "unsolicited");
  EXPECT_FALSE(pbtest::recv_from(rx.get(), 500ms));
  // ...while a reply to the device's own flow does (positive control).
  auto probe = pbtest::probe_from(rx.get(), t.refl6);
  ASSERT_TRUE(probe);
  EXPECT_EQ(probe->ip(), IpAddr(*t.home.uplink_ip_v6()));
}

TEST(NatV6, ModeChangesAtRuntime) {
  V6Lab t(NatV6Mode::None);
  EXPECT_EQ(t.seen6(), *t.dev.ip6());
  t.home.set_nat_v6_mode(NatV6Mode::Masquerade);
  EXPECT_EQ(t.seen6(), *t.home.uplink_ip_v6());
  t.home.set_nat_v6_mode(NatV6Mode::Nptv6);
  auto seen = t.seen6();
  EXPECT_TRUE(t.home.nptv6_prefix() && in_net(*t.home.nptv6_prefix(), seen)) << seen.to_string();
  EXPECT_TRUE(same_iid(seen, *t.dev.ip6()));
  t.home.set_nat_v6_mode(NatV6Mode::None);
  EXPECT_EQ(t.seen6(), *t.dev.ip6());
  EXPECT_EQ(t.home.nat_v6_mode(), NatV6Mode::None);
  EXPECT_EQ(t.lab.state().routers["home"]["nat_v6"], "none");
}

namespace {

// A dual-stack carrier with NAT64 and a phone that talks IPv6 only to the v4-only server.
struct Nat64Lab {
  Lab lab{LabOpts{}.seed(9)};
  Router dc = lab.add_router("dc").build();  // IPv4 only
  Router carrier =
      lab.add_router("carrier").ip_support(IpSupport::DualStack).nat_v6(NatV6Mode::Nat64).build();
  Device srv = lab.add_device("srv").iface("eth0", dc.id()).build();
  Device phone = lab.add_device("phone").iface("eth0", carrier.id()).build();
  SocketAddr refl4{*srv.ip(), 3478};
  SocketAddr via64{IpAddr(nat64_embed(*srv.ip())), 3478};
  ReflectorGuard g = srv.spawn_reflector(refl4);
};

}  // namespace

TEST(Nat64, UdpFromV6ReachesAV4ServerThroughTheTranslator) {
  Nat64Lab t;
  auto seen = t.phone.run([&] { return pt::udp_roundtrip(t.via64); });
  // The server sees the carrier's WAN address (the translator's pool address, masqueraded).
  EXPECT_EQ(seen.ip(), IpAddr(*t.carrier.uplink_ip()));
  EXPECT_EQ(t.carrier.nat_v6_mode(), NatV6Mode::Nat64);
}

TEST(Nat64, TcpAndPingWorkThroughTheTranslator) {
  Nat64Lab t;
  SocketAddr echo4(*t.srv.ip(), 7), echo64(IpAddr(nat64_embed(*t.srv.ip())), 7);
  auto e = pt::spawn_tcp_echo_server(t.srv, echo4);
  t.phone.run([&] { pt::tcp_roundtrip(echo64); });
  auto ping = t.phone.output(
      Command("ping").args({"-6", "-c", "2", "-W", "2", nat64_embed(*t.srv.ip()).to_string()}));
  EXPECT_TRUE(ping.status.success()) << ping.out << ping.err;
}

TEST(Nat64, TwoClientsWithTheSameSourcePortGetDistinctBindings) {
  Nat64Lab t;
  auto phone2 = t.lab.add_device("phone2").iface("eth0", t.carrier.id()).build();
  auto s1 = pbtest::udp_socket(t.phone, 41000, IpAddr(Ipv6Addr()));
  auto s2 = pbtest::udp_socket(phone2, 41000, IpAddr(Ipv6Addr()));
  auto a = pbtest::probe_from(s1.get(), t.via64);
  auto b = pbtest::probe_from(s2.get(), t.via64);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->ip(), b->ip());
  EXPECT_NE(a->port(), b->port());
}

TEST(Nat64, AnIcmpErrorIsTranslatedBack) {
  Nat64Lab t;
  // Nothing listens on this port: the server's port-unreachable comes back as ICMPv6 and the
  // connected socket sees ECONNREFUSED.
  auto s = t.phone.socket(AF_INET6, SOCK_DGRAM);
  sockaddr_storage ss;
  auto len = SocketAddr(IpAddr(nat64_embed(*t.srv.ip())), 9).to_sockaddr(ss);
  ASSERT_EQ(::connect(s.get(), reinterpret_cast<sockaddr*>(&ss), len), 0);
  int err = 0;
  for (int i = 0; i < 10 && err != ECONNREFUSED; ++i) {
    ::send(s.get(), "x", 1, 0);
    std::this_thread::sleep_for(100ms);
    char b;
    if (::recv(s.get(), &b, 1, MSG_DONTWAIT) < 0) err = errno;
  }
  EXPECT_EQ(err, ECONNREFUSED);
}

TEST(Nat64, ModeCanBeSwitchedAtRuntime) {
  Nat64Lab t;
  EXPECT_NO_THROW(t.phone.run([&] { return pt::udp_roundtrip(t.via64); }));
  t.carrier.set_nat_v6_mode(NatV6Mode::None);
  EXPECT_THROW(t.phone.run([&] { return pt::probe_udp(t.via64, 500ms); }),
               TimeoutError);  // the packet leaves but nothing translates it
  t.carrier.set_nat_v6_mode(NatV6Mode::Nat64);
  EXPECT_EQ(t.phone.run([&] { return pt::udp_roundtrip(t.via64); }).ip(), IpAddr(*t.carrier.uplink_ip()));
}

TEST(Nat64, IspV6PresetGivesAV6OnlyLanThatReachesIpv4) {
  Lab lab(LabOpts{}.seed(9));
  auto dc = lab.add_router("dc").build();
  auto carrier = lab.add_router("carrier").preset(RouterPreset::IspV6).build();
  auto srv = lab.add_device("srv").iface("eth0", dc.id()).build();
  auto phone = lab.add_device("phone").iface("eth0", carrier.id()).build();
  EXPECT_FALSE(phone.ip());  // v6-only LAN
  EXPECT_TRUE(phone.ip6());
  ASSERT_TRUE(carrier.uplink_ip());  // but a v4 uplink for the translator
  EXPECT_FALSE(carrier.downstream_cidr());
  SocketAddr refl(*srv.ip(), 3478);
  auto g = srv.spawn_reflector(refl);
  auto seen = phone.run([&] { return pt::udp_roundtrip(SocketAddr(IpAddr(nat64_embed(*srv.ip())), 3478)); });
  EXPECT_EQ(seen.ip(), IpAddr(*carrier.uplink_ip()));
}

TEST(NatV6, Ipv6AccessorsFollowIpSupport) {
  Lab lab;
  auto ds = lab.add_router("ds").ip_support(IpSupport::DualStack).nat_v6(NatV6Mode::Masquerade).build();
  auto v4 = lab.add_router("v4").build();
  EXPECT_TRUE(ds.uplink_ip_v6());
  EXPECT_TRUE(ds.downstream_cidr_v6());
  EXPECT_TRUE(ds.downstream_gw_v6());
  EXPECT_FALSE(v4.uplink_ip_v6());
  EXPECT_FALSE(v4.downstream_cidr_v6());
  EXPECT_FALSE(v4.downstream_gw_v6());
  auto d6 = lab.add_device("d6").iface("eth0", ds.id()).build();
  auto d4 = lab.add_device("d4").iface("eth0", v4.id()).build();
  ASSERT_TRUE(d6.ip6());
  EXPECT_TRUE(ds.downstream_cidr_v6()->contains(*d6.ip6()));
  EXPECT_EQ(d6.default_iface().ip6(), d6.ip6());
  EXPECT_TRUE(d6.default_iface().ll6());
  EXPECT_FALSE(d4.ip6());
  EXPECT_FALSE(d4.default_iface().ll6());
}
