// The lab of SPEC 17.15 item 128, shared by the lab test (log_test.cpp) and the data source of
// the devtools UI test (tests/ui/e2e_lab.cpp): dc, isp, home behind isp, client@home,
// server@dc. The server announces TcpEchoStarted{addr} and echoes one message; the client logs
// `foo x=1` inside the spans s1{z=3} -> s2{y=2}, sends "hello" through the home NAT and emits
// TcpRoundtripComplete{bytes=5}.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "patchbay/patchbay.hpp"

namespace pbtest {

inline constexpr std::uint16_t kEchoPort = 7000;

inline void set_timeouts(int fd, int seconds) {
  timeval tv{seconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// Builds the topology in `lab`, runs the echo and returns what the client got back ("hello").
inline std::string run_e2e_scenario(patchbay::Lab& lab) {
  using namespace patchbay;
  auto dc = lab.add_router("dc").preset(RouterPreset::Public).build();
  auto isp = lab.add_router("isp").build();
  auto home = lab.add_router("home").preset(RouterPreset::Home).upstream(isp.id()).build();
  auto client = lab.add_device("client").iface("eth0", home.id()).build();
  auto server = lab.add_device("server").iface("eth0", dc.id()).build();
  const SocketAddr addr(IpAddr(*server.ip()), kEchoPort);

  // Listening before the client connects; the event is in the server's node context.
  int listener = server.run([&] {
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_storage ss{};
    socklen_t len = addr.to_sockaddr(ss);
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(s.get(), 4) != 0)
      throw std::runtime_error("server: bind/listen failed");
    emit_event("TcpEchoStarted", {{"addr", addr.to_string()}});
    return s.release();
  });
  auto echo = server.spawn_thread([listener] {
    UniqueFd l(listener);
    pollfd p{l.get(), POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) throw std::runtime_error("server: no connection within 10 s");
    UniqueFd c(::accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC));
    set_timeouts(c.get(), 10);
    char buf[64];
    ssize_t n = ::recv(c.get(), buf, sizeof buf, 0);
    if (n > 0) (void)::send(c.get(), buf, static_cast<std::size_t>(n), MSG_NOSIGNAL);
  });

  std::string reply = client.run([&] {
    {
      log::Span s1("s1", {{"z", 3}});
      log::Span s2("s2", {{"y", 2}});
      log::info("foo", "", {{"x", 1}});
    }
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    set_timeouts(s.get(), 10);
    sockaddr_storage ss{};
    socklen_t len = addr.to_sockaddr(ss);
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
      throw std::runtime_error("client: connect to " + addr.to_string() + " failed");
    const std::string msg = "hello";
    if (::send(s.get(), msg.data(), msg.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size()))
      throw std::runtime_error("client: send failed");
    std::string got;
    char buf[64];
    while (got.size() < msg.size()) {
      ssize_t n = ::recv(s.get(), buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<std::size_t>(n));
    }
    emit_event("TcpRoundtripComplete", {{"bytes", static_cast<std::int64_t>(got.size())}});
    return got;
  });
  echo.join();
  return reply;
}

}  // namespace pbtest
