// RA-driven IPv6 provisioning (SPEC 9.1): routers send real Router Advertisements on their LAN,
// devices send real Router Solicitations and learn their default IPv6 route from the RAs in the
// kernel (accept_ra), so packet captures and the routing table look like a real network.
//
// A router's RA service starts when the first RA-driven device joins its LAN: one raw ICMPv6
// socket (bound to the LAN link-local, filtered to RS) and one timerfd, both serviced by the
// lab's event loop. Routers of static labs never send RAs (their devices would otherwise learn a
// second default route).
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "core/ra_control.hpp"

#include "core/macs.hpp"
#include "sys/errno.hpp"
#include "sys/sysctl.hpp"

namespace patchbay::detail {

namespace {

constexpr std::uint32_t kMaxLifetime = 9000;
// Built once (event_target allocates); kEventsMarker is a constant, so no init-order question.
const std::string kRaEventTarget = log::detail::event_target("patchbay", "RouterAdvertisement");
const std::string kRsEventTarget = log::detail::event_target("patchbay", "RouterSolicitation");

void put16(std::vector<std::uint8_t>& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void put32(std::vector<std::uint8_t>& b, std::uint32_t v) {
  put16(b, static_cast<std::uint16_t>(v >> 16));
  put16(b, static_cast<std::uint16_t>(v));
}

sockaddr_in6 sa6(const Ipv6Addr& a, int scope) {
  sockaddr_in6 s{};
  s.sin6_family = AF_INET6;
  s.sin6_addr = a.to_in6_addr();
  s.sin6_scope_id = static_cast<std::uint32_t>(scope);
  return s;
}

// A raw ICMPv6 socket that sends with hop limit 255 (RFC 4861 requires it) from `ll` on `ifindex`.
UniqueFd nd_socket(const Ipv6Addr& ll, int ifindex, const std::string& what) {
  UniqueFd s(::socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_ICMPV6));
  if (!s) sys::throw_errno(what, "socket(ICMPv6)");
  int hops = 255;
  ::setsockopt(s.get(), IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops);
  ::setsockopt(s.get(), IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops);
  ::setsockopt(s.get(), IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex);
  auto addr = sa6(ll, ifindex);
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    sys::throw_errno(what, "bind " + ll.to_string());
  return s;
}

// Whether the kernel has applied the carrier of interface `ifindex` of the calling thread's
// namespace (IFF_RUNNING). linkwatch applies carrier changes asynchronously, batched up to 1 s and
// later still while other labs build; until it has, the LAN bridge port drops frames, so an RS
// or RA sent earlier is lost.
bool if_running(int ifindex) {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq ifr{};
  if (!s || !::if_indextoname(static_cast<unsigned>(ifindex), ifr.ifr_name)) return false;
  return ::ioctl(s.get(), SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_RUNNING);
}

}  // namespace

// One router's advertisements. Parameters are copied in under the router's lock; the socket and
// timer are used on the event loop only.
struct RaService {
  std::string what;
  UniqueFd sock, timer;
  int lan_ifindex = 0;
  sys::Mac mac{};
  Ipv6Net prefix;
  std::optional<std::uint32_t> mtu;
  std::mutex mu;
  bool enabled = true;
  std::uint64_t interval = 30, lifetime = 1800;
  // The RouterAdvertisement timeline events go to the router's files (SPEC 9.1).
  std::shared_ptr<log::detail::NodeSink> log;
  std::string ns, router, iface, src;

  std::vector<std::uint8_t> packet(std::uint64_t life) const {
    std::vector<std::uint8_t> b{ND_ROUTER_ADVERT, 0, 0, 0, 64, 0};
    put16(b, static_cast<std::uint16_t>(std::min<std::uint64_t>(life, kMaxLifetime)));
    put32(b, 0);  // reachable time
    put32(b, 0);  // retransmit timer
    b.insert(b.end(), {ND_OPT_SOURCE_LINKADDR, 1});
    b.insert(b.end(), mac.begin(), mac.end());
    if (mtu) {
      b.insert(b.end(), {ND_OPT_MTU, 1, 0, 0});
      put32(b, *mtu);
    }
    b.insert(b.end(), {ND_OPT_PREFIX_INFORMATION, 4, prefix.prefix_len(), 0x80});  // L=1, A=0
    put32(b, 86400);
    put32(b, 14400);
    put32(b, 0);
    auto p = prefix.addr().bytes();
    b.insert(b.end(), p.begin(), p.end());
    return b;
  }

  void send(std::optional<std::uint64_t> life_override = std::nullopt) {
    std::uint64_t life, iv;
    {
      std::lock_guard lk(mu);
      if (!enabled && !life_override) return;
      life = life_override.value_or(lifetime);
      iv = interval;
    }
    auto pkt = packet(life);
    auto dst = sa6(Ipv6Addr::parse("ff02::1"), lan_ifindex);
    if (::sendto(sock.get(), pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst) < 0)
      return;
    if (log::detail::wants(log.get(), log::Level::Info, kRaEventTarget))
      log::detail::write(log.get(), log::Level::Info, kRaEventTarget, "",
                         {{"ns", ns},
                          {"router", router},
                          {"iface", iface},
                          {"src", src},
                          {"lifetime_secs", std::min<std::uint64_t>(life, kMaxLifetime)},
                          {"interval_secs", iv}});
  }

  void arm() {
    std::uint64_t iv;
    {
      std::lock_guard lk(mu);
      iv = std::max<std::uint64_t>(1, interval);
    }
    itimerspec its{};
    its.it_value.tv_sec = static_cast<time_t>(iv);
    its.it_interval.tv_sec = static_cast<time_t>(iv);
    ::timerfd_settime(timer.get(), 0, &its, nullptr);
  }

  void on_solicit() {
    char buf[1500];
    while (::recv(sock.get(), buf, sizeof buf, MSG_DONTWAIT) > 0) {
      // An RS: answer at once (SPEC: within 100 ms).
      if (log::detail::wants(log.get(), log::Level::Debug, "patchbay::ra"))
        log::detail::write(log.get(), log::Level::Debug, "patchbay::ra", "router solicitation received",
                           {{"iface", iface}});
      send();
    }
  }
};

void RaControl::ensure(RouterRec& r) {
  if (r.ra || !r.lan6 || !r.lan_ll6) return;
  auto s = std::make_shared<RaService>();
  s->what = r.describe() + ": router advertisements";
  s->lan_ifindex = r.lan_ifindex;
  s->mac = mac_for(r.id, kLanBridge);
  s->prefix = *r.lan6;
  s->mtu = r.mtu;
  s->enabled = r.ra_enabled;
  s->interval = r.ra_interval;
  s->lifetime = r.ra_lifetime;
  s->log = r.log;
  s->ns = r.ns_label;
  s->router = r.name;
  s->iface = r.lan_name;
  s->src = r.lan_ll6->to_string();
  setup_.in_netns(r.ns->fd.get(), [&] {
    s->sock = nd_socket(*r.lan_ll6, r.lan_ifindex, s->what);
    icmp6_filter f;
    ICMP6_FILTER_SETBLOCKALL(&f);
    ICMP6_FILTER_SETPASS(ND_ROUTER_SOLICIT, &f);
    ::setsockopt(s->sock.get(), IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f);
  });
  s->timer.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!s->timer) sys::throw_errno(s->what, "timerfd_create");
  auto& l = services_.loop();
  std::weak_ptr<RaService> weak = s;
  l.watch(s->sock.get(), EPOLLIN, [weak](std::uint32_t) {
    if (auto sp = weak.lock()) sp->on_solicit();
  });
  l.watch(s->timer.get(), EPOLLIN, [weak](std::uint32_t) {
    if (auto sp = weak.lock()) {
      std::uint64_t n;
      ssize_t rr = ::read(sp->timer.get(), &n, sizeof n);
      (void)rr;
      sp->send();
    }
  });
  s->arm();
  s->send();
  r.ra = s;
  services_.keep_ra(std::move(s));
}

void RaControl::stop(RouterRec& r) {
  if (!r.ra) return;
  services_.drop_ra(r.ra, r.ra->sock.get(), r.ra->timer.get());
  r.ra.reset();
}

void RaControl::set_ra(RouterRec& r, std::optional<bool> enabled, std::optional<std::uint64_t> interval,
                       std::optional<std::uint64_t> lifetime) {
  if (!r.alive) throw Removed(r.describe(), "the router has been removed");
  const bool was = r.ra_enabled;
  if (enabled) r.ra_enabled = *enabled;
  if (interval) r.ra_interval = std::max<std::uint64_t>(1, *interval);
  if (lifetime) r.ra_lifetime = *lifetime;
  if (r.ra) {
    {
      std::lock_guard lk(r.ra->mu);
      r.ra->enabled = r.ra_enabled;
      r.ra->interval = r.ra_interval;
      r.ra->lifetime = r.ra_lifetime;
    }
    r.ra->arm();
    // Turning advertisements off says goodbye with lifetime 0, so devices drop the route now.
    if (was && !r.ra_enabled)
      r.ra->send(0);
    else
      r.ra->send();
  }
  emit_("ra_changed", {{"router", r.name},
                       {"enabled", r.ra_enabled},
                       {"interval_secs", r.ra_interval},
                       {"lifetime_secs", r.ra_lifetime}});
}

bool RaControl::driven(const DeviceRec& d) const {
  return d.provisioning.value_or(default_mode_) == Ipv6ProvisioningMode::RaDriven;
}

void RaControl::send_rs(DeviceRec& d, const IfaceRec& i) {
  if (!i.ll6 || !i.up) return;
  std::vector<std::uint8_t> rs{ND_ROUTER_SOLICIT, 0, 0, 0, 0, 0, 0, 0, ND_OPT_SOURCE_LINKADDR, 1};
  auto mac = mac_for(i.id, kDevIface);
  rs.insert(rs.end(), mac.begin(), mac.end());
  setup_.in_netns(d.ns->fd.get(), [&] {
    auto s = nd_socket(*i.ll6, i.ifindex, d.describe() + ": router solicitation on " + i.name);
    auto dst = sa6(Ipv6Addr::parse("ff02::2"), i.ifindex);
    if (::sendto(s.get(), rs.data(), rs.size(), 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst) < 0)
      sys::throw_errno(d.describe(), "send router solicitation on " + i.name);
  });
  if (log::detail::wants(d.log.get(), log::Level::Info, kRsEventTarget)) {
    auto rt = nodes_.router(i.router);
    log::detail::write(d.log.get(), log::Level::Info, kRsEventTarget, "",
                       {{"ns", d.ns_label},
                        {"device", d.name},
                        {"iface", i.name},
                        {"dst", "ff02::2"},
                        {"router_ll", rt && rt->lan_ll6 ? rt->lan_ll6->to_string() : std::string()}});
  }
}

bool RaControl::has_default_route(DeviceRec& d, const IfaceRec& i) {
  bool found = false;
  setup_.in_netns(d.ns->fd.get(), [&] {
    // /proc/thread-self: /proc/self/net would be the namespace of the thread-group leader.
    std::ifstream f("/proc/thread-self/net/ipv6_route");
    std::string dst, dlen, src, slen, nh, metric, ref, use, flags, dev;
    while (f >> dst >> dlen >> src >> slen >> nh >> metric >> ref >> use >> flags >> dev)
      if (dst == std::string(32, '0') && dlen == "00" && dev == i.name) found = true;
  });
  return found;
}

void RaControl::provision(DeviceRec& d, IfaceRec& i, bool wait) {
  if (!driven(d) || !i.ip6) return;
  setup_.in_netns(d.ns->fd.get(), [&] {
    const std::string base = "net/ipv6/conf/" + i.name + "/";
    // Only the default interface takes a default route from RAs (one default route per family).
    sys::write_sysctls({{base + "accept_ra", "1"},
                        {base + "accept_ra_defrtr", d.default_if == i.name ? "1" : "0"},
                        {base + "autoconf", "0"}});
  });
  auto rt = nodes_.router(i.router);
  if (!rt) return;
  std::uint64_t lifetime = 0;
  bool enabled = false;
  {
    std::lock_guard lk(rt->mu);
    ensure(*rt);
    lifetime = rt->ra_lifetime;
    enabled = rt->ra_enabled;
  }
  if (d.default_if != i.name) return;
  if (!wait || !enabled || lifetime == 0) {
    send_rs(d, i);
    return;
  }
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  // Solicit once both ends of the LAN link carry frames, and again while no answer has arrived
  // (a real host retransmits too; RFC 4861 6.3.7), all within the 2 s the build waits.
  while (Clock::now() < deadline && !link_running(d, i))
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  auto next_rs = Clock::now();
  while (true) {
    if (Clock::now() >= next_rs) {
      send_rs(d, i);
      next_rs = Clock::now() + std::chrono::milliseconds(300);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (has_default_route(d, i)) return;
    if (Clock::now() > deadline)
      throw TimeoutError(d.describe(), "no IPv6 default route learned from router advertisements on " +
                                           i.name + " within 2 s");
  }
}

bool RaControl::link_running(DeviceRec& d, const IfaceRec& i) {
  bool up = false;
  setup_.in_netns(d.ns->fd.get(), [&] { up = if_running(i.ifindex); });
  auto rt = nodes_.router(i.router);
  if (!up || !rt || !i.port_ifindex) return up;
  setup_.in_netns(rt->ns->fd.get(), [&] { up = if_running(i.port_ifindex); });
  return up;
}

}  // namespace patchbay::detail
