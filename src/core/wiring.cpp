// Plans of what a node's build creates in the kernel, and their execution (wiring.hpp).
#include "core/wiring.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "core/macs.hpp"
#include "sys/tc.hpp"

namespace patchbay::detail {

namespace {

bool needs_forwarding_v4(const RouterRec& r) {
  // NAT64 needs an IPv4 uplink even for an IPv6-only LAN (RouterPreset::IspV6, SPEC 4.6).
  return has_v4(r.ip_support) || r.nat_v6 == NatV6Mode::Nat64;
}

}  // namespace

RouterPlan plan_router(RouterRec& r, RouterRec* parent, const WiringContext& ctx) {
  RouterPlan p;
  p.sysctls = {{"net/ipv4/conf/all/send_redirects", "0"},
               {"net/ipv4/conf/default/send_redirects", "0"},
               {"net/ipv4/conf/all/rp_filter", "0"},
               {"net/ipv4/conf/default/rp_filter", "0"}};
  if (needs_forwarding_v4(r)) p.sysctls.push_back({"net/ipv4/ip_forward", "1"});
  if (has_v6(r.ip_support)) p.sysctls.push_back({"net/ipv6/conf/all/forwarding", "1"});
  for (auto& b : NodeWiring::bridge_sysctls()) p.sysctls.push_back(b);

  // The LAN bridge carries the gateway addresses. No DAD on them: a bridge without ports has no
  // carrier, so an address would stay tentative until the first device joined (they are unique by
  // construction).
  const std::uint32_t mtu = r.mtu.value_or(0);
  r.lan_ifindex = r.ns->alloc_ifindex();
  p.lan_name = r.lan_name;
  p.lan_ifindex = r.lan_ifindex;
  p.lan_mac = mac_for(r.id, kLanBridge);
  p.mtu = mtu;
  if (r.lan4) p.lan_addrs.push_back({*r.gw4(), r.lan4->prefix_len()});
  if (r.lan6) {
    p.lan_addrs.push_back({*r.gw6(), r.lan6->prefix_len()});
    p.lan_addrs.push_back({*r.lan_ll6, 64});
  }
  if (r.new_ix_subnet) {
    p.ix_gateway = AddrSpec{*r.wan_gw, r.new_ix_subnet->prefix_len()};
    p.ix_bridge_ifindex = ctx.ix.bridge_ifindex;
  }

  // The uplink: a veth whose router end is "ix"/"wan" and whose other end is a port on the
  // parent's bridge (or the IX bridge in the lab root).
  Netns& up_ns = parent ? *parent->ns : *ctx.ix.ns;
  const int up_bridge = parent ? parent->lan_ifindex : ctx.ix.bridge_ifindex;
  r.wan_ifindex = r.ns->alloc_ifindex();
  r.parent_port_ifindex = up_ns.alloc_ifindex();
  p.uplink.port_ns = &up_ns;
  p.uplink.port = {
      r.parent_port_name, r.parent_port_ifindex, mac_for(r.id, kParentPort), -1, up_bridge, true, mtu};
  p.uplink.peer = {r.wan_name, r.wan_ifindex, mac_for(r.id, kWan), r.ns->fd.get(), 0, false, mtu};
  p.wan.ifindex = r.wan_ifindex;
  p.wan.name = r.wan_name;
  if (r.wan_ip) p.wan.addrs.push_back({*r.wan_ip, r.wan_prefix});
  if (r.wan_ip6) p.wan.addrs.push_back({*r.wan_ip6, r.wan_prefix6, !ctx.dad});
  if (r.wan_ll6) p.wan.addrs.push_back({*r.wan_ll6, 64});
  if (r.wan_gw) p.wan.routes.push_back(sys::default_route(*r.wan_gw, r.wan_ifindex));
  if (r.wan_gw6) p.wan.routes.push_back(sys::default_route(*r.wan_gw6, r.wan_ifindex));
  p.wait_dad = ctx.dad && has_v6(r.ip_support);
  return p;
}

VethSpec plan_iface_veth(DeviceRec& d, IfaceRec& i, RouterRec& rt) {
  const std::uint32_t mtu = d.mtu.value_or(0);
  i.ifindex = d.ns->alloc_ifindex();
  i.port_ifindex = rt.ns->alloc_ifindex();
  VethSpec v;
  v.port_ns = rt.ns.get();
  // The router's MTU covers its LAN ports (SPEC 11); the device end keeps the device's.
  v.port = {"v" + std::to_string(i.id.value),
            i.port_ifindex,
            mac_for(i.id, kDevPort),
            -1,
            rt.lan_ifindex,
            true,
            rt.mtu.value_or(mtu)};
  v.peer = {i.name, i.ifindex, mac_for(i.id, kDevIface), d.ns->fd.get(), 0, false, mtu};
  return v;
}

IfaceSetup plan_iface_setup(const IfaceRec& i, const WiringContext& ctx) {
  IfaceSetup s;
  s.ifindex = i.ifindex;
  s.name = i.name;
  s.up = i.up;
  if (i.ip) s.addrs.push_back({*i.ip, i.prefix});
  if (i.ip6) s.addrs.push_back({*i.ip6, i.prefix6, !ctx.dad});
  if (i.ll6) s.addrs.push_back({*i.ll6, 64});
  for (auto& [a, len] : i.extra_addrs) s.addrs.push_back({a, len});
  return s;
}

DevicePlan plan_device(DeviceRec& d, RouterMap& rts, bool ra_driven, const WiringContext& ctx) {
  DevicePlan p;
  for (auto& i : d.ifaces) {
    p.veths.push_back(plan_iface_veth(d, i, *rts.at(i.router.value)));
    p.ifaces.push_back(plan_iface_setup(i, ctx));
    if (i.name != d.default_if) continue;
    if (i.gw) p.ifaces.back().routes.push_back(sys::default_route(*i.gw, i.ifindex));
    // RA-driven devices learn their IPv6 default route from the router's advertisements.
    if (i.gw6 && !ra_driven) p.ifaces.back().routes.push_back(sys::default_route(*i.gw6, i.ifindex));
  }
  p.wait_dad =
      ctx.dad && std::any_of(d.ifaces.begin(), d.ifaces.end(), [](auto& i) { return i.ip6.has_value(); });
  return p;
}

// A bridge port the link engine may take over one day gets its clsact qdisc now, while it is
// down: grafting one onto a running device deactivates its queues for an RCU grace period, so
// adding it when the first condition comes would drop the frames in flight towards the node.
void add_bridge_port_veth(sys::NlBatch& b, const VethSpec& v) {
  sys::LinkEnd port = v.port;
  port.up = false;
  sys::add_veth(b, port, v.peer);
  sys::add_clsact(b, port.ifindex);
  if (v.port.up) sys::set_link(b, port.ifindex, true);
}

void add_iface_setup(sys::NlBatch& b, const IfaceSetup& s) {
  sys::set_link(b, s.ifindex, s.up, std::nullopt, std::nullopt, "bring up " + s.name);
  for (auto& a : s.addrs) sys::add_addr(b, s.ifindex, a.addr, a.prefix_len, a.nodad);
  for (auto& r : s.routes) sys::add_route(b, r);
}

// ---- execution ----

std::shared_ptr<Netns> NodeWiring::new_namespace() {
  return adopt(setup_.take());
}

void NodeWiring::wire_router(const RouterPlan& p, Netns& ns, const std::string& owner) {
  setup_.in_netns(ns.fd.get(), [&] { sys::write_sysctls(p.sysctls); });

  sys::NlBatch lan(owner + ": build");
  sys::add_bridge(lan, p.lan_name, p.lan_ifindex, p.lan_mac, p.mtu);
  for (auto& a : p.lan_addrs) sys::add_addr(lan, p.lan_ifindex, a.addr, a.prefix_len, a.nodad);
  ns.commit(lan);

  if (p.ix_gateway) {
    sys::NlBatch ib(owner + ": extend IX");
    sys::add_addr(ib, p.ix_bridge_ifindex, p.ix_gateway->addr, p.ix_gateway->prefix_len);
    p.uplink.port_ns->commit(ib);  // a router extending the IX hangs off the IX
  }
  sys::NlBatch ub(owner + ": build uplink");
  add_bridge_port_veth(ub, p.uplink);
  p.uplink.port_ns->commit(ub);

  sys::NlBatch wb(owner + ": build uplink");
  add_iface_setup(wb, p.wan);
  ns.commit(wb);
  if (p.wait_dad) wait_dad(ns, owner);
}

void NodeWiring::wire_device(const DevicePlan& p, Netns& ns, const std::string& owner) {
  // One batch per router namespace: a device with two interfaces on one LAN costs one round trip.
  std::map<Netns*, sys::NlBatch> per_router;
  for (auto& v : p.veths) {
    auto [it, fresh] = per_router.try_emplace(v.port_ns, owner + ": build");
    add_bridge_port_veth(it->second, v);
  }
  for (auto& [rns, b] : per_router) rns->commit(b);

  sys::NlBatch db(owner + ": build");
  for (auto& s : p.ifaces) add_iface_setup(db, s);
  ns.commit(db);
  if (p.wait_dad) wait_dad(ns, owner);
}

void NodeWiring::wire_iface(const VethSpec& v, const IfaceSetup& s, Netns& ns, bool wait_dad_after,
                            const std::string& owner) {
  sys::NlBatch rb(owner + ": wire " + s.name);
  add_bridge_port_veth(rb, v);
  v.port_ns->commit(rb);
  sys::NlBatch db(owner + ": configure " + s.name);
  add_iface_setup(db, s);
  ns.commit(db);
  if (wait_dad_after) wait_dad(ns, owner);
}

void NodeWiring::wait_dad(Netns& ns, const std::string& owner) {
  // IFA_F_TENTATIVE / IFA_F_DADFAILED (linux/if_addr.h).
  constexpr std::uint32_t kTentative = 0x40, kDadFailed = 0x08;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    std::vector<sys::AddrInfo> addrs;
    {
      std::lock_guard lk(ns.nl_mu);
      addrs = sys::dump_addrs(ns.nl, AF_INET6);
    }
    bool pending = false;
    for (auto& a : addrs) {
      if (a.flags & kDadFailed)
        throw SystemError(owner, "duplicate address detection failed for " + a.addr.to_string(), EADDRINUSE);
      if (a.flags & kTentative) pending = true;
    }
    if (!pending) return;
    if (std::chrono::steady_clock::now() > deadline)
      throw SystemError(owner, "IPv6 addresses still tentative after 5 s (duplicate address detection)",
                        ETIMEDOUT);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::vector<sys::Sysctl> NodeWiring::bridge_sysctls() {
  // br_netfilter is built in and on by default: frames switched by a bridge would run through the
  // owning namespace's IP hooks (conntrack, NAT, firewall), and a DNAT'ed hairpin packet would be
  // bridged straight to its target without SNAT. Our bridges are plain switches.
  std::vector<sys::Sysctl> s;
  for (const char* f : {"iptables", "ip6tables", "arptables"})
    s.push_back({std::string("net/bridge/bridge-nf-call-") + f, "0"});
  return s;
}

}  // namespace patchbay::detail
