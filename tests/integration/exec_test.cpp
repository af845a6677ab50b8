// SPEC 12 / 17.1: running code and programs in nodes, and what a lab leaves behind.
#include <gtest/gtest.h>
#include <net/if.h>
#include <signal.h>
#include <sys/prctl.h>

#include <thread>

#include <asio/steady_timer.hpp>

#include "patchbay/patchbay.hpp"
#include "util.hpp"

using namespace patchbay;
using namespace std::chrono_literals;
namespace pt = patchbay::testing;

namespace {

std::set<std::string> interfaces_here() {
  return pbtest::host_interfaces();
}

}  // namespace

TEST(Exec, RunExecutesInsideTheNodeAndReturnsValues) {
  Lab lab;
  auto dc = lab.add_router("dc").build();
  auto dev = lab.add_device("dev").iface("wlan0", dc.id()).build();
  auto ifs = dev.run([] { return interfaces_here(); });
  EXPECT_EQ(ifs, (std::set<std::string>{"lo", "wlan0"}));
  EXPECT_EQ(dev.run([] { return std::string("x") + "y"; }), "xy");
  EXPECT_THROW(dev.run([]() -> int { throw InvalidArgument("boom"); }), InvalidArgument);
  // run() from the worker itself executes inline instead of deadlocking.
  EXPECT_EQ(dev.run([&] { return dev.run([] { return 5; }); }), 5);
}

TEST(Exec, SpawnThreadSeesTheNode) {
  Lab lab;
  auto dc = lab.add_router("dc").build();
  auto dev = lab.add_device("dev").iface("eth7", dc.id()).build();
  auto t = dev.spawn_thread([] { return interfaces_here().count("eth7"); });
  EXPECT_EQ(t.join(), 1u);
}

TEST(Exec, SocketIsCreatedInsideTheNode) {
  Lab lab;
  auto dc = lab.add_router("dc").build();
  auto dev = lab.add_device("dev").iface("eth0", dc.id()).build();
  auto peer = lab.add_device("peer").iface("eth0", dc.id()).build();
  auto r = peer.spawn_reflector({*peer.ip(), 5555});
  // Bind to the device's own address: only possible inside the device's namespace.
  UniqueFd s = dev.socket(AF_INET, SOCK_DGRAM);
  sockaddr_storage ss;
  auto len = SocketAddr(*dev.ip(), 0).to_sockaddr(ss);
  ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&ss), len), 0) << std::strerror(errno);
  len = SocketAddr(*peer.ip(), 5555).to_sockaddr(ss);
  ASSERT_EQ(::sendto(s.get(), "PROBE", 5, 0, reinterpret_cast<sockaddr*>(&ss), len), 5);
  timeval tv{2, 0};
  ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[128] = {};
  auto n = ::recv(s.get(), buf, sizeof buf - 1, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf).rfind("OBSERVED " + dev.ip()->to_string() + ":", 0), 0u) << buf;
}

TEST(Exec, CommandsRunInTheNodeWithStatusAndOutput) {
  Lab lab;
  auto dc = lab.add_router("dc").build();
  auto dev = lab.add_device("dev").iface("eth0", dc.id()).build();
  auto out = dev.output(Command("sh").args({"-c", "ip -o link show dev eth0; echo err >&2; exit 3"}));
  EXPECT_EQ(out.status.code, 3);
  EXPECT_FALSE(out.status.success());
  EXPECT_EQ(out.err, "err\n");
  EXPECT_NE(out.out.find("eth0"), std::string::npos) << out.out;  // the device's own link
  auto env = dev.output(Command("sh").args({"-c", "echo $FOO"}).env("FOO", "bar"));
  EXPECT_EQ(env.out, "bar\n");
  auto cwd = dev.output(Command("pwd").cwd("/tmp"));
  EXPECT_EQ(cwd.out, "/tmp\n");
}

TEST(Exec, SpawnFailureIsAProcessErrorNotExitCode127) {
  Lab lab;
  auto dc = lab.add_router("dc").build();
  auto dev = lab.add_device("dev").iface("eth0", dc.id()).build();
  EXPECT_THROW(dev.spawn_command(Command("definitely-not-a-program")), ProcessError);
  try {
    dev.spawn_command(Command("/etc/hostname"));  // exists, not executable
    FAIL();
  } catch (const ProcessError& e) {
    EXPECT_NE(std::string(e.what()).find("device 'dev'"), std::string::npos) << e.what();
  }
  try {
    dev.spawn_command(Command("true").cwd("/no/such/dir"));
    FAIL();
  } catch (const ProcessError& e) {
    EXPECT_NE(std::string(e.what()).find("chdir"), std::string::npos) << e.what();
  }
}

TEST(Exec, ChildKillAndSignal) {
  Lab lab;
  auto dc = lab.add_router("dc").build();
  auto dev = lab.add_device("dev").iface("eth0", dc.id()).build();
  Child c = dev.spawn_command(Command("sleep").arg("600"));
  EXPECT_GT(c.pid(), 0);
  EXPECT_FALSE(c.try_wait());
  EXPECT_FALSE(c.wait_for(100ms));
  c.signal(SIGTERM);
  auto st = c.wait();
  EXPECT_EQ(st.signal, SIGTERM);
  Child d = dev.spawn_command(Command("sleep").arg("600"));
  d.kill();
  EXPECT_EQ(d.wait().signal, SIGKILL);
}

TEST(Exec, EventsRecordSpawnAndExit) {
  Lab lab;
  auto dc = lab.add_router("dc").build();
  auto dev = lab.add_device("dev").iface("eth0", dc.id()).build();
  auto sub = lab.subscribe();
  auto c = dev.spawn_command(Command("sh").args({"-c", "exit 4"}));
  c.wait();
  std::optional<LabEvent> spawned, exited;
  while (auto ev = sub.next(2s)) {
    if (ev->kind == "command_spawned") spawned = ev;
    if (ev->kind == "command_exited") {
      exited = ev;
      break;
    }
  }
  ASSERT_TRUE(spawned);
  ASSERT_TRUE(exited);
  EXPECT_EQ(spawned->fields["node"], "dev");
  EXPECT_EQ(spawned->fields["cmd"], "sh -c 'exit 4'");
  EXPECT_EQ(exited->fields["pid"], c.pid());
  EXPECT_EQ(exited->fields["exit_code"], 4);
}

TEST(Exec, CoroutinesRunOnTheNodeAndCanBeAborted) {
  Lab lab;
  auto dc = lab.add_router("dc").build();
  auto dev = lab.add_device("dev").iface("eth9", dc.id()).build();
  auto h =
      dev.spawn([](Device) -> asio::awaitable<std::size_t> { co_return interfaces_here().count("eth9"); });
  EXPECT_EQ(h.get(), 1u);
  auto slow = dev.spawn([](Device) -> asio::awaitable<void> {
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::hours(1));
    co_await t.async_wait(asio::use_awaitable);
  });
  EXPECT_FALSE(slow.wait_for(50ms));
  slow.abort();
  EXPECT_TRUE(slow.wait_for(2s));
  EXPECT_ANY_THROW(slow.get());
}

TEST(Exec, PendingCoroutinesAreCancelledAtTeardown) {
  JoinHandle<int> h;
  {
    Lab lab;
    auto dc = lab.add_router("dc").build();
    h = dc.spawn([](Router) -> asio::awaitable<int> {
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::hours(1));
      co_await t.async_wait(asio::use_awaitable);
      co_return 1;
    });
  }
  EXPECT_TRUE(h.wait_for(2s));
  EXPECT_THROW(h.get(), Cancelled);
}

TEST(Lifecycle, TeardownKillsChildrenAndGrandchildren) {
  std::vector<pid_t> pids;
  {
    Lab lab{LabOpts{}.child_grace(300ms)};
    auto dc = lab.add_router("dc").build();
    auto dev = lab.add_device("dev").iface("eth0", dc.id()).build();
    auto c =
        dev.spawn_command(Command("sh").args({"-c", "sleep 600 & echo $!; wait"}).std_out(Stdio::piped()));
    UniqueFd out = c.take_stdout();
    char buf[32] = {};
    ASSERT_GT(::read(out.get(), buf, sizeof buf - 1), 0);
    pids = {c.pid(), static_cast<pid_t>(std::atoi(buf))};
    auto ignoring = dc.spawn_command(Command("sh").args({"-c", "trap '' TERM; sleep 600"}));
    pids.push_back(ignoring.pid());
    for (pid_t p : pids) ASSERT_TRUE(pbtest::pid_alive(p)) << p;
  }
  // Teardown waits for them: nothing is left, not even a zombie.
  for (pid_t p : pids) EXPECT_FALSE(pbtest::pid_alive(p)) << p;
  for (pid_t p : pids) EXPECT_EQ(pbtest::child_pids().count(p), 0u) << p;
}

// PR_SET_CHILD_SUBREAPER is process-wide: it is on while a lab has a spawner, and off again after.
TEST(Lifecycle, SubreaperIsRestoredAfterTheLastLab) {
  int before = -1;
  ASSERT_EQ(::prctl(PR_GET_CHILD_SUBREAPER, &before), 0);
  ASSERT_EQ(before, 0);
  {
    Lab a, b;
    auto ra = a.add_router("r").build();
    auto rb = b.add_router("r").build();
    EXPECT_EQ(ra.output(Command("true")).status.code, 0);
    EXPECT_EQ(rb.output(Command("true")).status.code, 0);
    int during = -1;
    ::prctl(PR_GET_CHILD_SUBREAPER, &during);
    EXPECT_EQ(during, 1);
    a.shutdown();
    ::prctl(PR_GET_CHILD_SUBREAPER, &during);
    EXPECT_EQ(during, 1) << "lab b still spawns";
  }
  int after = -1;
  ::prctl(PR_GET_CHILD_SUBREAPER, &after);
  EXPECT_EQ(after, 0);
}

// A process group is signalled by id; the id stays ours while its leader is an unreaped zombie.
// So a leader that exits while its group lives on is reported at once but reaped only when the
// group is empty, and kill() still reaches the group.
TEST(Lifecycle, ExitedLeaderStaysAZombieUntilItsGroupIsEmpty) {
  Lab lab;
  auto r = lab.add_router("r").build();
  auto c = r.spawn_command(Command("sh").args({"-c", "sleep 600 & echo $!; exit 3"}).std_out(Stdio::piped()));
  UniqueFd out = c.take_stdout();
  char buf[32] = {};
  ASSERT_GT(::read(out.get(), buf, sizeof buf - 1), 0);
  const pid_t sleeper = static_cast<pid_t>(std::atoi(buf));
  auto st = c.wait_for(5s);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->code, 3);
  std::this_thread::sleep_for(300ms);  // more than a sweep interval
  EXPECT_EQ(pbtest::pid_state(c.pid()), 'Z') << "leader reaped while its group lives";
  EXPECT_TRUE(pbtest::pid_alive(sleeper));
  c.kill();  // the group: the sleeper dies, then the leader is reaped
  auto deadline = std::chrono::steady_clock::now() + 3s;
  while ((pbtest::pid_state(sleeper) != 0 || pbtest::pid_state(c.pid()) != 0) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  EXPECT_EQ(pbtest::pid_state(sleeper), 0);
  EXPECT_EQ(pbtest::pid_state(c.pid()), 0);
}

TEST(Lifecycle, ALoneLeaderIsReapedPromptly) {
  Lab lab;
  auto r = lab.add_router("r").build();
  auto c = r.spawn_command(Command("true"));
  ASSERT_TRUE(c.wait_for(5s).has_value());
  auto deadline = std::chrono::steady_clock::now() + 2s;
  while (pbtest::pid_state(c.pid()) != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(pbtest::pid_state(c.pid()), 0);
}

// A worker destroyed from its own thread (code on a device removing that device) is not detached:
// its thread is joined by the lab's shutdown at the latest.
TEST(Lifecycle, AWorkerThatRemovesItsOwnNodeLeavesNoThreadBehind) {
  // A runtime that starts a helper with the first thread (ThreadSanitizer's background thread)
  // has it before the count.
  std::thread([] {}).join();
  const int before = pbtest::thread_count();
  {
    Lab lab;
    auto dc = lab.add_router("dc").build();
    auto dev = lab.add_device("dev").iface("eth0", dc.id()).build();
    const NodeId id = dev.id();
    auto t = dev.spawn_thread([&lab, id] { lab.remove_device(id); });
    t.join();
    auto other = lab.add_device("other").iface("eth0", dc.id()).build();
    other.run([&lab, &other] { lab.remove_device(other.id()); });
  }
  auto deadline = std::chrono::steady_clock::now() + 2s;
  while (pbtest::thread_count() > before && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(pbtest::thread_count(), before);
}

TEST(Lifecycle, IdleNodesCostNoThreads) {
  Lab lab;
  auto dc = lab.add_router("dc").build();
  int before = pbtest::thread_count();
  std::vector<Device> devs;
  for (int i = 0; i < 50; ++i)
    devs.push_back(lab.add_device("d" + std::to_string(i)).iface("eth0", dc.id()).build());
  // The setup thread exits after one idle second: poll for that rather than sleeping a fixed time.
  for (auto end = std::chrono::steady_clock::now() + 5s;
       pbtest::thread_count() - before > 3 && std::chrono::steady_clock::now() < end;)
    std::this_thread::sleep_for(20ms);
  int idle = pbtest::thread_count();
  EXPECT_LE(idle - before, 3);
  devs[0].run([] {});
  // A device's first run() also makes its DNS mount namespace on a short-lived helper thread;
  // give that thread's exit a moment to reach /proc.
  auto deadline = std::chrono::steady_clock::now() + 1s;
  while (pbtest::thread_count() > idle + 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(pbtest::thread_count(), idle + 1);
}

TEST(Lifecycle, ManyLabsLeaveNothingBehind) {
  {
    Lab warm;  // first-use allocations (locale, static buffers) are not leaks
    auto dc = warm.add_router("dc").build();
    warm.add_device("d").iface("eth0", dc.id()).build().run([] {});
  }
  std::this_thread::sleep_for(100ms);
  int fds = pbtest::fd_count();
  int threads = pbtest::thread_count();
  auto ifaces = pbtest::host_interfaces();
  auto kids = pbtest::child_pids();
  for (int i = 0; i < 200; ++i) {
    Lab lab;
    auto dc = lab.add_router("dc").ip_support(IpSupport::DualStack).build();
    auto home = lab.add_router("home").upstream(dc.id()).preset(RouterPreset::Home).build();
    auto dev = lab.add_device("dev").iface("eth0", home.id()).build();
    if (i % 20 == 0) {
      dev.run([] {});
      dev.spawn_command(Command("sleep").arg("60"));
    }
  }
  EXPECT_EQ(pbtest::fd_count(), fds);
  EXPECT_EQ(pbtest::thread_count(), threads);
  EXPECT_EQ(pbtest::host_interfaces(), ifaces);
  EXPECT_EQ(pbtest::child_pids(), kids);
}

TEST(Lifecycle, SixteenLabsInParallelThreads) {
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  std::vector<std::string> errors(16);
  for (int i = 0; i < 16; ++i) {
    ts.emplace_back([&, i] {
      try {
        Lab lab;
        auto dc = lab.add_router("dc").build();
        auto home = lab.add_router("home").upstream(dc.id()).build();
        auto server = lab.add_device("server").iface("eth0", dc.id()).build();
        auto dev = lab.add_device("dev").iface("eth0", home.id()).build();
        auto r = server.spawn_reflector({*server.ip(), 3478});
        auto seen = dev.run([&] { return pt::udp_roundtrip({*server.ip(), 3478}); });
        if (seen.ip() == IpAddr(*dev.ip())) ++ok;
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : ts) t.join();
  for (auto& e : errors) EXPECT_EQ(e, "");
  EXPECT_EQ(ok.load(), 16);
}
