// Host isolation (issue 11): nothing a lab sends reaches the host's own network. Traffic to a
// public address gets no answer (an unreachable error or silence from inside the lab), and the
// lab adds no interface to the namespace the process runs in, so there is no path out.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "patchbay/patchbay.hpp"

namespace patchbay {
namespace {

using namespace std::chrono_literals;

// The interfaces of the namespace this process runs in (the host's, for a root run).
std::set<std::string> host_links() {
  std::set<std::string> names;
  for (auto& e : std::filesystem::directory_iterator("/sys/class/net")) names.insert(e.path().filename());
  return names;
}

constexpr int kReplied = -1;

// A connected UDP socket to `to` inside `dev`: the error the kernel reports for the flow (an ICMP
// unreachable arrives as ENETUNREACH / EHOSTUNREACH on recv), 0 for silence during 1 s, or
// kReplied if anything answered.
int udp_error_towards(Device& dev, const std::string& to, int family) {
  return dev.run([&] {
    UniqueFd s(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_port = htons(53);
      ::inet_pton(AF_INET, to.c_str(), &a->sin_addr);
      len = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(53);
      ::inet_pton(AF_INET6, to.c_str(), &a->sin6_addr);
      len = sizeof *a;
    }
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return errno;
    timeval tv{1, 0};
    ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::send(s.get(), "probe", 5, 0) < 0) return errno;
    char buf[64];
    if (::recv(s.get(), buf, sizeof buf, 0) >= 0) return kReplied;
    return errno == EAGAIN ? 0 : errno;
  });
}

// Unreachable (reported or silently dropped inside the lab) - anything but an answer.
bool is_unreachable(int err) {
  return err == 0 || err == ENETUNREACH || err == EHOSTUNREACH || err == ECONNREFUSED;
}

TEST(HostIsolation, PublicAddressesAreUnreachableAndTheHostGainsNoInterface) {
  const auto links_before = host_links();
  Lab lab;
  auto dc = lab.add_router("dc").ip_support(IpSupport::DualStack).build();
  auto home = lab.add_router("home").preset(RouterPreset::Home).upstream(dc.id()).build();
  auto dev = lab.add_device("dev").iface("eth0", home.id()).build();
  auto direct = lab.add_device("direct").iface("eth0", dc.id()).build();
  // Control: the lab itself routes (a reflector in dc answers), so "unreachable" below is about
  // the destination, not a broken device.
  SocketAddr refl{*dc.uplink_ip(), 3478};
  auto g = dc.spawn_reflector(refl);
  EXPECT_EQ(dev.run([&] { return testing::udp_roundtrip(refl); }).ip(), IpAddr(*home.uplink_ip()));

  // No lab interface lives in this process's namespace, so no lab packet has a way out of it.
  EXPECT_EQ(host_links(), links_before);
  for (Device* d : {&dev, &direct}) {
    int e4 = udp_error_towards(*d, "8.8.8.8", AF_INET);
    EXPECT_TRUE(is_unreachable(e4)) << d->name()
                                    << " to 8.8.8.8: " << (e4 == kReplied ? "answered" : std::strerror(e4));
    int e6 = udp_error_towards(*d, "2001:4860::8888", AF_INET6);
    EXPECT_TRUE(is_unreachable(e6)) << d->name() << " to 2001:4860::8888: "
                                    << (e6 == kReplied ? "answered" : std::strerror(e6));
  }
}

}  // namespace
}  // namespace patchbay
