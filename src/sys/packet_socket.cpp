#include "sys/packet_socket.hpp"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "sys/errno.hpp"
#include "sys/setup_thread.hpp"

namespace patchbay::sys {

namespace {

constexpr std::size_t kMaxFrame = 65536;     // a whole GSO super-frame (gso_max_size)
constexpr std::size_t kFramesPerBlock = 15;  // 15 x 17 pages = 255 pages: one order-8 block
constexpr std::size_t kVnetLen = sizeof(virtio_net_hdr);
constexpr int kSndBuf = 4 << 20;
constexpr int kRcvBuf = 8 << 20;      // ring-less sockets: the receive queue's ceiling
constexpr unsigned kMaxBatch = 1024;  // UIO_MAXIOV: sendmmsg's vlen limit

std::size_t page_size() {
  static const std::size_t p = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return p;
}

std::size_t round_up(std::size_t v, std::size_t to) {
  return (v + to - 1) / to * to;
}

void setopt(int fd, int level, int name, const void* v, socklen_t len, const std::string& what,
            const char* step) {
  if (::setsockopt(fd, level, name, v, len) != 0) throw_errno(what, step);
}

void setopt_int(int fd, int level, int name, int v, const std::string& what, const char* step) {
  setopt(fd, level, name, &v, sizeof v, what, step);
}

tpacket2_hdr* slot_at(void* ring, std::size_t frame_size, std::size_t i) {
  // Blocks hold a whole number of frames back to back, so slot i is at i * frame_size.
  return reinterpret_cast<tpacket2_hdr*>(static_cast<std::uint8_t*>(ring) + i * frame_size);
}

}  // namespace

PacketSocket PacketSocket::open(SetupThread& setup, int netns_fd, int ifindex, std::string what,
                                unsigned ring_frames) {
  PacketSocket s;
  s.ifindex_ = ifindex;
  s.what_ = std::move(what);
  const std::string& w = s.what_;

  // Protocol 0: nothing is delivered to the socket until bind() names the interface, and by
  // then the drop-all filter is in place.
  setup.in_netns(netns_fd, [&] {
    int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) throw_errno(w, "socket(AF_PACKET)");
    s.fd_.reset(fd);
  });
  const int fd = s.fd_.get();

  // The vnet header must be enabled before the ring exists (EBUSY afterwards).
  setopt_int(fd, SOL_PACKET, PACKET_VNET_HDR, 1, w, "PACKET_VNET_HDR");
  setopt_int(fd, SOL_PACKET, PACKET_VERSION, TPACKET_V2, w, "PACKET_VERSION");

  if (ring_frames == 0) {
    // No ring: frames wait in the socket's receive queue (memory only while queued) and are
    // read with recvmmsg. A roomy queue absorbs bursts the way the ring's slots would.
    const int rcv = kRcvBuf;
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) != 0)
      setopt_int(fd, SOL_SOCKET, SO_RCVBUF, rcv, w, "SO_RCVBUF");
    return finish_open(std::move(s), ifindex);
  }
  // A slot: tpacket2_hdr + sockaddr_ll, padding, the vnet header, then up to 64 KB of frame.
  // Rounded to whole pages; 15 slots per block keep each block just under an order-8 allocation.
  const std::size_t frame_size = round_up(TPACKET2_HDRLEN + 64 + kVnetLen + kMaxFrame, page_size());
  const std::size_t per_block = std::min<std::size_t>(kFramesPerBlock, ring_frames);
  const std::size_t blocks = (ring_frames + per_block - 1) / per_block;
  tpacket_req req{};
  req.tp_block_size = static_cast<unsigned>(frame_size * per_block);
  req.tp_block_nr = static_cast<unsigned>(blocks);
  req.tp_frame_size = static_cast<unsigned>(frame_size);
  req.tp_frame_nr = static_cast<unsigned>(per_block * blocks);
  setopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req, w, "PACKET_RX_RING");
  s.frame_size_ = frame_size;
  s.frame_count_ = req.tp_frame_nr;
  s.ring_size_ = static_cast<std::size_t>(req.tp_block_size) * req.tp_block_nr;
  void* ring = ::mmap(nullptr, s.ring_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (ring == MAP_FAILED) throw_errno(w, "mmap(rx ring)");
  s.ring_ = ring;
  return finish_open(std::move(s), ifindex);
}

PacketSocket PacketSocket::finish_open(PacketSocket s, int ifindex) {
  const int fd = s.fd_.get();
  const std::string& w = s.what_;

  // Our own transmissions stay out of the ring (and skip the transmit-side tap clone).
  setopt_int(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, w, "PACKET_IGNORE_OUTGOING");
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &kSndBuf, sizeof kSndBuf) != 0)
    setopt_int(fd, SOL_SOCKET, SO_SNDBUF, kSndBuf, w, "SO_SNDBUF");

  s.park();

  sockaddr_ll ll{};
  ll.sll_family = AF_PACKET;
  ll.sll_protocol = htons(ETH_P_ALL);
  ll.sll_ifindex = ifindex;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ll), sizeof ll) != 0) throw_errno(w, "bind");
  return s;
}

PacketSocket::PacketSocket(PacketSocket&& o) noexcept
    : fd_(std::move(o.fd_)),
      ifindex_(o.ifindex_),
      what_(std::move(o.what_)),
      ring_(std::exchange(o.ring_, nullptr)),
      ring_size_(std::exchange(o.ring_size_, 0)),
      frame_size_(o.frame_size_),
      frame_count_(std::exchange(o.frame_count_, 0)),
      rx_pos_(o.rx_pos_),
      parked_(o.parked_),
      txbuf_(std::move(o.txbuf_)),
      txoff_(std::move(o.txoff_)),
      txif_(std::move(o.txif_)),
      tx_errors_(o.tx_errors_),
      rx_truncated_(o.rx_truncated_),
      rx_ring_drops_(o.rx_ring_drops_) {}

PacketSocket& PacketSocket::operator=(PacketSocket&& o) noexcept {
  if (this != &o) {
    if (ring_ != nullptr) ::munmap(ring_, ring_size_);
    fd_ = std::move(o.fd_);
    ifindex_ = o.ifindex_;
    what_ = std::move(o.what_);
    ring_ = std::exchange(o.ring_, nullptr);
    ring_size_ = std::exchange(o.ring_size_, 0);
    frame_size_ = o.frame_size_;
    frame_count_ = std::exchange(o.frame_count_, 0);
    rx_pos_ = o.rx_pos_;
    parked_ = o.parked_;
    txbuf_ = std::move(o.txbuf_);
    txoff_ = std::move(o.txoff_);
    txif_ = std::move(o.txif_);
    tx_errors_ = o.tx_errors_;
    rx_truncated_ = o.rx_truncated_;
    rx_ring_drops_ = o.rx_ring_drops_;
  }
  return *this;
}

PacketSocket::~PacketSocket() {
  if (ring_ != nullptr) ::munmap(ring_, ring_size_);
}

void PacketSocket::park() {
  sock_filter drop{BPF_RET | BPF_K, 0, 0, 0};
  sock_fprog prog{1, &drop};
  setopt(fd_.get(), SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog, what_, "SO_ATTACH_FILTER");
  parked_ = true;
  // Frames that were accepted before the filter: nobody wants them any more.
  receive([](const virtio_net_hdr&, std::span<const std::uint8_t>) {},
          std::numeric_limits<std::size_t>::max());
}

void PacketSocket::unpark() {
  if (!parked_) return;
  // A frame that passed the old filter on another CPU while park() ran may have landed after
  // park()'s drain: drop it now, before anything new is accepted.
  receive([](const virtio_net_hdr&, std::span<const std::uint8_t>) {},
          std::numeric_limits<std::size_t>::max());
  int unused = 0;  // the option carries no value, but setsockopt insists on an int's length
  if (::setsockopt(fd_.get(), SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof unused) != 0 && errno != ENOENT)
    throw_errno(what_, "SO_DETACH_FILTER");
  parked_ = false;
}

std::size_t PacketSocket::receive(const RxFn& fn, std::size_t max) {
  return receive_any([&](int, const virtio_net_hdr& h, std::span<const std::uint8_t> f) { fn(h, f); }, max);
}

std::size_t PacketSocket::receive_any(const RxAnyFn& fn, std::size_t max) {
  if (ring_ == nullptr) return receive_queue(fn, max);
  std::size_t n = 0;
  while (n < max && frame_count_ != 0) {
    auto* h = slot_at(ring_, frame_size_, rx_pos_);
    const std::uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
    if (!(status & TP_STATUS_USER)) break;
    struct Release {
      tpacket2_hdr* h;
      ~Release() { __atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE); }
    } release{h};
    rx_pos_ = rx_pos_ + 1 == frame_count_ ? 0 : rx_pos_ + 1;
    ++n;
    if (parked_) continue;
    // Truncated (or copied-out) frames are useless to a forwarder: a cut GSO frame cannot be
    // resegmented. The vnet header sits right before the MAC header.
    if ((status & TP_STATUS_COPY) || h->tp_snaplen < h->tp_len || h->tp_mac < TPACKET2_HDRLEN + kVnetLen) {
      ++rx_truncated_;
      continue;
    }
    auto* base = reinterpret_cast<const std::uint8_t*>(h);
    virtio_net_hdr vnet;
    std::memcpy(&vnet, base + h->tp_mac - kVnetLen, kVnetLen);
    // TPACKET_V2 puts the sockaddr_ll right after the (aligned) header.
    sockaddr_ll ll;
    std::memcpy(&ll, base + TPACKET_ALIGN(sizeof(tpacket2_hdr)), sizeof ll);
    fn(ll.sll_ifindex, vnet, std::span<const std::uint8_t>(base + h->tp_mac, h->tp_snaplen));
  }
  return n;
}

// recvmmsg into buffers shared by every ring-less socket of the calling thread (the engine has
// one thread, so one set of 64 KB buffers serves all its ports).
std::size_t PacketSocket::receive_queue(const RxAnyFn& fn, std::size_t max) {
  constexpr std::size_t kBatch = 32, kBuf = kVnetLen + kMaxFrame;
  thread_local std::vector<std::uint8_t> bufs(kBatch * kBuf);
  thread_local std::vector<mmsghdr> msgs(kBatch);
  thread_local std::vector<iovec> iovs(kBatch);
  thread_local std::vector<sockaddr_ll> addrs(kBatch);
  std::size_t n = 0;
  while (n < max) {
    const std::size_t want = std::min(kBatch, max - n);
    for (std::size_t i = 0; i < want; ++i) {
      iovs[i] = {bufs.data() + i * kBuf, kBuf};
      msgs[i] = mmsghdr{};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &addrs[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_ll);
    }
    int r = ::recvmmsg(fd_.get(), msgs.data(), static_cast<unsigned>(want), MSG_DONTWAIT, nullptr);
    if (r <= 0) break;
    for (int i = 0; i < r; ++i) {
      ++n;
      if (parked_) continue;
      const auto len = msgs[static_cast<std::size_t>(i)].msg_len;
      if ((msgs[static_cast<std::size_t>(i)].msg_hdr.msg_flags & MSG_TRUNC) || len < kVnetLen) {
        ++rx_truncated_;
        continue;
      }
      const std::uint8_t* base = bufs.data() + static_cast<std::size_t>(i) * kBuf;
      virtio_net_hdr vnet;
      std::memcpy(&vnet, base, kVnetLen);
      fn(addrs[static_cast<std::size_t>(i)].sll_ifindex, vnet,
         std::span<const std::uint8_t>(base + kVnetLen, len - kVnetLen));
    }
    if (static_cast<std::size_t>(r) < want) break;
  }
  return n;
}

void PacketSocket::send(const virtio_net_hdr& h, std::span<const std::uint8_t> frame) {
  send_to(0, h, frame);
}

void PacketSocket::send_to(int ifindex, const virtio_net_hdr& h, std::span<const std::uint8_t> frame) {
  if (txoff_.size() >= kMaxQueued) flush();
  txoff_.push_back(txbuf_.size());
  txif_.push_back(ifindex);
  const auto* hp = reinterpret_cast<const std::uint8_t*>(&h);
  txbuf_.insert(txbuf_.end(), hp, hp + kVnetLen);
  txbuf_.insert(txbuf_.end(), frame.begin(), frame.end());
}

void PacketSocket::flush() {
  if (txoff_.empty()) return;
  thread_local std::vector<mmsghdr> msgs;
  thread_local std::vector<iovec> iovs;
  thread_local std::vector<sockaddr_ll> addrs;
  const std::size_t count = txoff_.size();
  msgs.assign(count, mmsghdr{});
  iovs.resize(count);
  addrs.assign(count, sockaddr_ll{});
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t end = i + 1 < count ? txoff_[i + 1] : txbuf_.size();
    iovs[i].iov_base = txbuf_.data() + txoff_[i];
    iovs[i].iov_len = end - txoff_[i];
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;  // bound socket: no address needed
    if (txif_[i] != 0) {
      addrs[i].sll_family = AF_PACKET;
      addrs[i].sll_ifindex = txif_[i];
      addrs[i].sll_protocol = htons(ETH_P_ALL);
      msgs[i].msg_hdr.msg_name = &addrs[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_ll);
    }
  }
  std::size_t i = 0;
  while (i < count) {
    unsigned vlen = static_cast<unsigned>(std::min<std::size_t>(count - i, kMaxBatch));
    int r = ::sendmmsg(fd_.get(), msgs.data() + i, vlen, MSG_DONTWAIT);
    if (r > 0) {
      i += static_cast<std::size_t>(r);
      continue;
    }
    if (r == 0) {  // not expected; never spin
      tx_errors_ += count - i;
      break;
    }
    const int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK || err == ENETDOWN || err == ENXIO || err == ENODEV) {
      // The socket buffer is full or the interface is gone: the rest of the batch would fail
      // the same way.
      tx_errors_ += count - i;
      break;
    }
    // ENOBUFS (the peer's backlog was full), EMSGSIZE, EINVAL (a bad vnet header): that frame
    // only.
    ++tx_errors_;
    ++i;
  }
  txbuf_.clear();
  txoff_.clear();
  txif_.clear();
}

std::uint64_t PacketSocket::rx_ring_drops() {
  tpacket_stats st{};
  socklen_t len = sizeof st;
  if (fd_.valid() && ::getsockopt(fd_.get(), SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
    rx_ring_drops_ += st.tp_drops;
  return rx_ring_drops_;
}

}  // namespace patchbay::sys
