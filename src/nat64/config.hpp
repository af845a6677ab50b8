// Values of the NAT64 translator (SPEC 4.8): its configuration, what it emits and what it counts.
//
//   nat64::Config cfg;                 // 192.0.2.64, 64:ff9b::/96, 300/7440/240/60 s, 65535 per proto
//   cfg.port_lo = 20000;               // narrow the v4-side port range, e.g. to fill the table in tests
//   nat64::Translator t(cfg, seed);    // translator.hpp
//
// All plain values; the defaults are the SPEC ones.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "patchbay/nat64.hpp"
#include "patchbay/net.hpp"

namespace patchbay::nat64 {

// Binding tables are per protocol; ICMP means echo identifiers.
enum class Proto : std::uint8_t { Udp, Tcp, Icmp };

// Where an emitted packet goes: out of the v4 side (towards the WAN) or back into the v6 LAN.
enum class Side : std::uint8_t { V4, V6 };

struct Timeouts {
  std::int64_t udp_s = 300;
  std::int64_t tcp_established_s = 7440;
  std::int64_t tcp_transitory_s = 240;
  std::int64_t icmp_s = 60;
};

struct Config {
  Ipv4Addr pool{192, 0, 2, 64};
  Ipv6Addr prefix = kWellKnownPrefix;  // a /96: only the first 12 bytes matter
  Timeouts timeouts{};
  std::size_t max_bindings = 65535;  // per protocol
  // v4-side ports and echo identifiers are drawn from [port_lo, port_hi].
  std::uint16_t port_lo = 1024;
  std::uint16_t port_hi = 65535;
  // A reassembled v6 datagram (it carried a Fragment header, so its sender allows fragmentation) is
  // re-fragmented on the v4 side to this size.
  std::size_t v4_mtu = 1500;
  // Fragment reassembly (both families): idle timeout and bounds.
  std::int64_t frag_timeout_s = 30;
  std::size_t frag_max_datagrams = 64;
  std::size_t frag_max_bytes = 1 << 20;
};

struct Out {
  Side to = Side::V4;
  std::vector<std::uint8_t> bytes;  // one IP packet, no L2 header
};

struct Stats {
  std::uint64_t v6_in = 0, v4_in = 0;    // packets offered
  std::uint64_t to_v4 = 0, to_v6 = 0;    // packets emitted (fragments and ICMP errors included)
  std::uint64_t malformed = 0;           // truncated or inconsistent headers
  std::uint64_t bad_checksum = 0;        // IPv4 header or ICMP checksum wrong
  std::uint64_t ext_header_dropped = 0;  // IPv6 extension header we do not translate
  std::uint64_t unsupported = 0;         // other protocols, ICMP types without a mapping
  std::uint64_t not_ours = 0;            // v6 destination outside the prefix, v4 destination not the pool
  std::uint64_t no_binding = 0;          // inbound without a live binding
  std::uint64_t filtered = 0;            // inbound from a remote the binding never sent to
  std::uint64_t table_full = 0;          // new flow rejected (admin-prohibited sent)
  std::uint64_t ttl_expired = 0;         // hop limit / TTL reached 0 (time exceeded sent)
  std::uint64_t icmp_errors_sent = 0;    // errors the translator originated
  std::uint64_t fragments_in = 0;        // fragments queued for reassembly
  std::uint64_t reassembled = 0;         // datagrams completed
  std::uint64_t fragments_dropped = 0;   // timed out, overlapping or over a bound
  std::uint64_t bindings_created = 0, bindings_expired = 0;
};

}  // namespace patchbay::nat64
