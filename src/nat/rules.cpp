#include "nat/rules.hpp"

#include <cstdio>
#include <sstream>

#include "sys/spelling.hpp"

namespace patchbay::nat {

namespace {

struct Proto {
  const char* name;  // "udp" / "tcp"
};
constexpr Proto kProtos[] = {{"udp"}, {"tcp"}};

std::string q(const std::string& ifname) {
  return "\"" + ifname + "\"";
}

// The mapping key, taken from the conntrack tuple so it does not depend on rewriting:
// outbound-initiated flows are keyed by the original tuple (hairpinned packets included).
constexpr sys::Spelling<NatMapping> kKeyTypes[] = {
    {NatMapping::EndpointIndependent, "ipv4_addr . inet_service"},
    {NatMapping::AddressDependent, "ipv4_addr . inet_service . ipv4_addr"},
    {NatMapping::AddressAndPortDependent, "ipv4_addr . inet_service . ipv4_addr . inet_service"},
};
std::string key_type(NatMapping m) {
  return std::string(sys::name_of(kKeyTypes, m, ""));
}

std::string key_orig(NatMapping m) {
  std::string k = "ct original ip saddr . ct original proto-src";
  if (m != NatMapping::EndpointIndependent) k += " . ct original ip daddr";
  if (m == NatMapping::AddressAndPortDependent) k += " . ct original proto-dst";
  return k;
}

// Inbound-initiated (DNAT'ed) flows: the internal endpoint is the reply source.
std::string key_dnat(NatMapping m) {
  std::string k = "ct reply ip saddr . ct reply proto-src";
  if (m != NatMapping::EndpointIndependent) k += " . ct original ip saddr";
  if (m == NatMapping::AddressAndPortDependent) k += " . ct original proto-src";
  return k;
}

std::string secs(std::uint32_t s) {
  return std::to_string(s) + "s";
}

std::string hex(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::string mark_for_ctrl() {
  return "meta mark set meta mark | " + hex(kCtrlMark);
}

// Statements that refresh (or record) a mapping with timeout T. "snat side": flows started from
// the inside; "dnat side": flows admitted by inbound filtering (or hairpin).
std::string refresh_snat(const char* p, const NatConfig& c, const std::string& t) {
  std::string s = " update @map_" + std::string(p) + " { " + key_orig(c.mapping) + " timeout " + t +
                  " : ct reply ip daddr . ct reply proto-dst }";
  s += " update @own_" + std::string(p) + " { ct reply proto-dst timeout " + t +
       " : ct original ip saddr . ct original proto-src }";
  if (c.filtering == NatFiltering::AddressDependent)
    s += " update @perm_" + std::string(p) + " { ct reply proto-dst . ct original ip daddr timeout " + t +
         " }";
  return s;
}

std::string refresh_dnat(const char* p, const NatConfig& c, const std::string& t) {
  std::string s = " update @own_" + std::string(p) + " { ct original proto-dst timeout " + t +
                  " : ct reply ip saddr . ct reply proto-src }";
  if (c.mapping == NatMapping::EndpointIndependent)
    s += " update @map_" + std::string(p) + " { " + key_dnat(c.mapping) + " timeout " + t +
         " : ct original ip daddr . ct original proto-dst }";
  return s;
}

// Timeout classes per protocol: {condition, timeout}.
std::vector<std::pair<std::string, std::string>> timeout_classes(const char* p, const ConntrackTimeouts& t) {
  if (std::string(p) == "udp")
    return {{"ct status & seen-reply == 0", secs(t.udp)},
            {"ct status & seen-reply == seen-reply", secs(t.udp_stream)}};
  // TCP: established connections keep the mapping for tcp_established; handshakes and closing
  // connections for tcp_transitory (the FIN/RST rule comes last so it wins).
  return {{"ct state established tcp flags & (fin | rst) == 0", secs(t.tcp_established)},
          {"ct state != established", secs(t.tcp_transitory)},
          {"tcp flags & (fin | rst) != 0", secs(t.tcp_transitory)}};
}

}  // namespace

std::string nat_ruleset(const NatParams& p, bool replace) {
  const auto& c = p.cfg;
  const std::string wan = q(p.wan_if), lan = q(p.lan_if), wan_ip = p.wan_ip.to_string();
  std::ostringstream o;
  // Creating then deleting makes the replacement work whether or not the table exists, and the
  // whole script is one transaction: the router is never without NAT in between.
  if (replace) {
    o << "add table ip " << kNatTable << "\n";
    o << "delete table ip " << kNatTable << "\n";
  }
  o << "table ip " << kNatTable << " {\n";
  for (const auto& pr : kProtos) {
    std::string dflt = secs(std::string(pr.name) == "udp" ? c.timeouts.udp : c.timeouts.tcp_transitory);
    o << "  map map_" << pr.name << " { type " << key_type(c.mapping)
      << " : ipv4_addr . inet_service; flags dynamic,timeout; timeout " << dflt << "; }\n";
    o << "  map own_" << pr.name
      << " { type inet_service : ipv4_addr . inet_service; flags dynamic,timeout; timeout " << dflt
      << "; }\n";
    if (c.filtering == NatFiltering::AddressDependent)
      o << "  set perm_" << pr.name << " { type inet_service . ipv4_addr; flags dynamic,timeout; timeout "
        << dflt << "; }\n";
  }

  // LAN side, before DNAT: drop hairpin traffic when hairpin is off, and mark the first packet of
  // every new mapping for the controller (pb_natq queues it). Queueing here rather than after routing
  // matters: before DNAT the packet headers *are* the original tuple, also for hairpinned packets (this
  // kernel cannot attach conntrack data to queued packets).
  o << "  chain pre_lan {\n    type filter hook prerouting priority mangle; policy accept;\n";
  for (const auto& pr : kProtos) {
    if (!c.hairpin)
      o << "    iifname " << lan << " ip daddr " << wan_ip << " " << pr.name << " dport @own_" << pr.name
        << " drop\n";
    o << "    ct state new iifname " << lan << " meta l4proto " << pr.name << " fib daddr type != local "
      << key_orig(c.mapping) << " != @map_" << pr.name << " " << mark_for_ctrl() << "\n";
    if (c.hairpin)
      o << "    ct state new iifname " << lan << " ip daddr " << wan_ip << " " << pr.name << " dport @own_"
        << pr.name << " " << key_orig(c.mapping) << " != @map_" << pr.name << " " << mark_for_ctrl() << "\n";
  }
  o << "  }\n";

  // Inbound: a prerouting nat chain must exist even when empty, or the kernel does not
  // reverse-translate replies and they land in the router's own input path.
  o << "  chain pre_nat {\n    type nat hook prerouting priority dstnat; policy accept;\n";
  if (c.filtering != NatFiltering::AddressAndPortDependent)
    for (const auto& pr : kProtos)
      o << "    iifname " << wan << " ip daddr " << wan_ip << " " << pr.name << " dport @own_" << pr.name
        << " jump in_" << pr.name << "\n";
  if (c.hairpin)
    for (const auto& pr : kProtos)
      o << "    iifname " << lan << " ip daddr " << wan_ip << " meta l4proto " << pr.name << " dnat ip to "
        << pr.name << " dport map @own_" << pr.name << "\n";
  o << "  }\n";
  for (const auto& pr : kProtos) {
    o << "  chain in_" << pr.name << " {\n";
    if (c.filtering == NatFiltering::EndpointIndependent)
      o << "    dnat ip to " << pr.name << " dport map @own_" << pr.name << "\n";
    else if (c.filtering == NatFiltering::AddressDependent)
      o << "    " << pr.name << " dport . ip saddr @perm_" << pr.name << " dnat ip to " << pr.name
        << " dport map @own_" << pr.name << "\n";
    o << "  }\n";
  }

  o << "  chain post_nat {\n    type nat hook postrouting priority srcnat; policy accept;\n";
  for (const auto& pr : kProtos) {
    o << "    iifname " << lan << " oifname " << wan << " meta l4proto " << pr.name << " snat ip to "
      << key_orig(c.mapping) << " map @map_" << pr.name << "\n";
    if (c.hairpin)
      o << "    iifname " << lan << " oifname " << lan << " ct status dnat meta l4proto " << pr.name
        << " snat ip to " << key_orig(c.mapping) << " map @map_" << pr.name << "\n";
  }
  // Everything else (ICMP, other protocols, and packets the controller could not map).
  o << "    iifname " << lan << " oifname " << wan << " masquerade\n";
  if (c.hairpin) o << "    iifname " << lan << " oifname " << lan << " ct status dnat masquerade\n";
  o << "  }\n";

  // Record what SNAT actually chose and keep mappings alive: outbound packets always refresh,
  // inbound ones when inbound_refresh.
  o << "  chain post_record {\n    type filter hook postrouting priority 200; policy accept;\n";
  for (const auto& pr : kProtos) {
    std::vector<std::string> sides{lan};
    if (c.inbound_refresh) sides.push_back(wan);
    for (const auto& side : sides) {
      for (const auto& [cond, t] : timeout_classes(pr.name, c.timeouts)) {
        o << "    iifname " << side << " meta l4proto " << pr.name << " ct status snat " << cond
          << refresh_snat(pr.name, c, t) << "\n";
        o << "    iifname " << side << " meta l4proto " << pr.name << " ct status dnat " << cond
          << refresh_dnat(pr.name, c, t) << "\n";
      }
    }
  }
  o << "  }\n";

  // Inbound packets to a live mapping that filtering refused are dropped, not handed to the
  // router's own stack: that would confirm a conntrack entry whose tuple is exactly the reply
  // tuple the internal endpoint needs when it answers the same peer, and the kernel would then
  // move that answer to another port (breaking hole punching). Dropped before confirmation, the
  // packet leaves no trace. Ports without a mapping still get the router's normal response.
  o << "  chain input_wan {\n    type filter hook input priority filter; policy accept;\n";
  for (const auto& pr : kProtos)
    o << "    iifname " << wan << " ip daddr " << wan_ip << " ct state new " << pr.name << " dport @own_"
      << pr.name << " drop\n";
  o << "  }\n";

  // Unsolicited inbound flows that no mapping admitted are never forwarded to the LAN.
  o << "  chain forward_in {\n    type filter hook forward priority filter; policy accept;\n";
  o << "    iifname " << wan << " ct state new ct status & dnat == 0 drop\n";
  // Mid-stream TCP without a conntrack entry (after flush_nat_state or an expiry) is invalid: a
  // NAT does not adopt it, and it must not leave with its private source address.
  o << "    iifname " << lan << " oifname " << wan << " ct state invalid drop\n";
  o << "  }\n";
  o << "}\n";
  return o.str();
}

std::string nat_queue_table() {
  // Right after pb_nat's prerouting chain (mangle = -150): take the mark off and queue.
  std::ostringstream o;
  o << "table ip " << kQueueTable << " {\n";
  o << "  chain mark_in {\n    type filter hook prerouting priority -149; policy accept;\n";
  o << "    meta mark & " << hex(kCtrlMark) << " == " << hex(kCtrlMark) << " meta mark set meta mark & "
    << hex(~kCtrlMark) << " jump " << kQueueChain << "\n";
  o << "  }\n";
  o << "  chain " << kQueueChain << " {\n  }\n";
  o << "}\n";
  return o.str();
}

std::string nat_remove() {
  return std::string("add table ip ") + kNatTable + "\ndelete table ip " + kNatTable + "\n";
}

std::vector<std::string> nat_state_sets(const NatConfig& cfg) {
  std::vector<std::string> sets;
  for (const auto& pr : kProtos) {
    sets.push_back(std::string("map_") + pr.name);
    sets.push_back(std::string("own_") + pr.name);
    if (cfg.filtering == NatFiltering::AddressDependent) sets.push_back(std::string("perm_") + pr.name);
  }
  return sets;
}

namespace {

std::string port_set(const std::vector<std::uint16_t>& ports) {
  std::string s = "{ ";
  for (std::size_t i = 0; i < ports.size(); ++i) s += (i ? ", " : "") + std::to_string(ports[i]);
  return s + " }";
}

void outbound_policy(std::ostringstream& o, const std::string& wan, const char* proto, const PortPolicy& p) {
  if (p.is_allow_all()) return;
  if (p.is_block_all() || p.ports().empty()) {
    o << "    iifname != " << wan << " meta l4proto " << proto << " drop\n";
    return;
  }
  o << "    iifname != " << wan << " " << proto << " dport != " << port_set(p.ports()) << " drop\n";
}

}  // namespace

std::string firewall_ruleset(const FirewallParams& p, bool replace) {
  const auto& c = p.cfg;
  const std::string wan = q(p.wan_if);
  std::ostringstream o;
  if (replace) {
    o << "add table inet " << kFirewallTable << "\n";
    o << "delete table inet " << kFirewallTable << "\n";
  }
  o << "table inet " << kFirewallTable << " {\n";
  o << "  chain forward {\n    type filter hook forward priority filter; policy accept;\n";
  o << "    ct state established,related accept\n";
  o << "    meta l4proto { icmp, ipv6-icmp } accept\n";
  if (c.block_inbound) o << "    iifname " << wan << " drop\n";
  outbound_policy(o, wan, "tcp", c.outbound_tcp);
  outbound_policy(o, wan, "udp", c.outbound_udp);
  o << "  }\n}\n";
  return o.str();
}

std::string firewall_remove() {
  return std::string("add table inet ") + kFirewallTable + "\ndelete table inet " + kFirewallTable + "\n";
}

std::vector<SysctlKV> conntrack_sysctls(const ConntrackTimeouts& t) {
  return {{"net/netfilter/nf_conntrack_udp_timeout", std::to_string(t.udp)},
          {"net/netfilter/nf_conntrack_udp_timeout_stream", std::to_string(t.udp_stream)},
          {"net/netfilter/nf_conntrack_tcp_timeout_established", std::to_string(t.tcp_established)},
          {"net/netfilter/nf_conntrack_icmp_timeout", std::to_string(t.icmp)},
          // Only a SYN opens a TCP mapping (no mid-stream pickup), as on real NATs.
          {"net/netfilter/nf_conntrack_tcp_loose", "0"}};
}

}  // namespace patchbay::nat
