// The plans of what a node's build creates (core/wiring.hpp), without namespaces: records with
// unopened namespaces only hand out interface indexes.
#include <algorithm>
#include <memory>

#include <gtest/gtest.h>

#include "core/wiring.hpp"

namespace patchbay::detail {
namespace {

bool has_sysctl(const std::vector<sys::Sysctl>& v, const std::string& path, const std::string& value) {
  return std::any_of(v.begin(), v.end(), [&](auto& s) { return s.path == path && s.value == value; });
}

std::vector<std::string> addrs(const std::vector<AddrSpec>& v) {
  std::vector<std::string> out;
  for (auto& a : v)
    out.push_back(a.addr.to_string() + "/" + std::to_string(a.prefix_len) + (a.nodad ? "" : " dad"));
  return out;
}

struct Fixture {
  IxRec ix{NodeKind::Ix, NodeId{1}, "ix"};
  Fixture() {
    ix.ns = std::make_shared<Netns>();
    ix.bridge_ifindex = ix.ns->alloc_ifindex();
  }

  std::shared_ptr<RouterRec> router(NodeId id, IpSupport ip, RouterRec* parent) {
    auto r = std::make_shared<RouterRec>(NodeKind::Router, id, "r" + std::to_string(id.value));
    r->ns = std::make_shared<Netns>();
    r->lan_switch = NodeId{id.value + 1};
    r->ip_support = ip;
    r->wan_name = parent ? "wan" : "ix";
    r->parent_port_name = (parent ? "h" : "r") + std::to_string(id.value);
    if (has_v4(ip)) {
      r->lan4 = Ipv4Net::parse("10.0.1.0/24");
      r->hosts4 = std::make_unique<core::HostPoolV4>(*r->lan4, 2, "exhausted");
      r->wan_ip = Ipv4Addr::parse("198.18.0.2");
      r->wan_gw = Ipv4Addr::parse("198.18.0.1");
      r->wan_prefix = 24;
    }
    if (has_v6(ip)) {
      r->lan6 = Ipv6Net::parse("fd10:0:0:1::/64");
      r->hosts6 = std::make_unique<core::HostPoolV6>(*r->lan6, 2, "exhausted");
      r->lan_ll6 = Ipv6Addr::parse("fe80::1");
      r->wan_ip6 = Ipv6Addr::parse("2001:db8::2");
      r->wan_gw6 = Ipv6Addr::parse("2001:db8::1");
      r->wan_prefix6 = 64;
    }
    return r;
  }
};

TEST(WiringPlan, DualStackRouterOnTheIx) {
  Fixture f;
  auto r = f.router(NodeId{2}, IpSupport::DualStack, nullptr);
  const RouterPlan p = plan_router(*r, nullptr, {f.ix, /*dad=*/true});
  EXPECT_TRUE(has_sysctl(p.sysctls, "net/ipv4/ip_forward", "1"));
  EXPECT_TRUE(has_sysctl(p.sysctls, "net/ipv6/conf/all/forwarding", "1"));
  EXPECT_TRUE(has_sysctl(p.sysctls, "net/bridge/bridge-nf-call-iptables", "0"));
  // Fresh namespace: the bridge gets index 2, the uplink 3; the port is the IX's next index.
  EXPECT_EQ(p.lan_ifindex, 2);
  EXPECT_EQ(r->lan_ifindex, 2);
  EXPECT_EQ(p.wan.ifindex, 3);
  EXPECT_EQ(r->wan_ifindex, 3);
  EXPECT_EQ(p.uplink.port.ifindex, 3);  // the IX bridge took 2
  EXPECT_EQ(r->parent_port_ifindex, 3);
  EXPECT_EQ(p.uplink.port_ns, f.ix.ns.get());
  EXPECT_EQ(p.uplink.port.master_ifindex, f.ix.bridge_ifindex);
  EXPECT_EQ(p.uplink.port.name, "r2");
  EXPECT_EQ(p.uplink.peer.name, "ix");
  // Gateway addresses skip DAD; the global WAN address runs it when the lab asks for DAD.
  EXPECT_EQ(addrs(p.lan_addrs), (std::vector<std::string>{"10.0.1.1/24", "fd10:0:0:1::1/64", "fe80::1/64"}));
  EXPECT_EQ(addrs(p.wan.addrs), (std::vector<std::string>{"198.18.0.2/24", "2001:db8::2/64 dad"}));
  ASSERT_EQ(p.wan.routes.size(), 2u);
  EXPECT_EQ(p.wan.routes[0].gateway->to_string(), "198.18.0.1");
  EXPECT_EQ(p.wan.routes[0].oif, 3);
  EXPECT_EQ(p.wan.routes[1].gateway->to_string(), "2001:db8::1");
  EXPECT_TRUE(p.wait_dad);
  EXPECT_FALSE(p.ix_gateway);
}

TEST(WiringPlan, V4OnlySubRouterHangsOffItsParentsLan) {
  Fixture f;
  auto parent = f.router(NodeId{2}, IpSupport::V4Only, nullptr);
  (void)plan_router(*parent, nullptr, {f.ix, false});
  auto r = f.router(NodeId{4}, IpSupport::V4Only, parent.get());
  r->new_ix_subnet.reset();
  const RouterPlan p = plan_router(*r, parent.get(), {f.ix, true});
  EXPECT_FALSE(has_sysctl(p.sysctls, "net/ipv6/conf/all/forwarding", "1"));
  EXPECT_EQ(p.uplink.port_ns, parent->ns.get());
  EXPECT_EQ(p.uplink.port.master_ifindex, parent->lan_ifindex);
  EXPECT_EQ(p.uplink.port.name, "h4");
  EXPECT_EQ(p.uplink.port.ifindex, 4);  // the parent's bridge and uplink took 2 and 3
  EXPECT_EQ(p.uplink.peer.name, "wan");
  EXPECT_FALSE(p.wait_dad);  // no IPv6 to wait for
}

TEST(WiringPlan, RouterOpeningANewIxSubnetMakesTheRootItsGateway) {
  Fixture f;
  auto r = f.router(NodeId{2}, IpSupport::V4Only, nullptr);
  r->new_ix_subnet = Ipv4Net::parse("198.18.1.0/24");
  r->wan_gw = Ipv4Addr::parse("198.18.1.1");
  const RouterPlan p = plan_router(*r, nullptr, {f.ix, false});
  ASSERT_TRUE(p.ix_gateway);
  EXPECT_EQ(p.ix_gateway->addr.to_string(), "198.18.1.1");
  EXPECT_EQ(p.ix_gateway->prefix_len, 24);
  EXPECT_EQ(p.ix_bridge_ifindex, f.ix.bridge_ifindex);
}

TEST(WiringPlan, DeviceDefaultRoutesOnlyOnTheDefaultInterface) {
  Fixture f;
  auto a = f.router(NodeId{2}, IpSupport::DualStack, nullptr);
  auto b = f.router(NodeId{4}, IpSupport::V4Only, nullptr);
  (void)plan_router(*a, nullptr, {f.ix, false});
  (void)plan_router(*b, nullptr, {f.ix, false});
  DeviceRec d(NodeKind::Device, NodeId{6}, "laptop");
  d.ns = std::make_shared<Netns>();
  d.default_if = "wlan0";
  for (auto [name, rt, id] : {std::tuple{"eth0", a.get(), 7u}, std::tuple{"wlan0", a.get(), 8u},
                              std::tuple{"wwan0", b.get(), 9u}}) {
    IfaceRec i;
    i.id = NodeId{id};
    i.name = name;
    i.router = rt->id;
    i.ip = rt->hosts4->alloc();
    i.gw = rt->hosts4->gateway();
    i.prefix = 24;
    if (rt->hosts6) {
      i.ip6 = rt->hosts6->alloc();
      i.gw6 = rt->hosts6->gateway();
      i.prefix6 = 64;
    }
    d.ifaces.push_back(i);
  }
  RouterMap rts{{2, a}, {4, b}};
  DevicePlan p = plan_device(d, rts, /*ra_driven=*/false, {f.ix, false});
  ASSERT_EQ(p.veths.size(), 3u);
  ASSERT_EQ(p.ifaces.size(), 3u);
  EXPECT_EQ(p.veths[0].port_ns, a->ns.get());
  EXPECT_EQ(p.veths[2].port_ns, b->ns.get());
  EXPECT_EQ(p.veths[1].port.name, "v8");
  EXPECT_EQ(p.veths[1].port.master_ifindex, a->lan_ifindex);
  EXPECT_EQ(p.veths[1].peer.name, "wlan0");
  EXPECT_EQ(d.ifaces[1].ifindex, 3);
  EXPECT_TRUE(p.ifaces[0].routes.empty());
  EXPECT_TRUE(p.ifaces[2].routes.empty());
  ASSERT_EQ(p.ifaces[1].routes.size(), 2u);  // IPv4 and IPv6 via wlan0
  EXPECT_EQ(p.ifaces[1].routes[0].oif, 3);
  EXPECT_FALSE(p.wait_dad);

  // RA-driven: the IPv6 default route comes from advertisements, not from the plan.
  DevicePlan ra = plan_device(d, rts, /*ra_driven=*/true, {f.ix, true});
  ASSERT_EQ(ra.ifaces[1].routes.size(), 1u);
  EXPECT_EQ(ra.ifaces[1].routes[0].family, AF_INET);
  EXPECT_TRUE(ra.wait_dad);
}

TEST(WiringPlan, InterfaceSetupKeepsStateAndExtraAddresses) {
  IxRec ix(NodeKind::Ix, NodeId{1}, "ix");
  IfaceRec i;
  i.ifindex = 5;
  i.name = "eth1";
  i.up = false;
  i.ip = Ipv4Addr::parse("10.0.0.5");
  i.prefix = 24;
  i.extra_addrs.push_back({IpAddr::parse("10.9.0.1"), 16});
  IfaceSetup s = plan_iface_setup(i, {ix, false});
  EXPECT_FALSE(s.up);
  EXPECT_EQ(addrs(s.addrs), (std::vector<std::string>{"10.0.0.5/24", "10.9.0.1/16"}));
  EXPECT_TRUE(s.routes.empty());
}

}  // namespace
}  // namespace patchbay::detail
