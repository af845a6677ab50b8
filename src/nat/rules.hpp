// nftables rule sets generated from NAT and firewall configurations (pure functions; tested on
// strings, applied with libnftables by the core).
//
// IPv4 NAT (table `ip pb_nat`), per protocol P in {udp, tcp}:
//   map_P   mapping key -> WAN . ePort     key = iIP . iPort [. rIP [. rPort]] by mapping type
//   own_P   ePort -> iIP . iPort           who owns an external port (inbound DNAT, hairpin)
//   perm_P  ePort . rIP                    address-dependent filtering permissions
// The kernel translates, filters and records; the first packet of a *new* mapping is marked in
// prerouting and queued by the separate table pb_natq (an xtables NFQUEUE rule through nft_compat,
// because this kernel has no nft `queue`) to the NAT controller, which picks the external port
// (ownership, preservation, seeded draws) and inserts map_P/own_P before the packet goes on to
// srcnat. Keeping the xtables rule out of pb_nat makes replacing pb_nat cheap: nft_compat waits for
// an RCU grace period whenever nf_tables destroy work is pending, which every replacement leaves.
// Keys use the conntrack *original* tuple so hairpinned packets (already DNAT'ed to the peer's
// private address) are keyed by the external address they were sent to.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "patchbay/firewall.hpp"
#include "patchbay/nat.hpp"
#include "patchbay/net.hpp"

namespace patchbay::nat {

inline constexpr const char* kNatTable = "pb_nat";
inline constexpr const char* kQueueTable = "pb_natq";  // persistent: holds the xtables NFQUEUE rule
inline constexpr const char* kQueueChain = "to_ctrl";
inline constexpr const char* kFirewallTable = "pb_fw";
// Packet mark bit with which pb_nat hands a packet to pb_natq (cleared before queueing).
inline constexpr std::uint32_t kCtrlMark = 0x00800000;

struct NatParams {
  std::string wan_if;  // "ix" or "wan"
  std::string lan_if;  // the LAN bridge
  Ipv4Addr wan_ip;
  NatConfig cfg;
};

// Creates the NAT table, or with `replace` swaps it in one transaction. Creation avoids a delete on
// purpose: every deletion leaves nf_tables destroy work that the next xtables rule waits for.
std::string nat_ruleset(const NatParams& p, bool replace);
// The persistent queue table (created once per router; its chain kQueueChain then receives the
// NFQUEUE rule through nft_compat, which libnftables cannot express).
std::string nat_queue_table();
// Removes the NAT table if present.
std::string nat_remove();
// The mapping, ownership and permission sets that flush_nat_state empties.
std::vector<std::string> nat_state_sets(const NatConfig& cfg);

struct FirewallParams {
  std::string wan_if;
  FirewallConfig cfg;
};
// Replaces the firewall table (an empty string-equivalent removal for Firewall::None).
std::string firewall_ruleset(const FirewallParams& p, bool replace);
std::string firewall_remove();

// Conntrack timeouts for the router's namespace ("net/netfilter/..." relative to /proc/sys).
struct SysctlKV {
  std::string path, value;
};
std::vector<SysctlKV> conntrack_sysctls(const ConntrackTimeouts& t);

}  // namespace patchbay::nat
