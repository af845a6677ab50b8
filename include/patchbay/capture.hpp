// patchbay/capture.hpp: packet captures of a node's interface into pcapng files.
//
//   auto cap = dev.capture("eth0");                        // <run dir>/device.<name>.eth0.pcapng
//   auto dns = dev.capture("eth0", "/tmp/dns.pcapng", "udp port 53");
//   auto big = home.capture("br-lan", "lan.pcapng", CaptureOptions{.rotate_bytes = 64 << 20, .max_files =
//   4});
//   // ... traffic ...
//   CaptureStats s = cap.stop();                           // flushed; open it in Wireshark or tshark
//
// A capture reads the interface from inside the node's namespace with an AF_PACKET socket (no
// tcpdump process, works rootless) on the lab's event loop, and sees both directions (each packet
// carries its direction). The filter uses the pcap-filter language of tcpdump, compiled in-process
// and run in the kernel. Files are flushed after every batch of packets, so a running capture can
// be read (the devtools list it with a download link). The guard stops the capture when it dies;
// lab teardown stops every capture first, so files are complete once the Lab is destroyed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace patchbay {

namespace detail {
class PacketCapture;
}

struct CaptureOptions {
  std::string filter{};            // pcap-filter expression; "" captures everything
  std::uint64_t rotate_bytes = 0;  // start the next file once one holds this many bytes (0: never)
  unsigned max_files = 0;          // with rotation, keep only the newest N files (0: keep all)
  std::uint32_t snaplen = 262144;  // bytes kept per packet (GSO frames on veths reach 64 KiB)
};

struct CaptureStats {
  std::uint64_t packets = 0;       // written to the files
  std::uint64_t bytes = 0;         // on-the-wire bytes of those packets
  std::uint64_t kernel_drops = 0;  // frames the socket's queue had no room for
  // The files in order, oldest first: path, then <stem>.1<ext>, <stem>.2<ext>... when rotating;
  // files removed by max_files are not listed.
  std::vector<std::filesystem::path> files;
};

class CaptureGuard {
 public:
  CaptureGuard() = default;
  explicit CaptureGuard(std::shared_ptr<detail::PacketCapture> c);
  CaptureGuard(CaptureGuard&&) noexcept;
  CaptureGuard& operator=(CaptureGuard&&) noexcept;
  CaptureGuard(const CaptureGuard&) = delete;
  CaptureGuard& operator=(const CaptureGuard&) = delete;
  ~CaptureGuard();

  // Stops reading, flushes and closes the file; returns the final figures. Idempotent. Throws
  // Error naming the file if the last write failed.
  CaptureStats stop();
  CaptureStats stats() const;                 // so far; files flushed at least up to the last batch
  const std::filesystem::path& path() const;  // the first file

 private:
  std::shared_ptr<detail::PacketCapture> c_;
};

}  // namespace patchbay
