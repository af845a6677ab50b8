// Sockets and topologies shared by the NAT, firewall and preset tests.
//
// Sockets are created inside a node with Node::socket() and then used from the test thread, so a
// test can hold several endpoints in different nodes at once.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>

#include "patchbay/patchbay.hpp"

namespace pbtest {

using namespace patchbay;
using ms = std::chrono::milliseconds;

inline void set_reuse(int fd) {
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
}

inline void bind_to(int fd, const SocketAddr& a) {
  sockaddr_storage ss;
  auto len = a.to_sockaddr(ss);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0)
    throw SystemError("bind " + a.to_string(), std::strerror(errno), errno);
}

// A UDP socket in `n` bound to `port` (0 = any) on `ip` (default: any IPv4).
inline UniqueFd udp_socket(Node& n, std::uint16_t port, std::optional<IpAddr> ip = std::nullopt) {
  IpAddr bind_ip = ip.value_or(IpAddr(Ipv4Addr()));
  UniqueFd s = n.socket(bind_ip.family(), SOCK_DGRAM);
  set_reuse(s.get());
  bind_to(s.get(), SocketAddr(bind_ip, port));
  return s;
}

inline void send_to(int fd, const SocketAddr& to, const std::string& msg) {
  sockaddr_storage ss;
  auto len = to.to_sockaddr(ss);
  ::sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
}

struct Datagram {
  SocketAddr from;
  std::string data;
};

inline std::optional<Datagram> recv_from(int fd, ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<ms>(deadline - std::chrono::steady_clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return std::nullopt;
    char buf[2048];
    sockaddr_storage from{};
    socklen_t fl = sizeof from;
    ssize_t n = ::recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &fl);
    if (n < 0) continue;  // e.g. ECONNREFUSED from an earlier send
    return Datagram{SocketAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&from), fl),
                    std::string(buf, static_cast<std::size_t>(n))};
  }
}

// Sends PROBE to a UDP reflector from `fd` and returns the observed address (3 tries).
inline std::optional<SocketAddr> probe_from(int fd, const SocketAddr& reflector, ms timeout = ms(700)) {
  for (int i = 0; i < 3; ++i) {
    send_to(fd, reflector, "PROBE");
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (auto d =
               recv_from(fd, std::chrono::duration_cast<ms>(deadline - std::chrono::steady_clock::now()))) {
      if (d->from == reflector && d->data.rfind("OBSERVED ", 0) == 0)
        return SocketAddr::parse(d->data.substr(9));
    }
  }
  return std::nullopt;
}

inline bool wait_fd(int fd, short events, ms timeout) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0 && (p.revents & events);
}

// A TCP connection from `n` (optionally from a fixed local address/port); nullopt on failure.
inline std::optional<UniqueFd> tcp_connect(Node& n, const SocketAddr& to, std::optional<SocketAddr> local,
                                           ms timeout = ms(1500)) {
  UniqueFd s = n.socket(to.family(), SOCK_STREAM);
  set_reuse(s.get());
  if (local) bind_to(s.get(), *local);
  ::fcntl(s.get(), F_SETFL, O_NONBLOCK);
  sockaddr_storage ss;
  auto len = to.to_sockaddr(ss);
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS)
    return std::nullopt;
  if (!wait_fd(s.get(), POLLOUT, timeout)) return std::nullopt;
  int err = 0;
  socklen_t el = sizeof err;
  ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &el);
  if (err != 0) return std::nullopt;
  ::fcntl(s.get(), F_SETFL, 0);
  return s;
}

// Connects to a TCP reflector and returns the peer address it reports.
inline std::optional<SocketAddr> tcp_probe_from(Node& n, const SocketAddr& reflector,
                                                std::optional<SocketAddr> local, ms timeout = ms(1500)) {
  auto s = tcp_connect(n, reflector, local, timeout);
  if (!s) return std::nullopt;
  std::string got;
  char buf[256];
  while (wait_fd(s->get(), POLLIN, timeout)) {
    ssize_t k = ::recv(s->get(), buf, sizeof buf, 0);
    if (k <= 0) break;
    got.append(buf, static_cast<std::size_t>(k));
  }
  if (got.rfind("OBSERVED ", 0) != 0) return std::nullopt;
  return SocketAddr::parse(got.substr(9));
}

inline UniqueFd tcp_listener(Node& n, const SocketAddr& at) {
  UniqueFd s = n.socket(at.family(), SOCK_STREAM);
  set_reuse(s.get());
  bind_to(s.get(), at);
  ::listen(s.get(), 16);
  return s;
}

// Whether a connection arrives on the listener within `timeout`.
inline bool accepts(int listener, ms timeout) {
  if (!wait_fd(listener, POLLIN, timeout)) return false;
  int c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (c < 0) return false;
  ::close(c);
  return true;
}

// SPEC 17 NatCase: dc (Public, IX); optional isp (Nat::None or IspCgnat); `nat` (mode, below isp);
// dev on nat. Reflectors: UDP + TCP on dc's uplink address, UDP on the IX root.
enum class Wiring { Direct, ViaPublicIsp, ViaCgnatIsp };

inline const char* to_string(Wiring w) {
  switch (w) {
    case Wiring::Direct:
      return "Direct";
    case Wiring::ViaPublicIsp:
      return "ViaPublicIsp";
    case Wiring::ViaCgnatIsp:
      return "ViaCgnatIsp";
  }
  return "?";
}

struct NatCase {
  static constexpr std::uint16_t kPort = 3478;
  Lab lab;
  std::optional<Router> isp;  // declared before nat: build_nat() fills it
  Router dc, nat;
  Device dev;
  SocketAddr udp_refl, tcp_refl, ix_refl;
  ReflectorGuard g1, g2, g3;

  NatCase(Nat mode, Wiring w, LabOpts opts = LabOpts{})
      : lab(std::move(opts)),
        dc(lab.add_router("dc").preset(RouterPreset::Public).build()),
        nat(build_nat(mode, w)),
        dev(lab.add_device("dev").iface("eth0", nat.id()).build()),
        udp_refl(*dc.uplink_ip(), kPort),
        tcp_refl(*dc.uplink_ip(), kPort),
        ix_refl(lab.ix().gw(), kPort + 1) {
    g1 = dc.spawn_reflector(udp_refl);
    g2 = dc.spawn_reflector(tcp_refl, Proto::Tcp);
    auto ix = lab.ix();
    g3 = ix.spawn_reflector(ix_refl);
  }

  Router build_nat(Nat mode, Wiring w) {
    auto b = std::move(lab.add_router("nat").nat(mode));
    if (w != Wiring::Direct) {
      isp = w == Wiring::ViaCgnatIsp ? lab.add_router("isp").preset(RouterPreset::IspCgnat).build()
                                     : lab.add_router("isp").nat(Nat::none()).build();
      b.upstream(isp->id());
    }
    return b.build();
  }

  // What an outside observer must see as the device's address.
  Ipv4Addr expected_ip(const Nat& mode, Wiring w) const {
    if (w == Wiring::ViaCgnatIsp) return *isp->uplink_ip();
    if (mode.kind() == Nat::Kind::None) return *dev.ip();
    return *nat.uplink_ip();
  }
};

}  // namespace pbtest
