// Byte-level helpers shared by the NAT64 translator: big-endian loads/stores, protocol numbers,
// address embedding with a configurable /96 prefix and Internet-checksum arithmetic.
//
//   std::uint32_t ps = wire::pseudo6(ip6 + 8, wire::kUdp, len);        // IPv6 pseudo-header sum
//   put16(udp + 6, wire::finish(wire::add(ps, wire::sum(udp, len))));  // store a full checksum
//   put16(udp + 6, wire::adjust(get16(udp + 6), removed, added));       // RFC 1624 update
//
// Sums are unfolded 32-bit one's-complement accumulators as produced by link::csum_partial.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "link/frame.hpp"
#include "patchbay/net.hpp"

namespace patchbay::nat64::wire {

inline constexpr std::uint8_t kIcmp4 = 1, kTcp = 6, kUdp = 17, kIcmp6 = 58;
inline constexpr std::uint8_t kHopByHop = 0, kRouting = 43, kFragment = 44, kDestOpts = 60;
inline constexpr std::size_t kV4Hdr = 20, kV6Hdr = 40, kFragHdr = 8;
// RFC 8200 minimum MTU: the largest ICMPv6 error we send, and the size v6 fragments are cut to.
inline constexpr std::size_t kV6MinMtu = 1280;
// RFC 1812 4.3.2.3: an ICMPv4 error carries as much of the offending packet as fits in 576 bytes.
inline constexpr std::size_t kV4ErrorMax = 576;

inline std::uint16_t get16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
inline std::uint32_t get32(const std::uint8_t* p) {
  return std::uint32_t{get16(p)} << 16 | get16(p + 2);
}
inline void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline void put32(std::uint8_t* p, std::uint32_t v) {
  put16(p, static_cast<std::uint16_t>(v >> 16));
  put16(p + 2, static_cast<std::uint16_t>(v));
}

inline Ipv4Addr v4_at(const std::uint8_t* p) {
  return Ipv4Addr(get32(p));
}
inline Ipv6Addr v6_at(const std::uint8_t* p) {
  Ipv6Addr::Bytes b{};
  for (std::size_t i = 0; i < 16; ++i) b[i] = p[i];
  return Ipv6Addr(b);
}
inline void put_v4(std::uint8_t* p, Ipv4Addr a) {
  put32(p, a.to_u32());
}
inline void put_v6(std::uint8_t* p, const Ipv6Addr& a) {
  for (std::size_t i = 0; i < 16; ++i) p[i] = a.bytes()[i];
}

// `prefix` is a /96: its first 12 bytes are kept, the IPv4 address fills the last 4.
inline Ipv6Addr embed_in(const Ipv6Addr& prefix, Ipv4Addr a) {
  Ipv6Addr::Bytes b = prefix.bytes();
  put32(b.data() + 12, a.to_u32());
  return Ipv6Addr(b);
}
inline std::optional<Ipv4Addr> extract_in(const Ipv6Addr& prefix, const Ipv6Addr& a) {
  for (std::size_t i = 0; i < 12; ++i)
    if (a.bytes()[i] != prefix.bytes()[i]) return std::nullopt;
  return Ipv4Addr(get32(a.bytes().data() + 12));
}

// Adds two unfolded accumulators without losing a carry.
inline std::uint32_t add(std::uint32_t a, std::uint32_t b) {
  std::uint64_t s = std::uint64_t{a} + b;
  return static_cast<std::uint32_t>((s & 0xFFFFFFFFu) + (s >> 32));
}
inline std::uint32_t sum(const std::uint8_t* p, std::size_t n, std::uint32_t acc = 0) {
  return link::csum_partial(p, n, acc);
}
// Folded to 16 bits, not complemented: 0xFFFF over a range whose checksum verifies.
inline std::uint16_t fold(std::uint32_t s) {
  return static_cast<std::uint16_t>(~link::csum_fold(s));
}
// The value to store in a checksum field.
inline std::uint16_t finish(std::uint32_t s) {
  return link::csum_fold(s);
}

// Pseudo-header sums; `addrs` points at source followed by destination, as laid out in the header.
inline std::uint32_t pseudo4(const std::uint8_t* addrs, std::uint8_t proto, std::uint32_t len) {
  return add(sum(addrs, 8), add(proto, len));
}
inline std::uint32_t pseudo6(const std::uint8_t* addrs, std::uint8_t proto, std::uint32_t len) {
  return add(sum(addrs, 32), add(proto, add(len >> 16, len & 0xFFFF)));
}

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), with m = `removed` and m' = `added` as unfolded sums.
// An incremental update keeps an end-to-end checksum end-to-end: a packet corrupted before the
// translator still fails at the receiver instead of being "repaired" by a fresh sum.
inline std::uint16_t adjust(std::uint16_t old_csum, std::uint32_t removed, std::uint32_t added) {
  std::uint32_t s = static_cast<std::uint16_t>(~old_csum);
  s = add(s, static_cast<std::uint16_t>(~fold(removed)));
  s = add(s, fold(added));
  return finish(s);
}

// Writes a 20-byte IPv4 header (no options) with its checksum. `frag` is the flags/offset word.
inline void write_v4_header(std::uint8_t* h, std::uint8_t tos, std::size_t total, std::uint16_t id,
                            std::uint16_t frag, std::uint8_t ttl, std::uint8_t proto, Ipv4Addr src,
                            Ipv4Addr dst) {
  h[0] = 0x45;
  h[1] = tos;
  put16(h + 2, static_cast<std::uint16_t>(total));
  put16(h + 4, id);
  put16(h + 6, frag);
  h[8] = ttl;
  h[9] = proto;
  put16(h + 10, 0);
  put_v4(h + 12, src);
  put_v4(h + 16, dst);
  put16(h + 10, finish(sum(h, kV4Hdr)));
}
inline constexpr std::uint16_t kDf = 0x4000, kMf = 0x2000;

// Writes a 40-byte IPv6 header with flow label 0 (RFC 7915 4.1).
inline void write_v6_header(std::uint8_t* h, std::uint8_t tclass, std::size_t payload, std::uint8_t next,
                            std::uint8_t hop, const Ipv6Addr& src, const Ipv6Addr& dst) {
  h[0] = static_cast<std::uint8_t>(0x60 | tclass >> 4);
  h[1] = static_cast<std::uint8_t>(tclass << 4);
  h[2] = h[3] = 0;
  put16(h + 4, static_cast<std::uint16_t>(payload));
  h[6] = next;
  h[7] = hop;
  put_v6(h + 8, src);
  put_v6(h + 24, dst);
}
inline std::uint8_t traffic_class(const std::uint8_t* ip6) {
  return static_cast<std::uint8_t>((ip6[0] & 0x0F) << 4 | ip6[1] >> 4);
}

// Where the upper-layer header of an IPv6 packet starts, after the headers we know how to skip.
struct V6Walk {
  std::size_t l4 = kV6Hdr;
  std::uint8_t proto = 0;
  bool frag = false;           // a Fragment header was present
  std::size_t frag_end = 0;    // offset just after it: the fragmentable part starts here
  std::uint8_t frag_next = 0;  // its Next Header
  std::uint32_t frag_id = 0;
  std::uint32_t frag_off = 0;  // bytes
  bool more = false;
};
enum class Walk { Ok, Malformed, Refused };

// Skips Hop-by-Hop, Destination Options, Routing with Segments Left 0 and one Fragment header. A
// non-first fragment stops the walk at its Fragment header: what follows is data, not a header.
// Routing headers still to be processed and over-long chains are refused (RFC 7915 5.1 drops them).
inline Walk walk_v6(std::span<const std::uint8_t> pkt, V6Walk& w) {
  std::size_t off = kV6Hdr;
  std::uint8_t nh = pkt[6];
  for (int hops = 0;; ++hops) {
    if (hops > 8) return Walk::Refused;
    if (nh == kHopByHop || nh == kDestOpts || nh == kRouting) {
      if (off + 8 > pkt.size()) return Walk::Malformed;
      if (nh == kRouting && pkt[off + 3] != 0) return Walk::Refused;
      const std::size_t len = (std::size_t{pkt[off + 1]} + 1) * 8;
      if (off + len > pkt.size()) return Walk::Malformed;
      nh = pkt[off];
      off += len;
    } else if (nh == kFragment) {
      if (off + kFragHdr > pkt.size() || w.frag) return Walk::Malformed;
      const std::uint16_t fo = get16(&pkt[off + 2]);
      w.frag = true;
      w.frag_next = pkt[off];
      w.frag_off = fo & 0xFFF8u;
      w.more = (fo & 1) != 0;
      w.frag_id = get32(&pkt[off + 4]);
      nh = pkt[off];
      off += kFragHdr;
      w.frag_end = off;
      if (w.frag_off != 0) break;
    } else {
      break;
    }
  }
  w.l4 = off;
  w.proto = nh;
  return Walk::Ok;
}

}  // namespace patchbay::nat64::wire
