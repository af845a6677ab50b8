// The NAT64 translator (SPEC 4.8): stateful RFC 6146 NAT64 with RFC 7915 header translation, as a
// pure function of (packet, caller-supplied time) plus its binding state. No sockets, no kernel:
// the router's TUN (or AF_PACKET veth) loop feeds it and writes out what it returns.
//
//   nat64::Translator t(nat64::Config{}, core::seed3(lab_seed, router_id, kNat64Purpose));
//   std::vector<nat64::Out> out;
//   t.from_v6(packet_read_from_tun, now_ns, out);   // usually one packet to Side::V4
//   for (auto& o : out) write(o.to == nat64::Side::V4 ? v4_side : v6_side, o.bytes);
//   t.expire(now_ns);                               // from a periodic timer
//
// Guarantees:
// - Never throws on packet input and never reads outside the given span; anything it cannot
//   translate is dropped and counted in stats().
// - Deterministic: the same Config, seed and sequence of (packet, now) give the same output bytes.
// - Not thread-safe; one translator belongs to one event loop.
//
// Choices a reader might otherwise undo:
// - Mapping is endpoint-independent (one v4 port per v6 endpoint), filtering address-and-port
//   dependent (inbound only from remotes the binding has sent to; ICMP echo: address only).
// - v4-side ports and echo identifiers are random draws from [port_lo, port_hi] (seeded), never
//   port-preserving, so two v6 clients with the same source port cannot collide.
// - Fragments of both families are reassembled before translation. A datagram that arrived
//   fragmented from v6 leaves with DF clear, cut to Config::v4_mtu; a v4 packet without DF whose
//   translation exceeds 1280 bytes is cut into 1280-byte IPv6 fragments (RFC 7915 4.1).
// - Hop-by-Hop, Destination Options and Routing headers with Segments Left 0 are skipped (not
//   translated into IPv4 options); any other extension header drops the packet.
// - Errors the translator originates come from the pool address (v4) or from the pool address
//   embedded in the prefix (v6), since the TUN has no address of its own.
// - Parameter-problem pointers use the RFC 7915 tables; fields without a counterpart drop the error.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "nat64/bindings.hpp"
#include "nat64/config.hpp"
#include "nat64/reassembly.hpp"

namespace patchbay::nat64 {

class Translator {
 public:
  Translator(Config cfg, std::uint64_t seed);

  // One IP packet without L2 header, received from the v6 side (destination in the prefix).
  void from_v6(std::span<const std::uint8_t> pkt, std::int64_t now, std::vector<Out>& out);
  // One IP packet received from the v4 side (destination = the pool address).
  void from_v4(std::span<const std::uint8_t> pkt, std::int64_t now, std::vector<Out>& out);

  Stats stats() const;
  std::size_t bindings(Proto p) const { return table_.size(p); }
  // Removes idle bindings and stale fragments; lookups also ignore idle bindings, so this only
  // bounds memory and keeps bindings() accurate.
  void expire(std::int64_t now);
  const Config& config() const { return cfg_; }

 private:
  // v6 -> v4 (translator.cpp)
  void process_v6(std::span<const std::uint8_t> pkt, bool reassembled, std::uint32_t frag_id,
                  std::int64_t now, std::vector<Out>& out);
  void translate_v6(std::span<const std::uint8_t> pkt, std::size_t l4, std::uint8_t proto, bool fragmented,
                    std::uint32_t frag_id, std::int64_t now, std::vector<Out>& out);
  void transport_v6(std::span<const std::uint8_t> pkt, std::size_t l4, std::uint8_t proto, bool fragmented,
                    std::uint32_t frag_id, std::int64_t now, std::vector<Out>& out);
  // v4 -> v6 (translator.cpp)
  void process_v4(std::span<const std::uint8_t> pkt, std::int64_t now, std::vector<Out>& out);
  void translate_v4(std::span<const std::uint8_t> pkt, bool df, std::int64_t now, std::vector<Out>& out);
  void transport_v4(std::span<const std::uint8_t> pkt, bool df, std::int64_t now, std::vector<Out>& out);
  void emit_v4(std::vector<std::uint8_t> pkt, bool fragmentable, std::vector<Out>& out);
  void emit_v6(std::vector<std::uint8_t> pkt, bool fragmentable, std::uint32_t frag_id,
               std::vector<Out>& out);

  // ICMP (icmp.cpp)
  void icmp_v6(std::span<const std::uint8_t> pkt, std::size_t l4, bool fragmented, std::uint32_t frag_id,
               std::int64_t now, std::vector<Out>& out);
  void icmp_v4(std::span<const std::uint8_t> pkt, bool df, std::int64_t now, std::vector<Out>& out);
  bool error_v6_to_v4(std::span<const std::uint8_t> pkt, std::size_t l4, std::int64_t now,
                      std::vector<std::uint8_t>& icmp4);
  bool error_v4_to_v6(std::span<const std::uint8_t> pkt, std::int64_t now, Binding*& target,
                      std::vector<std::uint8_t>& icmp6);
  // Errors the translator itself originates about `invoking` (sent back to its source).
  void send_error_v6(std::span<const std::uint8_t> invoking, std::uint8_t type, std::uint8_t code,
                     std::vector<Out>& out);
  void send_error_v4(std::span<const std::uint8_t> invoking, std::uint8_t type, std::uint8_t code,
                     std::vector<Out>& out);

  Config cfg_;
  Ipv6Addr self6_;  // the pool address embedded in the prefix: source of our own ICMPv6 errors
  BindingTable table_;
  Reassembler reasm_;
  Stats stats_;
};

}  // namespace patchbay::nat64
