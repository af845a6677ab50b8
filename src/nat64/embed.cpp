#include "patchbay/nat64.hpp"

#include "nat64/wire.hpp"

namespace patchbay::nat64 {

Ipv6Addr embed(Ipv4Addr a) {
  return wire::embed_in(kWellKnownPrefix, a);
}

std::optional<Ipv4Addr> extract(const Ipv6Addr& a) {
  return wire::extract_in(kWellKnownPrefix, a);
}

}  // namespace patchbay::nat64
