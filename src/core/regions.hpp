// Regions (SPEC 8): hidden region routers, inter-region links through the link engine, and the
// routes that send each region's prefixes over a link (or a detour while it is broken).
//
//   Regions& rg = lab.regions();
//   auto us = rg.add("us"), eu = rg.add("eu");
//   rg.link(us.index, eu.index, RegionLink::good(40));
//   rg.break_link(us.index, eu.index);   // routes detour through a third region
//
// Regions are numbered from 1 in the order they were added; index 0 means "no region".
//
// Contract: Regions owns the region and region-link records; it builds region routers and asks
// the address plan through the lab (LabCore), and reaches routers only by id, so it never holds a
// router record's lock. Routers inside a region report themselves (router_added/router_removed)
// so linked regions keep routing their prefixes.
//
// Locking: `op_mu_` serialises region operations and is held across kernel calls; `mu_` guards
// the records and is a leaf (nothing is called while it is held). Order: op_mu_ -> plan lock, and
// op_mu_ -> mu_; the plan lock and mu_ are never nested. Callers hold no router lock except in
// router_removed (the router's own, which Regions never takes).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/addr_plan.hpp"
#include "patchbay/lab.hpp"
#include "sys/rtnl.hpp"

namespace patchbay::detail {

class LabCore;
struct RouterRec;
struct AncestorRoute;

class Regions {
 public:
  struct View {
    std::string name;
    NodeId router;
    std::uint32_t index;
  };

  explicit Regions(LabCore& lab) : lab_(lab) {}

  // InvalidArgument for a bad name, AlreadyExists for a taken one.
  View add(const std::string& name);
  // NotFound for an unknown index, AlreadyExists when linked, InvalidArgument for a self-link.
  void link(std::uint32_t a, std::uint32_t b, const RegionLink& link);
  void break_link(std::uint32_t a, std::uint32_t b);
  void restore_link(std::uint32_t a, std::uint32_t b);
  std::vector<View> list() const;
  std::optional<std::string> name_of(std::optional<std::uint32_t> index) const;

  // A router inside a region was built, with the routes its prefixes got in its ancestors /
  // is being removed (the caller holds its lock and it is out of the lab's maps).
  void router_added(const RouterRec& r, const std::vector<AncestorRoute>& routes);
  void router_removed(const RouterRec& r, const std::vector<AncestorRoute>& routes);

 private:
  using Prefix = std::pair<IpAddr, std::uint8_t>;
  struct Region {
    std::string name;  // empty: the index was used by a region whose router failed to build
    NodeId router;
    // Every prefix routed towards the region router: its blocks, its LAN and its subtree's
    // exposed prefixes. Linked regions route all of them over the link (or the detour).
    std::set<Prefix> prefixes;
  };
  struct Link {
    std::uint32_t a = 0, b = 0;  // region indexes, a < b
    core::AddressPlan::RegionLinkAlloc alloc;
    RegionLink link;
    bool broken = false;
    std::uint32_t via = 0;   // detour region while broken
    int if_a = 0, if_b = 0;  // router-side interfaces
    std::uint64_t engine_id = 0;
  };
  using Key = std::pair<std::uint32_t, std::uint32_t>;

  static Key key(std::uint32_t a, std::uint32_t b) { return a < b ? Key{a, b} : Key{b, a}; }
  const Link* find_link(std::uint32_t a, std::uint32_t b) const;                // mu_ held
  const Region& region(std::uint32_t index, const std::string& context) const;  // mu_ held
  // The kernel half of link(): veths through the wire namespace, addresses, the engine's p2p.
  void wire_link(Link& rec, const RouterRec& ra, const RouterRec& rb, const std::string& na,
                 const std::string& nb, const LinkLimits& limits);
  void install_routes(std::uint32_t from, std::uint32_t to);  // op_mu_ held
  // The cheapest unbroken two-hop path from a to b (lowest index on ties); 0 if none. mu_ held.
  std::uint32_t detour(std::uint32_t a, std::uint32_t b) const;
  // Flips a link's broken state and reroutes both ends.
  void set_broken(std::uint32_t a, std::uint32_t b, bool broken, const std::string& context);

  LabCore& lab_;
  std::mutex op_mu_;
  mutable std::mutex mu_;
  std::vector<Region> regions_;  // index i + 1
  std::map<Key, Link> links_;
};

}  // namespace patchbay::detail
