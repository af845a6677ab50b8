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

namespace patchbay::core {

// SplitMix64 finaliser (one step of Steele/Lea/Flood's generator), all arithmetic modulo 2^64.
std::uint64_t splitmix64(std::uint64_t x);

// splitmix64(rotl(a, 7) ^ rotr(b, 3) ^ 0xC2B2AE3D27D4EB4F).
std::uint64_t seed2(std::uint64_t a, std::uint64_t b);

// splitmix64(seed2(a, b) ^ rotl(c, 17)).
std::uint64_t seed3(std::uint64_t a, std::uint64_t b, std::uint64_t c);

// fe80:: followed by splitmix64(s) as 8 big-endian bytes, with 0x02 OR'ed into the first byte.
Ipv6Addr ll(std::uint64_t s);

// The three uses SPEC 3.6 prescribes, so callers cannot mix up the seeds.
Ipv6Addr device_ll(std::uint64_t iface_id);                                       // ll(iface id)
Ipv6Addr router_wan_ll(std::uint64_t router_id, std::uint64_t uplink_switch_id);  // ll(seed2(..))
Ipv6Addr router_lan_ll(std::uint64_t router_id, std::uint64_t lan_switch_id);     // ll(seed3(.., 0xA5A5))

}  // namespace patchbay::core
