// rtnetlink request builders: links, addresses, routes, neighbours.
//
// Each function appends one request to an NlBatch; nothing is sent until NetlinkSocket::commit().
// Interface indexes are chosen by the caller (the kernel accepts a requested ifindex on creation),
// so wiring never has to look an interface up by name.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "patchbay/net.hpp"
#include "sys/netlink.hpp"

namespace patchbay::sys {

using Mac = std::array<std::uint8_t, 6>;

// A locally administered unicast MAC derived from a 40-bit value (deterministic per object).
Mac make_mac(std::uint64_t v);
std::string mac_to_string(const Mac& m);

struct LinkEnd {
  std::string name;
  int ifindex = 0;  // requested index in the end's namespace (0 = kernel picks)
  std::optional<Mac> mac;
  int netns_fd = -1;       // -1 = the socket's own namespace
  int master_ifindex = 0;  // enslave to this bridge (main end only)
  bool up = true;          // ignored for a veth peer (see add_veth)
  std::uint32_t mtu = 0;   // 0 = default
};

void add_veth(NlBatch& b, const LinkEnd& a, const LinkEnd& peer);
void add_bridge(NlBatch& b, const std::string& name, int ifindex, const Mac& mac, std::uint32_t mtu);
void set_link(NlBatch& b, int ifindex, std::optional<bool> up,
              std::optional<std::uint32_t> mtu = std::nullopt, std::optional<int> master = std::nullopt,
              const std::string& what = {});
void del_link(NlBatch& b, int ifindex, const std::string& what = {});
// Moves a link into another namespace, giving it a new name and index there.
void move_link(NlBatch& b, int ifindex, int netns_fd, const std::string& new_name, int new_ifindex);

void add_addr(NlBatch& b, int ifindex, const IpAddr& addr, std::uint8_t prefix_len, bool nodad = true,
              bool noprefixroute = false);
void del_addr(NlBatch& b, int ifindex, const IpAddr& addr, std::uint8_t prefix_len);

struct Route {
  int family = AF_INET;
  std::optional<IpAddr> dst;  // nullopt = default route
  std::uint8_t dst_len = 0;
  std::optional<IpAddr> gateway;
  int oif = 0;
  std::uint32_t table = 254;  // RT_TABLE_MAIN
  std::uint32_t metric = 0;
  bool onlink = false;
};
// A default route via `gw` out of `oif` (family taken from the gateway).
Route default_route(const IpAddr& gw, int oif);
// replace = NLM_F_REPLACE (create or update), else NLM_F_EXCL.
void add_route(NlBatch& b, const Route& r, bool replace = true);
void del_route(NlBatch& b, const Route& r);

// A policy rule "from <src> lookup <table>".
void add_rule(NlBatch& b, const IpAddr& src, std::uint8_t src_len, std::uint32_t table,
              std::uint32_t priority);

// A permanent neighbour entry.
void add_neigh(NlBatch& b, int ifindex, const IpAddr& ip, const Mac& mac);

struct AddrInfo {
  int ifindex;
  IpAddr addr;
  std::uint8_t prefix_len;
  std::uint32_t flags;
};
std::vector<AddrInfo> dump_addrs(NetlinkSocket& s, int family);

struct LinkInfo {
  int ifindex;
  std::string name;
  std::uint32_t mtu;
  unsigned flags;
  int master;
};
std::vector<LinkInfo> dump_links(NetlinkSocket& s);

}  // namespace patchbay::sys
