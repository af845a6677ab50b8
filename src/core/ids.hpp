// Deterministic 64-bit seeds and link-local addresses (SPEC 3.6).
//
//   auto a = core::ll(1);                                 // fe80::930a:2dec:8902:5cc1
//   auto wan = core::router_wan_ll(router_id, ix_switch_id);
//
// Pure functions of their arguments: the same NodeIds give the same addresses in every run and on
// every machine, which is what makes link-local addresses part of the reproducible address plan.
#pragma once

#include <cstdint>

#include "patchbay/net.hpp"
#include "sys/seed.hpp"

namespace patchbay::core {

// The seed functions live in sys/seed.hpp (the NAT controller needs them too and may not include
// core); core code keeps calling them by these names.
using sys::seed2;
using sys::seed3;
using sys::splitmix64;

// fe80:: followed by splitmix64(s) as 8 big-endian bytes, with 0x02 OR'ed into the first byte.
Ipv6Addr ll(std::uint64_t s);

// The three uses SPEC 3.6 prescribes, so callers cannot mix up the seeds.
Ipv6Addr device_ll(std::uint64_t iface_id);                                       // ll(iface id)
Ipv6Addr router_wan_ll(std::uint64_t router_id, std::uint64_t uplink_switch_id);  // ll(seed2(..))
Ipv6Addr router_lan_ll(std::uint64_t router_id, std::uint64_t lan_switch_id);     // ll(seed3(.., 0xA5A5))

}  // namespace patchbay::core
