// GSO segmentation and checksum completion for frames read with PACKET_VNET_HDR.
//
// Everything here must survive arbitrary bytes: frames come from a packet socket inside a lab where
// test programs may send anything, so every offset is bounds-checked against the frame and any
// frame we cannot make sense of is handed on unchanged instead of being guessed at.
#include "link/frame.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

namespace patchbay::link {
namespace {

constexpr std::size_t kEthHdr = 14;
constexpr std::size_t kVlanTag = 4;
constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint16_t kEtherIpv6 = 0x86DD;
constexpr std::uint16_t kEtherVlan = 0x8100;
constexpr std::uint16_t kEtherQinQ = 0x88A8;
constexpr std::uint8_t kProtoTcp = 6;
constexpr std::uint8_t kProtoUdp = 17;
constexpr std::size_t kIpv6Hdr = 40;
constexpr std::size_t kUdpHdr = 8;
constexpr std::size_t kTcpCsumOff = 16;
constexpr std::size_t kUdpCsumOff = 6;
constexpr std::uint8_t kTcpFin = 0x01;
constexpr std::uint8_t kTcpPsh = 0x08;
constexpr std::uint8_t kTcpCwr = 0x80;

std::uint16_t load16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
std::uint32_t load32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
void store16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void store32(std::uint8_t* p, std::uint32_t v) {
  store16(p, static_cast<std::uint16_t>(v >> 16));
  store16(p + 2, static_cast<std::uint16_t>(v));
}

// Where the headers of a GSO frame are; all offsets are from the start of the Ethernet frame.
struct Layout {
  std::size_t l3 = 0;         // IP header
  std::size_t l4 = 0;         // TCP/UDP header
  std::size_t hdr = 0;        // first payload byte = bytes replicated in front of every segment
  std::size_t payload = 0;    // payload bytes of the super-frame
  std::size_t gso_size = 0;   // payload bytes per segment (the last may be shorter)
  std::uint32_t packets = 0;  // wire packets (GSO segments)
  bool v6 = false;
  bool tcp = false;
};

// Parses a GSO frame from its own headers. vnet.hdr_len is deliberately ignored: the headers are
// authoritative and hdr_len is only a hint some senders fill sloppily. nullopt = not a GSO frame
// we can cut (non-GSO, UFO, IPv6 extension headers, truncated or inconsistent headers).
std::optional<Layout> parse_gso(const Frame& f) {
  const std::uint8_t type = f.vnet.gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
  if (type != VIRTIO_NET_HDR_GSO_TCPV4 && type != VIRTIO_NET_HDR_GSO_TCPV6 &&
      type != VIRTIO_NET_HDR_GSO_UDP_L4) {
    return std::nullopt;
  }
  const std::uint8_t* b = f.bytes.data();
  const std::size_t size = f.bytes.size();
  Layout l;
  l.gso_size = f.vnet.gso_size;
  if (l.gso_size == 0 || size < kEthHdr) return std::nullopt;

  std::uint16_t ether = load16(b + 12);
  l.l3 = kEthHdr;
  if (ether == kEtherVlan || ether == kEtherQinQ) {
    if (size < kEthHdr + kVlanTag) return std::nullopt;
    ether = load16(b + 16);
    l.l3 += kVlanTag;
  }

  std::uint8_t proto = 0;
  if (ether == kEtherIpv4) {
    if (size < l.l3 + 20 || b[l.l3] >> 4 != 4) return std::nullopt;
    const std::size_t ihl = (b[l.l3] & 0x0F) * 4u;
    if (ihl < 20 || size < l.l3 + ihl) return std::nullopt;
    proto = b[l.l3 + 9];
    l.l4 = l.l3 + ihl;
  } else if (ether == kEtherIpv6) {
    if (size < l.l3 + kIpv6Hdr || b[l.l3] >> 4 != 6) return std::nullopt;
    proto = b[l.l3 + 6];  // extension headers are not produced by GSO senders we care about
    l.l4 = l.l3 + kIpv6Hdr;
    l.v6 = true;
  } else {
    return std::nullopt;
  }

  if (type == VIRTIO_NET_HDR_GSO_TCPV4 && (l.v6 || proto != kProtoTcp)) return std::nullopt;
  if (type == VIRTIO_NET_HDR_GSO_TCPV6 && (!l.v6 || proto != kProtoTcp)) return std::nullopt;
  if (type == VIRTIO_NET_HDR_GSO_UDP_L4 && proto != kProtoUdp) return std::nullopt;

  l.tcp = proto == kProtoTcp;
  if (l.tcp) {
    if (size < l.l4 + 20) return std::nullopt;
    const std::size_t doff = (b[l.l4 + 12] >> 4) * 4u;
    if (doff < 20) return std::nullopt;
    l.hdr = l.l4 + doff;
  } else {
    l.hdr = l.l4 + kUdpHdr;
  }
  if (size <= l.hdr) return std::nullopt;  // no payload: nothing to cut

  l.payload = size - l.hdr;
  // The largest segment must still be expressible in the 16-bit IP/UDP length fields.
  if (l.hdr - l.l3 + std::min(l.gso_size, l.payload) > 0xFFFF) return std::nullopt;
  const std::size_t n = (l.payload + l.gso_size - 1) / l.gso_size;
  if (n > UINT32_MAX) return std::nullopt;
  l.packets = static_cast<std::uint32_t>(n);
  return l;
}

// One's-complement addition with end-around carry, so a 32-bit accumulator never overflows.
std::uint32_t add_carry(std::uint32_t sum, std::uint32_t v) {
  const std::uint64_t s = std::uint64_t{sum} + v;
  return static_cast<std::uint32_t>((s & 0xFFFFFFFFu) + (s >> 32));
}

// Unfolded sum of the TCP/UDP pseudo-header (RFC 793 / RFC 8200 8.1) for `l4_len` L4 bytes.
std::uint32_t pseudo_sum(const std::uint8_t* pkt, const Layout& l, std::size_t l4_len) {
  std::uint32_t sum = l.v6 ? csum_partial(pkt + l.l3 + 8, 32, 0)   // source + destination
                           : csum_partial(pkt + l.l3 + 12, 8, 0);  // source + destination
  sum = add_carry(sum, static_cast<std::uint32_t>(l4_len >> 16));  // nonzero only in theory
  sum = add_carry(sum, static_cast<std::uint16_t>(l4_len));
  return add_carry(sum, l.tcp ? kProtoTcp : kProtoUdp);
}

// Rewrites the copied headers of segment `i` (covering payload [off, off + len)) in `pkt`, which
// holds exactly hdr + len bytes. `ip_id`/`seq` are the super-frame's originals.
void fix_segment(std::uint8_t* pkt, const Layout& l, std::uint32_t i, std::size_t off, std::size_t len,
                 std::uint16_t ip_id, std::uint32_t seq) {
  const bool first = i == 0;
  const bool last = i + 1 == l.packets;
  const std::size_t l4_len = l.hdr - l.l4 + len;

  std::uint8_t* ip = pkt + l.l3;
  if (l.v6) {
    store16(ip + 4, static_cast<std::uint16_t>(l.hdr - l.l4 + len));
  } else {
    store16(ip + 2, static_cast<std::uint16_t>(l.hdr - l.l3 + len));
    // Like a NIC doing TSO: consecutive ids, wrapping.
    store16(ip + 4, static_cast<std::uint16_t>(ip_id + i));
    store16(ip + 10, 0);
    store16(ip + 10, csum_fold(csum_partial(ip, l.l4 - l.l3, 0)));
  }

  std::uint8_t* l4 = pkt + l.l4;
  std::size_t csum_at = 0;
  if (l.tcp) {
    store32(l4 + 4, seq + static_cast<std::uint32_t>(off));
    std::uint8_t flags = l4[13];
    if (!last) flags &= static_cast<std::uint8_t>(~(kTcpFin | kTcpPsh));
    if (!first) flags &= static_cast<std::uint8_t>(~kTcpCwr);
    l4[13] = flags;
    csum_at = kTcpCsumOff;
  } else {
    store16(l4 + 4, static_cast<std::uint16_t>(l4_len));
    csum_at = kUdpCsumOff;
  }
  // Computed from scratch: the partial value the sender left covers the super-frame, not us.
  store16(l4 + csum_at, 0);
  std::uint16_t c = csum_fold(csum_partial(l4, l4_len, pseudo_sum(pkt, l, l4_len)));
  if (!l.tcp && c == 0) c = 0xFFFF;  // 0 means "no checksum" for UDP (RFC 768)
  store16(l4 + csum_at, c);
}

}  // namespace

std::uint32_t csum_partial(const std::uint8_t* p, std::size_t n, std::uint32_t sum) {
  // 64-bit accumulator: 64 KB of words cannot overflow it, and one fold at the end is enough.
  std::uint64_t acc = sum;
  std::size_t i = 0;
  for (; i + 1 < n; i += 2) acc += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
  if (i < n) acc += static_cast<std::uint32_t>(p[i] << 8);  // odd tail: pad with a zero byte
  while (acc >> 32) acc = (acc & 0xFFFFFFFFu) + (acc >> 32);
  return static_cast<std::uint32_t>(acc);
}

std::uint16_t csum_fold(std::uint32_t sum) {
  sum = (sum & 0xFFFF) + (sum >> 16);
  sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

WireShape wire_shape(const Frame& f) {
  const auto l = parse_gso(f);
  if (!l) return {1, f.bytes.size()};
  // Every segment but the first repeats the headers; the payload is carried exactly once.
  return {l->packets, f.bytes.size() + std::uint64_t{l->packets - 1} * l->hdr};
}

void complete_checksum(Frame& f) {
  if (!(f.vnet.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) return;
  // A GSO frame keeps its partial checksum: it is still needed if the frame is forwarded whole,
  // and split_gso() recomputes per-segment checksums from scratch anyway.
  if (f.vnet.gso_type != VIRTIO_NET_HDR_GSO_NONE) return;
  const std::size_t start = f.vnet.csum_start;
  const std::size_t at = start + f.vnet.csum_offset;
  if (at + 2 > f.bytes.size()) return;  // garbage offsets: leave the frame for the receiver to judge
  std::uint8_t* b = f.bytes.data();
  // The field holds the pseudo-header sum, so folding the whole range in gives the final value.
  std::uint16_t c = csum_fold(csum_partial(b + start, f.bytes.size() - start, 0));
  // As the kernel's skb_checksum_help: never store 0, which UDP reads as "no checksum"; for TCP
  // 0xFFFF is the equivalent one's-complement representation.
  if (c == 0) c = 0xFFFF;
  store16(b + at, c);
  f.vnet.flags &= static_cast<std::uint8_t>(~VIRTIO_NET_HDR_F_NEEDS_CSUM);
}

void split_gso(FramePtr f, std::vector<FramePtr>& out) {
  if (f->vnet.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
    complete_checksum(*f);
    out.push_back(std::move(f));
    return;
  }
  const auto parsed = parse_gso(*f);
  if (!parsed) {
    out.push_back(std::move(f));
    return;
  }
  const Layout& l = *parsed;
  std::uint8_t* src = f->bytes.data();
  const std::uint16_t ip_id = l.v6 ? 0 : load16(src + l.l3 + 4);
  const std::uint32_t seq = l.tcp ? load32(src + l.l4 + 4) : 0;

  out.reserve(out.size() + l.packets);
  for (std::uint32_t i = 0; i + 1 < l.packets; ++i) {
    const std::size_t off = std::size_t{i} * l.gso_size;  // all but the last carry gso_size bytes
    auto seg = std::make_unique<Frame>();
    seg->bytes.resize(l.hdr + l.gso_size);
    std::memcpy(seg->bytes.data(), src, l.hdr);
    std::memcpy(seg->bytes.data() + l.hdr, src + l.hdr + off, l.gso_size);
    fix_segment(seg->bytes.data(), l, i, off, l.gso_size, ip_id, seq);
    out.push_back(std::move(seg));
  }

  // The last segment reuses the super-frame's buffer: its headers are already in place, so only
  // the tail payload moves down (memmove: the ranges may overlap).
  const std::uint32_t i = l.packets - 1;
  const std::size_t off = std::size_t{i} * l.gso_size;
  const std::size_t len = l.payload - off;
  std::memmove(src + l.hdr, src + l.hdr + off, len);
  f->bytes.resize(l.hdr + len);
  fix_segment(f->bytes.data(), l, i, off, len, ip_id, seq);
  f->vnet = virtio_net_hdr{};
  out.push_back(std::move(f));
}

}  // namespace patchbay::link
