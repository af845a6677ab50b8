#include "core/ids.hpp"

#include <bit>

namespace patchbay::core {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  std::uint64_t z = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::uint64_t seed2(std::uint64_t a, std::uint64_t b) {
  return splitmix64(std::rotl(a, 7) ^ std::rotr(b, 3) ^ 0xC2B2AE3D27D4EB4FULL);
}

std::uint64_t seed3(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  return splitmix64(seed2(a, b) ^ std::rotl(c, 17));
}

Ipv6Addr ll(std::uint64_t s) {
  // The 0x02 bit is the EUI-64 "universal/local" bit, set so the identifier reads as locally
  // assigned rather than derived from a MAC address.
  std::uint64_t iid = splitmix64(s) | (std::uint64_t{0x02} << 56);
  return Ipv6Addr::from_halves(0xfe80000000000000ULL, iid);
}

Ipv6Addr device_ll(std::uint64_t iface_id) {
  return ll(iface_id);
}

Ipv6Addr router_wan_ll(std::uint64_t router_id, std::uint64_t uplink_switch_id) {
  return ll(seed2(router_id, uplink_switch_id));
}

Ipv6Addr router_lan_ll(std::uint64_t router_id, std::uint64_t lan_switch_id) {
  return ll(seed3(router_id, lan_switch_id, 0xA5A5));
}

}  // namespace patchbay::core
