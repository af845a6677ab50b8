#include "capture/packet_capture.hpp"

#include <linux/if_packet.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "patchbay/error.hpp"
#include "sys/errno.hpp"

namespace patchbay::detail {

namespace fs = std::filesystem;

fs::path CaptureFiles::next() {
  fs::path p = first_;
  if (seq_ > 0) {
    p = first_.parent_path() /
        (first_.stem().string() + "." + std::to_string(seq_) + first_.extension().string());
  }
  ++seq_;
  open_.push_back(p);
  return p;
}

std::vector<fs::path> CaptureFiles::retire_old() {
  std::vector<fs::path> out;
  while (max_ > 0 && open_.size() > max_) {
    out.push_back(open_.front());
    open_.pop_front();
  }
  return out;
}

PacketCapture::PacketCapture(UniqueFd sock, std::string what, fs::path path, std::string ifname,
                             const CaptureOptions& opts)
    : sock_(std::move(sock)),
      what_(std::move(what)),
      path_(std::move(path)),
      iface_{std::move(ifname), opts.filter, opts.snaplen},
      opts_(opts),
      buf_(opts.snaplen),
      files_(path_, opts.max_files) {
  out_.emplace(files_.next(), iface_);
}

void PacketCapture::on_readable() {
  // A bounded batch keeps one busy interface from starving the loop's other work; the level-
  // triggered watch calls again for what is left.
  constexpr std::size_t kBatch = 256;
  std::lock_guard lk(mu_);
  drain(kBatch);
  if (!out_) return;
  try {
    out_->flush();
  } catch (const Error& e) {
    error_ = e.what();
    out_.reset();
    throw;
  }
}

void PacketCapture::drain(std::size_t max) {
  for (std::size_t i = 0; i < max; ++i) {
    sockaddr_ll from{};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
    iovec iov{buf_.data(), buf_.size()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = ::recvmsg(sock_.get(), &msg, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
      // The interface went away (link removed, device replugged): nothing more will arrive.
      if (errno == ENETDOWN || errno == ENODEV || errno == ENXIO) break;
      sys::throw_errno(what_, "receive");
    }
    timespec ts{};
    bool have_ts = false;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        std::memcpy(&ts, CMSG_DATA(c), sizeof(ts));
        have_ts = true;
      }
    }
    if (!have_ts) ::clock_gettime(CLOCK_REALTIME, &ts);
    const auto ts_ns =
        static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u + static_cast<std::uint64_t>(ts.tv_nsec);
    const auto len = static_cast<std::size_t>(n);
    write(ts_ns, buf_.data(), std::min(len, buf_.size()), static_cast<std::uint32_t>(len),
          from.sll_pkttype == PACKET_OUTGOING ? sys::PcapDirection::Outbound : sys::PcapDirection::Inbound);
  }
}

void PacketCapture::write(std::uint64_t ts_ns, const std::uint8_t* data, std::size_t caplen,
                          std::uint32_t len, sys::PcapDirection dir) {
  if (!out_) return;  // after a failed write: discard
  out_->packet(ts_ns, {data, caplen}, len, dir);
  packets_.fetch_add(1, std::memory_order_relaxed);
  bytes_.fetch_add(len, std::memory_order_relaxed);
  if (opts_.rotate_bytes && out_->bytes() >= opts_.rotate_bytes) rotate();
}

void PacketCapture::rotate() {
  try {
    out_->flush();
    out_.reset();
    out_.emplace(files_.next(), iface_);
  } catch (const Error& e) {
    error_ = e.what();
    out_.reset();
    throw;
  }
  for (auto& old : files_.retire_old()) {
    std::error_code ec;
    fs::remove(old, ec);
  }
}

std::uint64_t PacketCapture::read_drops() const {
  // PACKET_STATISTICS resets the kernel's counters on every read, so they are summed here.
  tpacket_stats st{};
  socklen_t len = sizeof(st);
  if (sock_ && ::getsockopt(sock_.get(), SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
    drops_ += st.tp_drops;
  return drops_;
}

CaptureStats PacketCapture::stats() const {
  std::lock_guard lk(mu_);
  if (final_) return *final_;
  CaptureStats s;
  s.packets = packets_.load(std::memory_order_relaxed);
  s.bytes = bytes_.load(std::memory_order_relaxed);
  s.kernel_drops = read_drops();
  s.files = files_.current();
  return s;
}

CaptureStats PacketCapture::finish() {
  std::call_once(finished_, [this] {
    std::lock_guard lk(mu_);
    CaptureStats s;
    if (out_) {
      try {
        // What arrived before stop() but after the loop's last read still belongs in the file.
        // Bounded: the socket is still bound, and a flood would otherwise keep this loop going.
        // 16384 frames is more than an 8 MiB receive queue holds.
        drain(16384);
        out_->flush();
      } catch (const Error& e) {
        error_ = e.what();
      }
      out_.reset();
    }
    s.kernel_drops = read_drops();
    sock_.reset();
    s.packets = packets_.load();
    s.bytes = bytes_.load();
    s.files = files_.current();
    final_ = s;
  });
  std::lock_guard lk(mu_);
  if (!error_.empty()) throw Error(what_, error_);
  return *final_;
}

CaptureStats PacketCapture::stop() {
  if (detach) detach();
  return finish();
}

}  // namespace patchbay::detail
