// Behaviours of the original runner kept by the `patchbay` CLI, end to end: `run-in NODE CMD...`
// without `--`, and a sim that the original accepts with warnings (unknown keys in condition tables,
// region beside upstream, an empty sim name, $NETSIM_IP_ of an unknown device, wait-for on an id
// no step defines or before its spawn step) runs to success here too, with each warning on stderr;
// captures read the pipes the original feeds them; run-time condition and NAT tables are lenient.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "cli_scratch.hpp"

using namespace cli_test;

namespace {

// `patchbay inspect lab.toml` in the background until the session file is announced.
struct InspectSession {
  pid_t pid = -1;
  fs::path file;
  explicit InspectSession(const Scratch& s) {
    s.write("lab.toml", topo());
    pid = spawn_cli(s.dir, {"inspect", "lab.toml", "--work-dir", "work"}, 1, "inspect.out");
    std::string out;
    for (int i = 0; i < 200 && out.find("NETSIM_INSPECT_FILE=") == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      out = slurp(s.dir / "inspect.out");
    }
    auto pos = out.find("NETSIM_INSPECT_FILE=");
    if (pos == std::string::npos) return;
    pos += 20;
    file = out.substr(pos, out.find('\n', pos) - pos);
  }
  ~InspectSession() {
    if (pid <= 0) return;
    ::kill(pid, SIGINT);
    int st = 0;
    ::waitpid(pid, &st, 0);
  }
};

}  // namespace

TEST(RunnerCompatCli, RunInTakesTheCommandWithOrWithoutDashes) {
  Scratch s;
  InspectSession lab(s);
  ASSERT_FALSE(lab.file.empty()) << slurp(s.dir / "inspect.out");
  const std::string ip = read_json(lab.file)["node_ips_v4"]["client"];
  const std::string in = "run-in client --inspect " + quote(lab.file.string()) + " ";

  // As in the original: the words after NODE (and run-in's own flags) are the command, dashes and all.
  auto r = s.run(in + "ip -o -4 addr show");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(ip + "/"), std::string::npos) << r.out;
  r = s.run(in + "sh -c 'echo \"$*\"; exit 3' sh -c1 --inspect x -- y");
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_EQ(r.out, "-c1 --inspect x -- y\n");
  // With `--` the command is what follows it, also when it has a `--` of its own.
  r = s.run(in + "-- sh -c 'echo \"$*\"' sh -c1 -- y");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "-c1 -- y\n");
  // Flags after `--` are the command's: this names no session.
  r = s.run("run-in client -- true --inspect " + quote(lab.file.string()));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("no lab given"), std::string::npos) << r.err;
  r = s.run(in);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("no command given"), std::string::npos) << r.err;
}

TEST(RunnerCompatCli, SimAcceptedByTheOriginalRunsWithWarnings) {
  Scratch s;
  s.write("compat.toml", R"toml(
[sim]
name = ""

[[router]]
name = "isp"
[[router]]
name = "home"
upstream = "isp"
region = "eu"
nat = { custom = { mapping = "endpoint_independent", filtering = "address_and_port_dependent", hairpin = false, timeouts = { udp = 30, udp_stream = 120, tcp_established = 3600 }, flavour = "x" } }
[device.client.eth0]
gateway = "home"
impair = { latency_ms = 1, colour = "red" }

[[step]]
action = "run"
id = "echo"
device = "client"
cmd = ["sh", "-c", "echo \"arg=$0\"", "$NETSIM_IP_ghost"]

[[step]]
action = "wait-for"
id = "ghost"

[[step]]
action = "wait-for"
id = "late"
[[step]]
action = "spawn"
id = "late"
device = "client"
cmd = ["true"]
[[step]]
action = "wait-for"
id = "late"
)toml");
  auto r = s.run("run compat.toml --work-dir work");
  ASSERT_EQ(r.code, 0) << r.out << "\n" << r.err;
  for (const char* warning :
       {"compat.toml: [device.client.eth0] unknown key 'impair.colour' ignored",
        "compat.toml: [router 'home'] unknown key 'nat.custom.flavour' ignored",
        "compat.toml: [router 'home'] region 'eu' ignored: the router has upstream 'isp'",
        "wait-for 'ghost' names no step of the sim", "unknown lab variable 'NETSIM_IP_ghost'",
        "the spawn step with id 'late' has not run yet; not waiting"})
    EXPECT_NE(r.err.find(warning), std::string::npos) << warning << "\n" << r.err;

  auto sim_dir = s.latest() / "compat";  // the file stem names the sim
  ASSERT_TRUE(fs::exists(sim_dir / "sim.json")) << r.err;
  auto sim = read_json(sim_dir / "sim.json");
  EXPECT_EQ(sim["sim"], "compat");
  EXPECT_EQ(sim["status"], "ok");
  EXPECT_EQ(sim["setup"]["regions"], 0);  // the ignored region is not created
  EXPECT_EQ(slurp(sim_dir / "device.client.echo.stdout.log"), "arg=$NETSIM_IP_ghost\n");
}

// The original matches every capture of a spawn step against stdout and stderr, and those of a run
// step too once one of its captures has pipe = "stderr"; a run step without one reads stdout only.
TEST(RunnerCompatCli, CapturesReadThePipesTheOriginalFeedsThem) {
  Scratch s;
  s.write("pipes.toml", topo() + R"toml(
[[step]]
action = "spawn"
id = "srv"
device = "server"
cmd = ["sh", "-c", "echo 'listening on port 4433' >&2; exec sleep 30"]
captures.port = { regex = "listening on port (\\d+)" }
[[step]]
action = "run"
id = "use"
device = "client"
cmd = ["echo", "port=${srv.port}"]
[[step]]
action = "run"
id = "both"
device = "client"
cmd = ["sh", "-c", "echo V=out; sleep 0.2; echo V=err >&2"]
captures.o = { regex = "V=(\\w+)" }
captures.e = { pipe = "stderr", regex = "V=(\\w+)" }
[[step]]
action = "run"
id = "plain"
device = "client"
cmd = ["sh", "-c", "echo V=out; sleep 0.2; echo V=err >&2"]
captures.o = { regex = "V=(\\w+)" }
[[step]]
action = "assert"
checks = ["srv.port == 4433", "both.o == err", "both.e == err", "plain.o == out"]
)toml");
  // --timeout bounds the run if the capture never resolves (the step would wait 300 s).
  auto r = s.run("run pipes.toml --work-dir work --timeout 30s");
  EXPECT_EQ(r.code, 0) << r.out << "\n" << r.err;
  EXPECT_LT(r.seconds, 20);
  EXPECT_EQ(slurp(s.latest() / "pipes" / "device.client.use.stdout.log"), "port=4433\n");
}

// Like lab files, a sim's run-time condition and NAT tables warn about keys the library does not read.
TEST(RunnerCompatCli, UnknownKeysInStepConditionAndNatTablesAreWarnings) {
  Scratch s;
  s.write("steps.toml", topo() + R"toml(
[[step]]
action = "set-link-condition"
device = "client"
condition = { latency_ms = 30, colour = "red" }
[[step]]
action = "set-downlink-condition"
router = "dc"
condition = { manual = { latency_ms = 1, shade = 2 }, extra = true }
[[step]]
action = "set-nat"
router = "dc"
nat = { custom = { mapping = "endpoint_independent", filtering = "endpoint_independent", hairpin = false, flavour = "x", timeouts = { udp = 30, udp_stream = 120, tcp_established = 3600, tide = 1 } } }
[[step]]
action = "run"
id = "ping"
device = "client"
cmd = ["ping", "-c", "1", "-W", "5", "$NETSIM_IP_server"]
captures.rtt = { regex = "time=([0-9.]+)" }
[[step]]
action = "assert"
checks = ["ping.rtt >= 25"]
)toml");
  auto r = s.run("run steps.toml --work-dir work --timeout 60s");
  EXPECT_EQ(r.code, 0) << r.out << "\n" << r.err;
  for (const char* warning : {"step 1 (set-link-condition): unknown key 'condition.colour' ignored",
                              "step 2 (set-downlink-condition): unknown key 'condition.extra' ignored",
                              "step 2 (set-downlink-condition): unknown key 'condition.manual.shade' ignored",
                              "step 3 (set-nat): unknown key 'nat.custom.flavour' ignored",
                              "step 3 (set-nat): unknown key 'nat.custom.timeouts.tide' ignored"})
    EXPECT_NE(r.err.find(warning), std::string::npos) << warning << "\n" << r.err;
  // A known key is still checked: a bad value fails the step as before.
  s.write("bad.toml", topo() + R"toml(
[[step]]
action = "set-link-condition"
device = "client"
condition = { latency_ms = "soon", colour = "red" }
)toml");
  r = s.run("run bad.toml --work-dir work");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("invalid condition"), std::string::npos) << r.err;
}
