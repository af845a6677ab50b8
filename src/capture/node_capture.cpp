// Node::capture and CaptureGuard: the public side of packet captures. The socket is made inside
// the node's namespace (Node::socket), bound to the interface there, and served on the lab's event
// loop until the guard or the lab's teardown stops it.
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "capture/packet_capture.hpp"
#include "core/lab_core.hpp"
#include "patchbay/error.hpp"
#include "patchbay/node.hpp"
#include "sys/errno.hpp"
#include "sys/packet_filter.hpp"

namespace patchbay {

namespace fs = std::filesystem;

namespace {

constexpr std::uint32_t kMinSnaplen = 64;
constexpr std::uint32_t kMaxSnaplen = 262144;
constexpr int kRcvBuf = 8 << 20;  // room for a burst while the loop is busy elsewhere

void check_options(const std::string& what, const std::string& ifname, const CaptureOptions& o) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ)
    throw InvalidArgument(what, "interface name '" + ifname + "' must have 1 to " +
                                    std::to_string(IFNAMSIZ - 1) + " characters");
  if (o.snaplen < kMinSnaplen || o.snaplen > kMaxSnaplen)
    throw InvalidArgument(what, "snaplen " + std::to_string(o.snaplen) + " is outside " +
                                    std::to_string(kMinSnaplen) + ".." + std::to_string(kMaxSnaplen));
  if (o.max_files && !o.rotate_bytes)
    throw InvalidArgument(what, "max_files " + std::to_string(o.max_files) + " needs rotate_bytes > 0");
}

int ifindex_in_socket_ns(int fd, const std::string& what, const std::string& ifname) {
  ifreq req{};
  std::memcpy(req.ifr_name, ifname.c_str(), ifname.size());
  if (::ioctl(fd, SIOCGIFINDEX, &req) != 0) {
    if (errno == ENODEV) throw NotFound(what, "the node has no interface '" + ifname + "'");
    sys::throw_errno(what, "look up interface '" + ifname + "'");
  }
  return req.ifr_ifindex;
}

void configure(int fd, const std::string& what, const std::string& ifname, const CaptureOptions& o) {
  // Made with protocol 0 the socket receives nothing until bind(), so the filter is in place
  // before the first frame and no unfiltered frame needs draining.
  sys::attach_packet_filter(fd, sys::compile_packet_filter(o.filter, o.snaplen), what);
  const int on = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) != 0)
    sys::throw_errno(what, "SO_TIMESTAMPNS");
  // FORCE needs CAP_NET_ADMIN over the host; rootless labs get what net.core.rmem_max allows.
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &kRcvBuf, sizeof(kRcvBuf)) != 0)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kRcvBuf, sizeof(kRcvBuf));
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = ifindex_in_socket_ns(fd, what, ifname);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&sll), sizeof(sll)) != 0) sys::throw_errno(what, "bind");
}

}  // namespace

CaptureGuard Node::capture(std::string ifname, fs::path pcap, std::string filter) {
  CaptureOptions o;
  o.filter = std::move(filter);
  return capture(std::move(ifname), std::move(pcap), std::move(o));
}

CaptureGuard Node::capture(std::string ifname, fs::path pcap, CaptureOptions opts) {
  auto c = core();
  const std::string what = "capture of " + rec()->describe() + " " + ifname;
  check_options(what, ifname, opts);
  if (pcap.empty()) {
    auto p = filepath(ifname + ".pcapng");
    if (!p) throw InvalidArgument(what, "the lab has no output directory: give the capture a file path");
    pcap = *p;
  }
  pcap = fs::absolute(pcap);
  std::error_code ec;
  if (pcap.has_parent_path()) fs::create_directories(pcap.parent_path(), ec);

  UniqueFd sock = socket(AF_PACKET, SOCK_RAW, 0);
  configure(sock.get(), what, ifname, opts);
  auto cap = std::make_shared<detail::PacketCapture>(std::move(sock), what, pcap, ifname, opts);
  const int fd = cap->fd();
  std::weak_ptr<detail::PacketCapture> weak = cap;
  c->services().watch_until_stop(
      fd,
      [weak](std::uint32_t) {
        if (auto k = weak.lock()) k->on_readable();
      },
      [weak] {
        if (auto k = weak.lock()) k->finish();
      });
  cap->detach = [lab = lab_, fd] {
    if (auto core = lab.lock()) core->services().drop_watch(fd);
  };
  log(log::Level::Info, "patchbay::capture", "capture started",
      {{"iface", ifname}, {"path", pcap.string()}, {"filter", opts.filter}});
  return CaptureGuard(std::move(cap));
}

CaptureGuard::CaptureGuard(std::shared_ptr<detail::PacketCapture> c) : c_(std::move(c)) {}
CaptureGuard::CaptureGuard(CaptureGuard&&) noexcept = default;

CaptureGuard& CaptureGuard::operator=(CaptureGuard&& o) noexcept {
  if (this != &o) {
    try {
      stop();
    } catch (const Error&) {
    }
    c_ = std::move(o.c_);
  }
  return *this;
}

CaptureGuard::~CaptureGuard() {
  try {
    stop();
  } catch (const Error&) {
  }
}

CaptureStats CaptureGuard::stop() {
  if (!c_) return {};
  return c_->stop();
}

CaptureStats CaptureGuard::stats() const {
  return c_ ? c_->stats() : CaptureStats{};
}

const fs::path& CaptureGuard::path() const {
  static const fs::path none;
  return c_ ? c_->path() : none;
}

}  // namespace patchbay
