// Fuzz target: the NAT64 translator (SPEC 4.8) on arbitrary packets from both sides. The input is
// a sequence of records: one byte (bit 0: side, bits 1-7: time step in seconds), two bytes of
// length, then the packet. Several packets per input let fragments reassemble and bindings made
// by one packet be used by the next. The translator promises never to throw on packet input and
// never to read outside the span (ASan checks the latter).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "nat64/translator.hpp"

using namespace patchbay;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nat64::Config cfg;
  cfg.port_lo = 40000;
  cfg.port_hi = 40015;  // a small pool: exhaustion paths are reached
  cfg.max_bindings = 8;
  cfg.frag_max_datagrams = 4;
  nat64::Translator t(cfg, 42);
  std::vector<nat64::Out> out;
  std::int64_t now = 1'000'000'000;
  while (size >= 3) {
    const bool v4 = data[0] & 1;
    now += static_cast<std::int64_t>(data[0] >> 1) * 1'000'000'000;
    std::size_t n = static_cast<std::size_t>(data[1]) << 8 | data[2];
    data += 3;
    size -= 3;
    if (n > size) n = size;
    // A copy of exactly n bytes, so reading past the packet is a heap overflow ASan reports.
    std::vector<std::uint8_t> pkt(data, data + n);
    data += n;
    size -= n;
    out.clear();
    if (v4)
      t.from_v4(std::span<const std::uint8_t>(pkt.data(), pkt.size()), now, out);
    else
      t.from_v6(std::span<const std::uint8_t>(pkt.data(), pkt.size()), now, out);
    for (auto& o : out)
      if (o.bytes.size() < 20) __builtin_trap();  // what it emits is at least an IP header
    t.expire(now);
  }
  return 0;
}
