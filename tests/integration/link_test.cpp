// SPEC 7 / 17.7: link conditions through the userspace engine, measured end to end.
#include <gtest/gtest.h>

#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <numeric>
#include <set>

#include "link_fixture.hpp"

using namespace patchbay;
using namespace pbtest;
using namespace std::chrono_literals;

namespace {

LinkCondition latency(std::uint32_t ms, std::uint32_t jitter = 0) {
  LinkLimits l;
  l.latency_ms = ms;
  l.jitter_ms = jitter;
  return LinkCondition::manual(l);
}

LinkCondition loss(float pct) {
  LinkLimits l;
  l.loss_pct = pct;
  return LinkCondition::manual(l);
}

LinkCondition rate(std::uint32_t kbit) {
  LinkLimits l;
  l.rate_kbit = kbit;
  return LinkCondition::manual(l);
}

}  // namespace

TEST(LinkCondition, UpLatencyPlusDownlinkGivesTheirSum) {
  LinkLab t;
  double base = t.rtt_ms();
  EXPECT_LT(base, 5.0);
  t.dev.default_iface().set_condition(latency(50), LinkDirection::Up);
  t.home.set_downlink_condition(latency(50));
  double rtt = t.rtt_ms(20);
  EXPECT_NEAR(rtt, 100.0 + base, 3.0);
  EXPECT_TRUE(t.dev.default_iface().link_stats().engine_routed);
  EXPECT_GT(t.dev.default_iface().link_stats().up.packets, 20u);
  EXPECT_GT(t.home.downlink_stats().packets, 20u);
}

TEST(LinkCondition, DirectionsApplyToTheirOwnSide) {
  LinkLab t;
  auto i = t.dev.default_iface();
  i.set_condition(latency(40), LinkDirection::Up);
  EXPECT_NEAR(t.rtt_ms(10), 40.0, 3.0);
  i.clear_condition(LinkDirection::Up);
  i.set_condition(latency(40), LinkDirection::Down);
  EXPECT_NEAR(t.rtt_ms(10), 40.0, 3.0);
  i.set_condition(latency(40), LinkDirection::Both);
  EXPECT_NEAR(t.rtt_ms(10), 80.0, 3.0);
  EXPECT_EQ(i.condition(LinkDirection::Up), latency(40));
  EXPECT_EQ(i.condition(LinkDirection::Down), latency(40));
}

TEST(LinkCondition, ConditionAtBuildApplies) {
  LinkLab t(7, latency(30), LinkDirection::Both);
  EXPECT_NEAR(t.rtt_ms(10), 60.0, 3.0);
  auto snap = t.dev.default_iface().snapshot();
  ASSERT_TRUE(snap.condition_up);
  EXPECT_EQ(*snap.condition_up, latency(30));
  auto st = t.lab.state();
  EXPECT_EQ(st.devices["dev"]["interfaces"][0]["link_condition"], latency(30).to_json());
}

TEST(LinkCondition, ClearingReturnsToThePlainPath) {
  LinkLab t;
  double base = t.rtt_ms(5);
  auto i = t.dev.default_iface();
  i.set_condition(latency(100), LinkDirection::Up);
  EXPECT_NEAR(t.rtt_ms(5), 100.0 + base, 3.0);
  i.clear_condition();
  EXPECT_NEAR(t.rtt_ms(5), base, 5.0);
  // The queues drained, so the port left the engine.
  auto deadline = Clock::now() + 2s;
  while (i.link_stats().engine_routed && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(i.link_stats().engine_routed);
  EXPECT_NEAR(t.rtt_ms(5), base, 5.0);  // still connected on the plain veth
}

// Moving a port onto the engine and back again while a stream runs: the kernel's path and the
// engine's overlap during each hand-over, so a datagram may arrive twice but none is lost.
TEST(LinkCondition, SwitchingPathsUnderAStreamLosesNoDatagram) {
  LinkLab t;
  t.rtt_ms(3);
  auto i = t.dev.default_iface();
  std::atomic<bool> stop{false};
  int rounds = 0;
  std::thread toggler([&] {
    while (!stop.load()) {
      i.set_condition(latency(1), LinkDirection::Up);
      std::this_thread::sleep_for(20ms);
      i.clear_condition();
      auto deadline = Clock::now() + 2s;
      while (i.link_stats().engine_routed && Clock::now() < deadline) std::this_thread::sleep_for(2ms);
      ++rounds;
      std::this_thread::sleep_for(10ms);
    }
  });
  constexpr std::uint32_t kCount = 6000;
  const auto pace = std::chrono::microseconds(200);
  std::vector<std::uint32_t> down;
  std::thread to_dev([&] { down = udp_ids(t.srv, t.dev, SocketAddr(*t.dev.ip(), 4001), kCount, pace); });
  auto up = udp_ids(t.dev, t.srv, SocketAddr(*t.srv.ip(), 4000), kCount, pace);
  to_dev.join();
  stop = true;
  toggler.join();
  EXPECT_GE(rounds, 3);  // the streams overlapped several hand-overs both ways
  for (const auto* got : {&up, &down}) {
    std::set<std::uint32_t> ids(got->begin(), got->end());
    std::vector<std::uint32_t> missing;
    for (std::uint32_t k = 0; k < kCount; ++k)
      if (!ids.count(k)) missing.push_back(k);
    EXPECT_TRUE(missing.empty()) << (got == &up ? "dev->srv: " : "srv->dev: ") << missing.size() << " of "
                                 << kCount << " lost over " << rounds << " rounds, first "
                                 << (missing.empty() ? 0 : missing.front());
  }
}

// A port handed back to the plain path keeps its engine socket and clsact qdisc (control-plane
// state); routing it again must reuse them and carry the new condition.
TEST(LinkCondition, RestoredPortIsRoutedAgainByTheNextCondition) {
  LinkLab t;
  double base = t.rtt_ms(5);
  auto i = t.dev.default_iface();
  for (int round = 0; round < 2; ++round) {
    const double lat = round == 0 ? 40.0 : 80.0;
    i.set_condition(latency(lat), LinkDirection::Up);
    EXPECT_TRUE(i.link_stats().engine_routed) << "round " << round;
    EXPECT_NEAR(t.rtt_ms(5), lat + base, 3.0) << "round " << round;
    i.clear_condition();
    auto deadline = Clock::now() + 2s;
    while (i.link_stats().engine_routed && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
    EXPECT_FALSE(i.link_stats().engine_routed) << "round " << round;
    EXPECT_NEAR(t.rtt_ms(5), base, 5.0) << "round " << round;
  }
}

TEST(LinkCondition, JitterSpreadsRoundTrips) {
  LinkLab t;
  t.rtt_ms(3);
  t.dev.default_iface().set_condition(latency(30, 10), LinkDirection::Up);
  auto s = rtt_samples(t.dev, t.udp_refl, 60, 2ms);
  auto [mn, mx] = std::minmax_element(s.begin(), s.end());
  EXPECT_GE(*mn, 19.5);  // never early: the strict bound
  // Never much later than the range either. Not the maximum: the few largest of 60 samples carry
  // the host's scheduling noise (50.9 ms was seen with two compilers beside a parallel test run),
  // so the 90th percentile (38 ms for uniform [20, 40]) with 4 ms for the noise.
  std::vector<double> sorted = s;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_LE(sorted[sorted.size() * 9 / 10], 42.0);
  EXPECT_GT(*mx - *mn, 8.0);  // uniform over [20, 40]: 60 samples spread well beyond 8 ms
  EXPECT_NEAR(median(s), 30.0, 4.0);
}

TEST(LinkCondition, LossFallsInsideTheBinomialBand) {
  for (float pct : {0.0f, 10.0f, 50.0f, 90.0f}) {
    LinkLab t(11);
    t.rtt_ms(3);
    t.dev.default_iface().set_condition(loss(pct), LinkDirection::Up);
    SocketAddr sink(*t.srv.ip(), 6000);
    auto got = udp_ids(t.dev, t.srv, sink, 2000, 200us);
    auto [lo, hi] = binomial_band(2000, 1.0 - pct / 100.0);
    EXPECT_GE(static_cast<double>(got.size()), std::floor(lo)) << "loss " << pct;
    EXPECT_LE(static_cast<double>(got.size()), std::ceil(hi)) << "loss " << pct;
    auto st = t.dev.default_iface().link_stats();
    EXPECT_EQ(st.up.drops_loss + got.size(), 2000u) << "loss " << pct;
  }
}

TEST(LinkCondition, SameSeedGivesTheSameDropPattern) {
  auto run = [](std::uint64_t seed) {
    LinkLab t(seed);
    t.rtt_ms(3);
    t.dev.default_iface().set_condition(loss(10), LinkDirection::Up);
    SocketAddr sink(*t.srv.ip(), 6000);
    auto got = udp_ids(t.dev, t.srv, sink, 2000, 100us);
    return std::set<std::uint32_t>(got.begin(), got.end());
  };
  auto a = run(1234), b = run(1234), c = run(999);
  EXPECT_GT(a.size(), 1700u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(LinkCondition, GilbertElliottBurstsHaveTheConfiguredLength) {
  LinkLab t(5);
  t.rtt_ms(3);
  LinkLimits l;
  l.burst_loss = GilbertElliott{5.0, 50.0, 100.0, 0.0};
  t.dev.default_iface().set_condition(LinkCondition::manual(l), LinkDirection::Up);
  SocketAddr sink(*t.srv.ip(), 6000);
  const std::uint32_t n = 4000;
  auto got = udp_ids(t.dev, t.srv, sink, n, 100us);
  std::vector<bool> rx(n, false);
  for (auto id : got)
    if (id < n) rx[id] = true;
  int bursts = 0, lost = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    if (!rx[i]) {
      ++lost;
      if (i == 0 || rx[i - 1]) ++bursts;
    }
  }
  ASSERT_GT(bursts, 0);
  double mean_burst = static_cast<double>(lost) / bursts;
  EXPECT_NEAR(mean_burst, 2.0, 0.4);                         // 1 / r
  EXPECT_NEAR(static_cast<double>(lost) / n, 0.091, 0.025);  // p / (p + r)
}

TEST(LinkCondition, RateLimitsTcpGoodputBothWays) {
  for (std::uint32_t kbit : {2000u, 20000u}) {
    LinkLab t;
    t.rtt_ms(3);
    auto i = t.dev.default_iface();
    i.set_condition(rate(kbit), LinkDirection::Both);
    std::size_t bytes = kbit * 1000 / 8;  // about one second of data
    auto up = tcp_transfer(t.dev, t.srv, SocketAddr(*t.srv.ip(), 5001), bytes);
    auto down = tcp_transfer(t.srv, t.dev, SocketAddr(*t.dev.ip(), 5002), bytes);
    EXPECT_TRUE(up.intact);
    EXPECT_TRUE(down.intact);
    EXPECT_NEAR(up.kbit(), kbit, kbit * 0.10) << "up " << kbit;
    EXPECT_NEAR(down.kbit(), kbit, kbit * 0.10) << "down " << kbit;
  }
}

TEST(LinkCondition, AsymmetricAndStackedRatesTakeTheMinimum) {
  LinkLab t;
  t.rtt_ms(3);
  t.dev.default_iface().set_condition(rate(1000), LinkDirection::Up);
  t.home.set_downlink_condition(rate(4000));
  auto up = tcp_transfer(t.dev, t.srv, SocketAddr(*t.srv.ip(), 5001), 128 * 1024);
  auto down = tcp_transfer(t.srv, t.dev, SocketAddr(*t.dev.ip(), 5002), 512 * 1024);
  EXPECT_LE(up.kbit(), 1100);
  EXPECT_GE(up.kbit(), 800);
  EXPECT_GE(down.kbit(), 2800);
  EXPECT_LE(down.kbit(), 4400);
  // Stacked: the home router's uplink at 1500 below a device Up of 4000.
  t.dev.default_iface().set_condition(rate(4000), LinkDirection::Up);
  t.lab.set_link_condition(t.home.id(), t.lab.ix().id(), rate(1500));
  auto stacked = tcp_transfer(t.dev, t.srv, SocketAddr(*t.srv.ip(), 5003), 192 * 1024);
  EXPECT_LE(stacked.kbit(), 1650);
  EXPECT_GE(stacked.kbit(), 1100);
}

TEST(LinkCondition, TcpSurvivesConditionChangesMidTransfer) {
  LinkLab t;
  t.rtt_ms(3);
  auto i = t.dev.default_iface();
  LinkLimits l;
  l.rate_kbit = 8000;  // 3 MiB take about 3 s: every change below lands mid-transfer
  i.set_condition(LinkCondition::manual(l), LinkDirection::Up);
  auto r = tcp_transfer(t.dev, t.srv, SocketAddr(*t.srv.ip(), 5001), 3 << 20, [&] {
    for (int k = 0; k < 10; ++k) {
      std::this_thread::sleep_for(150ms);
      LinkLimits c = l;
      c.latency_ms = (k % 3) * 10;
      c.loss_pct = k % 2 ? 1.0f : 0.0f;
      c.rate_kbit = k % 4 == 3 ? 12000 : 8000;
      i.set_condition(LinkCondition::manual(c), LinkDirection::Both);
    }
  });
  EXPECT_TRUE(r.intact);
  EXPECT_GE(r.bytes, (3u << 20) - (1u << 16));
  EXPECT_GT(r.seconds, 1.5);  // the transfer really spanned the changes
}

TEST(LinkCondition, RateDecreaseAndRemovalTakeEffect) {
  LinkLab t;
  t.rtt_ms(3);
  auto i = t.dev.default_iface();
  i.set_condition(rate(5000), LinkDirection::Up);
  auto fast = tcp_transfer(t.dev, t.srv, SocketAddr(*t.srv.ip(), 5001), 512 * 1024);
  i.set_condition(rate(500), LinkDirection::Up);
  auto slow = tcp_transfer(t.dev, t.srv, SocketAddr(*t.srv.ip(), 5002), 64 * 1024);
  EXPECT_GE(fast.kbit(), 3500);
  EXPECT_LE(fast.kbit(), 5500);  // SPEC 17: goodput within [0.7 R, 1.1 R]
  EXPECT_LE(slow.kbit(), 550);
  EXPECT_GE(slow.kbit(), 300);  // limited, not stalled
  EXPECT_TRUE(slow.intact);
  i.clear_condition();
  auto free = tcp_transfer(t.dev, t.srv, SocketAddr(*t.srv.ip(), 5003), 512 * 1024);
  EXPECT_GE(free.kbit(), 3 * fast.kbit());
}

TEST(LinkCondition, FivePercentLossStillDeliversTcpIntact) {
  LinkLab t;
  t.rtt_ms(3);
  t.dev.default_iface().set_condition(loss(5), LinkDirection::Both);
  auto r = tcp_transfer(t.dev, t.srv, SocketAddr(*t.srv.ip(), 5001), 2 << 20);
  EXPECT_TRUE(r.intact);
  EXPECT_GE(r.bytes, (2u << 20) - (1u << 16));
  EXPECT_GT(t.dev.default_iface().link_stats().up.drops_loss, 0u);
}

TEST(LinkCondition, DuplicateCorruptAndReorderShowAtTheirRatios) {
  LinkLab t(3);
  t.rtt_ms(3);
  auto i = t.dev.default_iface();
  SocketAddr sink(*t.srv.ip(), 6000);
  {
    LinkLimits l;
    l.duplicate_pct = 20;
    i.set_condition(LinkCondition::manual(l), LinkDirection::Up);
    auto got = udp_ids(t.dev, t.srv, sink, 2000, 100us);
    auto [lo, hi] = binomial_band(2000, 0.2);
    EXPECT_GE(static_cast<double>(got.size()) - 2000, std::floor(lo));
    EXPECT_LE(static_cast<double>(got.size()) - 2000, std::ceil(hi));
  }
  {
    // A flipped bit makes the UDP checksum fail (or damages a header): the receiver drops it.
    LinkLimits l;
    l.corrupt_pct = 20;
    i.set_condition(LinkCondition::manual(l), LinkDirection::Up);
    auto got = udp_ids(t.dev, t.srv, sink, 2000, 100us, 200);
    auto [lo, hi] = binomial_band(2000, 0.8);
    EXPECT_GE(static_cast<double>(got.size()), std::floor(lo));
    EXPECT_LE(static_cast<double>(got.size()), std::ceil(hi));
    EXPECT_GT(i.link_stats().up.corrupted, 300u);
  }
  {
    LinkLimits l;
    l.latency_ms = 10;
    l.reorder_pct = 25;
    i.set_condition(LinkCondition::manual(l), LinkDirection::Up);
    auto got = udp_ids(t.dev, t.srv, sink, 1000, 1000us);
    ASSERT_EQ(got.size(), 1000u);
    int overtakers = 0;
    std::uint32_t maxseen = 0;
    for (std::size_t k = 0; k < got.size(); ++k) {
      if (k > 0 && got[k] < maxseen) ++overtakers;
      maxseen = std::max(maxseen, got[k]);
    }
    // A reordered packet skips the 10 ms line and overtakes the ~9 packets queued before it; it
    // is counted once per packet that arrives after a higher id.
    EXPECT_GT(overtakers, 100);
    EXPECT_GT(i.link_stats().up.reordered, 150u);
    EXPECT_LT(i.link_stats().up.reordered, 350u);
  }
}

TEST(LinkCondition, JitterWithoutReorderingKeepsOrder) {
  LinkLab t;
  t.rtt_ms(3);
  LinkLimits l;
  l.latency_ms = 20;
  l.jitter_ms = 10;
  l.jitter_reorders = false;
  t.dev.default_iface().set_condition(LinkCondition::manual(l), LinkDirection::Up);
  SocketAddr sink(*t.srv.ip(), 6000);
  auto got = udp_ids(t.dev, t.srv, sink, 500, 1000us);
  ASSERT_EQ(got.size(), 500u);
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
  l.jitter_reorders = true;
  t.dev.default_iface().set_condition(LinkCondition::manual(l), LinkDirection::Up);
  auto mixed = udp_ids(t.dev, t.srv, sink, 500, 1000us);
  EXPECT_FALSE(std::is_sorted(mixed.begin(), mixed.end()));
}

TEST(LinkCondition, TraceFileSetsTheAverageRate) {
  auto path = std::filesystem::temp_directory_path() / "patchbay-trace-12mbit";
  std::ofstream(path) << "1\n";
  LinkLab t;
  t.rtt_ms(3);
  LinkLimits l;
  l.rate_trace = path;
  t.dev.default_iface().set_condition(LinkCondition::manual(l), LinkDirection::Up);
  auto r = tcp_transfer(t.dev, t.srv, SocketAddr(*t.srv.ip(), 5001), 2 << 20);
  EXPECT_NEAR(r.kbit(), 12000 * 1448.0 / 1514, 1200);

  auto bad = std::filesystem::temp_directory_path() / "patchbay-trace-bad";
  std::ofstream(bad) << "1\n2\nfast\n";
  l.rate_trace = bad;
  try {
    t.dev.default_iface().set_condition(LinkCondition::manual(l), LinkDirection::Up);
    FAIL() << "a malformed trace was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(":3"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
  std::filesystem::remove(bad);
}

TEST(LinkCondition, UplinkConditionOfSubRouterAndIxRouter) {
  Lab lab(LabOpts{}.seed(1));
  auto dc = lab.add_router("dc").build();
  auto isp = lab.add_router("isp").build();
  auto nat = lab.add_router("nat").upstream(isp.id()).build();
  auto srv = lab.add_device("srv").iface("eth0", dc.id()).build();
  auto dev = lab.add_device("dev").iface("eth0", nat.id(), latency(20)).build();
  SocketAddr refl(*srv.ip(), 3478);
  auto g = srv.spawn_reflector(refl);
  auto rtt = [&] {
    return dev.run([&] { return patchbay::testing::udp_rtt_median(refl, 10, 3); }).count() / 1000.0;
  };
  EXPECT_NEAR(rtt(), 20.0, 3.0);
  lab.set_link_condition(nat.id(), isp.id(), latency(30));  // child -> parent, Up
  EXPECT_NEAR(rtt(), 50.0, 3.0);
  EXPECT_EQ(nat.uplink_condition(LinkDirection::Up), latency(30));
  isp.set_uplink_condition(latency(10), LinkDirection::Down);  // IX -> isp
  EXPECT_NEAR(rtt(), 60.0, 3.0);
  EXPECT_TRUE(isp.uplink_stats().engine_routed);
  EXPECT_THROW(lab.set_link_condition(dev.id(), dc.id(), latency(1)), InvalidArgument);
}

TEST(LinkCondition, DownlinkSharesOneQueueButNotLanTraffic) {
  Lab lab(LabOpts{}.seed(1));
  auto dc = lab.add_router("dc").build();
  auto home = lab.add_router("home").downlink_condition(latency(25)).build();
  auto srv = lab.add_device("srv").iface("eth0", dc.id()).build();
  auto a = lab.add_device("a").iface("eth0", home.id()).build();
  auto b = lab.add_device("b").iface("eth0", home.id()).build();  // added after the condition
  SocketAddr refl(*srv.ip(), 3478), lan(*b.ip(), 3478);
  auto g1 = srv.spawn_reflector(refl);
  auto g2 = b.spawn_reflector(lan);
  EXPECT_NEAR(a.run([&] { return patchbay::testing::udp_rtt_median(refl, 10, 3); }).count() / 1000.0, 25.0,
              3.0);
  EXPECT_NEAR(b.run([&] { return patchbay::testing::udp_rtt_median(refl, 10, 3); }).count() / 1000.0, 25.0,
              3.0);
  // Device to device inside the LAN never crosses the router.
  EXPECT_LT(a.run([&] { return patchbay::testing::udp_rtt_median(lan, 10, 3); }).count() / 1000.0, 5.0);
  home.set_downlink_condition(std::nullopt);
  EXPECT_LT(a.run([&] { return patchbay::testing::udp_rtt_median(refl, 10, 3); }).count() / 1000.0, 5.0);
}

TEST(LinkCondition, PresetsAtBuildGiveTwiceTheirLatency) {
  for (auto c : {LinkCondition::wifi(), LinkCondition::mobile_4g(), LinkCondition::satellite()}) {
    LinkLab t(2, c, LinkDirection::Both);
    double e = 2.0 * c.to_limits().latency_ms;
    auto s = rtt_samples(t.dev, t.udp_refl, 25, 5ms);
    ASSERT_GE(s.size(), 18u) << c.to_string();
    EXPECT_NEAR(median(s), e, 0.25 * e + 3) << c.to_string();
  }
}

TEST(LinkCondition, EventsRecordEveryChange) {
  LinkLab t;
  auto sub = t.lab.subscribe();
  t.dev.default_iface().set_condition(LinkCondition::wifi(), LinkDirection::Down);
  t.home.set_downlink_condition(latency(5));
  t.home.set_uplink_condition(latency(5), LinkDirection::Both);
  // The events themselves, in order, with node, direction and condition.
  std::vector<LabEvent> got;
  while (auto ev = sub.next(std::chrono::milliseconds(500))) {
    if (ev->kind.find("condition_changed") != std::string::npos) got.push_back(*ev);
    if (got.size() == 3) break;
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].kind, "link_condition_changed");
  EXPECT_EQ(got[0].fields["device"], "dev");
  EXPECT_EQ(got[0].fields["direction"], "down");
  EXPECT_EQ(got[0].fields["condition"], "wifi");
  EXPECT_EQ(got[1].kind, "downlink_condition_changed");
  EXPECT_EQ(got[1].fields["router"], "home");
  EXPECT_EQ(got[1].fields["condition"], latency(5).to_json());
  EXPECT_EQ(got[2].kind, "uplink_condition_changed");
  EXPECT_EQ(got[2].fields["direction"], "both");
  EXPECT_LT(got[0].opid, got[1].opid);
  EXPECT_LT(got[1].opid, got[2].opid);
  auto st = t.lab.state();
  EXPECT_EQ(st.devices["dev"]["interfaces"][0]["link_condition_down"], "wifi");
  EXPECT_EQ(st.devices["dev"]["interfaces"][0]["link_condition"], nullptr);
  EXPECT_EQ(st.routers["home"]["downlink_condition"], latency(5).to_json());
  EXPECT_EQ(st.routers["home"]["uplink_condition"]["down"], latency(5).to_json());
}

TEST(LinkEngine, AskingForNetemThroughTheEnvironmentIsAClearError) {
  ::setenv("PATCHBAY_LINK_ENGINE", "netem", 1);
  try {
    Lab lab;
    ::unsetenv("PATCHBAY_LINK_ENGINE");
    FAIL() << "PATCHBAY_LINK_ENGINE=netem accepted";
  } catch (const InvalidArgument& e) {
    ::unsetenv("PATCHBAY_LINK_ENGINE");
    EXPECT_NE(std::string(e.what()).find("PATCHBAY_LINK_ENGINE: expected 'userspace'"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("'netem'"), std::string::npos) << e.what();
  }
}

TEST(LinkCondition, NormalJitterHasTheConfiguredSpread) {
  LinkLab t;
  t.rtt_ms(3);
  LinkLimits l;
  l.latency_ms = 50;
  l.jitter_ms = 10;
  l.distribution = DelayDistribution::Normal;
  l.jitter_reorders = false;
  t.dev.default_iface().set_condition(LinkCondition::manual(l), LinkDirection::Up);
  auto s = rtt_samples(t.dev, t.udp_refl, 60, 10ms);
  ASSERT_EQ(s.size(), 60u);
  double mean = std::accumulate(s.begin(), s.end(), 0.0) / s.size();
  double var = 0;
  for (double x : s) var += (x - mean) * (x - mean);
  double sd = std::sqrt(var / (s.size() - 1));
  EXPECT_NEAR(mean, 50.0, 4.0);
  EXPECT_NEAR(sd, 10.0, 3.0);
}

TEST(LinkCondition, AutomaticQueueKeepsALongFatLinkFull) {
  LinkLab t;
  t.rtt_ms(3);
  LinkLimits l;
  l.rate_kbit = 10000;
  l.latency_ms = 100;
  auto i = t.dev.default_iface();
  i.set_condition(LinkCondition::manual(l), LinkDirection::Both);
  auto full = tcp_transfer(t.dev, t.srv, SocketAddr(*t.srv.ip(), 5001), 8 << 20);
  EXPECT_GE(full.kbit(), 8000);
  EXPECT_LE(full.kbit(), 10500);
  l.queue_limit_pkts = 10;
  i.set_condition(LinkCondition::manual(l), LinkDirection::Both);
  auto small = tcp_transfer(t.dev, t.srv, SocketAddr(*t.srv.ip(), 5002), 2 << 20);
  EXPECT_LT(small.kbit(), 0.8 * full.kbit());
  EXPECT_GT(small.kbit(), 0.0);
  EXPECT_TRUE(small.intact);
  EXPECT_GT(i.link_stats().up.drops_queue, 0u);
}

// Regression: the engine's tap veth (pbe1) sits in the router's namespace; it once answered ARP
// for the router's LAN address, so a device behind a conditioned port could pick pbe1's MAC as
// its gateway and bypass the LAN's NAT (about 40 % of labs). Exactly one MAC may answer.
TEST(LinkCondition, OnlyTheRouterAnswersArpForTheGatewayBehindTheEngine) {
  Lab lab(LabOpts{}.seed(11));
  auto dc = lab.add_router("dc").build();
  auto home = lab.add_router("home").preset(RouterPreset::Home).build();
  auto srv = lab.add_device("srv").iface("eth0", dc.id()).build();
  auto dev = lab.add_device("dev").iface("eth0", home.id(), latency(2)).build();
  dev.set_link_condition("eth0", latency(2), LinkDirection::Both);
  const Ipv4Addr gw = *home.downstream_gw();
  const Ipv4Addr me = *dev.ip();
  auto macs = dev.run([&] {
    int fd = ::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
    EXPECT_GE(fd, 0);
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ARP);
    sll.sll_ifindex = static_cast<int>(::if_nametoindex("eth0"));
    sll.sll_halen = 6;
    std::memset(sll.sll_addr, 0xff, 6);
    std::uint8_t req[28] = {0, 1, 8, 0, 6, 4, 0, 1};
    ifreq ifr{};
    std::strcpy(ifr.ifr_name, "eth0");
    ::ioctl(fd, SIOCGIFHWADDR, &ifr);
    std::memcpy(req + 8, ifr.ifr_hwaddr.sa_data, 6);
    auto my = me.octets(), target = gw.octets();
    std::memcpy(req + 14, my.data(), 4);
    std::memcpy(req + 24, target.data(), 4);
    std::set<std::string> seen;
    for (int round = 0; round < 3; ++round) {
      ::sendto(fd, req, sizeof req, 0, reinterpret_cast<sockaddr*>(&sll), sizeof sll);
      auto until = std::chrono::steady_clock::now() + 300ms;
      while (std::chrono::steady_clock::now() < until) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        std::uint8_t buf[64];
        auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n >= 28 && buf[7] == 2 && std::memcmp(buf + 14, target.data(), 4) == 0) {
          char mac[18];
          std::snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", buf[8], buf[9], buf[10], buf[11],
                        buf[12], buf[13]);
          seen.insert(mac);
        }
      }
    }
    ::close(fd);
    return seen;
  });
  EXPECT_EQ(macs.size(), 1u) << ::testing::PrintToString(macs);
  // And traffic leaves through the NAT: the server sees the router's WAN address.
  SocketAddr refl(*srv.ip(), 3478);
  auto g = srv.spawn_reflector(refl);
  EXPECT_EQ(dev.run([&] { return patchbay::testing::udp_roundtrip(refl); }).ip(), IpAddr(*home.uplink_ip()));
}
