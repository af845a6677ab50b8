// A router's NAT, firewall, PMTU black hole and IPv6 NAT table in the kernel (nat_control.hpp).
//
// IPv6 NAT modes (SPEC 4.6) live in their own nftables table (ip6 pb_nat6), so the IPv4 NAT,
// firewall and PMTU tables are never touched. NPTv6 uses nftables' prefix NAT ("snat/dnat ip6
// prefix to"), which keeps the interface identifier bit for bit; the external prefix is what the
// ancestors route to the router (LabCore::routes_for), so inbound packets to <ext prefix>::IID
// reach the device.
#include "core/nat_control.hpp"

#include "nat/rules.hpp"
#include "nat/rules_netlink.hpp"
#include "sys/nfqueue.hpp"

namespace patchbay::detail {

namespace {

// A PMTU black hole (SPEC 11): ICMPv4 fragmentation-needed and ICMPv6 packet-too-big are dropped
// whether the router forwards them or generates them itself. Its own table, so NAT and firewall
// changes never touch it.
constexpr const char* kPmtuTable = R"(table inet pb_pmtu {
  chain forward_drop {
    type filter hook forward priority -5; policy accept;
    icmp type destination-unreachable icmp code frag-needed drop
    icmpv6 type packet-too-big drop
  }
  chain output_drop {
    type filter hook output priority -5; policy accept;
    icmp type destination-unreachable icmp code frag-needed drop
    icmpv6 type packet-too-big drop
  }
}
)";

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

void NatControl::open_netfilter(RouterRec& r) {
  if (r.nft && r.nfnl) return;
  setup_.in_netns(r.ns->fd.get(), [&] {
    if (!r.nft) r.nft.emplace(sys::NftContext::create());
    if (!r.nfnl) r.nfnl.emplace(sys::NfnlSocket::open(r.describe()));
  });
}

void NatControl::open_nfnl(RouterRec& r) {
  if (r.nfnl) return;
  setup_.in_netns(r.ns->fd.get(), [&] { r.nfnl.emplace(sys::NfnlSocket::open(r.describe())); });
}

void NatControl::apply_nat(RouterRec& r, const Nat& n, sys::NftBatch* firewall) {
  const std::string ctx = "set_nat_mode(" + n.to_string() + ")";
  auto cfg = n.to_config();
  if (!cfg) {
    sys::NftBatch b(NFPROTO_IPV4);
    if (r.nat_installed) nat::add_nat_remove(b);
    if (!b.messages().empty() || (firewall && !firewall->messages().empty())) {
      open_nfnl(r);
      r.nfnl->apply({&b, firewall}, ctx);
    }
    r.nat_installed = false;
    if (r.nat_attached) {
      services_.nat_controller().detach(r.id);
      r.nat_attached = false;
    }
    return;
  }
  if (!r.wan_ip || !r.lan4)
    throw InvalidArgument(
        r.describe() + ": " + ctx,
        "an IPv4 NAT needs an IPv4 uplink and LAN (ip_support is " + to_string(r.ip_support) + ")");
  // One hop into the namespace for everything that must be opened or written inside it.
  std::vector<sys::Sysctl> timeouts;
  for (auto& kv : nat::conntrack_sysctls(cfg->timeouts)) timeouts.push_back({kv.path, kv.value});
  sys::NfQueue q;
  std::optional<sys::NfnlSocket> ctl;
  setup_.in_netns(r.ns->fd.get(), [&] {
    if (!r.nfnl) r.nfnl.emplace(sys::NfnlSocket::open(r.describe()));
    sys::write_sysctls(timeouts);
    if (!r.nat_attached) {
      q = sys::NfQueue::open(nat::kQueueNum, 128);
      ctl.emplace(sys::NfnlSocket::open(r.describe() + ": NAT controller"));
    }
  });
  // The controller must hold the queue before the rule that feeds it exists.
  if (!r.nat_attached) {
    services_.nat_controller().attach(r.id, std::move(q), std::move(*ctl), *cfg, *r.wan_ip, r.log);
    r.nat_attached = true;
  } else {
    services_.nat_controller().reconfigure(r.id, *cfg, *r.wan_ip);
  }
  sys::NftBatch b(NFPROTO_IPV4);
  if (!r.queue_installed) nat::add_nat_queue_table(b);
  nat::add_nat_ruleset(b, nat::NatParams{r.wan_name, r.lan_name, *r.wan_ip, *cfg}, r.nat_installed);
  r.nfnl->apply({&b, firewall}, ctx);
  if (!r.queue_installed) {
    // An xtables NFQUEUE target through nft_compat (this kernel has no nft `queue`). "bypass" lets
    // packets through (masqueraded) if the controller is ever gone.
    r.nfnl->add_queue_rule(NFPROTO_IPV4, nat::kQueueTable, nat::kQueueChain, nat::kQueueNum, true);
    r.queue_installed = true;
  }
  r.nat_installed = true;
}

void NatControl::apply_at_build(RouterRec& r, bool block_frag_needed) {
  // One transaction for NAT and firewall.
  std::optional<sys::NftBatch> fw;
  if (r.firewall.kind() != Firewall::Kind::None) {
    fw.emplace(NFPROTO_INET);
    nat::add_firewall_ruleset(*fw, nat::FirewallParams{r.wan_name, r.firewall.to_config()}, false);
    r.fw_installed = true;
  }
  if (r.nat.kind() != Nat::Kind::None || fw) apply_nat(r, r.nat, fw ? &*fw : nullptr);
  if (block_frag_needed) apply_block_frag_needed(r, true);
  if (r.nat_v6 != NatV6Mode::None) apply_nat_v6(r, r.nat_v6);
}

void NatControl::apply_firewall(RouterRec& r, const Firewall& f) {
  const std::string ctx = "set_firewall(" + f.to_string() + ")";
  sys::NftBatch b(NFPROTO_INET);
  if (f.kind() == Firewall::Kind::None) {
    if (!r.fw_installed) return;
    nat::add_firewall_remove(b);
  } else {
    nat::add_firewall_ruleset(b, nat::FirewallParams{r.wan_name, f.to_config()}, r.fw_installed);
  }
  open_nfnl(r);
  r.nfnl->apply({&b}, ctx);
  r.fw_installed = f.kind() != Firewall::Kind::None;
}

void NatControl::set_firewall(RouterRec& r, const Firewall& f) {
  if (!r.alive) throw Removed(r.describe(), "the router has been removed");
  apply_firewall(r, f);
  r.firewall = f;
  emit_("firewall_changed", {{"router", r.name}, {"firewall", f.to_json()}});
}

void NatControl::flush_state(RouterRec& r) {
  if (!r.alive) throw Removed(r.describe(), "the router has been removed");
  open_nfnl(r);
  r.nfnl->flush_conntrack();
  if (auto cfg = r.nat.to_config())
    for (const auto& set : nat::nat_state_sets(*cfg)) r.nfnl->flush_set(NFPROTO_IPV4, nat::kNatTable, set);
  emit_("nat_state_flushed", {{"router", r.name}});
}

void NatControl::apply_block_frag_needed(RouterRec& r, bool on) {
  if (!r.ns) throw Removed(r.describe(), "the router has been removed");
  if (on == r.block_frag_needed) return;
  const std::string ctx = r.describe() + ": set_block_icmp_frag_needed(" + (on ? "true" : "false") + ")";
  open_netfilter(r);
  r.nft->run(on ? std::string(kPmtuTable) : std::string("delete table inet pb_pmtu\n"), ctx);
  r.block_frag_needed = on;
}

void NatControl::set_block_frag_needed(RouterRec& r, bool on) {
  apply_block_frag_needed(r, on);
  emit_("block_icmp_frag_needed_changed", {{"router", r.name}, {"enabled", on}});
}

void NatControl::apply_nat_v6(RouterRec& r, NatV6Mode m) {
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

std::vector<NatBinding> NatControl::mappings(RouterRec& r) {
  std::vector<NatBinding> out;
  if (!r.nat_installed || !r.wan_ip) return out;
  open_nfnl(r);
  // own_P holds one element per external port: the owner and how long it has left.
  for (auto [proto, set] : {std::pair{Proto::Udp, "own_udp"}, std::pair{Proto::Tcp, "own_tcp"}}) {
    for (const auto& e : r.nfnl->list_elements(NFPROTO_IPV4, nat::kNatTable, set)) {
      sys::KeyReader key(e.key), data(e.data);
      NatBinding b;
      b.proto = proto;
      b.external = SocketAddr(*r.wan_ip, key.port());
      Ipv4Addr ip = data.ipv4();
      b.internal = SocketAddr(ip, data.port());
      b.expires_in =
          std::chrono::duration_cast<std::chrono::seconds>(e.expires.value_or(std::chrono::milliseconds(0)));
      out.push_back(b);
    }
  }
  return out;
}

}  // namespace patchbay::detail
