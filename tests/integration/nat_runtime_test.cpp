// SPEC 17.5: NAT changes at runtime, hairpinning and hole punching.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "nat_fixture.hpp"

using namespace patchbay;
using namespace pbtest;
using namespace std::chrono_literals;

namespace {

std::optional<LabEvent> find_event(EventSubscription& sub, const std::string& kind) {
  while (auto ev = sub.next(1s))
    if (ev->kind == kind) return ev;
  return std::nullopt;
}

}  // namespace

TEST(NatRuntime, HomeToCorporateAndBackChangesPortBehaviour) {
  NatCase c(Nat::home(), Wiring::Direct);
  auto ports = [&](std::uint16_t local) {
    auto s = udp_socket(c.dev, local);
    auto a = probe_from(s.get(), c.udp_refl), b = probe_from(s.get(), c.ix_refl);
    if (!a || !b) throw TimeoutError("probe", "no reply");
    return std::make_pair(a->port(), b->port());
  };
  auto home = ports(5000);
  EXPECT_EQ(home.first, home.second);
  auto sub = c.lab.subscribe();
  c.nat.set_nat_mode(Nat::corporate());
  EXPECT_EQ(c.nat.nat_mode(), Nat::corporate());
  auto ev = find_event(sub, "nat_changed");
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->fields["router"], "nat");
  EXPECT_EQ(ev->fields["nat"], "corporate");
  auto corp = ports(5001);
  EXPECT_NE(corp.first, corp.second);
  c.nat.set_nat_mode(Nat::home());
  auto again = ports(5002);
  EXPECT_EQ(again.first, again.second);
  EXPECT_EQ(c.lab.state().routers["nat"]["nat"], "home");
}

TEST(NatRuntime, EnablingNatOnAPublicRouterHidesTheDevice) {
  NatCase c(Nat::none(), Wiring::Direct);
  EXPECT_EQ(c.dev.probe_udp_mapping(c.udp_refl).ip(), IpAddr(*c.dev.ip()));
  c.nat.set_nat_mode(Nat::home());
  EXPECT_EQ(c.dev.probe_udp_mapping(c.udp_refl).ip(), IpAddr(*c.nat.uplink_ip()));
  c.nat.set_nat_mode(Nat::none());
  EXPECT_EQ(c.dev.probe_udp_mapping(c.udp_refl).ip(), IpAddr(*c.dev.ip()));
}

TEST(NatRuntime, NatNeedsIpv4) {
  Lab lab;
  auto r = lab.add_router("v6").ip_support(IpSupport::V6Only).build();
  EXPECT_THROW(r.set_nat_mode(Nat::home()), InvalidArgument);
  EXPECT_THROW(lab.add_router("v6nat").ip_support(IpSupport::V6Only).nat(Nat::home()).build(),
               InvalidArgument);
}

TEST(NatRuntime, LiveMappingsAreListed) {
  NatCase c(Nat::home(), Wiring::Direct);
  EXPECT_TRUE(c.nat.nat_mappings().empty());
  auto s = udp_socket(c.dev, 5555);
  ASSERT_TRUE(probe_from(s.get(), c.udp_refl));
  auto m = c.nat.nat_mappings();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].proto, Proto::Udp);
  EXPECT_EQ(m[0].internal, SocketAddr(*c.dev.ip(), 5555));
  EXPECT_EQ(m[0].external, SocketAddr(*c.nat.uplink_ip(), 5555));
  EXPECT_GT(m[0].expires_in.count(), 20);  // udp_stream (300 s) once the reply was seen, or udp (30 s)
  c.nat.flush_nat_state();
  EXPECT_TRUE(c.nat.nat_mappings().empty());
}

TEST(NatRuntime, FlushForgetsUdpMappings) {
  auto cfg = NatConfig::builder().port_preservation(false).build();
  NatCase c(Nat::custom(cfg), Wiring::Direct);
  auto s = udp_socket(c.dev, 5000);
  auto before = probe_from(s.get(), c.udp_refl);
  auto same = probe_from(s.get(), c.udp_refl);
  ASSERT_TRUE(before && same);
  EXPECT_EQ(before->port(), same->port());  // control: the mapping is stable without a flush
  auto sub = c.lab.subscribe();
  c.nat.flush_nat_state();
  EXPECT_TRUE(find_event(sub, "nat_state_flushed"));
  auto after = probe_from(s.get(), c.udp_refl);
  ASSERT_TRUE(after);
  EXPECT_NE(after->port(), before->port());
}

TEST(NatRuntime, FlushStopsAnEstablishedTcpStream) {
  NatCase c(Nat::home(), Wiring::Direct);
  auto server = c.lab.add_device("server").iface("eth0", c.dc.id()).build();
  SocketAddr echo{*server.ip(), 7000};
  auto g = patchbay::testing::spawn_tcp_echo_server(server, echo);
  auto conn = tcp_connect(c.dev, echo, std::nullopt);
  ASSERT_TRUE(conn);
  auto exchange = [&] {
    if (::send(conn->get(), "x", 1, MSG_NOSIGNAL) != 1) return false;
    char b;
    return wait_fd(conn->get(), POLLIN, 500ms) && ::recv(conn->get(), &b, 1, 0) == 1;
  };
  EXPECT_TRUE(exchange());
  EXPECT_TRUE(exchange());
  c.nat.flush_nat_state();
  // The next segments leave with a new mapping the server has never seen: the stream is dead.
  bool alive = false;
  auto deadline = std::chrono::steady_clock::now() + 2s;
  while (std::chrono::steady_clock::now() < deadline) alive = exchange();
  EXPECT_FALSE(alive);
}

TEST(NatRuntime, SetNatLeavesTheFirewallInPlace) {
  Lab lab;
  auto r = lab.add_router("r").preset(RouterPreset::Home).build();
  r.set_nat_mode(Nat::corporate());
  auto rules = r.output(Command("nft").args({"list", "tables"}));
  EXPECT_NE(rules.out.find("table inet pb_fw"), std::string::npos) << rules.out;
  EXPECT_NE(rules.out.find("table ip pb_nat"), std::string::npos) << rules.out;
  EXPECT_EQ(r.firewall(), Firewall::block_inbound());
}

// ---- Hairpin ----

namespace {

// Two devices behind one NAT: `a` runs a reflector on a socket whose mapping it learned from the
// data centre; `b` probes a's external address.
struct Hairpin {
  NatCase c;
  Device b;
  UniqueFd a_sock;
  SocketAddr a_mapped;
  std::jthread reflector;

  explicit Hairpin(Nat n)
      : c(std::move(n), Wiring::Direct), b(c.lab.add_device("b").iface("eth0", c.nat.id()).build()) {
    a_sock = udp_socket(c.dev, 6000);
    a_mapped = probe_from(a_sock.get(), c.udp_refl).value();
    reflector = std::jthread([fd = a_sock.get()](std::stop_token st) {
      while (!st.stop_requested()) {
        if (auto d = recv_from(fd, 100ms)) send_to(fd, d->from, "OBSERVED " + d->from.to_string());
      }
    });
  }
};

}  // namespace

TEST(NatHairpin, FullConeDeliversWithTheSendersExternalMapping) {
  Hairpin h(Nat::full_cone());
  auto bs = udp_socket(h.b, 6100);
  auto b_mapped = probe_from(bs.get(), h.c.udp_refl);
  ASSERT_TRUE(b_mapped);
  auto seen = probe_from(bs.get(), h.a_mapped);
  ASSERT_TRUE(seen);
  EXPECT_EQ(*seen, *b_mapped);  // a sees b exactly as an external peer would
}

TEST(NatHairpin, HomeDropsHairpinTraffic) {
  Hairpin h(Nat::home());
  auto bs = udp_socket(h.b, 6100);
  // Positive control: a's reflector answers over the LAN.
  EXPECT_TRUE(probe_from(bs.get(), {*h.c.dev.ip(), 6000}));
  EXPECT_FALSE(probe_from(bs.get(), h.a_mapped, 500ms));
}

TEST(NatHairpin, CustomEimApdfWithHairpinDelivers) {
  auto cfg = NatConfig::builder().hairpin(true).build();
  Hairpin h(Nat::custom(cfg));
  auto bs = udp_socket(h.b, 6100);
  auto seen = probe_from(bs.get(), h.a_mapped);
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->ip(), IpAddr(*h.c.nat.uplink_ip()));
}

// ---- Hole punching ----

namespace {

struct Punch {
  bool a_heard, b_heard;
};

// DualNat-style: two NATs on the IX, a behind nat-a, b behind nat-b; each learns its mapping from
// a reflector, then both punch at the same time (b starting `stagger` later).
Punch punch(Nat na, Nat nb, std::chrono::milliseconds stagger, std::chrono::milliseconds deadline) {
  Lab lab;
  auto dc = lab.add_router("dc").build();
  auto ra = lab.add_router("nat-a").nat(std::move(na)).build();
  auto rb = lab.add_router("nat-b").nat(std::move(nb)).build();
  auto a = lab.add_device("a").iface("eth0", ra.id()).build();
  auto b = lab.add_device("b").iface("eth0", rb.id()).build();
  SocketAddr refl{*dc.uplink_ip(), 3478};
  auto g = dc.spawn_reflector(refl);
  auto sa = udp_socket(a, 7000), sb = udp_socket(b, 7000);
  auto ma = probe_from(sa.get(), refl), mb = probe_from(sb.get(), refl);
  if (!ma || !mb) throw TimeoutError("punch", "reflector unreachable");
  auto fa = std::async(std::launch::async, [&] {
    return patchbay::testing::holepunch_send_recv(sa.get(), *mb, 200ms, deadline);
  });
  std::this_thread::sleep_for(stagger);
  auto fb = std::async(std::launch::async, [&] {
    return patchbay::testing::holepunch_send_recv(sb.get(), *ma, 200ms, deadline);
  });
  return {fa.get(), fb.get()};
}

}  // namespace

TEST(HolePunch, HomeToHomeSucceeds) {
  for (auto stagger : {0ms, 200ms}) {
    auto r = punch(Nat::home(), Nat::home(), stagger, 15s);
    EXPECT_TRUE(r.a_heard && r.b_heard) << "stagger " << stagger.count();
  }
}

TEST(HolePunch, FullConeToAnythingSucceeds) {
  for (const auto& other : {Nat::full_cone(), Nat::home(), Nat::corporate(), Nat::cloud_nat()}) {
    auto r = punch(Nat::full_cone(), other, 0ms, 5s);
    EXPECT_TRUE(r.a_heard && r.b_heard) << other.to_string();
  }
}

TEST(HolePunch, HomeToFullConeSucceeds) {
  auto r = punch(Nat::home(), Nat::full_cone(), 0ms, 5s);
  EXPECT_TRUE(r.a_heard && r.b_heard);
}

TEST(HolePunch, SymmetricOnBothSidesFails) {
  auto r = punch(Nat::corporate(), Nat::corporate(), 0ms, 5s);
  EXPECT_FALSE(r.a_heard);
  EXPECT_FALSE(r.b_heard);
}

TEST(HolePunch, HomeToCorporateFails) {
  // SPEC 17.5 #50: no datagram crosses in either direction (punch() has already proven both
  // sides reach the reflector, so silence here is the NATs' doing).
  auto r = punch(Nat::home(), Nat::corporate(), 0ms, 5s);
  EXPECT_FALSE(r.a_heard);
  EXPECT_FALSE(r.b_heard);
}

TEST(HolePunch, TcpSimultaneousOpenThroughTwoHomeNats) {
  Lab lab;
  auto dc = lab.add_router("dc").build();
  auto ra = lab.add_router("nat-a").nat(Nat::home()).build();
  auto rb = lab.add_router("nat-b").nat(Nat::home()).build();
  auto a = lab.add_device("a").iface("eth0", ra.id()).build();
  auto b = lab.add_device("b").iface("eth0", rb.id()).build();
  SocketAddr refl{*dc.uplink_ip(), 3478};
  auto g = dc.spawn_reflector(refl, Proto::Tcp);
  auto ma = tcp_probe_from(a, refl, SocketAddr(*a.ip(), 8000));
  auto mb = tcp_probe_from(b, refl, SocketAddr(*b.ip(), 8000));
  ASSERT_TRUE(ma && mb);
  // Both sides keep dialling each other's mapping from their fixed port until one SYN meets the
  // other's conntrack entry.
  auto dial = [](Device& d, SocketAddr local, SocketAddr peer) {
    auto end = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < end)
      if (tcp_connect(d, peer, local, 1500ms)) return true;
    return false;
  };
  auto fa = std::async(std::launch::async, [&] { return dial(a, SocketAddr(*a.ip(), 8000), *mb); });
  auto fb = std::async(std::launch::async, [&] { return dial(b, SocketAddr(*b.ip(), 8000), *ma); });
  bool ok_a = fa.get(), ok_b = fb.get();
  EXPECT_TRUE(ok_a);
  EXPECT_TRUE(ok_b);
}
