// patchbay/region.hpp: regions, named groups of routers with latency between them (SPEC 8).
//
//   auto [us, eu, asia] = lab.add_default_regions();          // us-eu 40 ms, us-asia 95, eu-asia 120
//   auto home = lab.add_router("home").region(eu).build();     // a sub-router of region_eu
//   lab.break_region_link(eu, asia);                           // eu <-> asia now detours via us
//
// A region is a hidden router `region_<name>` on the IX that owns an address block; routers placed
// in it hang below it and take their public subnets from the block. Linked regions reach each
// other over a point-to-point link that carries the RegionLink's condition in both directions
// (through the link engine); everything else crosses the IX without region latency.
#pragma once

#include <cstdint>
#include <string>

#include "patchbay/types.hpp"

namespace patchbay {

class Region {
 public:
  const std::string& name() const { return name_; }
  NodeId router_id() const { return router_; }
  std::uint32_t index() const { return index_; }  // 1, 2, ... in creation order
  bool operator==(const Region&) const = default;

 private:
  friend class Lab;
  Region(std::string name, NodeId router, std::uint32_t index)
      : name_(std::move(name)), router_(router), index_(index) {}
  std::string name_;
  NodeId router_;
  std::uint32_t index_ = 0;
};

struct DefaultRegions {
  Region us, eu, asia;
};

}  // namespace patchbay
