// patchbay/router.hpp: routers and their builder.
//
//   auto isp  = lab.add_router("isp").ip_support(IpSupport::DualStack).build();
//   auto home = lab.add_router("home").upstream(isp.id()).downstream_pool(AddressPool::Private).build();
//   home.downstream_cidr();   // 10.0.1.0/24
//   home.uplink_ip();         // an address on isp's LAN
//   auto cpe = lab.add_router("cpe").preset(RouterPreset::Home).upstream(isp.id()).build();
//   cpe.set_nat_mode(Nat::corporate());      // at runtime; firewall rules are untouched
//
// A router is a namespace with forwarding on, one upstream interface ("ix" on the IX, "wan" below
// another router) and one LAN bridge. Without NAT its downstream prefixes are routed from every
// ancestor up to the lab root, so public addresses are reachable from anywhere in the lab. With an
// IPv4 NAT its LAN is hidden behind its WAN address with the exact RFC 4787 behaviour of the
// chosen Nat (see nat.hpp); firewalls (firewall.hpp) filter forwarded traffic only.
// Builders validate each setter at once; name, upstream and overlap conflicts surface in build(),
// and a failed build() leaves nothing allocated.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "patchbay/firewall.hpp"
#include "patchbay/link.hpp"
#include "patchbay/nat.hpp"
#include "patchbay/net.hpp"
#include "patchbay/node.hpp"
#include "patchbay/preset.hpp"
#include "patchbay/region.hpp"
#include "patchbay/types.hpp"

namespace patchbay {

namespace detail {
struct RouterConfig;
}

// One side of a router: "ix" / "wan" (uplink) or the LAN bridge.
struct RouterIface {
  std::string name;
  std::optional<Ipv4Addr> ip;
  std::optional<Ipv6Addr> ip6, ll6;
};

class Router : public Node {
 public:
  std::optional<NodeId> upstream() const;     // nullopt when attached to the IX
  std::optional<std::string> region() const;  // the region's name (also for region routers)
  IpSupport ip_support() const;
  AddressPool downstream_pool() const;
  std::optional<std::uint32_t> mtu() const;
  std::optional<Ipv4Addr> uplink_ip() const;
  std::optional<Ipv6Addr> uplink_ip_v6() const;
  std::optional<Ipv4Net> downstream_cidr() const;
  std::optional<Ipv4Addr> downstream_gw() const;
  std::optional<Ipv6Net> downstream_cidr_v6() const;
  std::optional<Ipv6Addr> downstream_gw_v6() const;
  std::string downstream_bridge() const;
  std::optional<RouterIface> iface(std::string_view name) const;  // "ix"/"wan" or the bridge name
  std::vector<RouterIface> interfaces() const;                    // {uplink, LAN}

  Nat nat_mode() const;
  NatV6Mode nat_v6_mode() const;
  Firewall firewall() const;
  std::optional<RouterPreset> preset() const;
  // Replaces only the NAT table (firewall and other tables stay), applies the new conntrack
  // timeouts and emits nat_changed. Existing flows keep their translation until they expire.
  void set_nat_mode(Nat nat);
  // Any NatV6Mode at runtime (emits nat_v6_changed); switching to or from Nat64 starts or stops the
  // router's translator.
  void set_nat_v6_mode(NatV6Mode m);
  // The NPTv6 external prefix while nat_v6 is Nptv6.
  std::optional<Ipv6Net> nptv6_prefix() const;
  // Forgets every conntrack entry and every mapping of this router (ctnetlink, in-process).
  void flush_nat_state();
  // Live IPv4 mappings (internal endpoint -> external port) with their remaining lifetime.
  std::vector<NatBinding> nat_mappings() const;
  void set_firewall(Firewall fw);

  bool ra_enabled() const;
  std::uint64_t ra_interval_secs() const;
  std::uint64_t ra_lifetime_secs() const;
  // Apply at once (a new RA is sent; disabling sends a final one with lifetime 0); ra_changed.
  void set_ra_enabled(bool on);
  void set_ra_interval_secs(std::uint64_t s);
  void set_ra_lifetime_secs(std::uint64_t s);
  bool block_icmp_frag_needed() const;
  void set_block_icmp_frag_needed(bool on);  // emits block_icmp_frag_needed_changed

  // Everything the router forwards or originates into its LAN, as one shared queue (device to
  // device traffic inside the LAN is not affected). nullopt clears it.
  std::optional<LinkCondition> downlink_condition() const;
  void set_downlink_condition(std::optional<LinkCondition> cond);
  LinkCounters downlink_stats() const;
  // The link to the parent router or the IX: Up = towards the parent. nullopt clears `dir`.
  std::optional<LinkCondition> uplink_condition(LinkDirection dir) const;  // Both = Up
  void set_uplink_condition(std::optional<LinkCondition> cond, LinkDirection dir = LinkDirection::Up);
  LinkStats uplink_stats() const;

  template <class F>
  auto spawn(F&& f) {
    return spawn_impl(*this, std::forward<F>(f));
  }

 private:
  friend class detail::LabCore;
  friend class RouterBuilder;
  friend class Lab;
  using Node::Node;
};

class RouterBuilder {
 public:
  RouterBuilder(RouterBuilder&&) noexcept;
  RouterBuilder& operator=(RouterBuilder&&) noexcept;
  ~RouterBuilder();

  RouterBuilder& preset(
      RouterPreset p);  // fills NAT, NAT v6, firewall, IP support, pool; later setters override
  RouterBuilder& upstream(NodeId parent);
  RouterBuilder& region(const Region& r);  // parent = the region router; exclusive with upstream
  RouterBuilder& nat(Nat n);
  RouterBuilder& nat_v6(NatV6Mode m);
  RouterBuilder& firewall(Firewall fw);
  RouterBuilder& firewall_custom(const std::function<void(FirewallConfigBuilder&)>& fill);
  RouterBuilder& ip_support(IpSupport s);
  RouterBuilder& downstream_pool(AddressPool p);
  RouterBuilder& downstream_cidr(Ipv4Net net);     // any prefix up to /30; gateway = first host
  RouterBuilder& downstream_cidr_v6(Ipv6Net net);  // any prefix up to /126
  RouterBuilder& mtu(std::uint32_t mtu);           // WAN + LAN
  // Drops ICMPv4 fragmentation-needed and ICMPv6 packet-too-big, forwarded or generated by the
  // router: a PMTU black hole (SPEC 11). Survives NAT and firewall changes.
  RouterBuilder& block_icmp_frag_needed(bool on = true);
  // Router Advertisements for RA-driven devices (SPEC 9.1): on by default, every 30 s, lifetime
  // 1800 s (0 = not a default router); the interval is clamped to >= 1.
  RouterBuilder& ra_enabled(bool on);
  RouterBuilder& ra_interval_secs(std::uint64_t s);
  RouterBuilder& ra_lifetime_secs(std::uint64_t s);
  RouterBuilder& downlink_condition(LinkCondition cond);  // router -> whole LAN
  RouterBuilder& uplink_condition(LinkCondition cond, LinkDirection dir = LinkDirection::Up);
  Router build();  // single use

 private:
  friend class Lab;
  RouterBuilder(std::weak_ptr<detail::LabCore> lab, std::string name);
  std::weak_ptr<detail::LabCore> lab_;
  std::unique_ptr<detail::RouterConfig> cfg_;
};

}  // namespace patchbay
