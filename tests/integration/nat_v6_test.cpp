// SPEC 4.6 / 17.10: IPv6 NAT modes (NPTv6, masquerade) and their runtime changes.
#include <gtest/gtest.h>

#include <algorithm>

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
  EXPECT_THROW(t.home.set_nat_v6_mode(NatV6Mode::Nat64), Unsupported);
}
