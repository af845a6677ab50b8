// Frames as the link engine sees them, and the pure GSO/checksum work done on them.
//
//   auto f = std::make_unique<Frame>();   // filled from a PACKET_VNET_HDR socket
//   WireShape s = wire_shape(*f);          // how many wire packets / bytes a GSO frame stands for
//   split_gso(std::move(f), out);          // one checksummed wire packet per element of `out`
//
// A frame read from a PACKET_VNET_HDR socket may be a GSO super-frame (up to 64 KB, one TCP/UDP
// header, gso_size payload bytes per wire segment) and may carry a partial checksum
// (VIRTIO_NET_HDR_F_NEEDS_CSUM: the pseudo-header sum is in place, the rest must be folded in).
// Forwarding such a frame whole is correct and fast; stages that act per wire packet (loss,
// duplicate, corrupt, reorder) need it cut into the packets a real NIC would have sent.
#pragma once

#include "sys/vnet.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace patchbay::link {

struct Frame {
  virtio_net_hdr vnet{};            // as read from / written to the packet socket
  std::vector<std::uint8_t> bytes;  // the Ethernet frame, starting at the destination MAC
};
using FramePtr = std::unique_ptr<Frame>;

struct WireShape {
  std::uint32_t packets = 1;     // wire packets (1 for a non-GSO frame)
  std::uint64_t wire_bytes = 0;  // sum of the wire packets' lengths incl. their Ethernet headers
};

// Computed from the vnet header and the frame's own headers; never copies.
WireShape wire_shape(const Frame& f);

// Completes a VIRTIO_NET_HDR_F_NEEDS_CSUM checksum in place (csum_start/csum_offset) and clears
// the flag. No-op for frames without it. Requires a non-GSO frame (a GSO frame is left untouched:
// its partial checksum is still needed if it is forwarded whole). Offsets outside the frame leave
// it unchanged. Like the kernel, a result of 0 is stored as 0xFFFF (UDP reads 0 as "none").
void complete_checksum(Frame& f);

// Cuts a GSO frame (TCPv4, TCPv6, UDP L4 = USO, with or without VLAN) into wire packets with
// correct IPv4 total length/id/checksum, IPv6 payload length, TCP sequence numbers/flags (FIN/PSH
// only on the last, CWR only on the first) and full L4 checksums; each has gso_type NONE and no
// NEEDS_CSUM flag. A non-GSO frame is passed through with its checksum completed. Frames that
// cannot be parsed are passed through unchanged (the receiver decides), never dropped here.
void split_gso(FramePtr f, std::vector<FramePtr>& out);

// The Internet checksum helpers (RFC 1071) the above are built on (exposed for tests).
// csum_partial adds the bytes as big-endian 16-bit words to `sum` (an odd last byte is padded
// with a zero low byte) and returns the unfolded 32-bit one's-complement accumulator. Chaining
// calls is only valid when every range but the last has even length.
// csum_fold folds such an accumulator to 16 bits and returns its ONE'S COMPLEMENT, i.e. the value
// to store in a checksum field (in host order; write it big-endian). As in the kernel, a range
// that verifies correctly gives csum_fold(csum_partial(...)) == 0.
std::uint32_t csum_partial(const std::uint8_t* p, std::size_t n, std::uint32_t sum);
std::uint16_t csum_fold(std::uint32_t sum);

}  // namespace patchbay::link
