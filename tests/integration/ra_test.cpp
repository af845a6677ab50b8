// SPEC 9.1 / 17.10 item 101: RA-driven IPv6 provisioning with real RS/RA packets.
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <poll.h>

#include <chrono>
#include <thread>

#include "patchbay/patchbay.hpp"

using namespace patchbay;
using namespace std::chrono_literals;

namespace {

std::string default_v6(Device& d) {
  return d.output(Command("ip").args({"-6", "route", "show", "default"})).out;
}

// Waits until `pred(default route text)` holds (RAs are asynchronous); returns the last text.
template <class P>
std::string wait_route(Device& d, P pred, std::chrono::milliseconds limit = 3000ms) {
  auto end = std::chrono::steady_clock::now() + limit;
  std::string r = default_v6(d);
  while (!pred(r) && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(50ms);
    r = default_v6(d);
  }
  return r;
}

struct Seen {
  bool rs = false, ra = false;
  int ra_lifetime = -1;
};

// Reads ICMPv6 RS/RA frames from an AF_PACKET socket (both directions) for `ms`.
Seen capture(int fd, std::chrono::milliseconds ms) {
  Seen s;
  auto end = std::chrono::steady_clock::now() + ms;
  unsigned char buf[2048];
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 14 + 40 + 8 || buf[12] != 0x86 || buf[13] != 0xdd || buf[14 + 6] != 58) continue;
    const unsigned char* icmp = buf + 14 + 40;
    const unsigned char* dst = buf + 14 + 24;
    if (icmp[0] == 133 && dst[0] == 0xff && dst[1] == 0x02 && dst[15] == 2) s.rs = true;
    if (icmp[0] == 134) {
      s.ra = true;
      s.ra_lifetime = icmp[6] << 8 | icmp[7];
    }
  }
  return s;
}

// Bounces the device's eth0 (which makes an RA-driven device solicit) while capturing on it.
Seen bounce_and_capture(Device& d, std::chrono::milliseconds ms) {
  UniqueFd cap = d.socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  d.link_down("eth0");
  d.link_up("eth0");
  return capture(cap.get(), ms);
}

}  // namespace

TEST(RaDriven, RsAndRaOnTheWireAndTheDefaultRouteFollowsTheRouter) {
  Lab lab(LabOpts{}.ipv6_provisioning_mode(Ipv6ProvisioningMode::RaDriven));
  auto r = lab.add_router("r").ip_support(IpSupport::DualStack).ra_lifetime_secs(600).build();
  auto d = lab.add_device("d").iface("eth0", r.id()).build();
  auto lan_ll = r.iface(r.downstream_bridge())->ll6;
  ASSERT_TRUE(lan_ll);

  // build() waited for the RA-learned route: via the router's LAN link-local.
  auto route = default_v6(d);
  EXPECT_NE(route.find("via " + lan_ll->to_string()), std::string::npos) << route;
  EXPECT_NE(route.find("dev eth0"), std::string::npos) << route;

  // A capture on the device sees the RS it sends on link_up and the RA that answers it.
  auto seen = bounce_and_capture(d, 1500ms);
  EXPECT_TRUE(seen.rs);
  EXPECT_TRUE(seen.ra);
  EXPECT_EQ(seen.ra_lifetime, 600);

  // Lifetime 0 / disabled: the route goes; enabled again: it comes back.
  r.set_ra_enabled(false);
  EXPECT_EQ(wait_route(d, [](const std::string& s) { return s.empty(); }), "");
  r.set_ra_enabled(true);
  route = wait_route(d, [](const std::string& s) { return !s.empty(); });
  EXPECT_NE(route.find("via " + lan_ll->to_string()), std::string::npos) << route;
  r.set_ra_lifetime_secs(0);
  EXPECT_EQ(wait_route(d, [](const std::string& s) { return s.empty(); }), "");
  EXPECT_EQ(r.ra_lifetime_secs(), 0u);
  EXPECT_EQ(lab.state().routers["r"]["ra_lifetime_secs"], 0);
}

TEST(RaDriven, StaticDevicesKeepTheirInstalledRouteAndHearNoAdvertisements) {
  Lab lab;
  auto r = lab.add_router("r").ip_support(IpSupport::DualStack).build();
  auto d = lab.add_device("d").iface("eth0", r.id()).build();
  auto route = default_v6(d);
  EXPECT_NE(route.find("via " + r.downstream_gw_v6()->to_string()), std::string::npos) << route;
  auto seen = bounce_and_capture(d, 700ms);
  EXPECT_FALSE(seen.ra);
  EXPECT_FALSE(seen.rs);
  // Positive control in the same lab: an RA-driven device on the same router gets RAs.
  auto ra_dev = lab.add_device("ra")
                    .ipv6_provisioning_mode(Ipv6ProvisioningMode::RaDriven)
                    .iface("eth0", r.id())
                    .build();
  EXPECT_NE(default_v6(ra_dev).find("via fe80:"), std::string::npos) << default_v6(ra_dev);
}

TEST(Ipv6Dad, EnabledBuildReturnsOnlyWhenNoAddressIsTentative) {
  Lab lab(LabOpts{}.ipv6_dad_mode(Ipv6DadMode::Enabled));
  auto r = lab.add_router("r").ip_support(IpSupport::DualStack).build();
  auto d = lab.add_device("d").iface("eth0", r.id()).build();
  for (Node* n : std::initializer_list<Node*>{&r, &d}) {
    auto all = n->output(Command("ip").args({"-6", "addr", "show"})).out;
    EXPECT_NE(all.find("inet6 2001:db8"), std::string::npos) << all;  // control: addresses exist
    EXPECT_EQ(n->output(Command("ip").args({"-6", "addr", "show", "tentative"})).out, "");
    // The per-interface default is on (all/ stays 0: the kernel uses the larger of the two).
    EXPECT_EQ(n->output(Command("cat").args({"/proc/sys/net/ipv6/conf/default/accept_dad"})).out, "1\n");
  }
  auto ping = d.output(Command("ping").args({"-6", "-c", "1", "-W", "2", r.downstream_gw_v6()->to_string()}));
  EXPECT_TRUE(ping.status.success()) << ping.out << ping.err;
}

TEST(Ipv6Dad, DisabledTurnsDadOffInEveryNamespace) {
  Lab lab;
  auto r = lab.add_router("r").ip_support(IpSupport::DualStack).build();
  auto d = lab.add_device("d").iface("eth0", r.id()).build();
  for (Node* n : std::initializer_list<Node*>{&r, &d})
    for (const char* scope : {"all", "default"})
      EXPECT_EQ(
          n->output(Command("cat").args({std::string("/proc/sys/net/ipv6/conf/") + scope + "/accept_dad"}))
              .out,
          "0\n");
}
