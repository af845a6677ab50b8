// Blocking test helpers (patchbay::testing) and Device::probe_udp_mapping.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

#include "patchbay/device.hpp"
#include "patchbay/testing.hpp"
#include "sys/errno.hpp"

namespace patchbay::testing {

namespace {

using Clock = std::chrono::steady_clock;

UniqueFd make_socket(int family, int type, const std::optional<SocketAddr>& bind, const std::string& ctx) {
  int fd = ::socket(family, type | SOCK_CLOEXEC, 0);
  if (fd < 0) sys::throw_errno(ctx, "socket");
  UniqueFd s(fd);
  if (bind) {
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_storage ss;
    socklen_t len = bind->to_sockaddr(ss);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0)
      sys::throw_errno(ctx, "bind " + bind->to_string());
  }
  return s;
}

// Waits until fd is readable; false on timeout.
bool wait_readable(int fd, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left < 0) left = 0;
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

SocketAddr parse_observed(const std::string& msg, const std::string& ctx) {
  constexpr std::string_view kPrefix = "OBSERVED ";
  if (msg.rfind(kPrefix, 0) != 0) throw InvalidArgument(ctx, "unexpected reply '" + msg + "'");
  std::string addr = msg.substr(kPrefix.size());
  while (!addr.empty() && (addr.back() == '\n' || addr.back() == '\r')) addr.pop_back();
  return SocketAddr::parse(addr);
}

void send_to(int fd, const void* buf, std::size_t len, const SocketAddr& to, const std::string& ctx) {
  sockaddr_storage ss;
  socklen_t sl = to.to_sockaddr(ss);
  if (::sendto(fd, buf, len, 0, reinterpret_cast<sockaddr*>(&ss), sl) < 0) sys::throw_errno(ctx, "sendto");
}

}  // namespace

SocketAddr probe_udp(SocketAddr reflector, milliseconds timeout, std::optional<SocketAddr> bind) {
  const std::string ctx = "probe_udp " + reflector.to_string();
  auto s = make_socket(reflector.family(), SOCK_DGRAM, bind, ctx);
  send_to(s.get(), "PROBE", 5, reflector, ctx);
  auto deadline = Clock::now() + timeout;
  char buf[512];
  while (wait_readable(s.get(), std::chrono::duration_cast<milliseconds>(deadline - Clock::now()))) {
    ssize_t n = ::recv(s.get(), buf, sizeof buf, 0);
    if (n > 0) return parse_observed(std::string(buf, static_cast<std::size_t>(n)), ctx);
    if (n < 0 && errno != EINTR && errno != ECONNREFUSED) sys::throw_errno(ctx, "recv");
  }
  throw TimeoutError(ctx, "no reply within " + std::to_string(timeout.count()) + " ms");
}

SocketAddr udp_roundtrip(SocketAddr reflector, std::optional<SocketAddr> bind) {
  std::string last;
  for (int i = 0; i < 4; ++i) {
    try {
      return probe_udp(reflector, milliseconds(500), bind);
    } catch (const TimeoutError& e) {
      last = e.what();
    }
  }
  throw TimeoutError("udp_roundtrip " + reflector.to_string(), "no reply in 4 attempts within 2 s");
}

std::chrono::microseconds udp_rtt(SocketAddr reflector, milliseconds timeout) {
  auto start = Clock::now();
  probe_udp(reflector, timeout);
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
}

std::chrono::microseconds udp_rtt_median(SocketAddr reflector, int n, int warmup) {
  if (n < 1)
    throw InvalidArgument("udp_rtt_median " + reflector.to_string(),
                          "n must be >= 1, got " + std::to_string(n));
  for (int i = 0; i < warmup; ++i) {
    try {
      probe_udp(reflector, milliseconds(1000));
    } catch (const TimeoutError&) {
    }
  }
  std::vector<std::chrono::microseconds> v;
  for (int i = 0; i < n; ++i) v.push_back(udp_rtt(reflector));
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

SendRecvCount udp_send_recv_count(SocketAddr target, std::uint64_t total, std::size_t payload,
                                  milliseconds pace, milliseconds wait) {
  const std::string ctx = "udp_send_recv_count " + target.to_string();
  auto s = make_socket(target.family(), SOCK_DGRAM, std::nullopt, ctx);
  std::vector<char> msg(std::max<std::size_t>(payload, 8), 'x');
  std::vector<char> buf(65536);
  SendRecvCount c;
  auto drain = [&] {
    while (::recv(s.get(), buf.data(), buf.size(), MSG_DONTWAIT) > 0) ++c.received;
  };
  for (std::uint64_t i = 0; i < total; ++i) {
    std::memcpy(msg.data(), &i, sizeof i);
    send_to(s.get(), msg.data(), msg.size(), target, ctx);
    ++c.sent;
    drain();
    if (pace.count() > 0) std::this_thread::sleep_for(pace);
  }
  auto deadline = Clock::now() + wait;
  while (wait_readable(s.get(), std::chrono::duration_cast<milliseconds>(deadline - Clock::now()))) drain();
  return c;
}

bool holepunch_send_recv(int sock, SocketAddr peer, milliseconds period, milliseconds deadline) {
  const std::string ctx = "holepunch " + peer.to_string();
  auto end = Clock::now() + deadline;
  char buf[512];
  for (std::uint64_t i = 0; Clock::now() < end; ++i) {
    std::string msg = "punch " + std::to_string(i);
    send_to(sock, msg.data(), msg.size(), peer, ctx);
    auto next = std::min(Clock::now() + period, end);
    while (wait_readable(sock, std::chrono::duration_cast<milliseconds>(next - Clock::now()))) {
      sockaddr_storage from{};
      socklen_t fl = sizeof from;
      ssize_t n = ::recvfrom(sock, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
      if (n < 0) {
        if (errno == EINTR || errno == ECONNREFUSED) continue;
        sys::throw_errno(ctx, "recvfrom");
      }
      auto src = SocketAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&from), fl);
      if (src.ip() != peer.ip()) continue;
      // Answer where the datagram really came from (its peer-reflexive address): behind an
      // address-dependent mapping that differs from the address learned through a reflector.
      for (int k = 0; k < 3; ++k) send_to(sock, "ack", 3, src, ctx);
      return true;
    }
  }
  return false;
}

namespace {

UniqueFd tcp_connect(SocketAddr addr, milliseconds timeout, const std::optional<SocketAddr>& bind,
                     const std::string& ctx) {
  auto s = make_socket(addr.family(), SOCK_STREAM, bind, ctx);
  sockaddr_storage ss;
  socklen_t len = addr.to_sockaddr(ss);
  int flags = ::fcntl(s.get(), F_GETFL);
  ::fcntl(s.get(), F_SETFL, flags | O_NONBLOCK);
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS)
    sys::throw_errno(ctx, "connect");
  pollfd p{s.get(), POLLOUT, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0)
    throw TimeoutError(ctx, "connect timed out after " + std::to_string(timeout.count()) + " ms");
  int err = 0;
  socklen_t el = sizeof err;
  ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &el);
  if (err != 0) sys::throw_errno(ctx, "connect", err);
  ::fcntl(s.get(), F_SETFL, flags);
  return s;
}

std::string read_until_eof_or(int fd, std::size_t want, milliseconds timeout, const std::string& ctx) {
  std::string out;
  auto deadline = Clock::now() + timeout;
  char buf[4096];
  while (out.size() < want) {
    if (!wait_readable(fd, std::chrono::duration_cast<milliseconds>(deadline - Clock::now())))
      throw TimeoutError(
          ctx, "reply timed out after " + std::to_string(timeout.count()) + " ms (got '" + out + "')");
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      sys::throw_errno(ctx, "recv");
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace

void tcp_roundtrip(SocketAddr echo_server) {
  const std::string ctx = "tcp_roundtrip " + echo_server.to_string();
  auto s = tcp_connect(echo_server, milliseconds(500), std::nullopt, ctx);
  if (::send(s.get(), "ping", 4, MSG_NOSIGNAL) != 4) sys::throw_errno(ctx, "send");
  auto got = read_until_eof_or(s.get(), 4, milliseconds(500), ctx);
  if (got != "ping") throw InvalidArgument(ctx, "expected 'ping' back, got '" + got + "'");
}

SocketAddr tcp_probe(SocketAddr tcp_reflector, milliseconds timeout, std::optional<SocketAddr> bind) {
  const std::string ctx = "tcp_probe " + tcp_reflector.to_string();
  auto s = tcp_connect(tcp_reflector, timeout, bind, ctx);
  auto got = read_until_eof_or(s.get(), 512, timeout, ctx);
  return parse_observed(got, ctx);
}

}  // namespace patchbay::testing

namespace patchbay {

SocketAddr Device::probe_udp_mapping(SocketAddr reflector) {
  const std::uint16_t port = static_cast<std::uint16_t>(40000 + id().value % 20000);
  SocketAddr bind = reflector.ip().is_v4() ? SocketAddr(Ipv4Addr(), port) : SocketAddr(Ipv6Addr(), port);
  return run([&] {
    for (int attempt = 0; attempt < 3; ++attempt) {
      try {
        return testing::probe_udp(reflector, std::chrono::milliseconds(500), bind);
      } catch (const TimeoutError&) {
      }
    }
    throw TimeoutError("device '" + name() + "': probe_udp_mapping " + reflector.to_string(),
                       "no reply after 3 attempts");
  });
}

}  // namespace patchbay
