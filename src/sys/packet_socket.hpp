// AF_PACKET sockets for the link engine, with PACKET_VNET_HDR, batched transmit with sendmmsg,
// and "parking" (a drop-all socket filter) while the engine does not want the interface's frames.
//
//   auto s = PacketSocket::open(setup, ns_fd, ifindex, "router 'home' port v12", 0);
//   s.unpark();
//   s.receive([&](const virtio_net_hdr& h, std::span<const std::uint8_t> frame) { ... }, 64);
//   s.send(vnet, frame);   // queued
//   s.flush();             // one sendmmsg for everything queued
//
// The socket is created inside the given namespace (through the lab's setup thread) and then used
// from any thread. PACKET_IGNORE_OUTGOING keeps our own transmissions out of it. PACKET_VNET_HDR
// means every received frame carries a virtio_net_hdr and GSO super-frames (up to 64 KB) arrive
// whole with partial checksums; each sent buffer is likewise virtio_net_hdr + frame.
//
// Two receive paths. The engine opens every socket with ring_frames = 0 (engine_types.hpp
// kPortRing/kTrunkRing): frames queue in the socket and receive() reads them with recvmmsg, and
// opening costs microseconds. ring_frames > 0 maps a TPACKET_V2 RX ring instead (the virtio_net_hdr
// sits right before the MAC header, at tp_mac - 10); a slot is 68 KB (17 pages), so a 256-frame
// ring pins about 18 MB of kernel memory per socket, and opening it costs milliseconds. recvmmsg
// also measured faster (docs/architecture.md, "No mmap rings"); only tests use the ring today.
#pragma once

#include "sys/vnet.hpp"

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "patchbay/fd.hpp"

namespace patchbay::sys {

class SetupThread;

class PacketSocket {
 public:
  using RxFn = std::function<void(const virtio_net_hdr&, std::span<const std::uint8_t>)>;
  // For a socket bound to every interface (ifindex 0): also says where the frame arrived.
  using RxAnyFn = std::function<void(int ifindex, const virtio_net_hdr&, std::span<const std::uint8_t>)>;

  static constexpr std::size_t kMaxQueued = 256;

  PacketSocket() = default;
  // Opens, configures (vnet hdr, ignore outgoing, ring with 64 KB + header slots, `ring_frames`
  // slots), binds to ifindex for ETH_P_ALL, and parks it. Errors name `what` and the step.
  // ring_frames 0: no mmap ring; frames queue in the socket (kernel memory only while queued)
  // and receive() reads them with recvmmsg. Opening costs microseconds instead of milliseconds.
  // ifindex 0 binds to every interface of the namespace: one ring serves them all (receive_any,
  // send_to), which is how the wire namespace's many region-link ends share one socket.
  static PacketSocket open(SetupThread& setup, int netns_fd, int ifindex, std::string what,
                           unsigned ring_frames = 256);
  PacketSocket(PacketSocket&&) noexcept;
  PacketSocket& operator=(PacketSocket&&) noexcept;
  ~PacketSocket();

  int fd() const { return fd_.get(); }
  int ifindex() const { return ifindex_; }

  // Parked: a classic BPF "ret 0" filter is attached, then already-queued frames are drained.
  void park();
  void unpark();
  bool parked() const { return parked_; }

  // Calls fn for up to `max` ready ring slots and returns them to the kernel; returns the count.
  // Frames are valid only during the call.
  std::size_t receive(const RxFn& fn, std::size_t max = 64);
  std::size_t receive_any(const RxAnyFn& fn, std::size_t max = 64);

  // Queues one frame for transmission (copied into an internal batch buffer). A large queue
  // (kMaxQueued frames) is flushed on the spot.
  void send(const virtio_net_hdr& h, std::span<const std::uint8_t> frame);
  // The same out of a given interface (for sockets bound to ifindex 0).
  void send_to(int ifindex, const virtio_net_hdr& h, std::span<const std::uint8_t> frame);
  // Transmits everything queued with sendmmsg; frames the kernel refuses (ENOBUFS, interface
  // down) are counted in tx_errors() and dropped, never retried forever.
  void flush();
  std::uint64_t tx_errors() const { return tx_errors_; }
  bool has_queued() const { return !txoff_.empty(); }
  // Frames dropped by receive() because they did not fit a ring slot (tp_snaplen < tp_len).
  std::uint64_t rx_truncated() const { return rx_truncated_; }
  // Frames the kernel dropped because the ring was full (PACKET_STATISTICS tp_drops, summed over
  // calls; reading resets the kernel's counter, so keep to one reader).
  std::uint64_t rx_ring_drops();

 private:
  static PacketSocket finish_open(PacketSocket s, int ifindex);
  std::size_t receive_queue(const RxAnyFn& fn, std::size_t max);

  UniqueFd fd_;
  int ifindex_ = 0;
  std::string what_;
  void* ring_ = nullptr;
  std::size_t ring_size_ = 0, frame_size_ = 0, frame_count_ = 0, rx_pos_ = 0;
  bool parked_ = false;
  std::vector<std::uint8_t> txbuf_;
  std::vector<std::size_t> txoff_;
  std::vector<int> txif_;  // per queued frame: 0 = the bound interface
  std::uint64_t tx_errors_ = 0, rx_truncated_ = 0, rx_ring_drops_ = 0;
};

}  // namespace patchbay::sys
