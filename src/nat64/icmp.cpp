// ICMP translation (RFC 7915 4.2/4.3 and 5.2/5.3): echo with identifier mapping, errors with their
// embedded packet translated through the binding in reverse, and the errors the translator itself
// originates (time exceeded, administratively prohibited).
#include <algorithm>
#include <array>
#include <optional>

#include "nat64/translator.hpp"
#include "nat64/wire.hpp"

namespace patchbay::nat64 {

using namespace wire;

namespace {

struct Mapped {
  std::uint8_t type;
  std::uint8_t code;
  std::uint32_t rest;  // the second word of the ICMP header (MTU, pointer)
};

// RFC 7915 5.2, figure 6: IPv6 header byte -> IPv4 header byte; nullopt = no counterpart.
std::optional<std::uint8_t> pointer_6to4(std::uint32_t p) {
  if (p <= 1) return static_cast<std::uint8_t>(p);
  if (p == 4 || p == 5) return 2;
  if (p == 6) return 9;
  if (p == 7) return 8;
  if (p >= 8 && p <= 23) return 12;
  if (p >= 24 && p <= 39) return 16;
  return std::nullopt;
}

// RFC 7915 4.2, figure 3: IPv4 header byte -> IPv6 header byte.
std::optional<std::uint8_t> pointer_4to6(std::uint8_t p) {
  if (p <= 1) return p;
  if (p == 2 || p == 3) return 4;
  if (p == 8) return 7;
  if (p == 9) return 6;
  if (p >= 12 && p <= 15) return 8;
  if (p >= 16 && p <= 19) return 24;
  return std::nullopt;
}

// RFC 7915 5.2: ICMPv6 error -> ICMPv4 error.
std::optional<Mapped> map_error_6to4(std::uint8_t type, std::uint8_t code, std::uint32_t param) {
  switch (type) {
    case 1:  // destination unreachable
      switch (code) {
        case 0:
        case 2:
        case 3:
          return Mapped{3, 1, 0};  // host unreachable
        case 1:
          return Mapped{3, 10, 0};  // communication with host prohibited
        case 4:
          return Mapped{3, 3, 0};  // port unreachable
        default:
          return std::nullopt;
      }
    case 2: {  // packet too big -> fragmentation needed, MTU minus the header size difference
      const std::uint32_t mtu = param > 20 ? std::min<std::uint32_t>(param - 20, 0xFFFF) : 0;
      return Mapped{3, 4, mtu};
    }
    case 3:
      if (code > 1) return std::nullopt;
      return Mapped{11, code, 0};
    case 4:
      if (code == 1) return Mapped{3, 2, 0};  // unrecognised next header -> protocol unreachable
      if (code == 0) {
        if (auto p = pointer_6to4(param)) return Mapped{12, 0, std::uint32_t{*p} << 24};
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

// RFC 7915 4.2: ICMPv4 destination-unreachable code -> ICMPv6 (type, code, pointer); type 0 drops
// (14 precedence violation, unknown codes). Code 4 (fragmentation needed) is handled apart: its MTU.
struct UnreachMap {
  std::uint8_t type, code, pointer;
};
constexpr std::array<UnreachMap, 16> kUnreach4to6 = {{
    {1, 0, 0},  // 0 net unreachable -> no route
    {1, 0, 0},  // 1 host unreachable
    {4, 1, 6},  // 2 protocol unreachable -> parameter problem, unrecognised Next Header at byte 6
    {1, 4, 0},  // 3 port unreachable
    {2, 0, 0},  // 4 fragmentation needed -> packet too big
    {1, 0, 0},  // 5 source route failed
    {1, 0, 0},  // 6 destination network unknown
    {1, 0, 0},  // 7 destination host unknown
    {1, 0, 0},  // 8 source host isolated
    {1, 1, 0},  // 9 network administratively prohibited
    {1, 1, 0},  // 10 host administratively prohibited
    {1, 0, 0},  // 11 network unreachable for TOS
    {1, 0, 0},  // 12 host unreachable for TOS
    {1, 1, 0},  // 13 communication administratively prohibited
    {0, 0, 0},  // 14 host precedence violation: dropped
    {1, 1, 0},  // 15 precedence cutoff in effect
}};

// RFC 7915 4.2: ICMPv4 error -> ICMPv6 error. `l4` is the ICMPv4 message (at least 8 bytes).
std::optional<Mapped> map_error_4to6(const std::uint8_t* l4) {
  const std::uint8_t type = l4[0], code = l4[1];
  switch (type) {
    case 3: {
      if (code >= kUnreach4to6.size() || kUnreach4to6[code].type == 0) return std::nullopt;
      const UnreachMap& m = kUnreach4to6[code];
      if (code != 4) return Mapped{m.type, m.code, m.pointer};
      // The MTU grows by the header size difference and never goes below the IPv6 minimum (an MTU
      // of 0 from a pre-RFC 1191 router also ends up at 1280).
      return Mapped{2, 0, std::max<std::uint32_t>(std::uint32_t{get16(l4 + 6)} + 20, kV6MinMtu)};
    }
    case 11:
      if (code > 1) return std::nullopt;
      return Mapped{3, code, 0};
    case 12:
      if (code == 0 || code == 2) {
        if (auto p = pointer_4to6(l4[4])) return Mapped{4, 0, *p};
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

std::uint16_t type_word(const std::uint8_t* icmp) {
  return get16(icmp);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// v6 -> v4

void Translator::icmp_v6(std::span<const std::uint8_t> pkt, std::size_t off, bool fragmented,
                         std::uint32_t frag_id, std::int64_t now, std::vector<Out>& out) {
  const auto l4 = pkt.subspan(off);
  if (l4.size() < 8) {
    ++stats_.malformed;
    return;
  }
  const auto len = static_cast<std::uint32_t>(l4.size());
  // Verified because the v4 checksum is computed afresh (ICMPv4 has no pseudo-header, so there is
  // nothing to adjust incrementally); otherwise corruption before us would be laundered.
  if (fold(add(pseudo6(&pkt[8], kIcmp6, len), sum(l4.data(), len))) != 0xFFFF) {
    ++stats_.bad_checksum;
    return;
  }
  const Ipv4Addr dst4 = *extract_in(cfg_.prefix, v6_at(&pkt[24]));
  Ipv4Addr src4 = cfg_.pool;
  std::vector<std::uint8_t> icmp4;
  if (l4[0] == 128) {
    Binding* b = table_.outbound(Proto::Icmp, v6_at(&pkt[8]), get16(&l4[4]), Remote{dst4, 0}, now);
    if (b == nullptr) {
      ++stats_.table_full;
      send_error_v6(pkt, 1, 1, out);
      return;
    }
    icmp4.assign(l4.begin(), l4.end());
    icmp4[0] = 8;
    put16(&icmp4[4], b->v4_port);
  } else if (l4[0] >= 1 && l4[0] <= 4) {
    if (!error_v6_to_v4(pkt, off, now, icmp4)) return;
  } else {
    // Echo replies (no v4-initiated echo exists in stateful NAT64), NDP, MLD, unknown types.
    ++stats_.unsupported;
    return;
  }
  put16(&icmp4[2], 0);
  put16(&icmp4[2], finish(sum(icmp4.data(), icmp4.size())));

  std::vector<std::uint8_t> o(kV4Hdr + icmp4.size());
  write_v4_header(o.data(), traffic_class(&pkt[0]), o.size(),
                  fragmented ? static_cast<std::uint16_t>(frag_id) : 0, fragmented ? 0 : kDf,
                  static_cast<std::uint8_t>(pkt[7] - 1), kIcmp4, src4, dst4);
  std::copy(icmp4.begin(), icmp4.end(), o.begin() + kV4Hdr);
  emit_v4(std::move(o), fragmented, out);
}

// The embedded packet is one we translated v4 -> v6 earlier: its source is in the prefix (the v4
// remote) and its destination is the v6 client, so the binding is found from the v6 side.
bool Translator::error_v6_to_v4(std::span<const std::uint8_t> pkt, std::size_t off, std::int64_t now,
                                std::vector<std::uint8_t>& icmp4) {
  const auto l4 = pkt.subspan(off);
  const auto mapped = map_error_6to4(l4[0], l4[1], get32(&l4[4]));
  if (!mapped) {
    ++stats_.unsupported;
    return false;
  }
  const auto inner = l4.subspan(8);
  V6Walk w;
  if (inner.size() < kV6Hdr || inner[0] >> 4 != 6 || walk_v6(inner, w) != Walk::Ok ||
      (w.frag && w.frag_off != 0) || w.l4 + 8 > inner.size()) {
    ++stats_.malformed;
    return false;
  }
  const auto remote = extract_in(cfg_.prefix, v6_at(&inner[8]));
  if (!remote) {
    ++stats_.not_ours;
    return false;
  }
  const std::uint8_t* il4 = &inner[w.l4];
  const std::size_t ilen = inner.size() - w.l4;
  Binding* b = nullptr;
  if (w.proto == kUdp || w.proto == kTcp) {
    b = table_.find_v6(w.proto == kUdp ? Proto::Udp : Proto::Tcp, v6_at(&inner[24]), get16(il4 + 2), now);
  } else if (w.proto == kIcmp6 && (il4[0] == 128 || il4[0] == 129)) {
    b = table_.find_v6(Proto::Icmp, v6_at(&inner[24]), get16(il4 + 4), now);
  } else {
    ++stats_.unsupported;
    return false;
  }
  if (b == nullptr) {
    ++stats_.no_binding;
    return false;
  }
  // Lengths as the original headers declared them: the embedded copy is usually truncated.
  const std::size_t ext = w.l4 - kV6Hdr;
  const std::size_t declared = get16(&inner[4]) > ext ? get16(&inner[4]) - ext : 0;
  const auto dlen = static_cast<std::uint32_t>(declared);
  const std::uint8_t proto4 = w.proto == kIcmp6 ? kIcmp4 : w.proto;

  icmp4.assign(8 + kV4Hdr + ilen, 0);
  icmp4[0] = mapped->type;
  icmp4[1] = mapped->code;
  put32(&icmp4[4], mapped->rest);
  std::uint8_t* in4 = &icmp4[8];
  write_v4_header(in4, traffic_class(&inner[0]), kV4Hdr + declared, 0, kDf, inner[7], proto4, *remote,
                  cfg_.pool);
  std::uint8_t* n4 = in4 + kV4Hdr;
  std::copy_n(il4, ilen, n4);
  if (w.proto == kIcmp6) {
    const std::uint32_t removed = add(pseudo6(&inner[8], kIcmp6, dlen), add(type_word(n4), get16(n4 + 4)));
    n4[0] = n4[0] == 128 ? 8 : 0;
    put16(n4 + 4, b->v4_port);
    if (ilen >= 4) put16(n4 + 2, adjust(get16(n4 + 2), removed, add(type_word(n4), b->v4_port)));
  } else {
    const std::size_t csum_at = w.proto == kUdp ? 6 : 16;
    const std::uint16_t old_port = get16(n4 + 2);
    put16(n4 + 2, b->v4_port);
    if (ilen >= csum_at + 2 && !(w.proto == kUdp && get16(n4 + 6) == 0)) {
      std::uint16_t c = adjust(get16(n4 + csum_at), add(pseudo6(&inner[8], w.proto, dlen), old_port),
                               add(pseudo4(in4 + 12, w.proto, dlen), b->v4_port));
      if (w.proto == kUdp && c == 0) c = 0xFFFF;
      put16(n4 + csum_at, c);
    }
  }
  // RFC 1812: an ICMPv4 error stays within 576 bytes.
  if (kV4Hdr + icmp4.size() > kV4ErrorMax) icmp4.resize(kV4ErrorMax - kV4Hdr);
  return true;
}

// ---------------------------------------------------------------------------------------------
// v4 -> v6

void Translator::icmp_v4(std::span<const std::uint8_t> pkt, bool df, std::int64_t now,
                         std::vector<Out>& out) {
  const std::size_t ihl = std::size_t{pkt[0] & 0x0Fu} * 4;
  const auto l4 = pkt.subspan(ihl);
  if (l4.size() < 8) {
    ++stats_.malformed;
    return;
  }
  if (fold(sum(l4.data(), l4.size())) != 0xFFFF) {
    ++stats_.bad_checksum;
    return;
  }
  const Ipv4Addr src4 = v4_at(&pkt[12]);
  Binding* b = nullptr;
  std::vector<std::uint8_t> icmp6;
  if (l4[0] == 0) {
    b = table_.find_v4(Proto::Icmp, get16(&l4[4]), now);
    if (b == nullptr) {
      ++stats_.no_binding;
      return;
    }
    if (!table_.permits(*b, Remote{src4, 0})) {
      ++stats_.filtered;
      return;
    }
    table_.touch(*b, now);
    icmp6.assign(l4.begin(), l4.end());
    icmp6[0] = 129;
    put16(&icmp6[4], b->v6_port);
  } else if (l4[0] == 3 || l4[0] == 11 || l4[0] == 12) {
    if (!error_v4_to_v6(pkt, now, b, icmp6)) return;
  } else {
    // Echo requests to the pool address, timestamps, redirects, source quench: no v6 counterpart.
    ++stats_.unsupported;
    return;
  }
  std::vector<std::uint8_t> o(kV6Hdr + icmp6.size());
  write_v6_header(o.data(), pkt[1], icmp6.size(), kIcmp6, static_cast<std::uint8_t>(pkt[8] - 1),
                  embed_in(cfg_.prefix, src4), b->v6);
  std::copy(icmp6.begin(), icmp6.end(), o.begin() + kV6Hdr);
  const auto len = static_cast<std::uint32_t>(icmp6.size());
  put16(&o[kV6Hdr + 2], 0);
  put16(&o[kV6Hdr + 2], finish(add(pseudo6(&o[8], kIcmp6, len), sum(&o[kV6Hdr], len))));
  emit_v6(std::move(o), !df, get16(&pkt[4]), out);
}

// The embedded packet is one we sent from the pool address: its source port (or echo identifier)
// names the binding, and its destination must be a remote the binding has talked to.
bool Translator::error_v4_to_v6(std::span<const std::uint8_t> pkt, std::int64_t now, Binding*& target,
                                std::vector<std::uint8_t>& icmp6) {
  const std::size_t ihl = std::size_t{pkt[0] & 0x0Fu} * 4;
  const auto l4 = pkt.subspan(ihl);
  const auto mapped = map_error_4to6(l4.data());
  if (!mapped) {
    ++stats_.unsupported;
    return false;
  }
  const auto inner = l4.subspan(8);
  if (inner.size() < kV4Hdr || inner[0] >> 4 != 4) {
    ++stats_.malformed;
    return false;
  }
  const std::size_t iihl = std::size_t{inner[0] & 0x0Fu} * 4;
  const std::uint8_t proto = inner[9];
  if (iihl < kV4Hdr || iihl + 8 > inner.size() || (get16(&inner[6]) & 0x1FFF) != 0) {
    ++stats_.malformed;
    return false;
  }
  if (v4_at(&inner[12]) != cfg_.pool) {
    ++stats_.not_ours;
    return false;
  }
  const std::uint8_t* il4 = &inner[iihl];
  const std::size_t ilen = inner.size() - iihl;
  const Ipv4Addr remote = v4_at(&inner[16]);
  Binding* b = nullptr;
  Remote peer{remote, 0};
  if (proto == kUdp || proto == kTcp) {
    b = table_.find_v4(proto == kUdp ? Proto::Udp : Proto::Tcp, get16(il4), now);
    peer.port = get16(il4 + 2);
  } else if (proto == kIcmp4 && il4[0] == 8) {
    b = table_.find_v4(Proto::Icmp, get16(il4 + 4), now);
  } else {
    ++stats_.unsupported;
    return false;
  }
  if (b == nullptr) {
    ++stats_.no_binding;
    return false;
  }
  if (!table_.permits(*b, peer)) {
    ++stats_.filtered;
    return false;
  }
  const std::size_t declared = get16(&inner[2]) > iihl ? get16(&inner[2]) - iihl : 0;
  const auto dlen = static_cast<std::uint32_t>(declared);
  const std::uint8_t proto6 = proto == kIcmp4 ? kIcmp6 : proto;

  icmp6.assign(8 + kV6Hdr + ilen, 0);
  icmp6[0] = mapped->type;
  icmp6[1] = mapped->code;
  put32(&icmp6[4], mapped->rest);
  std::uint8_t* in6 = &icmp6[8];
  write_v6_header(in6, inner[1], declared, proto6, inner[8], b->v6, embed_in(cfg_.prefix, remote));
  std::uint8_t* n6 = in6 + kV6Hdr;
  std::copy_n(il4, ilen, n6);
  if (proto == kIcmp4) {
    const std::uint32_t removed = add(type_word(n6), get16(n6 + 4));
    n6[0] = 128;
    put16(n6 + 4, b->v6_port);
    put16(n6 + 2, adjust(get16(n6 + 2), removed,
                         add(pseudo6(in6 + 8, kIcmp6, dlen), add(type_word(n6), b->v6_port))));
  } else {
    const std::size_t csum_at = proto == kUdp ? 6 : 16;
    const std::uint16_t old_port = get16(n6);
    put16(n6, b->v6_port);
    if (ilen >= csum_at + 2 && !(proto == kUdp && get16(n6 + 6) == 0)) {
      std::uint16_t c = adjust(get16(n6 + csum_at), add(pseudo4(&inner[12], proto, dlen), old_port),
                               add(pseudo6(in6 + 8, proto, dlen), b->v6_port));
      if (proto == kUdp && c == 0) c = 0xFFFF;
      put16(n6 + csum_at, c);
    }
  }
  // RFC 4443 2.4 c: an ICMPv6 error never exceeds the minimum MTU.
  if (kV6Hdr + icmp6.size() > kV6MinMtu) icmp6.resize(kV6MinMtu - kV6Hdr);
  target = b;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Errors we originate

void Translator::send_error_v6(std::span<const std::uint8_t> invoking, std::uint8_t type, std::uint8_t code,
                               std::vector<Out>& out) {
  const Ipv6Addr dst = v6_at(&invoking[8]);
  if (dst.is_unspecified() || dst.bytes()[0] == 0xFF) return;  // RFC 4443 2.4 e
  const std::size_t n = std::min(invoking.size(), kV6MinMtu - kV6Hdr - 8);
  std::vector<std::uint8_t> o(kV6Hdr + 8 + n, 0);
  write_v6_header(o.data(), 0, 8 + n, kIcmp6, 64, self6_, dst);
  o[kV6Hdr] = type;
  o[kV6Hdr + 1] = code;
  std::copy_n(invoking.begin(), n, o.begin() + kV6Hdr + 8);
  const auto len = static_cast<std::uint32_t>(8 + n);
  put16(&o[kV6Hdr + 2], finish(add(pseudo6(&o[8], kIcmp6, len), sum(&o[kV6Hdr], len))));
  ++stats_.icmp_errors_sent;
  ++stats_.to_v6;
  out.push_back({Side::V6, std::move(o)});
}

void Translator::send_error_v4(std::span<const std::uint8_t> invoking, std::uint8_t type, std::uint8_t code,
                               std::vector<Out>& out) {
  const Ipv4Addr dst = v4_at(&invoking[12]);
  if (dst.is_unspecified() || dst.to_u32() >= 0xE0000000u) return;  // multicast, broadcast
  const std::size_t n = std::min(invoking.size(), kV4ErrorMax - kV4Hdr - 8);
  std::vector<std::uint8_t> o(kV4Hdr + 8 + n, 0);
  write_v4_header(o.data(), 0, o.size(), 0, 0, 64, kIcmp4, cfg_.pool, dst);
  o[kV4Hdr] = type;
  o[kV4Hdr + 1] = code;
  std::copy_n(invoking.begin(), n, o.begin() + kV4Hdr + 8);
  put16(&o[kV4Hdr + 2], finish(sum(&o[kV4Hdr], 8 + n)));
  ++stats_.icmp_errors_sent;
  ++stats_.to_v4;
  out.push_back({Side::V4, std::move(o)});
}

}  // namespace patchbay::nat64
