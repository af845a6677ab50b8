#include "sys/tc.hpp"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_bridge.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>

#include <cstring>
#include <string>

namespace patchbay::sys {

namespace {

std::string dev(int ifindex) {
  return "link " + std::to_string(ifindex);
}

std::uint32_t clsact_parent(bool ingress) {
  return TC_H_MAKE(TC_H_CLSACT, ingress ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);
}

// tcm_info of a filter: priority in the upper 16 bits, protocol (network order) in the lower.
std::uint32_t filter_info(std::uint16_t prio) {
  return TC_H_MAKE(static_cast<std::uint32_t>(prio) << 16, htons(ETH_P_ALL));
}

void qdisc_request(NlBatch& b, std::uint16_t type, std::uint16_t flags, int ifindex, std::string what) {
  b.begin(type, flags, std::move(what));
  auto& t = b.header<tcmsg>();
  t.tcm_family = AF_UNSPEC;
  t.tcm_ifindex = ifindex;
  t.tcm_handle = TC_H_MAKE(TC_H_CLSACT, 0);
  t.tcm_parent = TC_H_CLSACT;
  b.put_str(TCA_KIND, "clsact");
}

}  // namespace

void add_clsact(NlBatch& b, int ifindex) {
  qdisc_request(b, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, ifindex, "add clsact on " + dev(ifindex));
}

void del_clsact(NlBatch& b, int ifindex) {
  qdisc_request(b, RTM_DELQDISC, 0, ifindex, "delete clsact on " + dev(ifindex));
}

void add_redirect_all(NlBatch& b, int ifindex, bool ingress, int to_ifindex, std::uint16_t prio) {
  b.begin(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL,
          std::string("add u32 redirect-all on ") + (ingress ? "ingress" : "egress") + " of " + dev(ifindex) +
              " to " + dev(to_ifindex) + " prio " + std::to_string(prio));
  auto& t = b.header<tcmsg>();
  t.tcm_family = AF_UNSPEC;
  t.tcm_ifindex = ifindex;
  t.tcm_handle = 0;  // the kernel allocates 800::<n>
  t.tcm_parent = clsact_parent(ingress);
  t.tcm_info = filter_info(prio);
  b.put_str(TCA_KIND, "u32");

  auto opts = b.nest_begin(TCA_OPTIONS);
  // "match u32 0 0 at 0": one key with a zero mask matches every packet.
  // tc_u32_sel ends in a flexible array of keys: lay the selector and its key out by hand.
  tc_u32_sel sel{};
  sel.flags = TC_U32_TERMINAL;
  sel.nkeys = 1;
  tc_u32_key key{};  // mask 0, val 0, off 0
  std::uint8_t raw[sizeof(tc_u32_sel) + sizeof(tc_u32_key)];
  std::memcpy(raw, &sel, sizeof sel);
  std::memcpy(raw + sizeof sel, &key, sizeof key);
  b.put(TCA_U32_SEL, raw, sizeof raw);

  auto acts = b.nest_begin(TCA_U32_ACT);
  auto act = b.nest_begin(1);  // the first (and only) action of the list
  b.put_str(TCA_ACT_KIND, "mirred");
  auto aopts = b.nest_begin(TCA_ACT_OPTIONS);
  tc_mirred m{};
  m.action = TC_ACT_STOLEN;
  m.eaction = TCA_EGRESS_REDIR;
  m.ifindex = static_cast<std::uint32_t>(to_ifindex);
  b.put(TCA_MIRRED_PARMS, &m, sizeof m);
  b.nest_end(aopts);
  b.nest_end(act);
  b.nest_end(acts);
  b.nest_end(opts);
}

void add_drop_all(NlBatch& b, int ifindex, bool ingress, std::uint16_t prio) {
  b.begin(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL,
          std::string("add bpf drop-all on ") + (ingress ? "ingress" : "egress") + " of " + dev(ifindex) +
              " prio " + std::to_string(prio));
  auto& t = b.header<tcmsg>();
  t.tcm_family = AF_UNSPEC;
  t.tcm_ifindex = ifindex;
  t.tcm_handle = 1;
  t.tcm_parent = clsact_parent(ingress);
  t.tcm_info = filter_info(prio);
  b.put_str(TCA_KIND, "bpf");
  auto opts = b.nest_begin(TCA_OPTIONS);
  // Classic BPF: in direct-action mode the return value is the tc verdict.
  sock_filter prog[1] = {{BPF_RET | BPF_K, 0, 0, static_cast<std::uint32_t>(TC_ACT_SHOT)}};
  b.put_u16(TCA_BPF_OPS_LEN, 1);
  b.put(TCA_BPF_OPS, prog, sizeof prog);
  b.put_str(TCA_BPF_NAME, "pb_drop_all");
  b.put_u32(TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
  b.nest_end(opts);
}

void del_filters(NlBatch& b, int ifindex, bool ingress, std::uint16_t prio) {
  b.begin(RTM_DELTFILTER, 0,
          std::string("delete filters on ") + (ingress ? "ingress" : "egress") + " of " + dev(ifindex) +
              " prio " + std::to_string(prio));
  auto& t = b.header<tcmsg>();
  t.tcm_family = AF_UNSPEC;
  t.tcm_ifindex = ifindex;
  t.tcm_handle = 0;  // no handle and no kind: the whole priority goes
  t.tcm_parent = clsact_parent(ingress);
  t.tcm_info = filter_info(prio);
}

void set_bridge_port(NlBatch& b, int port_ifindex, const BridgePortFlags& f) {
  b.begin(RTM_SETLINK, 0, "set bridge port flags on " + dev(port_ifindex));
  auto& ifi = b.header<ifinfomsg>();
  ifi.ifi_family = AF_BRIDGE;
  ifi.ifi_index = port_ifindex;
  auto p = b.nest_begin(IFLA_PROTINFO);  // nest_begin adds NLA_F_NESTED: the per-port form
  auto put = [&](std::uint16_t type, const std::optional<bool>& v) {
    if (v) b.put_u8(type, *v ? 1 : 0);
  };
  put(IFLA_BRPORT_LEARNING, f.learning);
  put(IFLA_BRPORT_UNICAST_FLOOD, f.flood);
  put(IFLA_BRPORT_MCAST_FLOOD, f.mcast_flood);
  put(IFLA_BRPORT_BCAST_FLOOD, f.bcast_flood);
  put(IFLA_BRPORT_MODE, f.hairpin);
  b.nest_end(p);
}

void del_fdb(NlBatch& b, int port_ifindex, const Mac& mac) {
  b.begin(RTM_DELNEIGH, 0, "delete fdb entry " + mac_to_string(mac) + " on " + dev(port_ifindex));
  auto& nd = b.header<ndmsg>();
  nd.ndm_family = AF_BRIDGE;
  nd.ndm_ifindex = port_ifindex;
  nd.ndm_flags = NTF_MASTER;
  b.put(NDA_LLADDR, mac.data(), mac.size());
}

}  // namespace patchbay::sys
