// patchbay/nat64.hpp: NAT64 address embedding with the well-known prefix 64:ff9b::/96 (SPEC 4.7).
//
//   auto v6 = patchbay::nat64::embed(Ipv4Addr::parse("203.0.113.1"));   // 64:ff9b::cb00:7101
//   patchbay::nat64::extract(v6);                                       // 203.0.113.1
//   patchbay::nat64::extract(Ipv6Addr::parse("2001:db8::1"));           // nullopt
//   // A v4 host as seen from a v6-only LAN behind NAT64 (no DNS64): connect to the embedded address.
//   SocketAddr target{patchbay::nat64_embed(server_v4), 443};
//   UniqueFd s = device.socket(AF_INET6, SOCK_STREAM);
//   sockaddr_storage sa;
//   ::connect(s.get(), reinterpret_cast<sockaddr*>(&sa), target.to_sockaddr(sa));
//
// Guarantees:
// - Pure functions of their argument: no lab, no kernel, no allocation; safe from any thread.
// - extract(embed(a)) == a for every a; extract() is nullopt for every address outside 64:ff9b::/96.
// - A router in NatV6Mode::Nat64 translates exactly the addresses embed() produces (SPEC 4.8).
#pragma once

#include <optional>

#include "patchbay/net.hpp"

namespace patchbay::nat64 {

// 64:ff9b::/96 (RFC 6052 section 2.1); the low 32 bits are zero.
inline constexpr Ipv6Addr kWellKnownPrefix{
    Ipv6Addr::Bytes{0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}};

// 64:ff9b::a.b.c.d: the prefix with the IPv4 address as its last 32 bits.
Ipv6Addr embed(Ipv4Addr a);

// The IPv4 address in the last 32 bits, or nullopt when `a` is not inside 64:ff9b::/96.
std::optional<Ipv4Addr> extract(const Ipv6Addr& a);

}  // namespace patchbay::nat64

namespace patchbay {

// Shorthand for nat64::embed, for call sites that build socket addresses.
inline Ipv6Addr nat64_embed(Ipv4Addr a) {
  return nat64::embed(a);
}

}  // namespace patchbay
