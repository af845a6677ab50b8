// pcapng writing and reading, capture file naming and filter compilation: no namespaces, no
// sockets (tests/integration/capture_test.cpp captures real traffic).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "capture/packet_capture.hpp"
#include "patchbay/error.hpp"
#include "sys/packet_filter.hpp"
#include "sys/pcapng.hpp"

using namespace patchbay;
namespace fs = std::filesystem;

namespace {

fs::path temp_file(const char* name) {
  return fs::temp_directory_path() / (std::string("pb-pcapng-") + std::to_string(::getpid()) + "-" + name);
}

std::vector<std::uint8_t> frame(std::size_t n, std::uint8_t fill) {
  return std::vector<std::uint8_t>(n, fill);
}

}  // namespace

TEST(Pcapng, WrittenPacketsReadBackWithTimesLengthsAndDirections) {
  const auto path = temp_file("rt.pcapng");
  {
    sys::PcapngWriter w(path, {"eth0", "icmp", 1500});
    w.packet(1'700'000'000'123'456'789ull, frame(60, 0xab), 60, sys::PcapDirection::Outbound);
    w.packet(1'700'000'001'000'000'001ull, frame(61, 0xcd), 9000, sys::PcapDirection::Inbound);  // cut to 61
    w.packet(5, frame(1, 0x01), 1, sys::PcapDirection::Unknown);
    w.flush();
    EXPECT_EQ(w.bytes(), fs::file_size(path));
  }
  auto f = sys::read_pcapng(path);
  fs::remove(path);
  ASSERT_EQ(f.interfaces.size(), 1u);
  EXPECT_EQ(f.interfaces[0].ifname, "eth0");
  EXPECT_EQ(f.interfaces[0].filter, "icmp");
  EXPECT_EQ(f.interfaces[0].snaplen, 1500u);
  ASSERT_EQ(f.packets.size(), 3u);
  EXPECT_EQ(f.packets[0].ts_ns, 1'700'000'000'123'456'789ull);
  EXPECT_EQ(f.packets[0].direction, sys::PcapDirection::Outbound);
  EXPECT_EQ(f.packets[0].data, frame(60, 0xab));
  EXPECT_EQ(f.packets[1].orig_len, 9000u);
  EXPECT_EQ(f.packets[1].data.size(), 61u);  // padded to 64 in the file, not in the data
  EXPECT_EQ(f.packets[1].direction, sys::PcapDirection::Inbound);
  EXPECT_EQ(f.packets[2].direction, sys::PcapDirection::Unknown);
  EXPECT_EQ(f.packets[2].ts_ns, 5u);
}

TEST(Pcapng, AFileCutMidBlockReadsUpToTheCutAndGarbageNamesTheOffset) {
  const auto path = temp_file("cut.pcapng");
  {
    sys::PcapngWriter w(path, {"eth0", "", 262144});
    w.packet(1, frame(100, 1), 100, sys::PcapDirection::Inbound);
    w.packet(2, frame(100, 2), 100, sys::PcapDirection::Inbound);
  }
  std::ifstream in(path, std::ios::binary);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  fs::remove(path);
  bytes.resize(bytes.size() - 10);  // the second packet is still being written
  EXPECT_EQ(sys::parse_pcapng(bytes, "cut").packets.size(), 1u);
  bytes[4] = 13;  // the section header's length: not a multiple of 4
  try {
    sys::parse_pcapng(bytes, "bad.pcapng");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "capture file 'bad.pcapng': offset 0: block length 13");
  }
}

TEST(Pcapng, WriterNamesAFileItCannotCreate) {
  try {
    sys::PcapngWriter w("/nonexistent-dir/x.pcapng", {"eth0", "", 1500});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("capture file '/nonexistent-dir/x.pcapng': open"), std::string::npos)
        << e.what();
  }
}

TEST(CaptureFiles, RotationContinuesTheFirstNameAndRetiresTheOldest) {
  detail::CaptureFiles f("/run/device.client.eth0.pcapng", 2);
  EXPECT_EQ(f.next(), "/run/device.client.eth0.pcapng");
  EXPECT_TRUE(f.retire_old().empty());
  EXPECT_EQ(f.next(), "/run/device.client.eth0.1.pcapng");
  EXPECT_TRUE(f.retire_old().empty());
  EXPECT_EQ(f.next(), "/run/device.client.eth0.2.pcapng");
  EXPECT_EQ(f.retire_old(), std::vector<fs::path>{"/run/device.client.eth0.pcapng"});
  EXPECT_EQ(f.current(),
            (std::vector<fs::path>{"/run/device.client.eth0.1.pcapng", "/run/device.client.eth0.2.pcapng"}));
  detail::CaptureFiles all("a.pcapng", 0);  // 0: keep everything
  for (int i = 0; i < 5; ++i) all.next();
  EXPECT_TRUE(all.retire_old().empty());
  EXPECT_EQ(all.current().size(), 5u);
}

TEST(PacketFilter, CompilesPcapSyntaxAndNamesTheFilterInErrors) {
  EXPECT_TRUE(sys::compile_packet_filter("", 262144).empty());
  const auto icmp = sys::compile_packet_filter("icmp", 262144);
  ASSERT_GE(icmp.size(), 4u);
  EXPECT_EQ(icmp.back().code, 0x06);  // BPF_RET | BPF_K
  EXPECT_GT(sys::compile_packet_filter("udp port 53 or (tcp and host 10.0.0.1)", 262144).size(), icmp.size());
  try {
    sys::compile_packet_filter("icmp and and", 262144);
    FAIL() << "no error";
  } catch (const InvalidArgument& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("filter 'icmp and and': ", 0), 0u) << m;
    EXPECT_GT(m.size(), std::string("filter 'icmp and and': ").size()) << m;  // libpcap's reason follows
  }
}
