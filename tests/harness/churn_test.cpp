// Churn (issue 11): create and destroy a 20-node lab with NAT, link conditions (the userspace
// engine), DNS entries, child processes and a NAT round trip, many times, and require that the
// process and the host end as they started: fds, threads, children, mounts, host interfaces, nft
// tables and /tmp entries. PATCHBAY_CHURN_CYCLES sets the count (the suite runs 20;
// `scripts/harness.sh churn` runs 1,000).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "patchbay/patchbay.hpp"
#include "snapshot.hpp"

namespace patchbay {
namespace {

int cycles_from_env() {
  const char* v = std::getenv("PATCHBAY_CHURN_CYCLES");
  return v && std::atoi(v) > 0 ? std::atoi(v) : 20;
}

// One lab: dc (dual stack), three NAT routers under it (home, corporate, CGNAT), four devices
// under each of them (every other one conditioned), DNS entries, two children and a round trip
// through the home NAT. Returns whether the reflector saw the home router's WAN address.
bool one_cycle(int cycle) {
  Lab lab;
  auto dc = lab.add_router("dc").ip_support(IpSupport::DualStack).build();
  std::vector<Router> nats{lab.add_router("home").preset(RouterPreset::Home).upstream(dc.id()).build(),
                           lab.add_router("corp").preset(RouterPreset::Corporate).upstream(dc.id()).build(),
                           lab.add_router("cgnat").preset(RouterPreset::IspCgnat).upstream(dc.id()).build()};
  std::vector<Device> devs;
  for (auto& r : nats) {
    for (int k = 0; k < 4; ++k) {
      std::optional<LinkCondition> cond;
      if (k % 2 == 1) {
        LinkLimits l;
        l.latency_ms = 2;
        l.loss_pct = 0.5f;
        cond = LinkCondition::manual(l);
      }
      devs.push_back(lab.add_device(r.name() + "-d" + std::to_string(k)).iface("eth0", r.id(), cond).build());
    }
  }
  lab.dns_entry("svc.churn.test", IpAddr(*dc.uplink_ip()));
  devs[0].dns_entry("own.churn.test", IpAddr(*dc.uplink_ip()));
  auto a = devs[1].spawn_command(Command("sleep").arg("30"));
  auto b = devs[5].spawn_command(Command("sleep").arg("30"));
  SocketAddr refl{*dc.uplink_ip(), static_cast<std::uint16_t>(3478 + cycle % 100)};
  auto g = dc.spawn_reflector(refl);
  return devs[0].run([&] { return testing::udp_roundtrip(refl); }).ip() == IpAddr(*nats[0].uplink_ip());
  // a, b: still running when the lab goes; the lab's teardown must kill and reap them.
}

TEST(Churn, CreateAndDestroyLeaveNothingBehind) {
  const int cycles = cycles_from_env();
  // The first lab sets up what lives for the process (RLIMIT_NOFILE, caches, lazily created
  // process-wide state); leaks are what grows after it.
  ASSERT_TRUE(one_cycle(0));
  const auto before = pbharness::take_snapshot();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 1; i <= cycles; ++i) {
    ASSERT_TRUE(one_cycle(i)) << "cycle " << i << ": the round trip through the home NAT";
    if (i % 100 == 0 || i == cycles) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "churn: %d/%d cycles, %.1f s, %.0f ms per cycle\n", i, cycles, s, 1000 * s / i);
    }
  }
  const auto after = pbharness::take_snapshot();
  EXPECT_EQ(before.diff(after), "") << "after " << cycles << " cycles";
  EXPECT_GT(before.fds, 2);  // the snapshot sees something at all
  EXPECT_FALSE(before.interfaces.empty());
}

}  // namespace
}  // namespace patchbay
