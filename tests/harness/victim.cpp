// The process the fault harness kills (faults_test.cpp): `harness_victim PHASE REPORT` builds a
// lab and appends to REPORT what it created ("child <pid>" lines), then "ready" once it is in the
// middle of PHASE, and keeps working until it is killed:
//   build     keeps adding devices (the kill lands inside a build)
//   transfer  an iperf3 TCP transfer through a conditioned link (the userspace engine forwards)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "patchbay/patchbay.hpp"

using namespace patchbay;

namespace {

void report(const char* file, const std::string& line) {
  std::ofstream f(file, std::ios::app);
  f << line << "\n";
  f.flush();
}

bool connects(const SocketAddr& to) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(to.port());
  const auto o = to.ip().v4().octets();
  std::memcpy(&a.sin_addr, o.data(), 4);
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  return ::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::strcmp(argv[1], "build") != 0 && std::strcmp(argv[1], "transfer") != 0)) {
    std::fprintf(stderr, "usage: harness_victim build|transfer REPORT\n");
    return 2;
  }
  const std::string phase = argv[1];
  const char* out = argv[2];
  Lab lab;
  auto dc = lab.add_router("dc").build();
  auto keep = dc.spawn_command(Command("sleep").arg("3611"));
  report(out, "child " + std::to_string(keep.pid()));
  if (phase == "build") {
    for (int i = 0;; ++i) {
      lab.add_device("d" + std::to_string(i)).iface("eth0", dc.id()).build();
      if (i == 3) report(out, "ready");
    }
  }
  LinkLimits l;
  l.latency_ms = 5;
  auto server = lab.add_device("server").iface("eth0", dc.id()).build();
  auto client = lab.add_device("client").iface("eth0", dc.id(), LinkCondition::manual(l)).build();
  auto srv = server.spawn_command(Command("iperf3").arg("-s"));
  report(out, "child " + std::to_string(srv.pid()));
  const std::string ip = server.ip()->to_string();
  const SocketAddr port{*server.ip(), 5201};
  for (int i = 0; i < 100 && !client.run([&] { return connects(port); }); ++i)  // until it listens
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto cli = client.spawn_command(Command("iperf3").args({"-c", ip, "-t", "3600"}));
  report(out, "child " + std::to_string(cli.pid()));
  std::this_thread::sleep_for(std::chrono::seconds(1));  // the transfer is under way
  report(out, "ready");
  for (;;) ::pause();
}
