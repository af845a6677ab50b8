// Fuzz target: the link engine's frame work (src/link/frame.hpp) on arbitrary frames with
// arbitrary virtio-net headers: wire_shape, complete_checksum and GSO segmentation. The first
// sizeof(virtio_net_hdr) bytes are the header, the rest the Ethernet frame. Checks beyond "no
// crash": segmentation never invents packets out of nothing and every output is bounded.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "link/frame.hpp"

using namespace patchbay;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < sizeof(virtio_net_hdr)) return 0;
  auto make = [&] {
    auto f = std::make_unique<link::Frame>();
    std::memcpy(&f->vnet, data, sizeof f->vnet);
    f->bytes.assign(data + sizeof f->vnet, data + size);
    return f;
  };
  auto f = make();
  const auto shape = link::wire_shape(*f);
  (void)shape;
  auto c = make();
  link::complete_checksum(*c);
  if (c->bytes.size() != f->bytes.size()) __builtin_trap();  // in place: never resized
  std::vector<link::FramePtr> out;
  link::split_gso(make(), out);
  if (out.empty() || out.size() > 65536) __builtin_trap();
  for (auto& o : out)
    if (!o || o->bytes.size() > 65536 + 256) __builtin_trap();
  return 0;
}
