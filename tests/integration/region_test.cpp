// SPEC 8 / 17.11: regions, inter-region links, break and restore.
#include <gtest/gtest.h>

#include "link_fixture.hpp"

using namespace patchbay;
using namespace pbtest;
using namespace std::chrono_literals;

namespace {

// A dual-stack router in `r` with one device behind it.
struct Site {
  Router router;
  Device dev;
};

Site site(Lab& lab, const std::string& name, const Region& r) {
  auto rt = lab.add_router(name).region(r).ip_support(IpSupport::DualStack).build();
  auto d = lab.add_device(name + "-d").iface("eth0", rt.id()).build();
  return {rt, d};
}

// Median RTT (ms) from `from` to a reflector on `to` at `ip`.
double rtt(Device& from, Device& to, IpAddr ip, int n = 7) {
  SocketAddr refl(ip, 3478);
  auto g = to.spawn_reflector(refl);
  return from.run([&] { return patchbay::testing::udp_rtt_median(refl, n, 2); }).count() / 1000.0;
}

}  // namespace

TEST(Region, LinkedRegionsPayTheLinkLatencyBothWays) {
  Lab lab(LabOpts{}.seed(1));
  auto us = lab.add_region("us");
  auto eu = lab.add_region("eu");
  lab.link_regions(us, eu, RegionLink::good(50));
  auto a = site(lab, "a", us), b = site(lab, "b", eu);
  expect_rtt_band(rtt(a.dev, b.dev, IpAddr(*b.dev.ip())), 100.0);
  expect_rtt_band(rtt(a.dev, b.dev, IpAddr(*b.dev.ip6())), 100.0);
  EXPECT_EQ(a.router.region(), "us");
  EXPECT_EQ(lab.router(us.router_id())->name(), "region_us");
  // Public subnets of routers in a region come from the region's block.
  EXPECT_EQ(a.router.downstream_cidr()->to_string().rfind("198.18.1", 0), 0u)
      << a.router.downstream_cidr()->to_string();
  auto st = lab.state();
  ASSERT_EQ(st.region_links.size(), 1u);
  EXPECT_EQ(st.region_links[0]["a"], "region_us");
  EXPECT_EQ(st.region_links[0]["broken"], false);
  EXPECT_EQ(st.routers["a"]["region"], "us");
  EXPECT_EQ(st.regions.count("eu"), 1u);
}

TEST(Region, DefaultRegionsHaveTheSpecLatencies) {
  Lab lab(LabOpts{}.seed(1));
  auto [us, eu, asia] = lab.add_default_regions();
  auto a = site(lab, "a", us), b = site(lab, "b", eu);
  expect_rtt_band(rtt(a.dev, b.dev, IpAddr(*b.dev.ip())), 80.0);
  EXPECT_EQ(lab.regions().size(), 3u);
  EXPECT_EQ(lab.region("asia")->index(), asia.index());
}

TEST(Region, BreakDetoursThroughTheCheapestRegionAndRestoreReturns) {
  Lab lab(LabOpts{}.seed(1));
  auto [us, eu, asia] = lab.add_default_regions();
  auto e = site(lab, "e", eu), a = site(lab, "a", asia);
  for (IpAddr target : {IpAddr(*a.dev.ip()), IpAddr(*a.dev.ip6())}) {
    expect_rtt_band(rtt(e.dev, a.dev, target), 240.0);
    lab.break_region_link(eu, asia);
    expect_rtt_band(rtt(e.dev, a.dev, target), 270.0);  // eu-us-asia
    EXPECT_THROW(lab.break_region_link(eu, asia), InvalidArgument);
    lab.restore_region_link(eu, asia);
    expect_rtt_band(rtt(e.dev, a.dev, target), 240.0);
  }
  EXPECT_THROW(lab.restore_region_link(eu, asia), InvalidArgument);
  auto st = lab.state();
  for (auto& l : st.region_links) EXPECT_EQ(l["broken"], false);
}

TEST(Region, BreakWithoutADetourIsNotFound) {
  Lab lab(LabOpts{}.seed(1));
  auto a = lab.add_region("a"), b = lab.add_region("b");
  lab.link_regions(a, b, RegionLink::good(10));
  EXPECT_THROW(lab.break_region_link(a, b), NotFound);
  EXPECT_THROW(lab.link_regions(b, a, RegionLink::good(10)), AlreadyExists);
  EXPECT_THROW(lab.add_region("a"), AlreadyExists);
  EXPECT_THROW(lab.add_region("bad name"), InvalidArgument);
}

TEST(Region, TriangleUsesTheDirectLink) {
  Lab lab(LabOpts{}.seed(1));
  auto ra = lab.add_region("ra"), rb = lab.add_region("rb"), rc = lab.add_region("rc");
  lab.link_regions(ra, rb, RegionLink::good(30));
  lab.link_regions(rb, rc, RegionLink::good(40));
  lab.link_regions(ra, rc, RegionLink::good(100));
  auto a = site(lab, "a", ra), b = site(lab, "b", rb), c = site(lab, "c", rc);
  expect_rtt_band(rtt(a.dev, b.dev, IpAddr(*b.dev.ip())), 60.0);
  expect_rtt_band(rtt(a.dev, c.dev, IpAddr(*c.dev.ip())), 200.0);
}

TEST(Region, RegionlessRoutersSeeNoRegionLatency) {
  Lab lab(LabOpts{}.seed(1));
  auto [us, eu, asia] = lab.add_default_regions();
  auto dc = lab.add_router("dc").build();
  auto srv = lab.add_device("srv").iface("eth0", dc.id()).build();
  auto e = site(lab, "e", eu);
  EXPECT_LT(rtt(e.dev, srv, IpAddr(*srv.ip())), 10.0);
  // A home NAT inside eu reaching a server in us pays the us-eu link.
  auto home = lab.add_router("home").region(eu).preset(RouterPreset::Home).build();
  auto phone = lab.add_device("phone").iface("eth0", home.id()).build();
  auto u = site(lab, "u", us);
  expect_rtt_band(rtt(phone, u.dev, IpAddr(*u.dev.ip())), 80.0);
}

TEST(Region, DeviceConditionStacksWithRegionLatency) {
  Lab lab(LabOpts{}.seed(1));
  auto us = lab.add_region("us"), eu = lab.add_region("eu");
  lab.link_regions(us, eu, RegionLink::good(40));
  auto a = site(lab, "a", us), b = site(lab, "b", eu);
  LinkLimits l;
  l.latency_ms = 30;
  auto local = lab.add_device("local").iface("eth0", a.router.id()).build();
  a.dev.default_iface().set_condition(LinkCondition::manual(l), LinkDirection::Up);
  expect_rtt_band(rtt(a.dev, b.dev, IpAddr(*b.dev.ip())), 110.0);
  expect_rtt_band(rtt(a.dev, local, IpAddr(*local.ip())), 30.0);
}

TEST(Region, SubRoutersBelowRegionRoutersAreReachableOverV4AndV6) {
  Lab lab(LabOpts{}.seed(1));
  auto us = lab.add_region("us"), eu = lab.add_region("eu");
  lab.link_regions(us, eu, RegionLink::good(65));
  auto a = site(lab, "a", us);
  auto isp = lab.add_router("isp").region(eu).ip_support(IpSupport::DualStack).build();
  auto sub = lab.add_router("sub").upstream(isp.id()).ip_support(IpSupport::DualStack).build();
  auto d = lab.add_device("d").iface("eth0", sub.id()).build();
  EXPECT_EQ(sub.region(), "eu");
  expect_rtt_band(rtt(a.dev, d, IpAddr(*d.ip())), 130.0);
  expect_rtt_band(rtt(a.dev, d, IpAddr(*d.ip6())), 130.0);
}

TEST(Region, RateOnlyLinkLimitsThroughput) {
  Lab lab(LabOpts{}.seed(1));
  auto us = lab.add_region("us"), eu = lab.add_region("eu");
  RegionLink l;
  l.rate_mbit = 5;
  lab.link_regions(us, eu, l);
  auto a = site(lab, "a", us), b = site(lab, "b", eu);
  auto r = tcp_transfer(a.dev, b.dev, SocketAddr(*b.dev.ip(), 5001), 1 << 20);
  EXPECT_TRUE(r.intact);
  EXPECT_LE(r.kbit(), 5500);
  EXPECT_GE(r.kbit(), 3500);
}

TEST(Region, TwentyRegionsInAFullMeshWithLongNames) {
  Lab lab(LabOpts{}.seed(1));
  std::vector<Region> rs;
  for (int i = 0; i < 20; ++i)
    rs.push_back(lab.add_region(i == 0 ? "abcdefghijklmno" : "region-number-" + std::to_string(i)));
  for (std::size_t i = 0; i < rs.size(); ++i)
    for (std::size_t j = i + 1; j < rs.size(); ++j) lab.link_regions(rs[i], rs[j], RegionLink::good(5));
  auto a = site(lab, "a", rs[0]), b = site(lab, "b", rs[19]), c = site(lab, "c", rs[16]);
  expect_rtt_band(rtt(a.dev, b.dev, IpAddr(*b.dev.ip())), 10.0);
  expect_rtt_band(rtt(c.dev, b.dev, IpAddr(*b.dev.ip6())), 10.0);
  // Region 16 and later take their blocks from the extended range.
  EXPECT_EQ(c.router.downstream_cidr()->to_string().rfind("11.", 0), 0u)
      << c.router.downstream_cidr()->to_string();
}

TEST(Region, DetourTakesTheLowestLatencySumThenTheLowestIndex) {
  Lab lab(LabOpts{}.seed(1));
  auto a = lab.add_region("a"), b = lab.add_region("b"), m1 = lab.add_region("m1"), m2 = lab.add_region("m2");
  lab.link_regions(a, b, RegionLink::good(5));
  lab.link_regions(a, m1, RegionLink::good(20));
  RegionLink slow = RegionLink::good(20);
  slow.rate_mbit = 1;  // marks the path through m1 without changing its latency
  lab.link_regions(m1, b, slow);
  lab.link_regions(a, m2, RegionLink::good(10));
  lab.link_regions(m2, b, RegionLink::good(20));  // via m2: 30 < 40
  auto sa = site(lab, "sa", a), sb = site(lab, "sb", b);
  lab.break_region_link(a, b);
  expect_rtt_band(rtt(sa.dev, sb.dev, IpAddr(*sb.dev.ip())), 60.0);
  lab.restore_region_link(a, b);

  // A tie (m2 now 10 + 30 = 40 like m1): the lower index, m1, with its 1 Mbit/s link.
  Lab lab2(LabOpts{}.seed(1));
  a = lab2.add_region("a"), b = lab2.add_region("b"), m1 = lab2.add_region("m1"), m2 = lab2.add_region("m2");
  lab2.link_regions(a, b, RegionLink::good(5));
  lab2.link_regions(a, m1, RegionLink::good(20));
  lab2.link_regions(m1, b, slow);
  lab2.link_regions(a, m2, RegionLink::good(10));
  lab2.link_regions(m2, b, RegionLink::good(30));
  auto ta = site(lab2, "ta", a), tb = site(lab2, "tb", b);
  lab2.break_region_link(a, b);
  expect_rtt_band(rtt(ta.dev, tb.dev, IpAddr(*tb.dev.ip())), 80.0);
  auto r = tcp_transfer(ta.dev, tb.dev, SocketAddr(*tb.dev.ip(), 5001), 128 * 1024);
  EXPECT_LE(r.kbit(), 1100);
}
