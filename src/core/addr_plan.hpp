// The lab's address plan: which subnet and which address every router, device and link gets
// (SPEC 3.1-3.3).
//
//   core::AddressPlan plan;
//   auto wan = plan.alloc_ix_v4("router 'home'");                      // 198.18.0.10
//   auto lan = plan.alloc_downstream_v4(AddressPool::Private, std::nullopt, "router 'home'");
//   core::HostPoolV4 hosts(lan, 2, core::lan_exhausted_message("router 'home'", 253));
//   auto dev = hosts.alloc();                                          // 10.0.1.2
//
// Guarantees:
// * Pure bookkeeping: no kernel calls, no I/O, no randomness. The same sequence of calls gives the
//   same results in every run.
// * Every subnet the plan hands out or accepts (pool subnets, downstream_cidr overrides, IX subnets,
//   region blocks, inter-region links, NPTv6 prefixes) is disjoint from every other one. Pools skip
//   whatever an override already holds; overrides that overlap anything fail with InvalidArgument
//   naming the holder.
// * Released subnets and addresses come back only after the pool's never-used space is exhausted,
//   earliest in the pool's sequence first (lowest address, except that sequences continuing in E
//   prefer their 198.18/203.0.113 part).
// * Exhaustion throws PoolExhausted naming the pool and the owner.
// * Each operation costs O(log n) in the number of live allocations.
// * Not thread-safe: the lab serialises calls under its topology lock.
//
// `owner` arguments are human-readable and end up verbatim in error messages, e.g. "router 'home'".
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "patchbay/net.hpp"
#include "patchbay/types.hpp"

namespace patchbay::core {

class AddressPlan {
 public:
  struct Options {
    // The extended public range E (SPEC 3.2): low half = regionless public /24s, third quarter =
    // region /20 blocks, last quarter = inter-region /30s. Must be /18 or shorter and clear of the
    // fixed plan (10/8, 100.64/10, 198.18/15, 203.0.113/24, RFC 1918, loopback, multicast).
    Ipv4Net extended_public_v4 = Ipv4Net::parse("11.0.0.0/8");
  };

  AddressPlan();
  explicit AddressPlan(Options opts);  // throws InvalidArgument for an unusable E
  ~AddressPlan();
  AddressPlan(AddressPlan&&) noexcept;
  AddressPlan& operator=(AddressPlan&&) noexcept;

  static Ipv4Net ix_cidr() { return Ipv4Net(Ipv4Addr(198, 18, 0, 0), 24); }
  static Ipv4Addr ix_gw() { return Ipv4Addr(198, 18, 0, 1); }
  static Ipv6Net ix_cidr_v6() { return Ipv6Net(Ipv6Addr::from_halves(0x20010db800000000ULL, 0), 64); }
  static Ipv6Addr ix_gw_v6() { return Ipv6Addr::from_halves(0x20010db800000000ULL, 1); }

  // ---- IX uplinks ----
  struct IxLease {
    Ipv4Addr addr;
    Ipv4Net subnet;   // 198.18.0.0/24 or an extra 198.19.k.0/24
    Ipv4Addr gw;      // .1 of `subnet` (the root namespace)
    bool new_subnet;  // first lease in an extra IX subnet: configure gw on the IX bridge now
  };
  // 198.18.0.10 ... .254, then 198.19.k.10 ... .254 for k = 0 ... 255 (skipping any k an override
  // holds), then released addresses.
  IxLease alloc_ix_v4(const std::string& owner);
  // 2001:db8::10 ... ::fffe, then ::1:0, ::1:1, ... (64-bit identifier space), then released ones.
  Ipv6Addr alloc_ix_v6(const std::string& owner);
  void release_ix_v4(Ipv4Addr addr);  // InvalidArgument unless currently leased
  void release_ix_v6(Ipv6Addr addr);
  std::vector<Ipv4Net> ix_subnets() const;  // every IX subnet opened so far, in order

  // ---- downstream subnets ----
  // Public + region: a /24 from that region's block(s), a new block when they are full;
  // Public without region: 198.18.n.0/24 (n = 1..15), then /24s of the low half of E;
  // Private: 10.0.1.0/24 ... 10.0.255.0/24, 10.1.0.0/24 ... 10.255.255.0/24;
  // Cgnat: 100.64.1.0/24 ... 100.127.255.0/24. `region_index` is ignored for Private and Cgnat.
  Ipv4Net alloc_downstream_v4(AddressPool pool, std::optional<std::uint32_t> region_index,
                              const std::string& owner);
  // GUA 2001:db8:1:n::/64 or ULA fd10:0:0:n::/64, n = 1 ... 0xffff, then group 3 counts up
  // (2001:db8:2:0::/64, fd10:0:1:0::/64, ...). GUA skips 2001:db8:ff::/48 (the NPTv6 pool).
  Ipv6Net alloc_downstream_v6(bool public_gua, const std::string& owner);

  // downstream_cidr(_v6) overrides and other fixed reservations. v4 prefixes up to /30, v6 up to
  // /126; InvalidArgument naming the holder if anything overlaps.
  void reserve_v4(Ipv4Net net, const std::string& owner);
  void reserve_v6(Ipv6Net net, const std::string& owner);
  // Gives back a downstream subnet, an override, an inter-region link or an NPTv6 prefix.
  // InvalidArgument if `net` is not currently held (IX subnets and region blocks are permanent).
  void release_v4(Ipv4Net net);
  void release_v6(Ipv6Net net);
  // "10.0.0.0/16 owned by router 'a' (downstream_cidr)" for whatever overlaps `net`, if anything.
  std::optional<std::string> find_conflict_v4(Ipv4Net net) const;
  std::optional<std::string> find_conflict_v6(Ipv6Net net) const;

  // ---- regions ----
  struct RegionAlloc {
    std::uint32_t index;    // 1, 2, ... in call order
    Ipv4Net block;          // 198.18.(16 index).0/20 for index <= 15, else a /20 of E's third quarter
    Ipv4Net bridge_subnet;  // first /24 of block (gateway .1, hosts from .10)
    Ipv6Net bridge_v6;      // next public (GUA) /64
  };
  RegionAlloc alloc_region(const std::string& owner);
  // The region's /20 blocks in allocation order (more than one once its /24s ran out); every one
  // must be routed to the region router.
  std::vector<Ipv4Net> region_blocks(std::uint32_t index) const;

  // ---- inter-region links ----
  struct RegionLinkAlloc {
    std::uint32_t k;
    Ipv4Net net;  // 203.0.113.4k/30 for k < 64, then /30s of E's last quarter
    Ipv4Addr a, b;
    Ipv6Net net6;  // fd11:0:(k >> 16):(k & 0xffff)::/126
    Ipv6Addr a6, b6;
  };
  RegionLinkAlloc alloc_region_link(const std::string& owner);
  void release_region_link(std::uint32_t k);

  // ---- NPTv6 external prefixes ----
  // The formula of SPEC 3.1: groups 1-3 of `wan_v6` kept, its last group moved to group 4
  // (2001:db8::10 -> 2001:db8:0:10::/64). Pure; reserves nothing.
  static Ipv6Net nptv6_prefix_for_ix(Ipv6Addr wan_v6, std::uint8_t prefix_len);
  // External prefix for an IX-level router: the formula prefix when the WAN identifier fits in one
  // group and the /64 is free, else (IX overflow) alloc_nptv6_external. Reserves a whole /64 for
  // prefix_len >= 64.
  Ipv6Net alloc_nptv6_ix(Ipv6Addr wan_v6, std::uint8_t prefix_len, const std::string& owner);
  // Next /64 of 2001:db8:ff::/48 (sub-routers and IX overflow). prefix_len > 64 returns a prefix
  // inside a reserved /64; 48 <= prefix_len < 64 returns an aligned block.
  Ipv6Net alloc_nptv6_external(const std::string& owner, std::uint8_t prefix_len = 64);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "downstream subnet of router 'home' exhausted (253 hosts); use downstream_cidr with a shorter prefix"
std::string lan_exhausted_message(const std::string& owner, std::uint64_t hosts);

namespace detail {

// Host slots first..last (offsets into a subnet). Hands out never-used slots in order, then
// released ones lowest first; reserve() pins an arbitrary slot in [min_pin, last].
class HostSlots {
 public:
  HostSlots(std::uint64_t min_pin, std::uint64_t first, std::uint64_t last);
  std::optional<std::uint64_t> alloc();
  bool reserve(std::uint64_t slot);  // false if already used
  bool release(std::uint64_t slot);  // false if not used
  bool used(std::uint64_t slot) const { return used_.contains(slot); }
  bool pinnable(std::uint64_t slot) const { return slot >= min_pin_ && slot <= last_; }
  std::uint64_t capacity() const { return first_ > last_ ? 0 : last_ - first_ + 1; }

 private:
  std::uint64_t min_pin_, first_, last_;
  std::uint64_t next_;
  bool fresh_done_;
  std::set<std::uint64_t> used_;
  std::set<std::uint64_t> freed_;  // released slots the cursor has already passed
};

// Addresses on one switch; HostPoolV4 and HostPoolV6 below are the two instantiations.
template <class Net, class Addr>
class HostPool {
 public:
  HostPool(Net net, std::uint64_t first_host_offset, std::string exhausted_msg);
  Net net() const { return net_; }
  Addr gateway() const { return net_.host(1); }
  std::uint64_t capacity() const { return slots_.capacity(); }  // addresses alloc() can hand out
  bool in_use(Addr a) const;
  Addr alloc();          // PoolExhausted(exhausted_msg) when nothing is left
  void reserve(Addr a);  // pin a specific address (add_ip); InvalidArgument if taken/outside
  void release(Addr a);  // InvalidArgument if not in use
  Addr renew(Addr old);  // a different address; `old` is released afterwards

 private:
  std::uint64_t slot_of(Addr a) const;  // throws InvalidArgument outside the host range
  Net net_;
  std::string exhausted_msg_;
  HostSlots slots_;
};

extern template class HostPool<Ipv4Net, Ipv4Addr>;
extern template class HostPool<Ipv6Net, Ipv6Addr>;

}  // namespace detail

// gateway = first host, hosts from `first_host_offset` (2 normally, 10 on region bridges) up to
// broadcast - 1. Any prefix up to /30 (a /30 holds one host, a /16 65 533).
class HostPoolV4 : public detail::HostPool<Ipv4Net, Ipv4Addr> {
 public:
  using HostPool::HostPool;
};

// The same for IPv6 with a 64-bit host counter: hosts from `first_host_offset` (2 normally, 0x10
// on region bridges: SPEC's "::10") up to the address below the all-ones one; for prefixes shorter
// than /64 the counter stays in the first /64. Any prefix up to /126.
class HostPoolV6 : public detail::HostPool<Ipv6Net, Ipv6Addr> {
 public:
  using HostPool::HostPool;
};

}  // namespace patchbay::core
