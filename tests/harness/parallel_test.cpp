// Parallel labs (issue 11): 16 labs built and used at once from 16 threads of one process. They
// share one address plan (every lab has the same addresses), so any leak between them (a route,
// a NAT mapping, a reflector answering another lab) shows as a wrong or missing answer.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "patchbay/patchbay.hpp"

namespace patchbay {
namespace {

TEST(Parallel, SixteenLabsInOneProcessDoNotInterfere) {
  constexpr int kLabs = 16;
  std::atomic<int> ok{0};
  std::vector<std::string> errors(kLabs);
  std::vector<std::thread> threads;
  for (int i = 0; i < kLabs; ++i) {
    threads.emplace_back([&, i] {
      try {
        Lab lab;
        auto dc = lab.add_router("dc").build();
        // Every other lab's NAT is a CGNAT: a mapping leaking between labs would show the other
        // preset's behaviour.
        auto nat = lab.add_router("nat")
                       .preset(i % 2 ? RouterPreset::IspCgnat : RouterPreset::Home)
                       .upstream(dc.id())
                       .build();
        auto dev = lab.add_device("dev").iface("eth0", nat.id()).build();
        auto peer = lab.add_device("peer").iface("eth0", dc.id()).build();
        SocketAddr refl{*peer.ip(), 3478};
        auto g = peer.spawn_reflector(refl);
        for (int round = 0; round < 20; ++round) {
          auto seen = dev.run([&] { return testing::udp_roundtrip(refl); });
          if (seen.ip() != IpAddr(*nat.uplink_ip())) {
            errors[i] = "round " + std::to_string(round) + ": reflector saw " + seen.to_string();
            return;
          }
        }
        ++ok;
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kLabs; ++i) EXPECT_EQ(errors[i], "") << "lab " << i;
  EXPECT_EQ(ok.load(), kLabs);
}

}  // namespace
}  // namespace patchbay
