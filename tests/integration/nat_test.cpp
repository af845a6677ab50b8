// SPEC 17.4: IPv4 NAT behaviour as an RFC 5780 client observes it.
#include <gtest/gtest.h>

#include <thread>

#include "nat_fixture.hpp"

using namespace patchbay;
using namespace pbtest;
using namespace std::chrono_literals;

// ---- Reflexive address: every NAT mode x wiring x {UDP, TCP} x {any, interface address} ----

struct ReflexiveCase {
  Nat mode;
  Wiring wiring;
};

class ReflexiveAddress : public ::testing::TestWithParam<ReflexiveCase> {};

TEST_P(ReflexiveAddress, EqualsTheExpectedExternalAddress) {
  auto [mode, wiring] = GetParam();
  NatCase c(mode, wiring);
  const IpAddr expected = c.expected_ip(mode, wiring);
  const IpAddr dev_ip = *c.dev.ip();
  for (std::optional<IpAddr> bind : {std::optional<IpAddr>(), std::optional<IpAddr>(dev_ip)}) {
    SCOPED_TRACE(bind ? "bound to the interface address" : "bound to any");
    auto s = udp_socket(c.dev, 0, bind);
    auto udp = probe_from(s.get(), c.udp_refl);
    ASSERT_TRUE(udp);
    EXPECT_EQ(udp->ip(), expected);
    EXPECT_NE(udp->port(), 0);
    auto via_ix = probe_from(s.get(), c.ix_refl);
    ASSERT_TRUE(via_ix);
    EXPECT_EQ(via_ix->ip(), expected);
    auto tcp = tcp_probe_from(c.dev, c.tcp_refl, bind ? std::optional(SocketAddr(*bind, 0)) : std::nullopt);
    ASSERT_TRUE(tcp);
    EXPECT_EQ(tcp->ip(), expected);
    EXPECT_NE(tcp->port(), 0);
  }
  // And the lab's own probe agrees.
  EXPECT_EQ(c.dev.probe_udp_mapping(c.udp_refl).ip(), expected);
}

std::vector<ReflexiveCase> all_reflexive_cases() {
  std::vector<ReflexiveCase> v;
  for (const auto& n : Nat::presets())
    for (auto w : {Wiring::Direct, Wiring::ViaPublicIsp, Wiring::ViaCgnatIsp}) v.push_back({n, w});
  return v;
}

INSTANTIATE_TEST_SUITE_P(EveryModeAndWiring, ReflexiveAddress, ::testing::ValuesIn(all_reflexive_cases()),
                         [](const auto& info) {
                           std::string n = info.param.mode.to_string() + "_" + to_string(info.param.wiring);
                           for (auto& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

// ---- The full mapping x filtering matrix, UDP and TCP ----

struct MatrixCase {
  NatMapping mapping;
  NatFiltering filtering;
  Proto proto;
};

class NatMatrix : public ::testing::TestWithParam<MatrixCase> {};

// Topology: nat (custom) on the IX with dev behind it; r1 and r2 (two addresses) and r3 (never
// contacted) on a public router.
TEST_P(NatMatrix, MappingAndFilteringBehaveAsRfc4787) {
  auto [mapping, filtering, proto] = GetParam();
  Lab lab;
  auto dc = lab.add_router("dc").build();
  auto cfg = NatConfig::builder().mapping(mapping).filtering(filtering).build();
  auto nat = lab.add_router("nat").nat(Nat::custom(cfg)).build();
  auto dev = lab.add_device("dev").iface("eth0", nat.id()).build();
  auto r1 = lab.add_device("r1").iface("eth0", dc.id()).build();
  auto r2 = lab.add_device("r2").iface("eth0", dc.id()).build();
  auto r3 = lab.add_device("r3").iface("eth0", dc.id()).build();
  const Proto p = proto;
  auto refl = [&](Device& d, std::uint16_t port) { return d.spawn_reflector({*d.ip(), port}, p); };
  auto g1 = refl(r1, 1001), g2 = refl(r1, 1002), g3 = refl(r2, 1001);

  // Mapping: one local port towards R1:p1, R1:p2, R2:p1.
  const std::uint16_t local = 20000;
  auto probe = [&](SocketAddr to, std::optional<UniqueFd>& udp) -> SocketAddr {
    if (p == Proto::Udp) {
      if (!udp) udp = udp_socket(dev, local);
      auto o = probe_from(udp->get(), to);
      if (!o) throw TimeoutError("probe " + to.to_string(), "no reply");
      return *o;
    }
    auto o = tcp_probe_from(dev, to, SocketAddr(*dev.ip(), local));
    if (!o) throw TimeoutError("tcp probe " + to.to_string(), "no reply");
    return *o;
  };
  std::optional<UniqueFd> us;
  auto a = probe({*r1.ip(), 1001}, us), b = probe({*r1.ip(), 1002}, us), c = probe({*r2.ip(), 1001}, us);
  EXPECT_EQ(a.ip(), IpAddr(*nat.uplink_ip()));
  switch (mapping) {
    case NatMapping::EndpointIndependent:
      EXPECT_EQ(a.port(), b.port());
      EXPECT_EQ(a.port(), c.port());
      break;
    case NatMapping::AddressDependent:
      EXPECT_EQ(a.port(), b.port());
      EXPECT_NE(a.port(), c.port());
      break;
    case NatMapping::AddressAndPortDependent:
      EXPECT_NE(a.port(), b.port());
      EXPECT_NE(a.port(), c.port());
      EXPECT_NE(b.port(), c.port());
      break;
  }

  // Filtering: a fresh local port that has only talked to R1:p1.
  const std::uint16_t q = 21000;
  const bool from_new_port = filtering != NatFiltering::AddressAndPortDependent;
  const bool from_new_host = filtering == NatFiltering::EndpointIndependent;
  if (p == Proto::Udp) {
    auto s = udp_socket(dev, q);
    auto mapped = probe_from(s.get(), {*r1.ip(), 1001});  // the reply from R1:p1 always arrives
    ASSERT_TRUE(mapped);
    auto from_r1 = udp_socket(r1, 1500), from_r3 = udp_socket(r3, 1500);
    send_to(from_r1.get(), *mapped, "from r1, new port");
    auto got1 = recv_from(s.get(), 700ms);
    EXPECT_EQ(got1.has_value(), from_new_port);
    send_to(from_r3.get(), *mapped, "from r3");
    auto got3 = recv_from(s.get(), 700ms);
    EXPECT_EQ(got3.has_value(), from_new_host);
    if (got3) {
      EXPECT_EQ(got3->from, SocketAddr(*r3.ip(), 1500));  // real source, never rewritten
    }
  } else {
    auto listener = tcp_listener(dev, SocketAddr(Ipv4Addr(), q));
    auto mapped = tcp_probe_from(dev, {*r1.ip(), 1001}, SocketAddr(*dev.ip(), q));
    ASSERT_TRUE(mapped);
    // An unsolicited SYN to the mapped port reaches the listener on the local port (SO_REUSEPORT).
    auto c1 = tcp_connect(r1, *mapped, SocketAddr(*r1.ip(), 1500), 700ms);
    EXPECT_EQ(accepts(listener.get(), 300ms), from_new_port);
    auto c3 = tcp_connect(r3, *mapped, std::nullopt, 700ms);
    EXPECT_EQ(accepts(listener.get(), 300ms), from_new_host);
  }
}

std::vector<MatrixCase> matrix_cases() {
  std::vector<MatrixCase> v;
  for (auto m :
       {NatMapping::EndpointIndependent, NatMapping::AddressDependent, NatMapping::AddressAndPortDependent})
    for (auto f : {NatFiltering::EndpointIndependent, NatFiltering::AddressDependent,
                   NatFiltering::AddressAndPortDependent})
      for (auto p : {Proto::Udp, Proto::Tcp}) v.push_back({m, f, p});
  return v;
}

INSTANTIATE_TEST_SUITE_P(AllNine, NatMatrix, ::testing::ValuesIn(matrix_cases()), [](const auto& info) {
  auto abbrev = [](std::string s) {
    std::string out;
    bool up = true;
    for (char ch : s) {
      if (ch == '_') {
        up = true;
        continue;
      }
      out += up ? static_cast<char>(std::toupper(ch)) : ch;
      up = false;
    }
    return out;
  };
  return abbrev(to_string(info.param.mapping)) + "_" + abbrev(to_string(info.param.filtering)) + "_" +
         (info.param.proto == Proto::Udp ? "Udp" : "Tcp");
});

// ---- Port preservation and distinct ownership ----

TEST(NatPorts, HomePreservesTheLocalPortTowardsEveryDestination) {
  for (auto w : {Wiring::Direct, Wiring::ViaPublicIsp, Wiring::ViaCgnatIsp}) {
    SCOPED_TRACE(to_string(w));
    NatCase c(Nat::home(), w);
    auto s = udp_socket(c.dev, 31000);
    auto a = probe_from(s.get(), c.udp_refl), b = probe_from(s.get(), c.ix_refl);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->port(), b->port());
    if (w != Wiring::ViaCgnatIsp) {
      EXPECT_EQ(a->port(), 31000);
    }
  }
}

TEST(NatPorts, CorporateUsesDifferentPortsPerDestination) {
  for (auto w : {Wiring::Direct, Wiring::ViaPublicIsp, Wiring::ViaCgnatIsp}) {
    SCOPED_TRACE(to_string(w));
    NatCase c(Nat::corporate(), w);
    auto s = udp_socket(c.dev, 31000);
    auto a = probe_from(s.get(), c.udp_refl), b = probe_from(s.get(), c.ix_refl);
    ASSERT_TRUE(a && b);
    EXPECT_NE(a->port(), b->port());
  }
}

TEST(NatPorts, TwoDevicesWithTheSamePortGetDistinctStableExternalPorts) {
  NatCase c(Nat::home(), Wiring::Direct);
  auto dev2 = c.lab.add_device("dev2").iface("eth0", c.nat.id()).build();
  auto s1 = udp_socket(c.dev, 5000), s2 = udp_socket(dev2, 5000);
  auto a1 = probe_from(s1.get(), c.udp_refl), b1 = probe_from(s2.get(), c.udp_refl);
  auto a2 = probe_from(s1.get(), c.ix_refl), b2 = probe_from(s2.get(), c.ix_refl);
  ASSERT_TRUE(a1 && a2 && b1 && b2);
  EXPECT_EQ(a1->port(), 5000);  // the first one keeps its port
  EXPECT_NE(a1->port(), b1->port());
  EXPECT_EQ(a1->port(), a2->port());
  EXPECT_EQ(b1->port(), b2->port());  // the second one's port is stable across destinations
}

TEST(NatPorts, WithoutPreservationPortsAreDrawnFromTheRangeAndReproducible) {
  auto cfg = NatConfig::builder().port_preservation(false).port_range({40000, 40999}).build();
  auto observe = [&] {
    NatCase c(Nat::custom(cfg), Wiring::Direct, LabOpts{}.seed(1234));
    auto s = udp_socket(c.dev, 5000);
    auto a = probe_from(s.get(), c.udp_refl);
    auto s2 = udp_socket(c.dev, 5001);
    auto b = probe_from(s2.get(), c.udp_refl);
    if (!a || !b) throw TimeoutError("probe", "no reply");
    return std::make_pair(a->port(), b->port());
  };
  auto first = observe(), second = observe();
  EXPECT_GE(first.first, 40000);
  EXPECT_LE(first.first, 40999);
  EXPECT_GE(first.second, 40000);
  EXPECT_LE(first.second, 40999);
  EXPECT_NE(first.first, first.second);
  EXPECT_EQ(first, second);
}

// ---- Timeouts ----

TEST(NatTimeouts, UdpMappingExpiresAfterItsTimeout) {
  auto cfg = NatConfig::builder()
                 .filtering(NatFiltering::EndpointIndependent)
                 .port_preservation(false)
                 .udp_timeout(2)
                 .udp_stream_timeout(2)
                 .build();
  NatCase c(Nat::custom(cfg), Wiring::Direct);
  auto outsider = c.lab.add_device("outsider").iface("eth0", c.dc.id()).build();
  auto from_out = udp_socket(outsider, 7777);
  auto s = udp_socket(c.dev, 5000);
  auto first = probe_from(s.get(), c.udp_refl);
  ASSERT_TRUE(first);
  std::this_thread::sleep_for(1s);
  auto refreshed = probe_from(s.get(), c.udp_refl);
  ASSERT_TRUE(refreshed);
  EXPECT_EQ(refreshed->port(), first->port());
  // Positive control: inbound to the live mapping arrives (endpoint-independent filtering).
  send_to(from_out.get(), *first, "live");
  EXPECT_TRUE(recv_from(s.get(), 700ms));
  std::this_thread::sleep_for(4s);  // twice the timeout: margin for a loaded machine
  send_to(from_out.get(), *first, "expired");
  EXPECT_FALSE(recv_from(s.get(), 700ms));
  auto fresh = probe_from(s.get(), c.udp_refl);
  ASSERT_TRUE(fresh);
  EXPECT_NE(fresh->port(), first->port());
}

// ---- Stacking, pools, isolation ----

TEST(NatStacking, HomeBehindCgnatIsSeenAsTheIspAddress) {
  Lab lab;
  auto dc = lab.add_router("dc").preset(RouterPreset::Public).build();
  auto isp = lab.add_router("isp").preset(RouterPreset::IspCgnat).build();
  auto h1 = lab.add_router("h1").preset(RouterPreset::Home).upstream(isp.id()).build();
  auto h2 = lab.add_router("h2").preset(RouterPreset::Home).upstream(isp.id()).build();
  auto d1 = lab.add_device("d1").iface("eth0", h1.id()).build();
  auto d2 = lab.add_device("d2").iface("eth0", h2.id()).build();
  auto g = dc.spawn_reflector({*dc.uplink_ip(), 3478});
  EXPECT_TRUE(Ipv4Net::parse("100.64.0.0/10").contains(*h1.uplink_ip()));
  auto s1 = udp_socket(d1, 5000), s2 = udp_socket(d2, 5000);
  auto a = probe_from(s1.get(), {*dc.uplink_ip(), 3478}), b = probe_from(s2.get(), {*dc.uplink_ip(), 3478});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->ip(), IpAddr(*isp.uplink_ip()));
  EXPECT_EQ(b->ip(), IpAddr(*isp.uplink_ip()));
  EXPECT_TRUE(Ipv4Net::parse("198.18.0.0/24").contains(isp.uplink_ip().value()));
  EXPECT_NE(a->port(), 0);
  EXPECT_NE(a->port(), b->port());
  EXPECT_EQ(d1.probe_udp_mapping({*dc.uplink_ip(), 3478}).ip(), IpAddr(*isp.uplink_ip()));
}

TEST(NatStacking, HomeBehindAPublicIspHasAPublicWan) {
  Lab lab;
  auto isp = lab.add_router("isp").build();
  auto home = lab.add_router("home").preset(RouterPreset::Home).upstream(isp.id()).build();
  auto wan = *home.uplink_ip();
  EXPECT_FALSE(wan.is_private());
  EXPECT_FALSE(Ipv4Net::parse("100.64.0.0/10").contains(wan));
}

TEST(NatIsolation, DevicesBehindDifferentNatsCannotReachEachOthersPrivateAddresses) {
  Lab lab;
  auto dc = lab.add_router("dc").build();
  auto na = lab.add_router("na").nat(Nat::home()).build();
  auto nb = lab.add_router("nb").nat(Nat::home()).build();
  auto a1 = lab.add_device("a1").iface("eth0", na.id()).build();
  auto a2 = lab.add_device("a2").iface("eth0", na.id()).build();
  auto b1 = lab.add_device("b1").iface("eth0", nb.id()).build();
  auto relay = lab.add_device("relay").iface("eth0", dc.id()).build();
  auto ping = [](Node& from, Ipv4Addr to) {
    return from.output(Command("ping").args({"-c", "1", "-W", "1", to.to_string()})).status.success();
  };
  EXPECT_TRUE(ping(a1, *a2.ip()));
  EXPECT_FALSE(ping(a1, *b1.ip()));
  EXPECT_FALSE(ping(b1, *a1.ip()));
  EXPECT_TRUE(ping(a1, *relay.ip()));
  EXPECT_TRUE(ping(b1, *relay.ip()));
  EXPECT_TRUE(ping(a1, *nb.uplink_ip()));
  EXPECT_TRUE(ping(b1, *na.uplink_ip()));
  auto g = relay.spawn_reflector({*relay.ip(), 3478});
  EXPECT_EQ(a1.probe_udp_mapping({*relay.ip(), 3478}).ip(), IpAddr(*na.uplink_ip()));
  EXPECT_EQ(b1.probe_udp_mapping({*relay.ip(), 3478}).ip(), IpAddr(*nb.uplink_ip()));
  EXPECT_TRUE(a1.ip()->is_private());
}
