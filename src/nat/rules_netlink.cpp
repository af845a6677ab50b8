// Each function below follows its counterpart in rules.cpp statement by statement; the comment
// over a rule is the text it stands for (P = udp/tcp, KEY = the mapping key of rules.cpp).
#include "nat/rules_netlink.hpp"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>

#include <array>

namespace patchbay::nat {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using sys::kNftReg1;
using sys::kNftReg2;
using sys::nft_reg32;
using sys::NftBaseChain;
using sys::NftRule;
using sys::NftSetRef;
using sys::NftSetSpec;
using sys::NftType;

// ct state bits as nft encodes them (NF_CT_STATE_BIT).
constexpr std::uint32_t kStateInvalid = 1, kStateEstablished = 2, kStateRelated = 4, kStateNew = 8;
constexpr std::uint8_t kTcpFinRst = 0x01 | 0x04;
constexpr std::uint32_t kRtnLocal = 2;  // fib address type "local"
constexpr std::int32_t kPrioMangle = -150, kPrioDstnat = -100, kPrioSrcnat = 100, kPrioFilter = 0;

struct Proto {
  const char* name;
  std::uint8_t number;
};
constexpr Proto kProtos[] = {{"udp", IPPROTO_UDP}, {"tcp", IPPROTO_TCP}};

// The sets of one protocol, as created in the batch.
struct ProtoSets {
  NftSetRef map, own, perm;
};

std::array<std::uint8_t, 4> octets(Ipv4Addr a) {
  return a.octets();
}

void iifname(NftRule& r, const std::string& name, std::uint32_t op = NFT_CMP_EQ) {
  r.meta_load(NFT_META_IIFNAME).cmp_ifname(op, name);
}
void oifname(NftRule& r, const std::string& name) {
  r.meta_load(NFT_META_OIFNAME).cmp_ifname(NFT_CMP_EQ, name);
}
void l4proto(NftRule& r, std::uint8_t proto) {
  r.meta_load(NFT_META_L4PROTO).cmp_u8(NFT_CMP_EQ, proto);
}
void ip_daddr(NftRule& r, Ipv4Addr a) {
  auto o = octets(a);
  r.payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4).cmp(NFT_CMP_EQ, o);
}
// "P dport" without its protocol match (the rule already has one).
void dport(NftRule& r, std::uint32_t dreg = kNftReg1) {
  r.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, dreg);
}
// "ct state S" / "ct status S": any of the bits.
void ct_bits(NftRule& r, std::uint32_t key, std::uint32_t bits) {
  r.ct(key, std::nullopt).bitwise_u32(bits, 0).cmp_u32(NFT_CMP_NEQ, 0);
}
// "ct status & bits == value"
void ct_status_masked(NftRule& r, std::uint32_t bits, std::uint32_t value) {
  r.ct(NFT_CT_STATUS, std::nullopt).bitwise_u32(bits, 0).cmp_u32(NFT_CMP_EQ, value);
}
void ct_load(NftRule& r, std::uint32_t key, std::uint8_t dir, std::uint32_t reg) {
  r.ct(key, dir, reg);
}
// "meta mark set meta mark | kCtrlMark"
void mark_for_ctrl(NftRule& r) {
  r.meta_load(NFT_META_MARK).bitwise_u32(~kCtrlMark, kCtrlMark).meta_set(NFT_META_MARK);
}

// KEY of an outbound flow: ct original ip saddr . proto-src [. ip daddr [. proto-dst]].
void key_orig(NftRule& r, NatMapping m, std::uint32_t reg) {
  ct_load(r, NFT_CT_SRC_IP, IP_CT_DIR_ORIGINAL, nft_reg32(reg, 0));
  ct_load(r, NFT_CT_PROTO_SRC, IP_CT_DIR_ORIGINAL, nft_reg32(reg, 1));
  if (m != NatMapping::EndpointIndependent) ct_load(r, NFT_CT_DST_IP, IP_CT_DIR_ORIGINAL, nft_reg32(reg, 2));
  if (m == NatMapping::AddressAndPortDependent)
    ct_load(r, NFT_CT_PROTO_DST, IP_CT_DIR_ORIGINAL, nft_reg32(reg, 3));
}
// KEY of an inbound (DNAT'ed) flow: ct reply ip saddr . proto-src [. ct original ip saddr [...]].
void key_dnat(NftRule& r, NatMapping m, std::uint32_t reg) {
  ct_load(r, NFT_CT_SRC_IP, IP_CT_DIR_REPLY, nft_reg32(reg, 0));
  ct_load(r, NFT_CT_PROTO_SRC, IP_CT_DIR_REPLY, nft_reg32(reg, 1));
  if (m != NatMapping::EndpointIndependent) ct_load(r, NFT_CT_SRC_IP, IP_CT_DIR_ORIGINAL, nft_reg32(reg, 2));
  if (m == NatMapping::AddressAndPortDependent)
    ct_load(r, NFT_CT_PROTO_SRC, IP_CT_DIR_ORIGINAL, nft_reg32(reg, 3));
}
// A "ct DIR ip ADDR . ct DIR proto-PORT" pair starting at `reg`.
void endpoint(NftRule& r, std::uint8_t dir, bool src, std::uint32_t reg) {
  ct_load(r, src ? NFT_CT_SRC_IP : NFT_CT_DST_IP, dir, nft_reg32(reg, 0));
  ct_load(r, src ? NFT_CT_PROTO_SRC : NFT_CT_PROTO_DST, dir, nft_reg32(reg, 1));
}

std::vector<NftType> key_types(NatMapping m) {
  switch (m) {
    case NatMapping::EndpointIndependent:
      return {NftType::Ipv4Addr, NftType::InetService};
    case NatMapping::AddressDependent:
      return {NftType::Ipv4Addr, NftType::InetService, NftType::Ipv4Addr};
    case NatMapping::AddressAndPortDependent:
      return {NftType::Ipv4Addr, NftType::InetService, NftType::Ipv4Addr, NftType::InetService};
  }
  return {};
}

// update @map_P { KEY timeout T : ct reply ip daddr . ct reply proto-dst }
// update @own_P { ct reply proto-dst timeout T : ct original ip saddr . ct original proto-src }
// [ADF] update @perm_P { ct reply proto-dst . ct original ip daddr timeout T }
void refresh_snat(NftRule& r, const ProtoSets& s, const NatConfig& c, milliseconds t) {
  key_orig(r, c.mapping, kNftReg1);
  endpoint(r, IP_CT_DIR_REPLY, false, kNftReg2);
  r.dynset_update(s.map, kNftReg1, kNftReg2, t);
  ct_load(r, NFT_CT_PROTO_DST, IP_CT_DIR_REPLY, kNftReg1);
  endpoint(r, IP_CT_DIR_ORIGINAL, true, kNftReg2);
  r.dynset_update(s.own, kNftReg1, kNftReg2, t);
  if (c.filtering == NatFiltering::AddressDependent) {
    ct_load(r, NFT_CT_PROTO_DST, IP_CT_DIR_REPLY, nft_reg32(kNftReg1, 0));
    ct_load(r, NFT_CT_DST_IP, IP_CT_DIR_ORIGINAL, nft_reg32(kNftReg1, 1));
    r.dynset_update(s.perm, kNftReg1, std::nullopt, t);
  }
}

// update @own_P { ct original proto-dst timeout T : ct reply ip saddr . ct reply proto-src }
// [EIM] update @map_P { KEY_DNAT timeout T : ct original ip daddr . ct original proto-dst }
void refresh_dnat(NftRule& r, const ProtoSets& s, const NatConfig& c, milliseconds t) {
  ct_load(r, NFT_CT_PROTO_DST, IP_CT_DIR_ORIGINAL, kNftReg1);
  endpoint(r, IP_CT_DIR_REPLY, true, kNftReg2);
  r.dynset_update(s.own, kNftReg1, kNftReg2, t);
  if (c.mapping == NatMapping::EndpointIndependent) {
    key_dnat(r, c.mapping, kNftReg1);
    endpoint(r, IP_CT_DIR_ORIGINAL, false, kNftReg2);
    r.dynset_update(s.map, kNftReg1, kNftReg2, t);
  }
}

// The timeout classes of rules.cpp's timeout_classes(): a condition and the timeout it selects.
struct TimeoutClass {
  void (*cond)(NftRule&);
  std::uint32_t secs;
};
std::vector<TimeoutClass> timeout_classes(const Proto& p, const ConntrackTimeouts& t) {
  if (p.number == IPPROTO_UDP)
    return {{[](NftRule& r) { ct_status_masked(r, IPS_SEEN_REPLY, 0); }, t.udp},
            {[](NftRule& r) { ct_status_masked(r, IPS_SEEN_REPLY, IPS_SEEN_REPLY); }, t.udp_stream}};
  return {{[](NftRule& r) {  // ct state established tcp flags & (fin | rst) == 0
             ct_bits(r, NFT_CT_STATE, kStateEstablished);
             r.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1).bitwise_u8(kTcpFinRst, 0).cmp_u8(NFT_CMP_EQ, 0);
           },
           t.tcp_established},
          {[](NftRule& r) { r.ct(NFT_CT_STATE, std::nullopt).cmp_u32(NFT_CMP_NEQ, kStateEstablished); },
           t.tcp_transitory},
          {[](NftRule& r) {  // tcp flags & (fin | rst) != 0
             r.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1).bitwise_u8(kTcpFinRst, 0).cmp_u8(NFT_CMP_NEQ, 0);
           },
           t.tcp_transitory}};
}

void pre_lan(sys::NftBatch& b, const NatParams& p, const Proto& pr, const ProtoSets& s) {
  const auto& c = p.cfg;
  if (!c.hairpin) {  // iifname LAN ip daddr WAN P dport @own_P drop
    auto r = b.rule(kNatTable, "pre_lan");
    iifname(r, p.lan_if);
    ip_daddr(r, p.wan_ip);
    l4proto(r, pr.number);
    dport(r);
    r.lookup(s.own).verdict(NF_DROP);
    b.add(std::move(r));
  }
  {  // ct state new iifname LAN meta l4proto P fib daddr type != local KEY != @map_P MARK
    auto r = b.rule(kNatTable, "pre_lan");
    ct_bits(r, NFT_CT_STATE, kStateNew);
    iifname(r, p.lan_if);
    l4proto(r, pr.number);
    r.fib(NFTA_FIB_F_DADDR, NFT_FIB_RESULT_ADDRTYPE).cmp_u32(NFT_CMP_NEQ, kRtnLocal);
    key_orig(r, c.mapping, kNftReg1);
    r.lookup(s.map, kNftReg1, std::nullopt, true);
    mark_for_ctrl(r);
    b.add(std::move(r));
  }
  if (c.hairpin) {  // ct state new iifname LAN ip daddr WAN P dport @own_P KEY != @map_P MARK
    auto r = b.rule(kNatTable, "pre_lan");
    ct_bits(r, NFT_CT_STATE, kStateNew);
    iifname(r, p.lan_if);
    ip_daddr(r, p.wan_ip);
    l4proto(r, pr.number);
    dport(r);
    r.lookup(s.own);
    key_orig(r, c.mapping, kNftReg1);
    r.lookup(s.map, kNftReg1, std::nullopt, true);
    mark_for_ctrl(r);
    b.add(std::move(r));
  }
}

// dnat ip to P dport map @own_P (after the protocol match)
void dnat_to_owner(NftRule& r, const ProtoSets& s) {
  dport(r);
  r.lookup(s.own, kNftReg1, kNftReg1).nat(NFT_NAT_DNAT, NFPROTO_IPV4, kNftReg1, nft_reg32(kNftReg1, 1));
}

void pre_nat_and_inbound(sys::NftBatch& b, const NatParams& p, const ProtoSets (&sets)[2]) {
  const auto& c = p.cfg;
  if (c.filtering != NatFiltering::AddressAndPortDependent)
    for (int i = 0; i < 2; ++i) {  // iifname WAN ip daddr WAN P dport @own_P jump in_P
      auto r = b.rule(kNatTable, "pre_nat");
      iifname(r, p.wan_if);
      ip_daddr(r, p.wan_ip);
      l4proto(r, kProtos[i].number);
      dport(r);
      r.lookup(sets[i].own).verdict(NFT_JUMP, std::string("in_") + kProtos[i].name);
      b.add(std::move(r));
    }
  if (c.hairpin)
    for (int i = 0; i < 2; ++i) {  // iifname LAN ip daddr WAN meta l4proto P dnat ip to P dport map @own_P
      auto r = b.rule(kNatTable, "pre_nat");
      iifname(r, p.lan_if);
      ip_daddr(r, p.wan_ip);
      l4proto(r, kProtos[i].number);
      dnat_to_owner(r, sets[i]);
      b.add(std::move(r));
    }
  for (int i = 0; i < 2; ++i) {
    const std::string chain = std::string("in_") + kProtos[i].name;
    if (c.filtering == NatFiltering::EndpointIndependent) {  // dnat ip to P dport map @own_P
      auto r = b.rule(kNatTable, chain);
      l4proto(r, kProtos[i].number);
      dnat_to_owner(r, sets[i]);
      b.add(std::move(r));
    } else if (c.filtering == NatFiltering::AddressDependent) {
      // P dport . ip saddr @perm_P dnat ip to P dport map @own_P
      auto r = b.rule(kNatTable, chain);
      l4proto(r, kProtos[i].number);
      dport(r, nft_reg32(kNftReg1, 0));
      r.payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, nft_reg32(kNftReg1, 1));
      r.lookup(sets[i].perm);
      dnat_to_owner(r, sets[i]);
      b.add(std::move(r));
    }
  }
}

void post_nat(sys::NftBatch& b, const NatParams& p, const ProtoSets (&sets)[2]) {
  const auto& c = p.cfg;
  auto snat = [&](NftRule& r, const ProtoSets& s) {
    key_orig(r, c.mapping, kNftReg1);
    r.lookup(s.map, kNftReg1, kNftReg1).nat(NFT_NAT_SNAT, NFPROTO_IPV4, kNftReg1, nft_reg32(kNftReg1, 1));
  };
  for (int i = 0; i < 2; ++i) {
    {  // iifname LAN oifname WAN meta l4proto P snat ip to KEY map @map_P
      auto r = b.rule(kNatTable, "post_nat");
      iifname(r, p.lan_if);
      oifname(r, p.wan_if);
      l4proto(r, kProtos[i].number);
      snat(r, sets[i]);
      b.add(std::move(r));
    }
    if (c.hairpin) {  // iifname LAN oifname LAN ct status dnat meta l4proto P snat ip to KEY map @map_P
      auto r = b.rule(kNatTable, "post_nat");
      iifname(r, p.lan_if);
      oifname(r, p.lan_if);
      ct_bits(r, NFT_CT_STATUS, IPS_DST_NAT);
      l4proto(r, kProtos[i].number);
      snat(r, sets[i]);
      b.add(std::move(r));
    }
  }
  {  // iifname LAN oifname WAN masquerade
    auto r = b.rule(kNatTable, "post_nat");
    iifname(r, p.lan_if);
    oifname(r, p.wan_if);
    r.masq();
    b.add(std::move(r));
  }
  if (c.hairpin) {  // iifname LAN oifname LAN ct status dnat masquerade
    auto r = b.rule(kNatTable, "post_nat");
    iifname(r, p.lan_if);
    oifname(r, p.lan_if);
    ct_bits(r, NFT_CT_STATUS, IPS_DST_NAT);
    r.masq();
    b.add(std::move(r));
  }
}

void post_record(sys::NftBatch& b, const NatParams& p, const ProtoSets (&sets)[2]) {
  const auto& c = p.cfg;
  for (int i = 0; i < 2; ++i) {
    std::vector<std::string> sides{p.lan_if};
    if (c.inbound_refresh) sides.push_back(p.wan_if);
    for (const auto& side : sides) {
      for (const auto& tc : timeout_classes(kProtos[i], c.timeouts)) {
        const milliseconds t = seconds(tc.secs);
        for (std::uint32_t status : {IPS_SRC_NAT, IPS_DST_NAT}) {
          // iifname SIDE meta l4proto P ct status snat|dnat COND refresh
          auto r = b.rule(kNatTable, "post_record");
          iifname(r, side);
          l4proto(r, kProtos[i].number);
          ct_bits(r, NFT_CT_STATUS, status);
          tc.cond(r);
          if (status == IPS_SRC_NAT)
            refresh_snat(r, sets[i], c, t);
          else
            refresh_dnat(r, sets[i], c, t);
          b.add(std::move(r));
        }
      }
    }
  }
}

void wan_guards(sys::NftBatch& b, const NatParams& p, const ProtoSets (&sets)[2]) {
  for (int i = 0; i < 2; ++i) {  // iifname WAN ip daddr WAN ct state new P dport @own_P drop
    auto r = b.rule(kNatTable, "input_wan");
    iifname(r, p.wan_if);
    ip_daddr(r, p.wan_ip);
    ct_bits(r, NFT_CT_STATE, kStateNew);
    l4proto(r, kProtos[i].number);
    dport(r);
    r.lookup(sets[i].own).verdict(NF_DROP);
    b.add(std::move(r));
  }
  {  // iifname WAN ct state new ct status & dnat == 0 drop
    auto r = b.rule(kNatTable, "forward_in");
    iifname(r, p.wan_if);
    ct_bits(r, NFT_CT_STATE, kStateNew);
    ct_status_masked(r, IPS_DST_NAT, 0);
    r.verdict(NF_DROP);
    b.add(std::move(r));
  }
  {  // iifname LAN oifname WAN ct state invalid drop
    auto r = b.rule(kNatTable, "forward_in");
    iifname(r, p.lan_if);
    oifname(r, p.wan_if);
    ct_bits(r, NFT_CT_STATE, kStateInvalid);
    r.verdict(NF_DROP);
    b.add(std::move(r));
  }
}

}  // namespace

void add_nat_ruleset(sys::NftBatch& b, const NatParams& p, bool replace) {
  const auto& c = p.cfg;
  if (replace) add_nat_remove(b);
  b.add_table(kNatTable);
  // nft creates a table's chains before its sets, then the rules; handles follow that order.
  b.add_chain(kNatTable, "pre_lan", NftBaseChain{"filter", NF_INET_PRE_ROUTING, kPrioMangle});
  b.add_chain(kNatTable, "pre_nat", NftBaseChain{"nat", NF_INET_PRE_ROUTING, kPrioDstnat});
  b.add_chain(kNatTable, "in_udp");
  b.add_chain(kNatTable, "in_tcp");
  b.add_chain(kNatTable, "post_nat", NftBaseChain{"nat", NF_INET_POST_ROUTING, kPrioSrcnat});
  b.add_chain(kNatTable, "post_record", NftBaseChain{"filter", NF_INET_POST_ROUTING, 200});
  b.add_chain(kNatTable, "input_wan", NftBaseChain{"filter", NF_INET_LOCAL_IN, kPrioFilter});
  b.add_chain(kNatTable, "forward_in", NftBaseChain{"filter", NF_INET_FORWARD, kPrioFilter});
  ProtoSets sets[2];
  for (int i = 0; i < 2; ++i) {
    const std::string n = kProtos[i].name;
    const milliseconds dflt = seconds(i == 0 ? c.timeouts.udp : c.timeouts.tcp_transitory);
    const std::vector<NftType> endpoint{NftType::Ipv4Addr, NftType::InetService};
    sets[i].map = b.add_set(kNatTable, NftSetSpec{"map_" + n, key_types(c.mapping), endpoint, true, dflt});
    sets[i].own = b.add_set(kNatTable, NftSetSpec{"own_" + n, {NftType::InetService}, endpoint, true, dflt});
    if (c.filtering == NatFiltering::AddressDependent)
      sets[i].perm = b.add_set(
          kNatTable, NftSetSpec{"perm_" + n, {NftType::InetService, NftType::Ipv4Addr}, {}, true, dflt});
  }
  for (int i = 0; i < 2; ++i) pre_lan(b, p, kProtos[i], sets[i]);
  pre_nat_and_inbound(b, p, sets);
  post_nat(b, p, sets);
  post_record(b, p, sets);
  wan_guards(b, p, sets);
}

void add_nat_queue_table(sys::NftBatch& b) {
  b.add_table(kQueueTable);
  b.add_chain(kQueueTable, "mark_in", NftBaseChain{"filter", NF_INET_PRE_ROUTING, kPrioMangle + 1});
  b.add_chain(kQueueTable, kQueueChain);
  // meta mark & CTRL == CTRL meta mark set meta mark & ~CTRL jump to_ctrl
  auto r = b.rule(kQueueTable, "mark_in");
  r.meta_load(NFT_META_MARK).bitwise_u32(kCtrlMark, 0).cmp_u32(NFT_CMP_EQ, kCtrlMark);
  r.meta_load(NFT_META_MARK).bitwise_u32(~kCtrlMark, 0).meta_set(NFT_META_MARK);
  r.verdict(NFT_JUMP, kQueueChain);
  b.add(std::move(r));
}

void add_nat_remove(sys::NftBatch& b) {
  b.add_table(kNatTable);
  b.delete_table(kNatTable);
}

namespace {

std::vector<std::uint8_t> be16(std::uint16_t v) {
  return {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v & 0xff)};
}

void outbound_policy(sys::NftBatch& b, const std::string& wan, std::uint8_t proto, const PortPolicy& pol) {
  if (pol.is_allow_all()) return;
  auto r = b.rule(kFirewallTable, "forward");
  iifname(r, wan, NFT_CMP_NEQ);
  l4proto(r, proto);
  if (!pol.is_block_all() && !pol.ports().empty()) {  // iifname != WAN P dport != { ports } drop
    dport(r);
    if (pol.ports().size() == 1) {
      r.cmp(NFT_CMP_NEQ, be16(pol.ports()[0]));
    } else {
      std::vector<std::vector<std::uint8_t>> elems;
      for (std::uint16_t port : pol.ports()) elems.push_back(be16(port));
      // nft makes the set right before the rule that uses it.
      auto set = b.add_anonymous_set(kFirewallTable, NftType::InetService, elems);
      r.lookup(set, kNftReg1, std::nullopt, true);
    }
  }  // else: iifname != WAN meta l4proto P drop
  r.verdict(NF_DROP);
  b.add(std::move(r));
}

}  // namespace

void add_firewall_ruleset(sys::NftBatch& b, const FirewallParams& p, bool replace) {
  const auto& c = p.cfg;
  if (replace) add_firewall_remove(b);
  b.add_table(kFirewallTable);
  b.add_chain(kFirewallTable, "forward", NftBaseChain{"filter", NF_INET_FORWARD, kPrioFilter});
  {  // ct state established,related accept
    auto r = b.rule(kFirewallTable, "forward");
    ct_bits(r, NFT_CT_STATE, kStateEstablished | kStateRelated);
    r.verdict(NF_ACCEPT);
    b.add(std::move(r));
  }
  {  // meta l4proto { icmp, ipv6-icmp } accept
    auto set = b.add_anonymous_set(kFirewallTable, NftType::InetProto, {{IPPROTO_ICMP}, {IPPROTO_ICMPV6}});
    auto r = b.rule(kFirewallTable, "forward");
    r.meta_load(NFT_META_L4PROTO).lookup(set).verdict(NF_ACCEPT);
    b.add(std::move(r));
  }
  if (c.block_inbound) {  // iifname WAN drop
    auto r = b.rule(kFirewallTable, "forward");
    iifname(r, p.wan_if);
    r.verdict(NF_DROP);
    b.add(std::move(r));
  }
  outbound_policy(b, p.wan_if, IPPROTO_TCP, c.outbound_tcp);
  outbound_policy(b, p.wan_if, IPPROTO_UDP, c.outbound_udp);
}

void add_firewall_remove(sys::NftBatch& b) {
  b.add_table(kFirewallTable);
  b.delete_table(kFirewallTable);
}

}  // namespace patchbay::nat
