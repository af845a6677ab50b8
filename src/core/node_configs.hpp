// What a router or device build is asked to create (the builders' settings as data), handed to
// LabCore::build_router / build_device. Validated there; `built` is set once the node exists.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/addr_plan.hpp"
#include "patchbay/lab.hpp"

namespace patchbay::detail {

struct RouterConfig {
  std::string name;
  std::optional<NodeId> upstream;
  IpSupport ip_support = IpSupport::V4Only;
  std::optional<AddressPool> pool;  // explicit or from a preset; else derived from the NAT
  bool ra_enabled = true;
  std::uint64_t ra_interval = 30, ra_lifetime = 1800;
  Nat nat;
  NatV6Mode nat_v6 = NatV6Mode::None;
  Firewall firewall;
  std::optional<RouterPreset> preset;
  std::optional<Ipv4Net> cidr;
  std::optional<Ipv6Net> cidr6;
  std::optional<std::uint32_t> mtu;
  std::optional<LinkCondition> downlink, uplink_up, uplink_down;
  bool block_frag_needed = false;
  std::optional<std::uint32_t> region;                          // RouterBuilder::region
  std::optional<core::AddressPlan::RegionAlloc> region_bridge;  // set only for region routers
  bool built = false;
};

struct DeviceConfig {
  std::string name;
  std::vector<std::pair<std::string, NodeId>> ifaces;
  std::optional<std::string> default_via;
  std::optional<std::uint32_t> mtu;
  std::map<std::string, std::pair<std::optional<LinkCondition>, std::optional<LinkCondition>>>
      conditions;  // iface -> {up, down}
  std::optional<Ipv6ProvisioningMode> provisioning;
  bool built = false;
};

}  // namespace patchbay::detail
