// The `capture` and `capture-stop` sim steps end to end: pcapng files in the sim directory, their
// figures as captures an assert can check, and the run's file listing (sim.json `logs`) naming
// them as kind "pcapng" for the devtools.
#include <string>

#include <gtest/gtest.h>

#include "cli_scratch.hpp"

using namespace cli_test;

namespace {

// ICMP packets in a capture as tshark counts them; -1 when tshark fails.
int icmp_packets(const fs::path& file) {
  // HOME: tshark's profile directory; another user's (/root/.config/wireshark) makes it crash.
  const std::string cmd = "HOME=" + quote(file.parent_path().string()) + " tshark -n -r " +
                          quote(file.string()) + " -Y icmp 2>/dev/null | wc -l";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[64] = {};
  const bool got = ::fgets(buf, sizeof(buf), p) != nullptr;
  return ::pclose(p) == 0 && got ? std::stoi(buf) : -1;
}

}  // namespace

TEST(RunnerCaptureCli, CaptureStepsWritePcapngFilesAndRecordTheirFigures) {
  Scratch s;
  s.write("cap.toml", topo() + R"toml(
[sim]
name = "cap"
[[step]]
action = "run"
id = "warm"
device = "client"
cmd = ["ping", "-c", "1", "-W", "2", "$NETSIM_IP_server"]
[[step]]
action = "capture"
id = "icmp"
device = "client"
filter = "icmp and host $NETSIM_IP_server"
[[step]]
action = "capture"
router = "dc"
interface = "br-lan"
[[step]]
action = "run"
id = "ping"
device = "client"
cmd = ["ping", "-c", "3", "-i", "0.1", "-W", "2", "$NETSIM_IP_server"]
# br-lan sees what the router itself receives (bridged frames between ports pass it by): a ping
# of the gateway.
[[step]]
action = "run"
id = "gw"
device = "client"
cmd = ["sh", "-c", "ping -c 2 -i 0.1 -W 2 $(ip -4 route show default | cut -d' ' -f3)"]
[[step]]
action = "capture-stop"
id = "icmp"
[[step]]
action = "assert"
checks = ["icmp.packets == 6", "icmp.kernel_drops == 0", "icmp.path contains device.client.icmp.pcapng"]
)toml");
  auto r = s.run("run cap.toml --work-dir work --timeout 60s");
  ASSERT_EQ(r.code, 0) << r.out << "\n" << r.err;
  const fs::path dir = s.latest() / "cap";
  ASSERT_TRUE(fs::exists(dir / "device.client.icmp.pcapng"));
  // The router's capture ran to the end of the sim and was closed with the lab.
  ASSERT_TRUE(fs::exists(dir / "router.dc.br-lan.pcapng"));
  EXPECT_EQ(icmp_packets(dir / "device.client.icmp.pcapng"), 6);
  EXPECT_EQ(icmp_packets(dir / "router.dc.br-lan.pcapng"), 4);

  const json sim = read_json(dir / "sim.json");
  json kinds;
  for (auto& f : sim["logs"]) kinds[f["path"].get<std::string>()] = f["kind"];
  EXPECT_EQ(kinds["device.client.icmp.pcapng"], "pcapng");
  EXPECT_EQ(kinds["router.dc.br-lan.pcapng"], "pcapng");
}

TEST(RunnerCaptureCli, BadCaptureStepsNameTheStepAndKey) {
  Scratch s;
  s.write("stop.toml", topo() + R"toml(
[[step]]
action = "capture-stop"
id = "nothing"
)toml");
  auto r = s.run("run stop.toml --work-dir work --timeout 30s");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(
      (r.out + r.err).find("step 1 (capture-stop) key 'id': no running capture 'nothing' (running: none)"),
      std::string::npos)
      << r.out << "\n"
      << r.err;

  s.write("filter.toml", topo() + R"toml(
[[step]]
action = "capture"
device = "client"
filter = "port port"
)toml");
  r = s.run("run filter.toml --work-dir work --timeout 30s");
  EXPECT_NE(r.code, 0);
  EXPECT_NE((r.out + r.err).find("filter 'port port'"), std::string::npos) << r.out << "\n" << r.err;

  s.write("router.toml", topo() + R"toml(
[[step]]
action = "capture"
router = "dc"
)toml");
  r = s.run("run router.toml --work-dir work --timeout 30s");
  EXPECT_NE(r.code, 0);
  EXPECT_NE((r.out + r.err).find("step 1 (capture) key 'interface': missing"), std::string::npos)
      << r.out << "\n"
      << r.err;
}
