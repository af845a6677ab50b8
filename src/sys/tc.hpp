// Traffic-control and bridge-port requests (rtnetlink) used by the link engine.
//
//   NlBatch b("router 'home'");
//   add_clsact(b, port);
//   add_redirect_all(b, port, /*ingress=*/true, sink_ifindex, /*prio=*/1);  // u32 match-all + mirred
//   set_bridge_port(b, port, BridgePortFlags{.learning = false, .flood = false, ...});
//   del_fdb(b, bridge_port, mac);
//   sock.commit(b);
//
// The kernel here has u32, cls_bpf and act_mirred but no gact/matchall/flower, so "drop
// everything at ingress" is either a u32 match-all filter redirecting to a sink device that is
// down (the packet is freed there, but the kernel logs "tc mirred to Houston: device X is down",
// rate-limited) or, cheaper, add_drop_all (cls_bpf direct action). AF_PACKET taps have seen the
// frame before tc ingress runs.
#pragma once

#include <cstdint>
#include <optional>

#include "sys/netlink.hpp"
#include "sys/rtnl.hpp"

namespace patchbay::sys {

void add_clsact(NlBatch& b, int ifindex);
void del_clsact(NlBatch& b, int ifindex);  // removes every filter on it too
// u32 "match u32 0 0" + mirred egress redirect to `to_ifindex`, on ingress or egress of ifindex.
void add_redirect_all(NlBatch& b, int ifindex, bool ingress, int to_ifindex, std::uint16_t prio);
// cls_bpf in direct-action mode with the classic BPF program "ret #TC_ACT_SHOT": drops every
// packet on ingress or egress of ifindex without a sink device (and without mirred's "device is
// down" kernel log line per packet). AF_PACKET taps still see ingress frames.
void add_drop_all(NlBatch& b, int ifindex, bool ingress, std::uint16_t prio);
void del_filters(NlBatch& b, int ifindex, bool ingress, std::uint16_t prio);

struct BridgePortFlags {
  std::optional<bool> learning, flood, mcast_flood, bcast_flood, hairpin;
};
// RTM_SETLINK with AF_BRIDGE + IFLA_PROTINFO on a bridge port.
void set_bridge_port(NlBatch& b, int port_ifindex, const BridgePortFlags& f);
// Removes a learned FDB entry for mac on that port (ENOENT is fine: the caller may ignore).
void del_fdb(NlBatch& b, int port_ifindex, const Mac& mac);

}  // namespace patchbay::sys
