#include "sys/rtnl.hpp"

#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>

#include <cstdio>
#include <cstring>

namespace patchbay::sys {

Mac make_mac(std::uint64_t v) {
  // 0x02 = locally administered, unicast. The remaining 40 bits carry `v`.
  return Mac{0x02,
             static_cast<std::uint8_t>(v >> 32),
             static_cast<std::uint8_t>(v >> 24),
             static_cast<std::uint8_t>(v >> 16),
             static_cast<std::uint8_t>(v >> 8),
             static_cast<std::uint8_t>(v)};
}

std::string mac_to_string(const Mac& m) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return buf;
}

namespace {

void put_link_end_attrs(NlBatch& b, const LinkEnd& e, bool with_master) {
  b.put_str(IFLA_IFNAME, e.name);
  if (e.mac) b.put(IFLA_ADDRESS, e.mac->data(), 6);
  if (e.netns_fd >= 0) b.put_u32(IFLA_NET_NS_FD, static_cast<std::uint32_t>(e.netns_fd));
  if (e.mtu != 0) b.put_u32(IFLA_MTU, e.mtu);
  if (with_master && e.master_ifindex != 0)
    b.put_u32(IFLA_MASTER, static_cast<std::uint32_t>(e.master_ifindex));
}

ifinfomsg make_ifinfo(int ifindex, bool up) {
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = ifindex;
  if (up) {
    ifi.ifi_flags = IFF_UP;
    ifi.ifi_change = IFF_UP;
  }
  return ifi;
}

void put_ip(NlBatch& b, std::uint16_t type, const IpAddr& a) {
  if (a.is_v4()) {
    auto in = a.v4().to_in_addr();
    b.put(type, &in, 4);
  } else {
    auto in6 = a.v6().to_in6_addr();
    b.put(type, &in6, 16);
  }
}

}  // namespace

void add_veth(NlBatch& b, const LinkEnd& a, const LinkEnd& peer) {
  b.begin(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, "create veth " + a.name + " <-> " + peer.name);
  b.header<ifinfomsg>() = make_ifinfo(a.ifindex, a.up);
  put_link_end_attrs(b, a, true);
  auto li = b.nest_begin(IFLA_LINKINFO);
  b.put_str(IFLA_INFO_KIND, "veth");
  auto data = b.nest_begin(IFLA_INFO_DATA);
  auto p = b.nest_begin(VETH_INFO_PEER);
  // VETH_INFO_PEER holds the peer's ifinfomsg followed by its attributes.
  // The peer cannot be brought up here: the kernel configures it before linking the pair, and
  // opening an unpaired veth fails with ENOTCONN. Bring it up through its own namespace.
  auto pifi = make_ifinfo(peer.ifindex, false);
  b.put_raw(&pifi, sizeof pifi);
  put_link_end_attrs(b, peer, false);
  b.nest_end(p);
  b.nest_end(data);
  b.nest_end(li);
}

void add_bridge(NlBatch& b, const std::string& name, int ifindex, const Mac& mac, std::uint32_t mtu) {
  b.begin(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, "create bridge " + name);
  b.header<ifinfomsg>() = make_ifinfo(ifindex, true);
  b.put_str(IFLA_IFNAME, name);
  // A fixed MAC keeps the bridge's address stable as ports come and go (otherwise it follows
  // the lowest port MAC and neighbours' caches go stale).
  b.put(IFLA_ADDRESS, mac.data(), 6);
  if (mtu != 0) b.put_u32(IFLA_MTU, mtu);
  auto li = b.nest_begin(IFLA_LINKINFO);
  b.put_str(IFLA_INFO_KIND, "bridge");
  auto data = b.nest_begin(IFLA_INFO_DATA);
  b.put_u32(IFLA_BR_FORWARD_DELAY, 0);
  b.put_u32(IFLA_BR_STP_STATE, 0);
  b.put_u8(IFLA_BR_MCAST_SNOOPING, 0);
  b.nest_end(data);
  b.nest_end(li);
}

void set_link(NlBatch& b, int ifindex, std::optional<bool> up, std::optional<std::uint32_t> mtu,
              std::optional<int> master, const std::string& what) {
  b.begin(RTM_NEWLINK, 0, what.empty() ? "configure link " + std::to_string(ifindex) : what);
  auto& ifi = b.header<ifinfomsg>();
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = ifindex;
  if (up) {
    ifi.ifi_change = IFF_UP;
    ifi.ifi_flags = *up ? IFF_UP : 0;
  }
  if (mtu) b.put_u32(IFLA_MTU, *mtu);
  if (master) b.put_u32(IFLA_MASTER, static_cast<std::uint32_t>(*master));
}

void del_link(NlBatch& b, int ifindex, const std::string& what) {
  b.begin(RTM_DELLINK, 0, what.empty() ? "delete link " + std::to_string(ifindex) : what);
  b.header<ifinfomsg>().ifi_index = ifindex;
}

void move_link(NlBatch& b, int ifindex, int netns_fd, const std::string& new_name, int new_ifindex) {
  b.begin(RTM_NEWLINK, 0, "move link " + std::to_string(ifindex) + " as " + new_name);
  auto& ifi = b.header<ifinfomsg>();
  ifi.ifi_index = ifindex;
  b.put_u32(IFLA_NET_NS_FD, static_cast<std::uint32_t>(netns_fd));
  b.put_str(IFLA_IFNAME, new_name);
  if (new_ifindex != 0) b.put_u32(IFLA_NEW_IFINDEX, static_cast<std::uint32_t>(new_ifindex));
}

void add_addr(NlBatch& b, int ifindex, const IpAddr& addr, std::uint8_t prefix_len, bool nodad,
              bool noprefixroute) {
  b.begin(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE,
          "add address " + addr.to_string() + "/" + std::to_string(prefix_len) + " on link " +
              std::to_string(ifindex));
  auto& ifa = b.header<ifaddrmsg>();
  ifa.ifa_family = static_cast<std::uint8_t>(addr.family());
  ifa.ifa_prefixlen = prefix_len;
  ifa.ifa_index = static_cast<std::uint32_t>(ifindex);
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  if (addr.is_v6() && addr.v6().is_link_local()) ifa.ifa_scope = RT_SCOPE_LINK;
  std::uint32_t flags = 0;
  if (nodad && addr.is_v6()) flags |= IFA_F_NODAD;
  if (noprefixroute) flags |= IFA_F_NOPREFIXROUTE;
  put_ip(b, IFA_LOCAL, addr);
  put_ip(b, IFA_ADDRESS, addr);
  if (addr.is_v4() && prefix_len < 31) {
    Ipv4Net n(addr.v4(), prefix_len);
    put_ip(b, IFA_BROADCAST, n.broadcast());
  }
  if (flags != 0) b.put_u32(IFA_FLAGS, flags);
}

void del_addr(NlBatch& b, int ifindex, const IpAddr& addr, std::uint8_t prefix_len) {
  b.begin(RTM_DELADDR, 0, "delete address " + addr.to_string() + "/" + std::to_string(prefix_len));
  auto& ifa = b.header<ifaddrmsg>();
  ifa.ifa_family = static_cast<std::uint8_t>(addr.family());
  ifa.ifa_prefixlen = prefix_len;
  ifa.ifa_index = static_cast<std::uint32_t>(ifindex);
  put_ip(b, IFA_LOCAL, addr);
  put_ip(b, IFA_ADDRESS, addr);
}

namespace {

std::string describe_route(const char* verb, const Route& r) {
  std::string s = std::string(verb) + " route ";
  s += r.dst ? r.dst->to_string() + "/" + std::to_string(r.dst_len)
             : (r.family == AF_INET ? "default" : "default6");
  if (r.gateway) s += " via " + r.gateway->to_string();
  if (r.oif) s += " dev " + std::to_string(r.oif);
  if (r.table != RT_TABLE_MAIN) s += " table " + std::to_string(r.table);
  return s;
}

void fill_route(NlBatch& b, const Route& r, bool for_delete) {
  auto& rt = b.header<rtmsg>();
  rt.rtm_family = static_cast<std::uint8_t>(r.family);
  rt.rtm_dst_len = r.dst ? r.dst_len : 0;
  rt.rtm_table = static_cast<std::uint8_t>(r.table < 256 ? r.table : RT_TABLE_UNSPEC);
  rt.rtm_protocol = RTPROT_STATIC;
  rt.rtm_scope = for_delete ? RT_SCOPE_NOWHERE : (r.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
  rt.rtm_type = RTN_UNICAST;
  if (r.onlink) rt.rtm_flags |= RTNH_F_ONLINK;
  if (r.table >= 256) b.put_u32(RTA_TABLE, r.table);
  if (r.dst) put_ip(b, RTA_DST, *r.dst);
  if (r.gateway) put_ip(b, RTA_GATEWAY, *r.gateway);
  if (r.oif) b.put_u32(RTA_OIF, static_cast<std::uint32_t>(r.oif));
  if (r.metric) b.put_u32(RTA_PRIORITY, r.metric);
}

}  // namespace

Route default_route(const IpAddr& gw, int oif) {
  Route r;
  r.family = gw.family();
  r.gateway = gw;
  r.oif = oif;
  return r;
}

void add_route(NlBatch& b, const Route& r, bool replace) {
  b.begin(RTM_NEWROUTE, NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL), describe_route("add", r));
  fill_route(b, r, false);
}

void del_route(NlBatch& b, const Route& r) {
  b.begin(RTM_DELROUTE, 0, describe_route("delete", r));
  fill_route(b, r, true);
}

void add_rule(NlBatch& b, const IpAddr& src, std::uint8_t src_len, std::uint32_t table,
              std::uint32_t priority) {
  b.begin(
      RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL,
      "add rule from " + src.to_string() + "/" + std::to_string(src_len) + " table " + std::to_string(table));
  auto& h = b.header<fib_rule_hdr>();
  h.family = static_cast<std::uint8_t>(src.family());
  h.src_len = src_len;
  h.action = FR_ACT_TO_TBL;
  h.table = static_cast<std::uint8_t>(table < 256 ? table : RT_TABLE_UNSPEC);
  put_ip(b, FRA_SRC, src);
  b.put_u32(FRA_TABLE, table);
  b.put_u32(FRA_PRIORITY, priority);
}

void add_neigh(NlBatch& b, int ifindex, const IpAddr& ip, const Mac& mac) {
  b.begin(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, "add neighbour " + ip.to_string());
  auto& nd = b.header<ndmsg>();
  nd.ndm_family = static_cast<std::uint8_t>(ip.family());
  nd.ndm_ifindex = ifindex;
  nd.ndm_state = NUD_PERMANENT;
  put_ip(b, NDA_DST, ip);
  b.put(NDA_LLADDR, mac.data(), 6);
}

std::vector<AddrInfo> dump_addrs(NetlinkSocket& s, int family) {
  NlBatch req("netlink");
  req.begin(RTM_GETADDR, 0, "dump addresses");
  req.header<ifaddrmsg>().ifa_family = static_cast<std::uint8_t>(family);
  std::vector<AddrInfo> out;
  s.dump(req, [&](const nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWADDR) return;
    auto* ifa = static_cast<const ifaddrmsg*>(NLMSG_DATA(h));
    std::optional<IpAddr> addr;
    std::uint32_t flags = ifa->ifa_flags;
    for_each_attr(h, sizeof(ifaddrmsg), [&](std::uint16_t type, const std::uint8_t* p, std::size_t len) {
      if (type == IFA_ADDRESS || (type == IFA_LOCAL && ifa->ifa_family == AF_INET)) {
        if (ifa->ifa_family == AF_INET && len == 4) {
          in_addr in;
          std::memcpy(&in, p, 4);
          addr = Ipv4Addr::from_in_addr(in);
        } else if (ifa->ifa_family == AF_INET6 && len == 16) {
          in6_addr in6;
          std::memcpy(&in6, p, 16);
          addr = Ipv6Addr::from_in6_addr(in6);
        }
      } else if (type == IFA_FLAGS && len == 4) {
        std::memcpy(&flags, p, 4);
      }
    });
    if (addr) out.push_back({static_cast<int>(ifa->ifa_index), *addr, ifa->ifa_prefixlen, flags});
  });
  return out;
}

std::vector<LinkInfo> dump_links(NetlinkSocket& s) {
  NlBatch req("netlink");
  req.begin(RTM_GETLINK, 0, "dump links");
  req.header<ifinfomsg>().ifi_family = AF_UNSPEC;
  std::vector<LinkInfo> out;
  s.dump(req, [&](const nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWLINK) return;
    auto* ifi = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
    LinkInfo li{ifi->ifi_index, {}, 0, ifi->ifi_flags, 0};
    for_each_attr(h, sizeof(ifinfomsg), [&](std::uint16_t type, const std::uint8_t* p, std::size_t len) {
      if (type == IFLA_IFNAME)
        li.name.assign(reinterpret_cast<const char*>(p), strnlen(reinterpret_cast<const char*>(p), len));
      if (type == IFLA_MTU && len == 4) std::memcpy(&li.mtu, p, 4);
      if (type == IFLA_MASTER && len == 4) std::memcpy(&li.master, p, 4);
    });
    out.push_back(std::move(li));
  });
  return out;
}

}  // namespace patchbay::sys
