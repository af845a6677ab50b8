// Fragment reassembly for the NAT64 translator (both families), bounded and on caller time.
//
//   Reassembler r({.timeout_ns = 30'000'000'000, .max_datagrams = 64, .max_bytes = 1 << 20});
//   auto d = r.add({key, offset, more, ip_header, payload}, now);  // nullopt until complete
//   if (d) translate(d->header, d->payload);                       // header of the first fragment
//
// Stateful NAT64 needs the transport ports, which only the first fragment carries, so the
// translator reassembles whole datagrams (RFC 6146 allows it) instead of translating fragments one
// by one. Overlapping fragments drop the whole datagram (RFC 5722); a datagram that does not
// complete within the timeout is dropped silently (no ICMP "reassembly time exceeded").
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

namespace patchbay::nat64 {

// (family, src, dst, id, protocol); IPv4 addresses use the first 4 bytes.
struct FragKey {
  bool v6 = false;
  std::array<std::uint8_t, 16> src{};
  std::array<std::uint8_t, 16> dst{};
  std::uint32_t id = 0;
  std::uint8_t proto = 0;
  auto operator<=>(const FragKey&) const = default;
};

struct Fragment {
  FragKey key;
  std::uint32_t offset = 0;  // bytes
  bool more = false;
  std::span<const std::uint8_t> header;  // kept from the offset-0 fragment
  std::span<const std::uint8_t> payload;
};

struct Datagram {
  std::vector<std::uint8_t> header;
  std::vector<std::uint8_t> payload;
};

class Reassembler {
 public:
  struct Limits {
    std::int64_t timeout_ns = 30'000'000'000;
    std::size_t max_datagrams = 64;
    std::size_t max_bytes = 1 << 20;
  };
  explicit Reassembler(Limits l) : limits_(l) {}

  std::optional<Datagram> add(const Fragment& f, std::int64_t now);
  void expire(std::int64_t now);
  std::size_t pending() const { return entries_.size(); }
  std::uint64_t dropped() const { return dropped_; }

 private:
  struct Entry {
    std::int64_t first_seen = 0;
    std::vector<std::uint8_t> header;
    std::map<std::uint32_t, std::vector<std::uint8_t>> parts;  // by offset
    std::optional<std::uint32_t> total;
    std::size_t bytes = 0;
  };
  using Map = std::map<FragKey, Entry>;
  void drop(Map::iterator it);

  Limits limits_;
  Map entries_;
  std::size_t bytes_ = 0;
  std::uint64_t dropped_ = 0;
};

}  // namespace patchbay::nat64
