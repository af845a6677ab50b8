// netlink-build benchmark: the cost of building rtnetlink requests in userspace with our NlBatch
// (sys/netlink.hpp, sys/rtnl.hpp) against libmnl, for the same messages: an IPv4 address
// (ifaddrmsg + IFA_LOCAL, IFA_ADDRESS, IFA_BROADCAST) and a route (rtmsg + RTA_DST, RTA_GATEWAY,
// RTA_OIF), each with the description our error messages name. The kernel's share is the same
// for the same bytes, so only the builders are timed.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "emit.hpp"
#include "sys/rtnl.hpp"

using namespace patchbay;
using Clock = std::chrono::steady_clock;

namespace {

void emit(const std::string& metric, double value, const char* unit) {
  bench::emit("netlink-build", metric, value, unit);
}

constexpr int kPerBatch = 500;  // about what a lab build commits at once

double ns_per_message(int pairs, Clock::time_point t) {
  return std::chrono::duration<double, std::nano>(Clock::now() - t).count() / (2.0 * pairs);
}

double ours(int pairs, std::size_t& bytes) {
  sys::NlBatch b("bench");
  auto t = Clock::now();
  for (int i = 0; i < pairs; ++i) {
    Ipv4Addr a(10, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i), 1);
    sys::add_addr(b, 2 + i % 100, IpAddr(a), 24);
    sys::Route r;
    r.dst = IpAddr(Ipv4Net(a, 24).addr());
    r.dst_len = 24;
    r.gateway = IpAddr(Ipv4Addr(198, 18, 0, 1));
    r.oif = 2 + i % 100;
    sys::add_route(b, r);
    if ((i + 1) % kPerBatch == 0) {
      bytes += b.data().size();
      b.clear();
    }
  }
  return ns_per_message(pairs, t);
}

double with_libmnl(int pairs, std::size_t& bytes) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 64);
  std::vector<std::string> whats;
  mnl_nlmsg_batch* batch = mnl_nlmsg_batch_start(buf.data(), buf.size());
  auto t = Clock::now();
  for (int i = 0; i < pairs; ++i) {
    Ipv4Addr a(10, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i), 1);
    const int ifindex = 2 + i % 100;
    auto o = a.octets();
    std::uint32_t addr, bcast, gw;
    std::memcpy(&addr, o.data(), 4);
    bcast = addr | htonl(0xff);
    auto g = Ipv4Addr(198, 18, 0, 1).octets();
    std::memcpy(&gw, g.data(), 4);

    nlmsghdr* h = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(batch));
    h->nlmsg_type = RTM_NEWADDR;
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
    auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(h, sizeof(ifaddrmsg)));
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = 24;
    ifa->ifa_index = static_cast<std::uint32_t>(ifindex);
    mnl_attr_put_u32(h, IFA_LOCAL, addr);
    mnl_attr_put_u32(h, IFA_ADDRESS, addr);
    mnl_attr_put_u32(h, IFA_BROADCAST, bcast);
    whats.push_back("add address " + a.to_string() + "/24 on link " + std::to_string(ifindex));
    mnl_nlmsg_batch_next(batch);

    h = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(batch));
    h->nlmsg_type = RTM_NEWROUTE;
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
    auto* rt = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(h, sizeof(rtmsg)));
    rt->rtm_family = AF_INET;
    rt->rtm_dst_len = 24;
    rt->rtm_table = RT_TABLE_MAIN;
    rt->rtm_protocol = RTPROT_STATIC;
    rt->rtm_scope = RT_SCOPE_UNIVERSE;
    rt->rtm_type = RTN_UNICAST;
    std::uint32_t dst = addr & htonl(0xffffff00);
    mnl_attr_put_u32(h, RTA_DST, dst);
    mnl_attr_put_u32(h, RTA_GATEWAY, gw);
    mnl_attr_put_u32(h, RTA_OIF, static_cast<std::uint32_t>(ifindex));
    whats.push_back("add route " + Ipv4Net(a, 24).to_string() + " via 198.18.0.1");
    mnl_nlmsg_batch_next(batch);

    if ((i + 1) % kPerBatch == 0) {
      bytes += mnl_nlmsg_batch_size(batch);
      mnl_nlmsg_batch_reset(batch);
      whats.clear();
    }
  }
  double ns = ns_per_message(pairs, t);
  mnl_nlmsg_batch_stop(batch);
  return ns;
}

}  // namespace

int main(int argc, char** argv) {
  int pairs = 200000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--messages" && i + 1 < argc) {
      pairs = std::atoi(argv[++i]) / 2;
    } else {
      std::cerr << "usage: netlink_build [--messages N]\n";
      return 2;
    }
  }
  if (pairs < kPerBatch) {
    std::cerr << "netlink_build: --messages must be >= " << 2 * kPerBatch << "\n";
    return 2;
  }
  std::size_t b1 = 0, b2 = 0;
  ours(pairs / 10, b1);  // warm-up
  with_libmnl(pairs / 10, b2);
  b1 = b2 = 0;
  double a = ours(pairs, b1), m = with_libmnl(pairs, b2);
  emit("nlbatch_ns_per_msg", a, "ns");
  emit("libmnl_ns_per_msg", m, "ns");
  emit("ratio", m / a, "x");
  emit("nlbatch_bytes_per_msg", static_cast<double>(b1) / (2.0 * pairs), "B");
  emit("libmnl_bytes_per_msg", static_cast<double>(b2) / (2.0 * pairs), "B");
  return 0;
}
