// IPv6 NAT modes of a router (SPEC 4.6): NPTv6 prefix translation and NAPT66 masquerade, in their
// own nftables table (ip6 pb_nat6) so IPv4 NAT, firewall and PMTU tables are never touched.
//
// NPTv6 uses nftables' prefix NAT ("snat/dnat ip6 prefix to"), which keeps the interface
// identifier bit for bit; the external prefix is what the ancestors route to the router (see
// routes_for), so inbound packets to <ext prefix>::IID reach the device. NAT64 is separate work.
#include "core/lab_core.hpp"

namespace patchbay::detail {

namespace {

std::string nat6_ruleset(const RouterRec& r, NatV6Mode m) {
  const std::string wan = "\"" + r.wan_name + "\"";
  if (m == NatV6Mode::Nptv6) {
    const std::string lan = r.lan6->to_string(), ext = r.npt_ext->to_string();
    return "table ip6 pb_nat6 {\n"
           "  chain pre {\n"
           "    type nat hook prerouting priority dstnat;\n"
           "    iifname " +
           wan + " ip6 daddr " + ext + " dnat ip6 prefix to " + lan +
           "\n"
           "  }\n"
           "  chain post {\n"
           "    type nat hook postrouting priority srcnat;\n"
           "    oifname " +
           wan + " ip6 saddr " + lan + " snat ip6 prefix to " + ext +
           "\n"
           "  }\n"
           "}\n";
  }
  // Masquerade: address- and port-dependent filtering comes from conntrack (only replies and
  // related packets enter); forwarded ICMPv6 is always accepted (PTB, errors, echo).
  return "table ip6 pb_nat6 {\n"
         "  chain post {\n"
         "    type nat hook postrouting priority srcnat;\n"
         "    oifname " +
         wan +
         " masquerade\n"
         "  }\n"
         "  chain forward_in {\n"
         "    type filter hook forward priority 0; policy accept;\n"
         "    iifname " +
         wan +
         " ct state established,related accept\n"
         "    iifname " +
         wan +
         " meta l4proto ipv6-icmp accept\n"
         "    iifname " +
         wan +
         " drop\n"
         "  }\n"
         "}\n";
}

}  // namespace

Ipv6Net LabCore::alloc_npt_prefix(const RouterRec& r, const std::string& owner) {
  if (!r.wan_ip6 || !r.lan6) throw InvalidArgument(owner, "nat_v6 nptv6 needs an IPv6 uplink and LAN");
  const std::uint8_t len = r.lan6->prefix_len();
  return r.upstream ? plan_.alloc_nptv6_external(owner, len) : plan_.alloc_nptv6_ix(*r.wan_ip6, len, owner);
}

void LabCore::apply_nat_v6(RouterRec& r, NatV6Mode m) {
  const std::string ctx = r.describe() + ": set_nat_v6_mode(" + to_string(m) + ")";
  open_netfilter(r);
  std::string script = r.nat6_installed ? "delete table ip6 pb_nat6\n" : "";
  if (m == NatV6Mode::Nptv6 || m == NatV6Mode::Masquerade) script += nat6_ruleset(r, m);
  if (!script.empty()) r.nft->run(script, ctx);
  r.nat6_installed = m == NatV6Mode::Nptv6 || m == NatV6Mode::Masquerade;
  if (m == NatV6Mode::Nat64)
    start_nat64(r);
  else
    stop_nat64(r);
}

void LabCore::set_nat_v6(RouterRec& r, NatV6Mode m) {
  const std::string ctx = r.describe() + ": set_nat_v6_mode(" + to_string(m) + ")";
  if (!r.alive) throw Removed(r.describe(), "the router has been removed");
  if (m != NatV6Mode::None && !r.lan6) throw InvalidArgument(ctx, "the router has no IPv6 LAN");
  if (m == r.nat_v6) return;
  std::optional<Ipv6Net> old_ext;
  {
    std::lock_guard lk(plan_mu_);
    if (m == NatV6Mode::Nptv6 && !r.npt_ext) r.npt_ext = alloc_npt_prefix(r, ctx);
  }
  try {
    apply_nat_v6(r, m);
  } catch (...) {
    if (r.nat_v6 != NatV6Mode::Nptv6 && r.npt_ext) {
      std::lock_guard lk(plan_mu_);
      plan_.release_v6(*r.npt_ext);
      r.npt_ext.reset();
    }
    throw;
  }
  r.nat_v6 = m;
  // What the ancestors route changes with the mode (LAN, external prefix, or nothing).
  std::vector<AncestorRoute> fresh;
  {
    std::lock_guard lk(plan_mu_);
    fresh = routes_for(r);
    if (m != NatV6Mode::Nptv6 && r.npt_ext) {
      plan_.release_v6(*r.npt_ext);
      r.npt_ext.reset();
    }
  }
  remove_routes(r.ancestor_routes);
  install_routes(fresh);
  {
    std::lock_guard lk(plan_mu_);
    r.ancestor_routes = std::move(fresh);
  }
  emit("nat_v6_changed", {{"router", r.name}, {"nat_v6", to_string(m)}});
}

}  // namespace patchbay::detail
