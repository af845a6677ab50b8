// Deterministic 64-bit seed derivation (SPEC 3.6, 7.6): the lab seed, a node or link id and a
// purpose give one reproducible stream per use.
//
//   std::uint64_t s = sys::seed3(lab_seed, router_id, kPortPurpose);
//   std::uint64_t x = sys::splitmix64(s);
//
// Pure functions of their arguments, the same on every machine. Here in `sys` so every layer
// (core's address plan, the NAT controller, the link engine) derives seeds the same way without
// including `core`.
#pragma once

#include <cstdint>

namespace patchbay::sys {

// SplitMix64 finaliser (one step of Steele/Lea/Flood's generator), all arithmetic modulo 2^64.
std::uint64_t splitmix64(std::uint64_t x);

// splitmix64(rotl(a, 7) ^ rotr(b, 3) ^ 0xC2B2AE3D27D4EB4F).
std::uint64_t seed2(std::uint64_t a, std::uint64_t b);

// splitmix64(seed2(a, b) ^ rotl(c, 17)).
std::uint64_t seed3(std::uint64_t a, std::uint64_t b, std::uint64_t c);

}  // namespace patchbay::sys
