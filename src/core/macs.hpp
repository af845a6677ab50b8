// Deterministic MAC addresses of the interfaces the lab creates: 40 bits of (node id << 4 | role).
#pragma once

#include "patchbay/types.hpp"
#include "sys/rtnl.hpp"

namespace patchbay::detail {

enum MacRole : std::uint64_t { kDevIface = 1, kDevPort, kLanBridge, kWan, kParentPort, kIxBridge, kNat64 };

inline sys::Mac mac_for(NodeId id, MacRole role) {
  return sys::make_mac((id.value << 4) | role);
}

}  // namespace patchbay::detail
