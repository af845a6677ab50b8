// link benchmark: TCP throughput and RTT accuracy of the link engine, against a raw veth pair
// measured in the same run (these VMs are noisy, so ratios are what to compare).
//
//   veth_gbps        one veth pair between two bare namespaces
//   fastpath_gbps    device -> device on one router LAN, no condition (plain veth + bridge)
//   engine_gbps      the same with a condition that has no stage (frames take the engine, 0 ms)
//   engine_gbps_10ms 10 ms one-way on the sender's Up direction (tcp_wmem raised to 32 MiB)
//   ratio            engine_gbps / veth_gbps
//   engine_cpu_pct_per_gbps  engine thread CPU (% of one core) per Gbit/s during engine_gbps
//   rtt_error_ms_<L> |median RTT - (2 L + base)| over 20 round trips, L one-way on Both
//   pps              64-byte UDP datagrams per second delivered through the engine
//   control_p99_extra_ms  p99 RTT of a running 10 ms link (a probe every 0.5 ms) while 4 x 50
//                    devices with a wifi condition join the same LAN, minus the same link's p99 RTT
//                    idle (after a settling second): what control work (attaching ports) costs
//                    the data path, without the VM's own wake-up jitter (which the idle p99 has)
//   control_p99_ms / idle_p99_ms  the two p99 RTTs behind it
//   control_owd_p99_extra_ms  the same on the one-way delay a -> b (10 ms), each probe stamped by
//                    the kernel on arrival: only the path (the engine's releases), without the
//                    echo and receiver threads' wake-ups that the RTT version also counts
//   owd_control_p99_ms / owd_idle_p99_ms  the two p99 one-way delays behind it
//   build_ms_per_conditioned_device / build_ms_per_plain_device
//                    N devices (--devices, default 200) over 10 routers built with a wifi
//                    condition on both directions, against the same without conditions
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "emit.hpp"
#include "patchbay/patchbay.hpp"
#include "sys/rtnl.hpp"
#include "sys/setup_thread.hpp"
#include "sys/sysctl.hpp"

using namespace patchbay;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

double g_seconds = 3.0;
int g_devices = 200;

void emit(const std::string& metric, double value, const char* unit) {
  bench::emit("link", metric, value, unit);
}

// Bulk TCP for g_seconds from `tx` to the listener `ls` (already bound + listening).
double tcp_gbps(UniqueFd ls, UniqueFd tx, const SocketAddr& to) {
  std::atomic<bool> stop{false};
  std::uint64_t got = 0;
  Clock::time_point t0, t1;
  std::thread rx([&] {
    pollfd p{ls.get(), POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return;
    int fd = ::accept(ls.get(), nullptr, nullptr);
    std::vector<char> buf(1 << 20);
    t0 = Clock::now();
    for (;;) {
      ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n <= 0) break;
      got += static_cast<std::uint64_t>(n);
    }
    t1 = Clock::now();
    ::close(fd);
  });
  sockaddr_storage ss;
  auto len = to.to_sockaddr(ss);
  if (::connect(tx.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  std::vector<char> buf(1 << 17, 'x');
  auto end = Clock::now() + std::chrono::duration<double>(g_seconds);
  while (Clock::now() < end)
    if (::send(tx.get(), buf.data(), buf.size(), MSG_NOSIGNAL) <= 0) break;
  ::shutdown(tx.get(), SHUT_WR);
  rx.join();
  double s = std::chrono::duration<double>(t1 - t0).count();
  return s > 0 ? static_cast<double>(got) * 8 / s / 1e9 : 0;
}

double node_tcp_gbps(Node& from, Node& to, const SocketAddr& addr) {
  UniqueFd ls = to.socket(AF_INET, SOCK_STREAM);
  int one = 1;
  ::setsockopt(ls.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage ss;
  auto len = addr.to_sockaddr(ss);
  if (::bind(ls.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) std::perror("bind");
  ::listen(ls.get(), 1);
  return tcp_gbps(std::move(ls), from.socket(AF_INET, SOCK_STREAM), addr);
}

// Raw veth baseline: two bare namespaces from the library's own setup thread.
double veth_gbps() {
  sys::SetupThread setup({});
  auto home = setup.create_home();
  auto a = setup.take();
  auto b = setup.take();
  sys::NlBatch nb("veth baseline");
  sys::add_veth(nb, sys::LinkEnd{"va", 10, std::nullopt, -1, 0, true, 0},
                sys::LinkEnd{"vb", 10, std::nullopt, b.fd.get(), 0, false, 0});
  sys::add_addr(nb, 10, Ipv4Addr::parse("192.168.77.1"), 24);
  a.nl.commit(nb);
  sys::NlBatch bb("veth baseline");
  sys::set_link(bb, 10, true);
  sys::add_addr(bb, 10, Ipv4Addr::parse("192.168.77.2"), 24);
  b.nl.commit(bb);
  UniqueFd ls, tx;
  SocketAddr to(Ipv4Addr::parse("192.168.77.2"), 5201);
  setup.in_netns(b.fd.get(), [&] {
    ls.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_storage ss;
    auto len = to.to_sockaddr(ss);
    ::bind(ls.get(), reinterpret_cast<sockaddr*>(&ss), len);
    ::listen(ls.get(), 1);
  });
  setup.in_netns(a.fd.get(), [&] { tx.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)); });
  return tcp_gbps(std::move(ls), std::move(tx), to);
}

// CPU time (s) of this process's thread named `name`.
double thread_cpu(const std::string& name) {
  double total = 0;
  DIR* d = ::opendir("/proc/self/task");
  while (auto* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string base = std::string("/proc/self/task/") + e->d_name;
    std::ifstream comm(base + "/comm");
    std::string c;
    std::getline(comm, c);
    if (c != name) continue;
    std::ifstream st(base + "/stat");
    std::string s;
    std::getline(st, s);
    auto close = s.rfind(')');
    std::vector<std::string> f;
    std::string tok;
    for (std::size_t i = close + 2; i <= s.size(); ++i) {
      if (i == s.size() || s[i] == ' ') {
        f.push_back(tok);
        tok.clear();
      } else {
        tok += s[i];
      }
    }
    // fields after ')': state(0) ... utime(11) stime(12)
    total += (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  ::closedir(d);
  return total;
}

void raise_wmem(Node& n) {
  n.run([] {
    sys::write_sysctls(
        {{"net/ipv4/tcp_wmem", "4096 16384 33554432"}, {"net/ipv4/tcp_rmem", "4096 131072 33554432"}});
  });
}

double pps_through(Device& from, Device& to) {
  SocketAddr dst(*to.ip(), 6001);
  UniqueFd rx = to.socket(AF_INET, SOCK_DGRAM);
  int big = 16 << 20;
  ::setsockopt(rx.get(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
  sockaddr_storage ss;
  auto len = dst.to_sockaddr(ss);
  ::bind(rx.get(), reinterpret_cast<sockaddr*>(&ss), len);
  UniqueFd tx = from.socket(AF_INET, SOCK_DGRAM);
  std::atomic<bool> stop{false};
  std::uint64_t got = 0;
  std::thread r([&] {
    char buf[2048];
    while (!stop) {
      pollfd p{rx.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      while (::recv(rx.get(), buf, sizeof buf, MSG_DONTWAIT) > 0) ++got;
    }
  });
  char msg[64] = {};
  auto t0 = Clock::now();
  auto end = t0 + std::chrono::duration<double>(g_seconds / 2);
  while (Clock::now() < end) ::sendto(tx.get(), msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&ss), len);
  std::this_thread::sleep_for(200ms);
  stop = true;
  r.join();
  return static_cast<double>(got) / (g_seconds / 2);
}

double build_ms_per_device(int n, bool conditioned) {
  Lab lab(LabOpts{}.seed(1));
  std::vector<Router> rs;
  for (int i = 0; i < 10; ++i) rs.push_back(lab.add_router("r" + std::to_string(i)).build());
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    auto b = lab.add_device("d" + std::to_string(i));
    if (conditioned)
      b.iface("eth0", rs[i % rs.size()].id(), LinkCondition::wifi(), LinkDirection::Both);
    else
      b.iface("eth0", rs[i % rs.size()].id());
    b.build();
  }
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count() / n;
}

enum class Udp { Bind, BindStamped, Connect };  // BindStamped: SO_TIMESTAMPNS on arrival

// A UDP socket made inside `node`, bound to or connected to `addr`.
UniqueFd udp_in(Device& node, SocketAddr addr, Udp how, const char* what) {
  return node.run([&] {
    UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_storage ss;
    socklen_t len = addr.to_sockaddr(ss);
    int on = 1;
    bool ok = static_cast<bool>(s);
    if (ok && how == Udp::BindStamped)
      ok = ::setsockopt(s.get(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) == 0;
    if (ok && how == Udp::Connect) ok = ::connect(s.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0;
    if (ok && how != Udp::Connect) ok = ::bind(s.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0;
    if (!ok) throw std::runtime_error(what);
    return s;
  });
}

// What the probes run beside: `work`, or `idle` when it is empty, then time for the last probes
// to cross the 2 x 10 ms path.
void probe_while(const std::function<void()>& work, std::chrono::milliseconds idle) {
  std::this_thread::sleep_for(100ms);
  if (work)
    work();
  else
    std::this_thread::sleep_for(idle);
  std::this_thread::sleep_for(50ms);
}

// RTT probes every 0.5 ms from `a` to a UDP echo on `b` (pipelined: a probe does not wait
// for the previous answer; each carries its send time) while `work` runs, or for `idle` when it
// is empty; round-trip times in ms.
std::vector<double> probe_rtts(Device& a, Device& b, SocketAddr refl, const std::function<void()>& work,
                               std::chrono::milliseconds idle) {
  UniqueFd echo = udp_in(b, refl, Udp::Bind, "echo socket");
  UniqueFd fd = udp_in(a, refl, Udp::Connect, "probe socket");
  std::atomic<bool> stop{false};
  std::vector<double> rtts;
  std::thread echoer([&] {
    while (!stop) {
      pollfd p{echo.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[64];
      sockaddr_storage from;
      socklen_t fl = sizeof from;
      ssize_t n = ::recvfrom(echo.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
      if (n > 0)
        (void)::sendto(echo.get(), buf, static_cast<std::size_t>(n), 0, reinterpret_cast<sockaddr*>(&from),
                       fl);
    }
  });
  std::thread receiver([&] {
    for (;;) {
      pollfd p{fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) {
        if (stop) return;
        continue;
      }
      std::int64_t sent = 0;
      if (::recv(fd.get(), &sent, sizeof sent, 0) == sizeof sent)
        rtts.push_back(static_cast<double>(Clock::now().time_since_epoch().count() - sent) / 1e6);
    }
  });
  std::thread sender([&] {
    while (!stop) {
      std::int64_t t = Clock::now().time_since_epoch().count();
      (void)::send(fd.get(), &t, sizeof t, 0);
      std::this_thread::sleep_for(500us);
    }
  });
  probe_while(work, idle);
  stop = true;
  sender.join();
  receiver.join();
  echoer.join();
  return rtts;
}

// One-way delays in ms of probes every 0.5 ms from `a` to a socket on `b`, timestamped by the
// kernel on arrival (SO_TIMESTAMPNS) against the sender's clock read just before send(): no
// echo or receiver thread has to wake up in time, so what is left is the path itself (the
// engine's release of each frame) plus the sender's few microseconds between clock and send.
std::vector<double> probe_owds(Device& a, Device& b, SocketAddr to, const std::function<void()>& work,
                               std::chrono::milliseconds idle) {
  UniqueFd rx = udp_in(b, to, Udp::BindStamped, "one-way receiver socket");
  UniqueFd tx = udp_in(a, to, Udp::Connect, "one-way probe socket");
  auto realtime_ns = [] {
    timespec t;
    ::clock_gettime(CLOCK_REALTIME, &t);
    return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
  };
  std::atomic<bool> stop{false};
  std::vector<double> owds;
  std::thread receiver([&] {
    for (;;) {
      pollfd p{rx.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) {
        if (stop) return;
        continue;
      }
      std::int64_t sent = 0;
      iovec iov{&sent, sizeof sent};
      alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(timespec))];
      msghdr m{};
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      m.msg_control = ctl;
      m.msg_controllen = sizeof ctl;
      if (::recvmsg(rx.get(), &m, 0) != sizeof sent) continue;
      for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
        timespec at;
        std::memcpy(&at, CMSG_DATA(c), sizeof at);
        const std::int64_t arrived = static_cast<std::int64_t>(at.tv_sec) * 1'000'000'000 + at.tv_nsec;
        owds.push_back(static_cast<double>(arrived - sent) / 1e6);
      }
    }
  });
  std::thread sender([&] {
    while (!stop) {
      std::int64_t t = realtime_ns();
      (void)::send(tx.get(), &t, sizeof t, 0);
      std::this_thread::sleep_for(500us);
    }
  });
  probe_while(work, idle);
  stop = true;
  sender.join();
  receiver.join();
  return owds;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

using Probe =
    std::function<std::vector<double>(const std::function<void()>& work, std::chrono::milliseconds idle)>;

// The extra p99 latency a running 10 ms link sees while other conditioned ports (50 at a time,
// `prefix`<round>_<i>) are added to the same LAN (their attachment is control work of the engine): p99 during
// the additions minus the p99 of the same link idle, measured the same way just before. The idle p99 holds
// what the machine itself adds (timer wake-up jitter of a small VM: p999 about 2 ms here); the difference is
// what the additions cost. Emits `<name>idle_p99_ms` and
// `<name>control_p99_ms`.
double p99_extra_ms(Lab& lab, Router& r, const Probe& probe, const std::string& prefix,
                    const std::string& name) {
  std::this_thread::sleep_for(1s);  // the previous measurements' queues and threads settle
  double idle = percentile(probe({}, 2000ms), 0.99);
  // Four rounds of 50 additions: one round lasts ~0.2 s, and the p99 of its ~400 probes is their
  // 4th largest, too few to tell a 1 ms tail from the VM's own hiccups.
  constexpr int kRounds = 4;
  std::vector<double> during;
  for (int round = 0; round < kRounds; ++round) {
    auto got = probe(
        [&] {
          for (int i = 0; i < 50; ++i)
            lab.add_device(prefix + std::to_string(round) + "_" + std::to_string(i))
                .iface("eth0", r.id(), LinkCondition::wifi(), LinkDirection::Both)
                .build();
        },
        {});
    during.insert(during.end(), got.begin(), got.end());
  }
  std::cerr << "link: " << during.size() << " " << (name.empty() ? "round-trip" : "one-way")
            << " probes while adding " << kRounds << " x 50 conditioned ports\n";
  const double p99 = percentile(during, 0.99);
  emit(name + "idle_p99_ms", idle, "ms");
  emit(name + "control_p99_ms", p99, "ms");
  return p99 - idle;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      g_seconds = std::atof(argv[++i]);
    } else if (a == "--devices" && i + 1 < argc) {
      g_devices = std::atoi(argv[++i]);
    } else {
      std::cerr << "usage: link_bench [--seconds S] [--devices N]\n";
      return 2;
    }
  }
  init_userns();
  double veth = veth_gbps();
  emit("veth_gbps", veth, "Gbit/s");

  Lab lab(LabOpts{}.seed(1));
  // Room for the 2 x 4 x 50 devices the control measurements add.
  auto r = lab.add_router("r").downstream_cidr(Ipv4Net::parse("10.8.0.0/22")).build();
  auto a = lab.add_device("a").iface("eth0", r.id()).build();
  auto b = lab.add_device("b").iface("eth0", r.id()).build();
  SocketAddr to(*b.ip(), 5201);
  emit("fastpath_gbps", node_tcp_gbps(a, b, to), "Gbit/s");

  LinkLimits zero_stage;
  zero_stage.jitter_reorders = false;  // a condition, but no stage: frames cross the engine at 0 ms
  a.default_iface().set_condition(LinkCondition::manual(zero_stage), LinkDirection::Both);
  double cpu0 = thread_cpu("patchbay:link");
  auto t0 = Clock::now();
  double engine = node_tcp_gbps(a, b, SocketAddr(*b.ip(), 5202));
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  double cpu = (thread_cpu("patchbay:link") - cpu0) / wall * 100;
  emit("engine_gbps", engine, "Gbit/s");
  emit("ratio", veth > 0 ? engine / veth : 0, "x");
  emit("engine_cpu_pct_per_gbps", engine > 0 ? cpu / engine : 0, "%/Gbit/s");
  emit("pps", pps_through(a, b), "packets/s");

  raise_wmem(a);
  raise_wmem(b);
  LinkLimits l10;
  l10.latency_ms = 10;
  a.default_iface().set_condition(LinkCondition::manual(l10), LinkDirection::Up);
  emit("engine_gbps_10ms", node_tcp_gbps(a, b, SocketAddr(*b.ip(), 5203)), "Gbit/s");

  SocketAddr refl(*b.ip(), 3478);
  auto g = b.spawn_reflector(refl);
  a.default_iface().clear_condition();
  std::this_thread::sleep_for(200ms);
  double base = a.run([&] { return testing::udp_rtt_median(refl, 20, 3); }).count() / 1000.0;
  for (std::uint32_t L : {10u, 50u, 200u}) {
    LinkLimits l;
    l.latency_ms = L;
    a.default_iface().set_condition(LinkCondition::manual(l), LinkDirection::Both);
    double rtt = a.run([&] { return testing::udp_rtt_median(refl, 20, 2); }).count() / 1000.0;
    emit("rtt_error_ms_" + std::to_string(L), std::abs(rtt - (2.0 * L + base)), "ms");
  }
  a.default_iface().set_condition(LinkCondition::manual(l10), LinkDirection::Both);
  SocketAddr echo(*b.ip(), 3479), sink(*b.ip(), 3480);
  emit("control_p99_extra_ms",
       p99_extra_ms(
           lab, r, [&](auto& work, auto idle) { return probe_rtts(a, b, echo, work, idle); }, "c", ""),
       "ms");
  // The same question asked of the path alone: one-way delays stamped by the kernel on arrival
  // leave out the echo and receiver threads' wake-ups, which on two cores compete with the build.
  emit("control_owd_p99_extra_ms",
       p99_extra_ms(
           lab, r, [&](auto& work, auto idle) { return probe_owds(a, b, sink, work, idle); }, "o", "owd_"),
       "ms");
  lab.shutdown();
  emit("build_ms_per_plain_device", build_ms_per_device(g_devices, false), "ms");
  emit("build_ms_per_conditioned_device", build_ms_per_device(g_devices, true), "ms");
  return 0;
}
