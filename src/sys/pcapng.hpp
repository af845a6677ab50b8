// pcapng files (the format of Wireshark and tshark): a writer for one Ethernet interface per file
// and a small reader that tests and tools use to read captures back.
//
//   sys::PcapngWriter w("/run/device.client.eth0.pcapng", {.ifname = "eth0", .filter = "icmp"});
//   w.packet(ts_ns, frame, orig_len, sys::PcapDirection::Outbound);
//   w.flush();                         // one write(2) for everything buffered
//   auto f = sys::read_pcapng(path);   // f.packets[0].data, f.interfaces[0].name
//
// Timestamps are nanoseconds since the epoch (if_tsresol = 9); each packet carries its direction
// (epb_flags). The writer owns its fd, buffers up to a flush and throws Error naming the file on
// a failed open or write. Not thread-safe: one owner.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "patchbay/fd.hpp"

namespace patchbay::sys {

enum class PcapDirection : std::uint8_t { Unknown = 0, Inbound = 1, Outbound = 2 };

struct PcapngInterface {
  std::string ifname;
  std::string filter;  // as given by the user; recorded in the file (if_filter), "" when none
  std::uint32_t snaplen = 262144;
};

class PcapngWriter {
 public:
  // Creates (truncates) `path` and writes the section and interface headers.
  PcapngWriter(std::filesystem::path path, const PcapngInterface& iface);
  PcapngWriter(PcapngWriter&&) noexcept = default;
  PcapngWriter& operator=(PcapngWriter&&) noexcept = default;
  ~PcapngWriter();  // flushes; errors then are dropped (call flush() to see them)

  // Appends one packet; `data` is at most the snaplen (the caller truncates), `orig_len` the length
  // on the wire.
  void packet(std::uint64_t ts_ns, std::span<const std::uint8_t> data, std::uint32_t orig_len,
              PcapDirection dir);
  void flush();
  std::uint64_t bytes() const { return written_ + buf_.size(); }  // the file's size after flush()
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  UniqueFd fd_;
  std::string buf_;
  std::uint64_t written_ = 0;
};

struct PcapngPacket {
  std::uint32_t interface = 0;
  std::uint64_t ts_ns = 0;
  std::uint32_t orig_len = 0;
  PcapDirection direction = PcapDirection::Unknown;
  std::vector<std::uint8_t> data;
};

struct PcapngFile {
  std::vector<PcapngInterface> interfaces;
  std::vector<PcapngPacket> packets;
};

// Reads a little-endian pcapng file as written above (SHB, IDB, EPB; other blocks are skipped).
// Throws Error naming the file and the offset of a malformed block. A block cut short at the end
// (a file still being written) ends the read without an error.
PcapngFile read_pcapng(const std::filesystem::path& path);
PcapngFile parse_pcapng(std::span<const std::uint8_t> bytes, const std::string& what);

}  // namespace patchbay::sys
