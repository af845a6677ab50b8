// patchbay/types.hpp: small vocabulary types shared by the whole API.
//
//   NodeId id = router.id();                     // unique per lab; the IX switch is NodeId{1}
//   IpSupport ips = IpSupport::DualStack;        // which address families a router hands out
//   AddressPool pool = AddressPool::Private;     // where a downstream subnet comes from (SPEC 3)
//
// Every enum here has a JSON/TOML spelling (to_string / parse_*), e.g. IpSupport::V4Only <->
// "v4-only". parse_* throw InvalidArgument naming the field and the value.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace patchbay {

struct NodeId {
  std::uint64_t value = 0;
  auto operator<=>(const NodeId&) const = default;
};

enum class IpSupport { V4Only, V6Only, DualStack };
enum class LinkDirection { Up, Down, Both };  // Up = device/child egress, Down = toward device/child
enum class Ipv6DadMode { Enabled, Disabled };
enum class Ipv6ProvisioningMode { Static, RaDriven };
enum class Ipv6Profile { Deterministic, Realistic };  // (Disabled, Static) / (Enabled, RaDriven)
enum class AddressPool { Public, Private, Cgnat };
// The userspace engine is the only backend: it needs no sch_netem and behaves the same on every
// kernel (SPEC 7.8's optional netem backend is not built).
enum class LinkEngine { Userspace };
enum class Proto { Udp, Tcp };

inline bool has_v4(IpSupport s) {
  return s != IpSupport::V6Only;
}
inline bool has_v6(IpSupport s) {
  return s != IpSupport::V4Only;
}

std::string to_string(IpSupport);             // "v4-only" | "v6-only" | "dual-stack"
std::string to_string(LinkDirection);         // "up" | "down" | "both"
std::string to_string(Ipv6DadMode);           // "enabled" | "disabled"
std::string to_string(Ipv6ProvisioningMode);  // "static" | "ra_driven"
std::string to_string(AddressPool);           // "public" | "private" | "cgnat"
std::string to_string(Proto);                 // "udp" | "tcp"

IpSupport parse_ip_support(std::string_view);
LinkDirection parse_link_direction(std::string_view);
Ipv6DadMode parse_dad_mode(std::string_view);
Ipv6ProvisioningMode parse_provisioning_mode(std::string_view);

}  // namespace patchbay

template <>
struct std::hash<patchbay::NodeId> {
  std::size_t operator()(const patchbay::NodeId& n) const noexcept {
    return std::hash<std::uint64_t>{}(n.value);
  }
};
