// The `patchbay` CLI end to end (SPEC 15, 17.16): the shipped example sims, failure reporting,
// timeouts that interrupt running steps (also a template call site's), patchbay.toml discovery, binaries,
// and inspect + run-in. Each test runs the real binary in a scratch directory.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_scratch.hpp"

using namespace cli_test;

TEST(RunnerCli, ExampleSimsPassAndWriteReports) {
  Scratch s;
  auto r = s.run("run " + quote((kSource / "examples/sims").string()) + " --work-dir " +
                 quote(s.work().string()) + " --project-root " + quote(kSource.string()) +
                 " --binary holepunch:path:" + quote(kHolepunch.string()));
  ASSERT_EQ(r.code, 0) << r.out << "\n" << r.err;
  EXPECT_NE(r.out.find("Run Summary:"), std::string::npos) << r.out;
  auto root = s.latest();
  EXPECT_TRUE(fs::is_symlink(s.work() / "latest"));
  EXPECT_TRUE(fs::read_symlink(s.work() / "latest").is_relative());
  auto manifest = read_json(root / "manifest.json");
  EXPECT_EQ(manifest["success"], true);
  EXPECT_EQ(manifest["simulations"].size(), 6u);
  auto progress = read_json(root / "progress.json");
  EXPECT_EQ(progress["status"], "done");
  EXPECT_EQ(progress["ok"], 6);

  // iperf: numeric bytes and duration, MB/s > 0 (SPEC 17.16 #137).
  auto iperf = read_json(root / "iperf-baseline" / "results.json");
  ASSERT_GE(iperf["steps"].size(), 2u) << iperf.dump();
  EXPECT_EQ(iperf["sim"], "iperf-baseline");
  EXPECT_EQ(iperf["steps"][0]["id"], "tcp");
  double bytes = std::stod(iperf["steps"][0]["down_bytes"].get<std::string>());
  double secs = std::stod(iperf["steps"][0]["duration"].get<std::string>());
  EXPECT_GT(bytes, 1e6);
  EXPECT_NEAR(secs, 2.0, 0.5);
  EXPECT_GT(bytes / secs / 1e6, 0.0);
  EXPECT_NE(slurp(root / "iperf-baseline" / "results.md").find("iperf-baseline"), std::string::npos);

  // Wifi both ways: about 10 ms round trip.
  auto ping = read_json(root / "ping-wifi" / "results.json");
  double lat = std::stod(ping["steps"][0]["latency_ms"].get<std::string>());
  EXPECT_GT(lat, 7.0);
  EXPECT_LT(lat, 20.0);

  // Counted devices: ten fetchers, each with its own log and capture.
  for (int i = 0; i < 10; ++i)
    EXPECT_TRUE(
        fs::exists(root / "counted-fetchers" /
                   ("device.fetcher-" + std::to_string(i) + ".fetcher-" + std::to_string(i) + ".stdout.log")))
        << i;
  auto sim = read_json(root / "counted-fetchers" / "sim.json");
  EXPECT_EQ(sim["status"], "ok");
  EXPECT_EQ(sim["setup"]["devices"], 11);
  EXPECT_EQ(sim["error"], nullptr);
  EXPECT_FALSE(sim["logs"].empty());

  auto hp = read_json(root / "holepunch" / "results.json");
  const double hp_rtt = std::stod(hp["steps"][0]["latency_ms"].get<std::string>());
  EXPECT_GT(hp_rtt, 0.0);
  EXPECT_LT(hp_rtt, 100.0);
  auto combined = read_json(root / "combined-results.json");
  EXPECT_GE(combined["runs"].size(), 4u);
  EXPECT_TRUE(fs::exists(root / "iface-switch" / "events.jsonl"));
}

TEST(RunnerCli, FailingAssertRecordsPhaseStepAndExitCode) {
  Scratch s;
  s.write("fail.toml", topo() + R"toml(
[sim]
name = "fail"
[[step]]
action = "run"
device = "client"
cmd = ["sh", "-c", "echo value=41; echo 'some error: the answer is missing' >&2"]
captures.v = { regex = "value=([0-9]+)" }
[[step]]
action = "assert"
check = "client.v == 42"
)toml");
  auto r = s.run("run fail.toml --work-dir work");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("one or more simulations failed:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("- fail ("), std::string::npos) << r.err;
  auto sim = read_json(s.latest() / "fail" / "sim.json");
  EXPECT_EQ(sim["status"], "error");
  EXPECT_EQ(sim["error"]["phase"], "step");
  EXPECT_EQ(sim["error"]["step"]["index"], 1);
  EXPECT_EQ(sim["error"]["step"]["action"], "assert");
  EXPECT_NE(sim["error"]["message"].get<std::string>().find("assert FAILED: 'client.v' (got '41') == '42'"),
            std::string::npos)
      << sim.dump(2);
  auto man = read_json(s.latest() / "manifest.json");
  EXPECT_EQ(man["success"], false);
}

TEST(RunnerCli, FailingRunStepNamesTheLastErrorLine) {
  Scratch s;
  s.write("boom.toml", topo() + R"toml(
[[step]]
action = "run"
device = "client"
cmd = ["sh", "-c", "echo starting; echo 'Error: connection refused' >&2; echo bye >&2; exit 3"]
)toml");
  auto r = s.run("run boom.toml --work-dir work");
  EXPECT_EQ(r.code, 1);
  auto sim = read_json(s.latest() / "boom" / "sim.json");
  EXPECT_EQ(sim["error_line"], "Error: connection refused");
  EXPECT_NE(sim["error"]["message"].get<std::string>().find("exited with status 3"), std::string::npos);
  EXPECT_EQ(slurp(s.latest() / "boom" / "device.client.client.stdout.log"), "starting\n");
}

TEST(RunnerCli, TimeoutInterruptsRunAndSpawnedSteps) {
  Scratch s;
  s.write("run-hang.toml", topo() + R"toml(
[[step]]
action = "run"
device = "client"
cmd = ["sleep", "3601"]
)toml");
  s.write("spawn-hang.toml", topo() + R"toml(
[[step]]
action = "spawn"
id = "sleeper"
device = "client"
cmd = ["sleep", "3602"]
[[step]]
action = "wait-for"
id = "sleeper"
timeout = "3600s"
)toml");
  auto r = s.run("run run-hang.toml spawn-hang.toml --timeout 3s --work-dir work");
  EXPECT_EQ(r.code, 1);
  EXPECT_LT(r.seconds, 30.0);  // two sims, each must end at its 3 s deadline (< 15 s each)
  for (auto sim : {"run-hang", "spawn-hang"}) {
    auto j = read_json(s.latest() / sim / "sim.json");
    EXPECT_NE(j["error"]["message"].get<std::string>().find("sim timed out"), std::string::npos) << j.dump(2);
    EXPECT_LT(j["runtime_ms"].get<int>(), 15000);
  }
  EXPECT_NE(std::system("pgrep -f 'sleep 360[12]' >/dev/null"), 0) << "a sleeper survived its sim";
}

TEST(RunnerCli, StepTimeoutFailsOnlyThatStep) {
  Scratch s;
  s.write("t.toml", topo() + R"toml(
[[step]]
action = "run"
device = "client"
cmd = ["sleep", "30"]
timeout = "1s"
)toml");
  auto r = s.run("run t.toml --work-dir work");
  EXPECT_EQ(r.code, 1);
  auto j = read_json(s.latest() / "t" / "sim.json");
  EXPECT_NE(j["error"]["message"].get<std::string>().find("'run' on 'client' timed out after 1s"),
            std::string::npos)
      << j.dump(2);
}

// SPEC 15.3: a call site's `timeout` replaces the template's; on a `run` step it is that step's
// deadline (docs/runner.md, "Reuse").
TEST(RunnerCli, TemplateCallSiteTimeoutIsTheRunStepsDeadline) {
  Scratch s;
  const std::string tpl = topo() + R"toml(
[[step-template]]
name = "nap"
action = "run"
device = "client"
cmd = ["sleep"]
timeout = "1s"
)toml";
  s.write("short.toml", tpl + R"toml(
[[step]]
use = "nap"
id = "n"
args = ["30"]
timeout = "2s"
)toml");
  s.write("long.toml", tpl + R"toml(
[[step]]
use = "nap"
id = "n"
args = ["1.5"]
timeout = "20s"
)toml");
  auto r = s.run("run short.toml --work-dir work");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_LT(r.seconds, 20);
  auto j = read_json(s.latest() / "short" / "sim.json");
  EXPECT_NE(j["error"]["message"].get<std::string>().find("'run' on 'client' timed out after 2s"),
            std::string::npos)
      << j.dump(2);
  // The call site's longer timeout replaces the template's 1s: a 1.5 s step passes.
  r = s.run("run long.toml --work-dir work");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_json(s.latest() / "long" / "sim.json")["status"], "ok");
}

TEST(RunnerCli, GenCertsGenFileAndInterpolation) {
  Scratch s;
  s.write("gen.toml", topo() + R"toml(
[[step]]
action = "gen-certs"
id = "server"
san = ["relay.example"]
[[step]]
action = "gen-file"
id = "cfg"
content = "cert=${server.cert_pem_path} ip=$NETSIM_IP_server"
[[step]]
action = "run"
id = "check"
device = "server"
cmd = ["sh", "-c", "openssl x509 -in ${server.cert_pem_path} -noout -text | grep -o 'DNS:relay.example\\|IP Address:[0-9.]*'; cat ${cfg.path}"]
captures.dns = { regex = "(DNS:relay.example)" }
captures.ip = { regex = "IP Address:([0-9.]+)" }
captures.cfg = { regex = "ip=([0-9.]+)" }
[[step]]
action = "assert"
checks = ["check.dns == DNS:relay.example", "check.ip matches ^[0-9.]+$", "check.cfg matches ^[0-9.]+$"]
)toml");
  auto r = s.run("run gen.toml --work-dir work");
  EXPECT_EQ(r.code, 0) << r.err;
  auto root = s.latest() / "gen";
  EXPECT_TRUE(fs::exists(root / "certs/server/cert.pem"));
  EXPECT_TRUE(fs::exists(root / "certs/server/key.pem"));
  auto content = slurp(root / "files/cfg/content");
  EXPECT_NE(content.find("cert=" + (fs::canonical(root) / "certs/server/cert.pem").string()),
            std::string::npos)
      << content;
}

TEST(RunnerCli, DiscoveryFromPatchbayTomlWithGlobs) {
  Scratch s;
  s.write("patchbay.toml", "simulations = \"sims/**\"\n");
  s.write("sims/a/one.toml", topo() + "[[step]]\naction = \"run\"\ndevice = \"client\"\ncmd = [\"true\"]\n");
  s.write("sims/b/deep/two.toml", topo() + "[[step]]\naction = \"wait\"\nduration = \"10ms\"\n");
  auto r = s.run("run --work-dir work");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("using simulations from sims/**"), std::string::npos) << r.err;
  auto man = read_json(s.latest() / "manifest.json");
  EXPECT_EQ(man["simulations"].size(), 2u);
  s.write("patchbay.toml", "simulations = [\"nothing/*.toml\"]\n");
  r = s.run("run --work-dir work");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("nothing/*.toml"), std::string::npos) << r.err;
}

TEST(RunnerCli, BinariesBuildGenericAndCargoNeedsCargo) {
  Scratch s;
  s.write("b.toml", topo() + R"toml(
[[binary]]
name = "hello"
build = ["sh", "-c", "printf '#!/bin/sh\necho hello-from-build\n' > hello.sh && chmod +x hello.sh"]
path = "hello.sh"
[[step]]
action = "run"
id = "h"
device = "client"
cmd = ["${binary.hello}"]
captures.msg = { regex = "(hello-from-build)" }
[[step]]
action = "assert"
check = "h.msg == hello-from-build"
)toml");
  auto r = s.run("run b.toml --work-dir work");
  EXPECT_EQ(r.code, 0) << r.err;
  // A PATH that holds nothing at all, so the check fails on every machine, wherever cargo lives.
  s.write("c.toml", topo() + "[[binary]]\nname = \"relay\"\nrepo = \"https://example.com/x.git\"\n");
  fs::create_directories(s.dir / "empty-path");
  r = s.run("run c.toml --work-dir work", "/usr/bin/env PATH=" + (s.dir / "empty-path").string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("binary 'relay' uses cargo-specific keys but cargo was not found in PATH"),
            std::string::npos)
      << r.err;
  r = s.run("run b.toml --work-dir work --binary hello:path:a --binary hello:path:b");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("duplicate --binary override"), std::string::npos) << r.err;
}

TEST(RunnerCli, InspectKeepsTheLabAndRunInEntersANode) {
  Scratch s;
  s.write("lab.toml", topo());
  pid_t pid = spawn_cli(s.dir, {"inspect", "lab.toml", "--work-dir", "work"}, 1, "inspect.out");
  std::string out;
  for (int i = 0; i < 200 && out.find("NETSIM_INSPECT_FILE=") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    out = slurp(s.dir / "inspect.out");
  }
  ASSERT_NE(out.find("export NETSIM_INSPECT=lab-p"), std::string::npos) << out;
  auto pos = out.find("NETSIM_INSPECT_FILE=") + 20;
  fs::path file = out.substr(pos, out.find('\n', pos) - pos);
  EXPECT_EQ(file.parent_path().filename(), "inspect");
  ASSERT_TRUE(fs::exists(file));
  auto session = read_json(file);
  std::string ip = session["node_ips_v4"]["client"];
  EXPECT_NE(out.find("export NETSIM_IP_client=" + ip), std::string::npos) << out;

  auto r = s.run("run-in client --inspect " + quote(file.string()) + " -- ip -o -4 addr show");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(ip + "/"), std::string::npos) << r.out;
  r = s.run("run-in client --inspect " + quote(file.string()) + " -- cat /etc/hosts");
  EXPECT_NE(r.out.find("localhost"), std::string::npos) << r.out;
  r = s.run("run-in client --inspect " + quote(file.string()) + " -- sh -c 'exit 7'");
  EXPECT_EQ(r.code, 7);
  r = s.run("run-in nosuch --inspect " + quote(file.string()) + " -- true");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("known nodes: "), std::string::npos) << r.err;

  ::kill(pid, SIGINT);
  int st = 0;
  ::waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
  EXPECT_FALSE(fs::exists(file));
}

TEST(RunnerCli, UsageErrorsAndVersion) {
  Scratch s;
  auto r = s.run("--version");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("patchbay 0."), std::string::npos) << r.out;
  r = s.run("run --timeout 3h x.toml");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("3h"), std::string::npos) << r.err;
  r = s.run("frobnicate");
  EXPECT_EQ(r.code, 2);
  r = s.run("run --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--work-dir"), std::string::npos);
}

TEST(RunnerCli, LabFileErrorsExit2NamingFileTableAndKey) {
  Scratch s;
  s.write("bad.toml", "[[router]]\nname = \"r\"\n[device.d.wlan0-is-far-too-long]\ngateway = \"r\"\n");
  auto r = s.run("inspect bad.toml --work-dir work");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("bad.toml: [device.d.wlan0-is-far-too-long]"), std::string::npos) << r.err;
  s.write("up.toml", "[[router]]\nname = \"home\"\nupstream = \"isp\"\n");
  r = s.run("inspect up.toml --work-dir work");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("unknown router 'isp'"), std::string::npos) << r.err;
}

TEST(RunnerCli, PrepareRunsPrepareCommandsAndResolvesBinaries) {
  Scratch s;
  s.write("p.toml", topo() + R"toml(
[[prepare]]
cmd = ["sh", "-c", "echo prepared > marker.txt; echo hello-from-prepare"]
[[binary]]
name = "tool"
build = "printf '#!/bin/sh\n' > tool.sh && chmod +x tool.sh"
path = "tool.sh"
[[step]]
action = "run"
device = "client"
cmd = ["false"]
)toml");
  auto r = s.run("prepare p.toml --work-dir work");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("prepared 1 simulations and 1 binaries under "), std::string::npos) << r.out;
  EXPECT_EQ(slurp(s.dir / "marker.txt"), "prepared\n");
  EXPECT_TRUE(fs::exists(s.dir / "tool.sh"));
  bool logged = false;
  for (auto& e : fs::directory_iterator(s.latest() / ".prepare"))
    logged |= slurp(e.path()).find("hello-from-prepare") != std::string::npos;
  EXPECT_TRUE(logged);
  EXPECT_FALSE(fs::exists(s.latest() / "p"));  // prepare runs no sim
}

// Ctrl-C (SIGINT) and a service manager's stop (SIGTERM) end a run the same way.
static void interrupt_stops_the_sim(int sig) {
  Scratch s;
  s.write("hang.toml", topo() + R"toml(
[[step]]
action = "spawn"
id = "bg"
device = "client"
cmd = ["sleep", "3703"]
[[step]]
action = "run"
device = "client"
cmd = ["sleep", "3704"]
)toml");
  s.write("later.toml", topo() + "[[step]]\naction = \"wait\"\nduration = \"10ms\"\n");
  pid_t pid = spawn_cli(s.dir, {"run", "hang.toml", "later.toml", "--work-dir", "work"}, 2, "int.err");
  for (int i = 0; i < 100 && slurp(s.dir / "int.err").find("action=run") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_NE(slurp(s.dir / "int.err").find("action=run"), std::string::npos) << "the run step never started";
  auto t0 = std::chrono::steady_clock::now();
  ::kill(pid, sig);
  int st = 0;
  ::waitpid(pid, &st, 0);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 130) << st << slurp(s.dir / "int.err");
  EXPECT_NE(std::system("pgrep -f 'sleep 370[34]' >/dev/null"), 0) << "a process survived the interrupt";
  auto progress = read_json(s.latest() / "progress.json");
  EXPECT_EQ(progress["status"], "done");
  EXPECT_EQ(progress["simulations"][0]["status"], "error");
  EXPECT_EQ(progress["simulations"][0]["error"], "interrupted");
  EXPECT_EQ(progress["simulations"][1]["status"], "pending");
}

TEST(RunnerCli, InterruptStopsTheSimWritesReportsAndExits130) {
  interrupt_stops_the_sim(SIGINT);
}
TEST(RunnerCli, SigtermStopsTheSimWritesReportsAndExits130) {
  interrupt_stops_the_sim(SIGTERM);
}

TEST(RunnerCli, RunStepEndsEvenIfABackgroundChildKeepsWriting) {
  Scratch s;
  s.write("chatty.toml", topo() + R"toml(
[[step]]
action = "run"
id = "r"
device = "client"
cmd = ["sh", "-c", "(while :; do echo noise; sleep 0.01; done) & echo done"]
captures.done = { regex = "^(done)$" }
[[step]]
action = "assert"
check = "r.done == done"
[[step]]
action = "wait"
)toml");
  auto r = s.run("run chatty.toml --work-dir work");
  EXPECT_EQ(r.code, 1);
  EXPECT_LT(r.seconds, 20.0);
  auto j = read_json(s.latest() / "chatty" / "sim.json");
  // The run step and the assert passed; the duration-less wait is the failure, named by key.
  EXPECT_EQ(j["error"]["step"]["index"], 2) << j.dump(2);
  EXPECT_NE(j["error"]["message"].get<std::string>().find("key 'duration': missing"), std::string::npos)
      << j.dump(2);
}
