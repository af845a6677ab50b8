#include "sys/pcapng.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "patchbay/error.hpp"
#include "sys/errno.hpp"
#include "sys/io.hpp"

namespace patchbay::sys {

namespace {

// Block types and option codes of the pcapng specification (draft-ietf-opsawg-pcapng).
constexpr std::uint32_t kSectionHeader = 0x0A0D0D0A;
constexpr std::uint32_t kInterfaceDesc = 0x00000001;
constexpr std::uint32_t kEnhancedPacket = 0x00000006;
constexpr std::uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr std::uint16_t kLinktypeEthernet = 1;
constexpr std::uint16_t kOptEnd = 0;
constexpr std::uint16_t kShbUserAppl = 4;
constexpr std::uint16_t kIfName = 2;
constexpr std::uint16_t kIfTsresol = 9;
constexpr std::uint16_t kIfFilter = 11;
constexpr std::uint16_t kEpbFlags = 2;

std::size_t pad4(std::size_t n) {
  return (n + 3) & ~std::size_t{3};
}

template <class T>
void put(std::string& b, T v) {
  char raw[sizeof(T)];
  std::memcpy(raw, &v, sizeof(T));  // pcapng is written in host order (little-endian x86/arm)
  b.append(raw, sizeof(T));
}

void put_bytes(std::string& b, const void* p, std::size_t n) {
  b.append(static_cast<const char*>(p), n);
  b.append(pad4(n) - n, '\0');
}

void put_option(std::string& b, std::uint16_t code, std::string_view value) {
  put<std::uint16_t>(b, code);
  put<std::uint16_t>(b, static_cast<std::uint16_t>(value.size()));
  put_bytes(b, value.data(), value.size());
}

// Writes the block's total length in its two length fields once the body is complete.
class Block {
 public:
  Block(std::string& b, std::uint32_t type) : b_(b), start_(b.size()) {
    put(b_, type);
    put<std::uint32_t>(b_, 0);
  }
  void close() {
    const auto len = static_cast<std::uint32_t>(b_.size() - start_ + 4);
    put(b_, len);
    std::memcpy(b_.data() + start_ + 4, &len, 4);
  }

 private:
  std::string& b_;
  std::size_t start_;
};

template <class T>
T get(std::span<const std::uint8_t> b, std::size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof(T));
  return v;
}

// Walks the options of a block body starting at `at` up to `end`.
template <class F>
void for_each_option(std::span<const std::uint8_t> b, std::size_t at, std::size_t end, F&& f) {
  while (at + 4 <= end) {
    auto code = get<std::uint16_t>(b, at), len = get<std::uint16_t>(b, at + 2);
    if (code == kOptEnd || at + 4 + len > end) return;
    f(code, b.subspan(at + 4, len));
    at += 4 + pad4(len);
  }
}

}  // namespace

PcapngWriter::PcapngWriter(std::filesystem::path path, const PcapngInterface& iface)
    : path_(std::move(path)) {
  fd_.reset(::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd_) throw_errno("capture file '" + path_.string() + "'", "open");
  Block shb(buf_, kSectionHeader);
  put(buf_, kByteOrderMagic);
  put<std::uint16_t>(buf_, 1);  // major
  put<std::uint16_t>(buf_, 0);  // minor
  put<std::int64_t>(buf_, -1);  // section length: unknown, the file grows
  put_option(buf_, kShbUserAppl, "patchbay");
  put_option(buf_, kOptEnd, "");
  shb.close();
  Block idb(buf_, kInterfaceDesc);
  put(buf_, kLinktypeEthernet);
  put<std::uint16_t>(buf_, 0);
  put(buf_, iface.snaplen);
  put_option(buf_, kIfName, iface.ifname);
  const char nanoseconds = 9;
  put_option(buf_, kIfTsresol, std::string_view(&nanoseconds, 1));
  if (!iface.filter.empty()) put_option(buf_, kIfFilter, std::string(1, '\0') + iface.filter);
  put_option(buf_, kOptEnd, "");
  idb.close();
  flush();
}

PcapngWriter::~PcapngWriter() {
  if (!fd_) return;
  try {
    flush();
  } catch (const Error&) {
  }
}

void PcapngWriter::packet(std::uint64_t ts_ns, std::span<const std::uint8_t> data, std::uint32_t orig_len,
                          PcapDirection dir) {
  Block epb(buf_, kEnhancedPacket);
  put<std::uint32_t>(buf_, 0);  // interface 0: one per file
  put(buf_, static_cast<std::uint32_t>(ts_ns >> 32));
  put(buf_, static_cast<std::uint32_t>(ts_ns));
  put(buf_, static_cast<std::uint32_t>(data.size()));
  put(buf_, orig_len);
  put_bytes(buf_, data.data(), data.size());
  if (dir != PcapDirection::Unknown) {
    const auto flags = static_cast<std::uint32_t>(dir);
    put_option(buf_, kEpbFlags, std::string_view(reinterpret_cast<const char*>(&flags), 4));
    put_option(buf_, kOptEnd, "");
  }
  epb.close();
}

void PcapngWriter::flush() {
  if (buf_.empty()) return;
  if (!write_all(fd_.get(), buf_)) throw_errno("capture file '" + path_.string() + "'", "write");
  written_ += buf_.size();
  buf_.clear();
}

PcapngFile parse_pcapng(std::span<const std::uint8_t> b, const std::string& what) {
  PcapngFile out;
  std::size_t at = 0;
  auto bad = [&](const std::string& why) -> Error {
    return Error("capture file '" + what + "'", "offset " + std::to_string(at) + ": " + why);
  };
  while (at + 12 <= b.size()) {
    const auto type = get<std::uint32_t>(b, at), len = get<std::uint32_t>(b, at + 4);
    if (len < 12 || len % 4) throw bad("block length " + std::to_string(len));
    if (at + len > b.size()) break;  // still being written
    if (get<std::uint32_t>(b, at + len - 4) != len) throw bad("trailing block length differs");
    const std::size_t body = at + 8, end = at + len - 4;
    if (type == kSectionHeader) {
      if (len < 28 || get<std::uint32_t>(b, body) != kByteOrderMagic)
        throw bad("not a little-endian pcapng section");
    } else if (type == kInterfaceDesc) {
      if (len < 20) throw bad("short interface block");
      PcapngInterface i;
      i.snaplen = get<std::uint32_t>(b, body + 4);
      for_each_option(b, body + 8, end, [&](std::uint16_t code, std::span<const std::uint8_t> v) {
        if (code == kIfName) i.ifname.assign(v.begin(), v.end());
        if (code == kIfFilter && !v.empty()) i.filter.assign(v.begin() + 1, v.end());
      });
      out.interfaces.push_back(std::move(i));
    } else if (type == kEnhancedPacket) {
      if (len < 32) throw bad("short packet block");
      PcapngPacket p;
      p.interface = get<std::uint32_t>(b, body);
      p.ts_ns = (std::uint64_t{get<std::uint32_t>(b, body + 4)} << 32) | get<std::uint32_t>(b, body + 8);
      const auto caplen = get<std::uint32_t>(b, body + 12);
      p.orig_len = get<std::uint32_t>(b, body + 16);
      if (body + 20 + pad4(caplen) > end) throw bad("packet data runs past its block");
      p.data.assign(b.begin() + static_cast<std::ptrdiff_t>(body + 20),
                    b.begin() + static_cast<std::ptrdiff_t>(body + 20 + caplen));
      for_each_option(b, body + 20 + pad4(caplen), end,
                      [&](std::uint16_t code, std::span<const std::uint8_t> v) {
                        if (code == kEpbFlags && v.size() == 4)
                          p.direction = static_cast<PcapDirection>(get<std::uint32_t>(v, 0) & 3);
                      });
      out.packets.push_back(std::move(p));
    }
    at += len;
  }
  return out;
}

PcapngFile read_pcapng(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("capture file '" + path.string() + "'", "cannot be opened");
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_pcapng(bytes, path.string());
}

}  // namespace patchbay::sys
