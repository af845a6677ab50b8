// Topology and measurement helpers for the link-condition tests.
//
// LinkLab: server "srv" on router "dc" (both on the IX), device "dev" behind router "home" (no
// NAT). Measurements run from the test thread with sockets made inside the nodes.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "nat_fixture.hpp"
#include "patchbay/patchbay.hpp"

namespace pbtest {

using namespace patchbay;
using Clock = std::chrono::steady_clock;

struct LinkLab {
  Lab lab;
  Router dc, home;
  Device srv, dev;
  SocketAddr udp_refl, tcp_sink;
  ReflectorGuard refl;

  explicit LinkLab(std::uint64_t seed = 7, std::optional<LinkCondition> dev_cond = std::nullopt,
                   LinkDirection dir = LinkDirection::Up)
      : lab(LabOpts{}.seed(seed)),
        dc(lab.add_router("dc").build()),
        home(lab.add_router("home").build()),
        srv(lab.add_device("srv").iface("eth0", dc.id()).build()),
        dev(lab.add_device("dev").iface("eth0", home.id(), dev_cond, dir).build()),
        udp_refl(*srv.ip(), 3478),
        tcp_sink(*srv.ip(), 5001),
        refl(srv.spawn_reflector(udp_refl)) {}

  // Median UDP round trip in ms over n samples (after 3 warm-up round trips: ARP).
  double rtt_ms(int n = 20) {
    auto us = dev.run([&] { return patchbay::testing::udp_rtt_median(udp_refl, n, 3); });
    return static_cast<double>(us.count()) / 1000.0;
  }
};

// RTT samples (ms) from `from` to a UDP reflector, one every `gap`; lost probes (lossy
// conditions) are skipped, so fewer than n may come back.
inline std::vector<double> rtt_samples(Node& from, SocketAddr refl, int n, ms gap = ms(5)) {
  return from.run([&] {
    std::vector<double> out;
    for (int i = 0; i < n; ++i) {
      try {
        out.push_back(static_cast<double>(patchbay::testing::udp_rtt(refl, ms(1500)).count()) / 1000.0);
      } catch (const TimeoutError&) {
      }
      std::this_thread::sleep_for(gap);
    }
    return out;
  });
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Sends `count` UDP datagrams carrying their index from `from` to `to` (bound in node `to_node`),
// `pace` apart, and returns the indexes received, in arrival order.
inline std::vector<std::uint32_t> udp_ids(Node& from, Node& to_node, SocketAddr to, std::uint32_t count,
                                          std::chrono::microseconds pace, std::size_t payload = 64,
                                          ms settle = ms(400)) {
  auto rx = udp_socket(to_node, to.port(), to.ip());
  int big = 8 << 20;
  ::setsockopt(rx.get(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
  auto tx = udp_socket(from, 0, IpAddr(Ipv4Addr()));
  std::vector<std::uint32_t> got;
  std::vector<char> msg(std::max<std::size_t>(payload, 8), 'x'), buf(65536);
  auto drain = [&] {
    for (;;) {
      ssize_t n = ::recv(rx.get(), buf.data(), buf.size(), MSG_DONTWAIT);
      if (n < 4) break;
      std::uint32_t id;
      std::memcpy(&id, buf.data(), 4);
      got.push_back(id);
    }
  };
  sockaddr_storage ss;
  auto len = to.to_sockaddr(ss);
  auto next = Clock::now();
  for (std::uint32_t i = 0; i < count; ++i) {
    std::memcpy(msg.data(), &i, 4);
    ::sendto(tx.get(), msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
    drain();
    next += pace;
    while (Clock::now() < next) {
      drain();
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
  auto end = Clock::now() + settle;
  while (Clock::now() < end) {
    pollfd p{rx.get(), POLLIN, 0};
    if (::poll(&p, 1, 20) > 0) drain();
  }
  drain();
  return got;
}

struct TcpResult {
  std::uint64_t bytes = 0;
  double seconds = 0;  // first to last byte at the receiver
  bool intact = true;  // payload matched the generator
  double kbit() const { return seconds > 0 ? static_cast<double>(bytes) * 8 / seconds / 1000 : 0; }
};

// Sends `total` bytes over TCP from `from` to a listener in `to_node` at `to`; the receiver checks
// the byte pattern. `during` runs on the test thread while the transfer is in flight.
template <class F>
TcpResult tcp_transfer(Node& from, Node& to_node, SocketAddr to, std::size_t total, F during) {
  UniqueFd ls = to_node.socket(to.family(), SOCK_STREAM);
  set_reuse(ls.get());
  bind_to(ls.get(), to);
  ::listen(ls.get(), 1);
  UniqueFd cs = from.socket(to.family(), SOCK_STREAM);
  TcpResult r;
  std::thread rx([&] {
    pollfd lp{ls.get(), POLLIN, 0};
    // A transfer that never starts must fail the test, not pass as "0 kbit/s, intact".
    if (::poll(&lp, 1, 10000) <= 0) {
      ADD_FAILURE() << "tcp_transfer: no connection within 10 s";
      r.intact = false;
      return;
    }
    int fd = ::accept(ls.get(), nullptr, nullptr);
    if (fd < 0) {
      ADD_FAILURE() << "tcp_transfer: accept failed";
      r.intact = false;
      return;
    }
    std::vector<unsigned char> buf(1 << 16);
    Clock::time_point first{}, last{};
    std::uint64_t first_chunk = 0;
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 30000) <= 0) break;
      ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n <= 0) break;
      auto now = Clock::now();
      if (r.bytes == 0) {
        first = now;
        first_chunk = static_cast<std::uint64_t>(n);
      }
      last = now;
      for (ssize_t k = 0; k < n; ++k)
        if (buf[static_cast<std::size_t>(k)] != static_cast<unsigned char>((r.bytes + k) * 7 % 251))
          r.intact = false;
      r.bytes += static_cast<std::uint64_t>(n);
    }
    ::close(fd);
    r.seconds = std::chrono::duration<double>(last - first).count();
    // Goodput over the measured interval excludes the chunk that started the clock.
    if (r.bytes > first_chunk) r.bytes -= first_chunk;
    (void)first_chunk;
  });
  sockaddr_storage ss;
  auto len = to.to_sockaddr(ss);
  std::thread tx([&] {
    if (::connect(cs.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      ADD_FAILURE() << "tcp_transfer: connect failed: " << std::strerror(errno);
      return;
    }
    std::vector<unsigned char> buf(1 << 16);
    std::size_t sent = 0;
    while (sent < total) {
      std::size_t n = std::min(buf.size(), total - sent);
      for (std::size_t k = 0; k < n; ++k) buf[k] = static_cast<unsigned char>((sent + k) * 7 % 251);
      ssize_t w = ::send(cs.get(), buf.data(), n, MSG_NOSIGNAL);
      if (w <= 0) break;
      sent += static_cast<std::size_t>(w);
    }
    ::shutdown(cs.get(), SHUT_WR);
  });
  during();
  tx.join();
  rx.join();
  return r;
}

inline TcpResult tcp_transfer(Node& from, Node& to_node, SocketAddr to, std::size_t total) {
  return tcp_transfer(from, to_node, to, total, [] {});
}

// SPEC 17 RTT band: E - max(2 ms, J) <= median <= E + J + max(10 ms, 0.1 E). The lower bound is
// the strict one (the engine never delivers early). For small E the SPEC's 10 ms slack would let a
// doubled latency pass (E = 10 measured as 20), so the upper slack is also held to
// max(3 ms, E / 2): still far above the median's noise on a busy 2-core machine (well under 1 ms).
inline void expect_rtt_band(double median_ms, double e, double j = 0) {
  EXPECT_GE(median_ms, e - std::max(2.0, j)) << "E = " << e;
  const double slack = std::min(std::max(10.0, 0.1 * e), std::max(3.0, 0.5 * e));
  EXPECT_LE(median_ms, e + j + slack) << "E = " << e;
}

// Binomial band: [n p - z sd, n p + z sd] with z = 3.29 (99.9 %).
inline std::pair<double, double> binomial_band(double n, double p) {
  double sd = std::sqrt(n * p * (1 - p));
  return {n * p - 3.29 * sd, n * p + 3.29 * sd};
}

}  // namespace pbtest
