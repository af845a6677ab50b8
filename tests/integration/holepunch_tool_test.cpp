// pb-holepunch (tools/holepunch.cpp) in a lab: two peers behind NATs meet via a public rendezvous
// server and punch a UDP path to each other, or fail cleanly when both NATs map per destination.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "patchbay/patchbay.hpp"

using namespace patchbay;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// The tool is a dependency of this test binary; CMake passes its path.
#define REQUIRE_TOOL(var) const std::string var = PB_HOLEPUNCH

std::string read_all(UniqueFd fd) {
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd.get(), buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

struct ToolRun {
  ExitStatus status;
  std::string out, err;
  std::chrono::milliseconds took;
  // The last line of stdout carrying this event, or null.
  json event(const std::string& name) const {
    json found;
    std::size_t pos = 0;
    while (pos < out.size()) {
      auto nl = out.find('\n', pos);
      auto line = out.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      pos = nl == std::string::npos ? out.size() : nl + 1;
      auto j = json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.is_object() && j.value("event", "") == name) found = j;
    }
    return found;
  }
};

Child spawn_piped(Node& node, const std::string& tool, std::vector<std::string> args) {
  return node.spawn_command(
      Command(tool).args(std::move(args)).std_out(Stdio::piped()).std_err(Stdio::piped()));
}

ToolRun finish(Child& c, std::chrono::steady_clock::time_point started, std::chrono::milliseconds limit) {
  ToolRun r;
  auto st = c.wait_for(limit);
  if (!st) {
    c.kill();
    st = c.wait();
    ADD_FAILURE() << "pb-holepunch (pid " << c.pid() << ") still running after " << limit.count() << " ms";
  }
  r.status = *st;
  r.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  r.out = read_all(c.take_stdout());
  r.err = read_all(c.take_stderr());
  return r;
}

// dc (public) holds the rendezvous server; home_a/alice and home_b/bob sit behind NAT routers
// that differ from RouterPreset::Home at most in their NAT mode.
struct PunchLab {
  Lab lab;
  Router dc, home_a, home_b;
  Device server, alice, bob;

  explicit PunchLab(std::optional<Nat> nat = std::nullopt)
      : dc(lab.add_router("dc").preset(RouterPreset::Public).build()),
        home_a(home("home_a", nat)),
        home_b(home("home_b", nat)),
        server(lab.add_device("server").iface("eth0", dc.id()).build()),
        alice(lab.add_device("alice").iface("eth0", home_a.id()).build()),
        bob(lab.add_device("bob").iface("eth0", home_b.id()).build()) {}

  Router home(const std::string& name, const std::optional<Nat>& nat) {
    auto b = std::move(lab.add_router(name).preset(RouterPreset::Home));
    if (nat) b.nat(*nat);
    return b.build();
  }

  std::string server_addr() const { return server.ip()->to_string() + ":3478"; }

  // Runs the server and both peers concurrently; returns {alice, bob, server}.
  std::vector<ToolRun> punch(const std::string& tool, const std::string& timeout,
                             std::chrono::milliseconds limit) {
    auto srv = spawn_piped(server, tool, {"server", "--bind", "0.0.0.0:3478"});
    auto peer = [&](Device& d) {
      return spawn_piped(
          d, tool,
          {"peer", "--server", server_addr(), "--session", "s1", "--name", d.name(), "--timeout", timeout});
    };
    auto t0 = std::chrono::steady_clock::now();
    Child a = peer(alice), b = peer(bob);
    ToolRun ra = finish(a, t0, limit), rb = finish(b, t0, limit);
    srv.signal(SIGTERM);
    ToolRun rs = finish(srv, t0, limit + 5s);
    return {ra, rb, rs};
  }
};

std::string ip_of(const json& addr) {
  auto s = addr.get<std::string>();
  return s.substr(0, s.rfind(':'));
}

}  // namespace

TEST(HolePunchTool, ConnectsTwoPeersBehindHomeNats) {
  REQUIRE_TOOL(tool);
  PunchLab l;
  auto runs = l.punch(tool, "10s", 20s);
  const ToolRun &alice = runs[0], &bob = runs[1], &server = runs[2];
  struct Side {
    const ToolRun& run;
    Router own, other;
    const ToolRun& peer_run;
  };
  for (const Side& s : {Side{alice, l.home_a, l.home_b, bob}, Side{bob, l.home_b, l.home_a, alice}}) {
    SCOPED_TRACE("peer behind " + s.own.name() + "\nstdout:\n" + s.run.out + "stderr:\n" + s.run.err);
    EXPECT_TRUE(s.run.status.success());
    json reg = s.run.event("registered"), con = s.run.event("connected");
    ASSERT_TRUE(reg.is_object());
    ASSERT_TRUE(con.is_object());
    EXPECT_EQ(ip_of(reg["reflexive"]), s.own.uplink_ip()->to_string());
    EXPECT_EQ(ip_of(con["peer"]), s.other.uplink_ip()->to_string());
    // Home NATs map independently of the destination, so the punched path ends at the very
    // address the server observed for the other peer.
    EXPECT_EQ(con["peer"], s.peer_run.event("registered")["reflexive"]);
    ASSERT_TRUE(con["rtt_ms"].is_number());
    double rtt = con["rtt_ms"].get<double>();
    EXPECT_TRUE(std::isfinite(rtt) && rtt > 0 && rtt < 1000) << rtt;
    EXPECT_EQ(con["messages"], 5);
    EXPECT_GE(con["punch_ms"].get<long>(), 0);
    EXPECT_LE(con["punch_ms"].get<long>(), 10000);  // within --timeout
  }
  SCOPED_TRACE("server stdout:\n" + server.out);
  EXPECT_TRUE(server.status.success()) << "SIGTERM must end the server with status 0";
  json paired = server.event("paired");
  ASSERT_TRUE(paired.is_object());
  EXPECT_EQ(paired["session"], "s1");
  EXPECT_EQ(paired["peers"]["alice"], alice.event("registered")["reflexive"]);
  EXPECT_EQ(paired["peers"]["bob"], bob.event("registered")["reflexive"]);
}

TEST(HolePunchTool, FailsWithinTimeoutWhenBothNatsAreSymmetric) {
  REQUIRE_TOOL(tool);
  // Nat::corporate() maps per destination (address and port) without port preservation, so the
  // port the server saw is useless to the other peer. The rest of the Home preset stays, in
  // particular its firewall: the Corporate firewall would block UDP 3478 and fail for another
  // reason.
  PunchLab l(Nat::corporate());
  auto runs = l.punch(tool, "3s", 10s);
  for (int i = 0; i < 2; ++i) {
    const ToolRun& r = runs[i];
    const Router& own = i == 0 ? l.home_a : l.home_b;
    SCOPED_TRACE("peer behind " + own.name() + "\nstdout:\n" + r.out + "stderr:\n" + r.err);
    EXPECT_EQ(r.status.code, 1);
    // Positive control: the server was reached and paired them, so only the punch failed.
    json reg = r.event("registered");
    ASSERT_TRUE(reg.is_object());
    EXPECT_EQ(ip_of(reg["reflexive"]), own.uplink_ip()->to_string());
    EXPECT_TRUE(r.event("peer").is_object());
    json failed = r.event("failed");
    ASSERT_TRUE(failed.is_object());
    EXPECT_NE(failed["reason"].get<std::string>().find("hole punching"), std::string::npos);
    EXPECT_TRUE(r.event("connected").is_null());
    EXPECT_NE(r.err.find("error"), std::string::npos);
    EXPECT_GE(r.took, 2900ms);
    EXPECT_LT(r.took, 5s) << "the peer must give up at its --timeout";
  }
}

namespace {

// The tool outside any lab, for argument checks.
ToolRun run_direct(const std::string& tool, std::vector<std::string> args) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  std::vector<char*> argv{const_cast<char*>(tool.c_str())};
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::execv(tool.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  ToolRun r;
  r.out = read_all(UniqueFd(out[0]));
  r.err = read_all(UniqueFd(err[0]));
  int st = 0;
  ::waitpid(pid, &st, 0);
  if (WIFEXITED(st)) r.status.code = WEXITSTATUS(st);
  return r;
}

}  // namespace

TEST(HolePunchTool, RejectsBadArgumentsNamingTheFlag) {
  REQUIRE_TOOL(tool);
  const std::vector<std::string> peer = {"peer",   "--server", "198.51.100.1:3478", "--session", "s",
                                         "--name", "a"};
  auto with = [&](std::vector<std::string> extra) {
    auto v = peer;
    v.insert(v.end(), extra.begin(), extra.end());
    return v;
  };
  struct Case {
    std::vector<std::string> args;
    std::string flag;
  };
  const std::vector<Case> cases = {
      {with({"--timeout", "10"}), "--timeout"},
      {with({"--timeout", "5h"}), "--timeout"},
      {with({"--messages", "0"}), "--messages"},
      {with({"--bind", "0.0.0.0"}), "--bind"},
      {with({"--frobnicate", "1"}), "--frobnicate"},
      {{"peer", "--session", "s", "--name", "a"}, "--server"},
      {{"peer", "--server", "198.51.100.1:3478", "--session", "two words", "--name", "a"}, "--session"},
      {{"server", "--bind", "1.2.3.4:99999"}, "--bind"},
      {{"relay"}, "relay"},
  };
  for (const auto& c : cases) {
    auto r = run_direct(tool, c.args);
    EXPECT_EQ(r.status.code, 2) << c.flag << ": " << r.err;
    EXPECT_NE(r.err.find(c.flag), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("usage:"), std::string::npos) << r.err;
  }
  // Positive control: --help is not an error and prints the same usage.
  auto help = run_direct(tool, {"--help"});
  EXPECT_EQ(help.status.code, 0);
  EXPECT_NE(help.out.find("pb-holepunch peer --server"), std::string::npos);
}
