// SPEC 11 / 17.12: the PMTU black hole (MTU settings: Behaviour.MtuIsSetOnRouterAndDeviceLinks).
#include <gtest/gtest.h>

#include "patchbay/patchbay.hpp"

using namespace patchbay;

namespace {

// isp has MTU 1400 towards the IX; home hangs below it with the default 1500; the device behind
// home sends DF packets to a server beyond the IX.
struct PmtuLab {
  Lab lab;
  Router dc = lab.add_router("dc").ip_support(IpSupport::DualStack).build();
  Router isp;
  Router home;
  Device dev;
  Device srv = lab.add_device("srv").iface("eth0", dc.id()).build();

  explicit PmtuLab(bool block)
      : isp(lab.add_router("isp")
                .ip_support(IpSupport::DualStack)
                .mtu(1400)
                .block_icmp_frag_needed(block)
                .build()),
        home(lab.add_router("home").upstream(isp.id()).ip_support(IpSupport::DualStack).build()),
        dev(lab.add_device("dev").iface("eth0", home.id()).build()) {}

  Output ping(const IpAddr& to, int size) {
    return dev.output(Command("ping").args({to.is_v4() ? "-4" : "-6", "-M", "do", "-s", std::to_string(size),
                                            "-c", "2", "-W", "1", to.to_string()}));
  }
};

bool reports_too_big(const Output& o) {
  auto all = o.out + o.err;
  return all.find("Frag needed") != std::string::npos || all.find("mtu = 1400") != std::string::npos ||
         all.find("too long") != std::string::npos || all.find("Packet too big") != std::string::npos;
}

}  // namespace

TEST(Mtu, TooBigPacketsGetAnIcmpErrorWithoutTheBlackHole) {
  PmtuLab t(false);
  EXPECT_TRUE(t.ping(IpAddr(*t.srv.ip()), 1000).status.success());
  auto big = t.ping(IpAddr(*t.srv.ip()), 1400);
  EXPECT_FALSE(big.status.success());
  EXPECT_TRUE(reports_too_big(big)) << big.out << big.err;
  auto big6 = t.ping(IpAddr(*t.srv.ip6()), 1400);
  EXPECT_FALSE(big6.status.success());
  EXPECT_TRUE(reports_too_big(big6)) << big6.out << big6.err;
}

TEST(Mtu, BlackHoleDropsTheIcmpErrorsButSmallPacketsPass) {
  PmtuLab t(true);
  EXPECT_TRUE(t.isp.block_icmp_frag_needed());
  EXPECT_TRUE(t.ping(IpAddr(*t.srv.ip()), 1000).status.success());
  auto big = t.ping(IpAddr(*t.srv.ip()), 1400);
  EXPECT_FALSE(big.status.success());
  EXPECT_FALSE(reports_too_big(big)) << big.out << big.err;
  auto big6 = t.ping(IpAddr(*t.srv.ip6()), 1400);
  EXPECT_FALSE(big6.status.success());
  EXPECT_FALSE(reports_too_big(big6)) << big6.out << big6.err;
  // The rule survives NAT and firewall changes, and goes when asked.
  t.isp.set_firewall(Firewall::corporate());
  t.isp.set_firewall(Firewall::none());
  t.isp.set_nat_mode(Nat::home());
  t.isp.set_nat_mode(Nat::none());
  EXPECT_FALSE(reports_too_big(t.ping(IpAddr(*t.srv.ip()), 1400)));
  t.isp.set_block_icmp_frag_needed(false);
  EXPECT_TRUE(reports_too_big(t.ping(IpAddr(*t.srv.ip()), 1400)));
  EXPECT_EQ(t.lab.state().routers["isp"]["block_icmp_frag_needed"], false);
}
