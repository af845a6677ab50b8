// More lab-core behaviours: MTU, stdio to files, reflexive probes, events of topology changes,
// children dying with a SIGKILLed lab process.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "patchbay/patchbay.hpp"
#include "util.hpp"

using namespace patchbay;
using namespace std::chrono_literals;
namespace pt = patchbay::testing;

TEST(Behaviour, MtuIsSetOnRouterAndDeviceLinks) {
  Lab lab;
  auto r = lab.add_router("r").mtu(1400).build();
  auto d = lab.add_device("d").iface("eth0", r.id()).mtu(1280).build();
  EXPECT_EQ(r.mtu(), 1400u);
  EXPECT_EQ(d.mtu(), 1280u);
  EXPECT_EQ(d.default_iface().snapshot().mtu, 1280u);
  // (/sys/class/net shows the namespace sysfs was mounted in; ask the kernel through `ip`.)
  auto mtu_of = [](Node& n, const char* dev) {
    auto out = n.output(Command("ip").args({"-o", "link", "show", "dev", dev})).out;
    auto p = out.find(" mtu ");
    return p == std::string::npos ? -1 : std::atoi(out.c_str() + p + 5);
  };
  EXPECT_EQ(mtu_of(d, "eth0"), 1280);
  EXPECT_EQ(mtu_of(r, "ix"), 1400);
  EXPECT_EQ(mtu_of(r, "br-lan"), 1400);  // the router side of its LAN ports has the router's MTU (SPEC 11)
  EXPECT_THROW(lab.add_router("x").mtu(10), InvalidArgument);
}

TEST(Behaviour, StdoutAndStderrCanGoToFiles) {
  Lab lab;
  auto r = lab.add_router("r").build();
  auto dir = std::filesystem::temp_directory_path() / ("pb-stdio-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto c = r.spawn_command(Command("sh")
                               .args({"-c", "echo out; echo err >&2"})
                               .std_out(Stdio::file(dir / "o.log", false))
                               .std_err(Stdio::file(dir / "e.log", false)));
  EXPECT_TRUE(c.wait().success());
  std::stringstream o, e;
  o << std::ifstream(dir / "o.log").rdbuf();
  e << std::ifstream(dir / "e.log").rdbuf();
  EXPECT_EQ(o.str(), "out\n");
  EXPECT_EQ(e.str(), "err\n");
  std::filesystem::remove_all(dir);
}

TEST(Behaviour, StdinCanBePiped) {
  Lab lab;
  auto r = lab.add_router("r").build();
  auto c = r.spawn_command(Command("cat").std_in(Stdio::piped()).std_out(Stdio::piped()));
  UniqueFd in = c.take_stdin(), out = c.take_stdout();
  ASSERT_EQ(::write(in.get(), "hello", 5), 5);
  in.reset();
  char buf[16] = {};
  ASSERT_EQ(::read(out.get(), buf, sizeof buf), 5);
  EXPECT_STREQ(buf, "hello");
  EXPECT_TRUE(c.wait().success());
}

TEST(Behaviour, ProbeUdpMappingReportsTheObservedAddress) {
  Lab lab;
  auto dc = lab.add_router("dc").build();
  auto home = lab.add_router("home").upstream(dc.id()).build();
  auto server = lab.add_device("server").iface("eth0", dc.id()).build();
  auto dev = lab.add_device("dev").iface("eth0", home.id()).build();
  auto r = server.spawn_reflector({*server.ip(), 3478});
  auto seen = dev.probe_udp_mapping({*server.ip(), 3478});
  EXPECT_EQ(seen.ip(), IpAddr(*dev.ip()));
  EXPECT_EQ(seen.port(), 40000 + dev.id().value % 20000);
  r.stop();
  EXPECT_THROW(dev.probe_udp_mapping({*server.ip(), 3478}), TimeoutError);
}

TEST(Behaviour, TopologyChangesAreEvents) {
  Lab lab{LabOpts{}.label("ev").seed(42)};
  auto sub = lab.subscribe();
  auto dc = lab.add_router("dc").build();
  auto dev = lab.add_device("dev").iface("eth0", dc.id()).build();
  auto ip = dev.ip()->to_string();
  lab.remove_device(dev.id());
  lab.remove_router(dc.id());
  std::vector<std::string> kinds;
  std::vector<std::uint64_t> opids;
  while (auto ev = sub.next(200ms)) {
    kinds.push_back(ev->kind);
    opids.push_back(ev->opid);
    if (ev->kind == "device_added") {
      EXPECT_EQ(ev->fields["name"], "dev");
      EXPECT_EQ(ev->fields["interfaces"][0]["ip"], ip);
    }
  }
  EXPECT_EQ(kinds,
            (std::vector<std::string>{"router_added", "device_added", "device_removed", "router_removed"}));
  EXPECT_EQ(opids, (std::vector<std::uint64_t>{2, 3, 4, 5}));  // 0 and 1: lab_created, ix_created
  auto st = lab.state();
  EXPECT_EQ(st.label, "ev");
  EXPECT_TRUE(st.routers.empty());
  EXPECT_EQ(lab.seed(), 42u);
}

TEST(Behaviour, StateHoldsRoutersDevicesAndAddresses) {
  Lab lab;
  auto dc = lab.add_router("dc").ip_support(IpSupport::DualStack).build();
  auto dev = lab.add_device("dev").iface("eth0", dc.id()).build();
  auto st = lab.state();
  ASSERT_TRUE(st.routers.count("dc"));
  EXPECT_EQ(st.routers["dc"]["uplink_ip"], "198.18.0.10");
  EXPECT_EQ(st.routers["dc"]["downstream_cidr"], "198.18.1.0/24");
  EXPECT_EQ(st.routers["dc"]["devices"], nlohmann::json::array({"dev"}));
  EXPECT_EQ(st.devices["dev"]["interfaces"][0]["ip"], dev.ip()->to_string());
  EXPECT_EQ(st.devices["dev"]["interfaces"][0]["ll_v6"], dev.default_iface().ll6()->to_string());
  EXPECT_EQ(st.ix["gw"], "198.18.0.1");
}

// The lab process is killed outright: its children must not survive it (PR_SET_PDEATHSIG).
TEST(Behaviour, ChildrenDieWhenTheLabProcessIsKilled) {
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  pid_t helper = ::fork();
  ASSERT_GE(helper, 0);
  if (helper == 0) {
    ::close(pipefd[0]);
    try {
      Lab lab;
      auto r = lab.add_router("r").build();
      auto c = r.spawn_command(Command("sleep").arg("600"));
      pid_t p = c.pid();
      if (::write(pipefd[1], &p, sizeof p) != sizeof p) ::_exit(2);
      ::pause();
    } catch (...) {
    }
    ::_exit(1);
  }
  ::close(pipefd[1]);
  pid_t sleeper = 0;
  ASSERT_EQ(::read(pipefd[0], &sleeper, sizeof sleeper), static_cast<ssize_t>(sizeof sleeper));
  ::close(pipefd[0]);
  ASSERT_TRUE(pbtest::pid_alive(sleeper));
  ::kill(helper, SIGKILL);
  ::waitpid(helper, nullptr, 0);
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    gone = !pbtest::pid_alive(sleeper);
    if (!gone) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(gone) << "pid " << sleeper << " survived its lab process";
}
