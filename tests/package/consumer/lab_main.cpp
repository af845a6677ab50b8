// A lab from an installed patchbay: one home router, two devices, a TCP exchange between them.
#include <cstdio>

#include <patchbay/patchbay.hpp>

int main() {
  using namespace patchbay;
  init_userns();
  Lab lab;
  auto home = lab.add_router("home").preset(RouterPreset::Home).build();
  auto a = lab.add_device("a").iface("eth0", home.id()).build();
  auto b = lab.add_device("b").iface("eth0", home.id()).build();
  SocketAddr to(*b.ip(), 7000);
  auto g = b.spawn_reflector(to);
  auto rtt = a.run([&] { return testing::udp_rtt_median(to, 3, 1); });
  std::printf("consumer ok a=%s b=%s rtt_us=%lld\n", a.ip()->to_string().c_str(), b.ip()->to_string().c_str(),
              static_cast<long long>(rtt.count()));
  return 0;
}
