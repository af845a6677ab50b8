// lab-build benchmark: builds and tears down a lab of N devices spread over M routers and prints
// JSON lines {"bench":"lab-build","metric":...,"value":...,"unit":...}. The baseline builds the
// same wiring the usual shell-script way (one `ip` process per operation) in the same run.
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "emit.hpp"
#include "patchbay/patchbay.hpp"

using namespace patchbay;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

int threads() {
  std::ifstream f("/proc/self/status");
  std::string l;
  while (std::getline(f, l))
    if (l.rfind("Threads:", 0) == 0) return std::stoi(l.substr(8));
  return -1;
}

double rss_mb() {
  std::ifstream f("/proc/self/status");
  std::string l;
  while (std::getline(f, l))
    if (l.rfind("VmRSS:", 0) == 0) return std::stod(l.substr(6)) / 1024.0;
  return -1;
}

void emit(const std::string& metric, double value, const char* unit) {
  bench::emit("lab-build", metric, value, unit);
}

// The same topology with one `ip` (or sysctl) process per operation, in named namespaces.
std::string baseline_script(int devices, int routers, bool teardown) {
  std::string s = "set -e\n";
  if (teardown) {
    s += "ip netns del pbb-root 2>/dev/null || true\n";
    for (int r = 0; r < routers; ++r)
      s += "ip netns del pbb-r" + std::to_string(r) + " 2>/dev/null || true\n";
    for (int d = 0; d < devices; ++d)
      s += "ip netns del pbb-d" + std::to_string(d) + " 2>/dev/null || true\n";
    return s;
  }
  s += "ip netns add pbb-root\nip -n pbb-root link set lo up\nip -n pbb-root link add br-ix type bridge\n"
       "ip -n pbb-root addr add 198.18.0.1/24 dev br-ix\nip -n pbb-root link set br-ix up\n"
       "ip netns exec pbb-root sysctl -qw net.ipv4.ip_forward=1\n";
  for (int r = 0; r < routers; ++r) {
    std::string ns = "pbb-r" + std::to_string(r), R = std::to_string(r),
                wan = "198.18.0." + std::to_string(10 + r);
    s += "ip netns add " + ns + "\nip -n " + ns + " link set lo up\n";
    s += "ip -n pbb-root link add r" + R + " type veth peer name ix netns " + ns + "\n";
    s += "ip -n pbb-root link set r" + R + " master br-ix up\nip -n " + ns + " link set ix up\n";
    s += "ip -n " + ns + " addr add " + wan + "/24 dev ix\n";
    s += "ip -n " + ns + " link add br-lan type bridge\nip -n " + ns + " link set br-lan up\n";
    s += "ip -n " + ns + " addr add 10." + R + ".0.1/16 dev br-lan\n";
    s += "ip -n " + ns + " route add default via 198.18.0.1\n";
    s += "ip netns exec " + ns + " sysctl -qw net.ipv4.ip_forward=1\n";
    s += "ip -n pbb-root route add 10." + R + ".0.0/16 via " + wan + "\n";
  }
  for (int d = 0; d < devices; ++d) {
    int r = d % routers, k = d / routers + 2;
    std::string ns = "pbb-d" + std::to_string(d), rns = "pbb-r" + std::to_string(r), D = std::to_string(d);
    std::string ip =
        "10." + std::to_string(r) + "." + std::to_string(k / 250) + "." + std::to_string(k % 250 + 2);
    s += "ip netns add " + ns + "\nip -n " + ns + " link set lo up\n";
    s += "ip -n " + rns + " link add v" + D + " type veth peer name eth0 netns " + ns + "\n";
    s += "ip -n " + rns + " link set v" + D + " master br-lan up\nip -n " + ns + " link set eth0 up\n";
    s += "ip -n " + ns + " addr add " + ip + "/16 dev eth0\n";
    s += "ip -n " + ns + " route add default via 10." + std::to_string(r) + ".0.1\n";
  }
  return s;
}

double run_script(const std::string& script) {
  std::string path = "/tmp/patchbay-bench-" + std::to_string(::getpid()) + ".sh";
  std::ofstream(path) << script;
  auto t = Clock::now();
  int rc = std::system(("bash " + path + " >/dev/null 2>&1").c_str());
  double s = since(t);
  std::remove(path.c_str());
  return rc == 0 ? s : -1;
}

// Builds `routers` routers and `devices` devices spread over them; seconds.
double build(Lab& lab, int devices, int routers, bool home_nat) {
  auto start = Clock::now();
  std::vector<Router> rs;
  for (int r = 0; r < routers; ++r) {
    auto b = lab.add_router("r" + std::to_string(r));
    if (home_nat) b.preset(RouterPreset::Home);
    rs.push_back(b.build());
  }
  for (int d = 0; d < devices; ++d) {
    lab.add_device("d" + std::to_string(d)).iface("eth0", rs[d % routers].id()).build();
    if ((d + 1) % 250 == 0)
      std::cerr << "lab-build" << (home_nat ? " (home NAT routers)" : "") << ": " << d + 1 << "/" << devices
                << " devices\n";
  }
  return since(start);
}

}  // namespace

int main(int argc, char** argv) {
  int devices = 1000, routers = 50;
  bool baseline = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--devices" && i + 1 < argc)
      devices = std::atoi(argv[++i]);
    else if (a == "--routers" && i + 1 < argc)
      routers = std::atoi(argv[++i]);
    else if (a == "--no-baseline")
      baseline = false;
    else {
      std::cerr << "usage: lab_build [--devices N] [--routers M] [--no-baseline]\n";
      return 2;
    }
  }
  if (devices < 0 || routers < 1) {
    std::cerr << "lab_build: --devices must be >= 0 and --routers >= 1\n";
    return 2;
  }
  bool root = ::geteuid() == 0;
  init_userns();

  int t0 = threads();
  double build_s, teardown_s, rss;
  int idle_threads;
  {
    Lab lab;
    build_s = build(lab, devices, routers, false);
    // Let the setup thread go idle (it exits after one second), then count.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    idle_threads = threads() - t0;
    rss = rss_mb();
    auto td = Clock::now();
    lab.shutdown();
    teardown_s = since(td);
  }
  // The same lab with every router a home NAT (NAT, firewall, dual stack). The kernel frees the
  // first lab's namespaces asynchronously, holding rtnl; let that finish first.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  double build_s_nat;
  {
    Lab lab;
    build_s_nat = build(lab, devices, routers, true);
  }
  emit("build_s", build_s, "s");
  emit("build_s_nat", build_s_nat, "s");
  emit("teardown_s", teardown_s, "s");
  emit("threads_idle", idle_threads, "threads");
  emit("rss_mb", rss, "MiB");
  emit("devices", devices, "count");
  emit("routers", routers, "count");

  if (baseline && root) {
    std::cerr << "lab-build: baseline with one `ip` process per operation...\n";
    run_script(baseline_script(devices, routers, true));
    double b = run_script(baseline_script(devices, routers, false));
    run_script(baseline_script(devices, routers, true));
    if (b > 0) {
      emit("baseline_ip_build_s", b, "s");
      emit("ratio", b / build_s, "x");
    } else {
      std::cerr << "lab-build: the baseline script failed\n";
    }
  } else if (baseline) {
    std::cerr << "lab-build: baseline skipped (needs root for `ip netns add`)\n";
  }
  return 0;
}
