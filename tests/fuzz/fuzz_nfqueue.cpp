// Fuzz target: netlink attribute parsing on the receive path, through the NFQUEUE packet parser
// (sys::NfQueue::parse: message walk, attributes, the nested conntrack tuple). The kernel is the
// only real sender, but a parser that trusts lengths is how a bad day becomes a crash.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "sys/nfqueue.hpp"

using namespace patchbay;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Netlink messages are 4-byte aligned in the receive buffer; the copy keeps that (and makes any
  // read past `size` a heap overflow).
  std::vector<std::uint8_t> buf(data, data + size);
  std::vector<sys::NfQueue::Packet> out;
  sys::NfQueue::parse(buf.data(), buf.size(), out);
  for (auto& p : out)
    if (p.payload.size() > size) __builtin_trap();
  return 0;
}
