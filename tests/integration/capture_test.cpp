// Packet captures (Node::capture, capture.hpp): pcapng files written from inside the namespace,
// read back with our reader and with tshark (a Debian package scripts/setup.sh installs).
#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "patchbay/patchbay.hpp"
#include "sys/pcapng.hpp"
#include "util.hpp"

using namespace patchbay;
namespace fs = std::filesystem;

namespace {

// A fresh directory under /tmp, removed with everything in it.
class TempDir : public pbtest::TempDir {
 public:
  TempDir() : pbtest::TempDir("pb-capture") {}
};

struct Pair {
  Lab lab;
  Device client, server;
  Ipv4Addr server_ip;
};

Pair lab_pair(LabOpts opts = {}) {
  Lab lab{std::move(opts)};
  auto dc = lab.add_router("dc").build();
  auto client = lab.add_device("client").iface("eth0", dc.id()).build();
  auto server = lab.add_device("server").iface("eth0", dc.id()).build();
  const Ipv4Addr ip = *server.ip();
  return Pair{std::move(lab), client, server, ip};
}

// `count` pings of `size` bytes, 0.1 s apart; neighbours are warmed first so no ARP is pending.
bool ping(Device& from, Ipv4Addr to, int count, int size = 56) {
  auto out = from.output(Command("ping").args({"-4", "-c", std::to_string(count), "-i", "0.1", "-W", "2",
                                               "-s", std::to_string(size), to.to_string()}));
  return out.status.success();
}

// tshark's field output, one line per packet ("8\t10.0.1.2\t10.0.1.3").
std::vector<std::string> tshark_fields(const fs::path& file, const std::string& fields) {
  // HOME: tshark reads its profile from there; one another user made (/root/.config/wireshark after a
  // run as root) is unreadable to the suite's unprivileged user and makes tshark crash.
  const std::string cmd = "HOME='" + file.parent_path().string() + "' tshark -n -r '" + file.string() +
                          "' -T fields " + fields + " 2>/dev/null";
  std::vector<std::string> lines;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return lines;
  char buf[512];
  while (::fgets(buf, sizeof(buf), p)) {
    std::string l(buf);
    if (!l.empty() && l.back() == '\n') l.pop_back();
    lines.push_back(l);
  }
  const int rc = ::pclose(p);
  if (rc != 0) lines.insert(lines.begin(), "tshark failed (status " + std::to_string(rc) + ")");
  return lines;
}

bool have_tshark() {
  return ::system("command -v tshark >/dev/null 2>&1") == 0;
}

}  // namespace

TEST(Capture, PingIsWrittenAsPcapngThatTsharkReads) {
  ASSERT_TRUE(have_tshark()) << "tshark is missing: scripts/setup.sh installs it";
  TempDir dir;
  auto p = lab_pair();
  ASSERT_TRUE(ping(p.client, p.server_ip, 1));  // ARP warm
  const fs::path file = dir.path() / "client.pcapng";
  auto icmp = p.client.capture("eth0", file, "icmp");
  // Negative control beside it: the same pings never match a UDP filter.
  auto udp = p.client.capture("eth0", dir.path() / "udp.pcapng", "udp");
  ASSERT_TRUE(ping(p.client, p.server_ip, 3));
  const CaptureStats s = icmp.stop();
  const CaptureStats none = udp.stop();
  EXPECT_EQ(s.packets, 6u);  // 3 requests out, 3 replies in
  EXPECT_EQ(none.packets, 0u);
  ASSERT_EQ(s.files, std::vector<fs::path>{file});

  const auto client_ip = p.client.ip()->to_string(), server_ip = p.server_ip.to_string();
  const auto lines = tshark_fields(file, "-e icmp.type -e ip.src -e ip.dst");
  ASSERT_EQ(lines.size(), 6u) << (lines.empty() ? "" : lines[0]);
  int requests = 0, replies = 0;
  for (auto& l : lines) {
    if (l == "8\t" + client_ip + "\t" + server_ip) ++requests;
    if (l == "0\t" + server_ip + "\t" + client_ip) ++replies;
  }
  EXPECT_EQ(requests, 3);
  EXPECT_EQ(replies, 3);

  // Our reader agrees and sees the directions and the interface name and filter.
  auto f = sys::read_pcapng(file);
  ASSERT_EQ(f.interfaces.size(), 1u);
  EXPECT_EQ(f.interfaces[0].ifname, "eth0");
  EXPECT_EQ(f.interfaces[0].filter, "icmp");
  ASSERT_EQ(f.packets.size(), 6u);
  int out = 0;
  for (auto& pk : f.packets) out += pk.direction == sys::PcapDirection::Outbound;
  EXPECT_EQ(out, 3);
  EXPECT_LT(f.packets.front().ts_ns, f.packets.back().ts_ns);
}

TEST(Capture, RotatesBySizeAndKeepsTheNewestFiles) {
  TempDir dir;
  auto p = lab_pair();
  ASSERT_TRUE(ping(p.client, p.server_ip, 1));
  CaptureOptions o;
  o.filter = "icmp";
  o.rotate_bytes = 3000;  // about two 1 KB ping pairs per file
  o.max_files = 2;
  auto cap = p.client.capture("eth0", dir.path() / "rot.pcapng", o);
  ASSERT_TRUE(ping(p.client, p.server_ip, 10, 1000));
  const auto s = cap.stop();
  EXPECT_EQ(s.packets, 20u);
  ASSERT_EQ(s.files.size(), 2u);
  // Rotated names continue the first one: rot.pcapng, rot.1.pcapng, ...; the oldest are gone.
  EXPECT_FALSE(fs::exists(dir.path() / "rot.pcapng"));
  std::size_t kept = 0;
  for (auto& f : s.files) {
    EXPECT_TRUE(fs::exists(f)) << f;
    EXPECT_EQ(f.parent_path(), dir.path());
    kept += sys::read_pcapng(f).packets.size();
  }
  EXPECT_GE(kept, 2u);
  EXPECT_LT(kept, 20u);
}

TEST(Capture, DefaultsToTheRunDirectoryAndLabTeardownCompletesTheFile) {
  TempDir dir;
  CaptureGuard cap;
  fs::path file;
  {
    auto p = lab_pair(LabOpts{}.outdir(OutDir::exact(dir.path())));
    ASSERT_TRUE(ping(p.client, p.server_ip, 1));
    cap = p.server.capture("eth0", {}, "icmp");
    file = cap.path();
    EXPECT_EQ(file, dir.path() / "device.server.eth0.pcapng");
    ASSERT_TRUE(ping(p.client, p.server_ip, 2));
  }  // the lab goes first: it stops the capture and closes the file
  EXPECT_EQ(sys::read_pcapng(file).packets.size(), 4u);
  const auto s = cap.stop();  // after the lab: the figures, no error
  EXPECT_EQ(s.packets, 4u);
}

TEST(Capture, BadInputIsRefusedWithTheCause) {
  TempDir dir;
  auto p = lab_pair();
  try {
    p.client.capture("eth7", dir.path() / "x.pcapng");
    FAIL() << "no error for an unknown interface";
  } catch (const NotFound& e) {
    EXPECT_NE(std::string(e.what()).find("eth7"), std::string::npos) << e.what();
  }
  try {
    p.client.capture("eth0", dir.path() / "x.pcapng", "icmp and and");
    FAIL() << "no error for a bad filter";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("filter 'icmp and and'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(p.client.capture("eth0"), InvalidArgument);  // no output directory, no path
  CaptureOptions o;
  o.max_files = 3;
  EXPECT_THROW(p.client.capture("eth0", dir.path() / "y.pcapng", o), InvalidArgument);
}
