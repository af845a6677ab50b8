// The README topology: a public data-centre router with a server, a home router with a laptop.
// The laptop pings the server, exchanges a few bytes over TCP with it, then gets a slower link.
//
//   build/examples/simple            # as root or as any user (enters a user namespace)
#include <cstdio>
#include <iostream>

#include "patchbay/patchbay.hpp"

using namespace patchbay;

int main() {
  try {
    init_userns();  // no-op as root; must run before any thread exists

    Lab lab{LabOpts{}.label("simple")};
    // A public router: downstream devices get globally routable addresses.
    auto dc = lab.add_router("dc").preset(RouterPreset::Public).build();
    // A home router: private LAN behind an endpoint-independent NAT, inbound blocked.
    auto home = lab.add_router("home").preset(RouterPreset::Home).build();
    auto laptop = lab.add_device("laptop").iface("eth0", home.id()).build();
    auto server = lab.add_device("server").iface("eth0", dc.id()).build();

    std::cout << "lab " << lab.prefix() << "\n"
              << "  dc      uplink " << dc.uplink_ip()->to_string() << "  LAN "
              << dc.downstream_cidr()->to_string() << "\n"
              << "  home    uplink " << home.uplink_ip()->to_string() << "  LAN "
              << home.downstream_cidr()->to_string() << "\n"
              << "  laptop  " << laptop.ip()->to_string() << "\n"
              << "  server  " << server.ip()->to_string() << "  " << server.ip6()->to_string() << "\n";

    auto ping = laptop.output(Command("ping").args({"-c", "3", "-i", "0.2", server.ip()->to_string()}));
    std::cout << "\n$ ping -c 3 " << server.ip()->to_string() << "   (inside laptop)\n" << ping.out;
    if (!ping.status.success()) {
      std::cerr << "ping failed: " << ping.err << "\n";
      return 1;
    }

    // A TCP echo server on the server, a client on the laptop.
    SocketAddr addr{*server.ip(), 7000};
    auto echo = testing::spawn_tcp_echo_server(server, addr);
    laptop.run([&] { testing::tcp_roundtrip(addr); });
    std::cout << "TCP echo with " << addr.to_string() << ": ok\n";

    // What the server sees of the laptop: the home router's address (NAT), same port everywhere.
    auto reflector = server.spawn_reflector({*server.ip(), 3478});
    auto seen = laptop.probe_udp_mapping({*server.ip(), 3478});
    std::cout << "the server sees the laptop as " << seen.to_string() << " (home WAN "
              << home.uplink_ip()->to_string() << ")\n";
    if (seen.ip() != IpAddr(*home.uplink_ip())) return 1;

    // A slower link for the laptop: 25 ms each way, applied by patchbay's userspace link engine
    // (no sch_netem needed, works without root).
    LinkLimits slow;
    slow.latency_ms = 25;
    laptop.default_iface().set_condition(LinkCondition::manual(slow), LinkDirection::Both);
    auto rtt = laptop.run([&] { return testing::udp_rtt_median({*server.ip(), 3478}, 5, 2); });
    std::printf("with 25 ms each way on the laptop's link: UDP RTT %.1f ms\n", rtt.count() / 1000.0);
    if (rtt < std::chrono::milliseconds(45) || rtt > std::chrono::milliseconds(80)) return 1;
    return 0;
  } catch (const Error& e) {
    std::cerr << "simple: " << e.what() << "\n";
    return 1;
  }
}
