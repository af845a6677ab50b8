#include "core/ids.hpp"

namespace patchbay::core {

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
