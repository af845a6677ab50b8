// patchbay/testing.hpp: blocking helpers for tests, meant to run on node threads.
//
//   auto observed = dev.run([&] { return testing::udp_roundtrip(reflector_addr); });
//   auto rtt = dev.run([&] { return testing::udp_rtt_median(reflector_addr, 5, 3); });
//   dev.run([&] { testing::tcp_roundtrip(echo_addr); });          // throws on failure
//
// Each helper creates its sockets on the calling thread, so call it inside Node::run,
// Node::spawn_thread or any thread that lives in the node. Failures throw TimeoutError or
// SystemError naming the peer.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "patchbay/net.hpp"
#include "patchbay/node.hpp"
#include "patchbay/reflector.hpp"

namespace patchbay::testing {

using std::chrono::milliseconds;

// Sends "PROBE" to a UDP reflector and returns the address it observed. One attempt.
SocketAddr probe_udp(SocketAddr reflector, milliseconds timeout = milliseconds(500),
                     std::optional<SocketAddr> bind = std::nullopt);
// Up to 4 attempts within 2 s.
SocketAddr udp_roundtrip(SocketAddr reflector, std::optional<SocketAddr> bind = std::nullopt);
// One UDP round trip time.
std::chrono::microseconds udp_rtt(SocketAddr reflector, milliseconds timeout = milliseconds(2000));
// Median of n round trips after `warmup` unmeasured ones (which also warm ARP/ND). InvalidArgument
// for n < 1.
std::chrono::microseconds udp_rtt_median(SocketAddr reflector, int n = 5, int warmup = 3);

struct SendRecvCount {
  std::uint64_t sent = 0, received = 0;
};
// Sends `total` datagrams of `payload` bytes to an echoing reflector at `pace`, counts replies
// until `wait` after the last send.
SendRecvCount udp_send_recv_count(SocketAddr target, std::uint64_t total, std::size_t payload,
                                  milliseconds pace, milliseconds wait);

// Connects, sends "ping", expects "ping" back (500 ms timeouts). Throws on failure.
void tcp_roundtrip(SocketAddr echo_server);
// Connects to a TCP reflector and returns the peer address it reports.
SocketAddr tcp_probe(SocketAddr tcp_reflector, milliseconds timeout = milliseconds(1000),
                     std::optional<SocketAddr> bind = std::nullopt);

// UDP hole punching on an already bound socket: sends "punch <i>" to `peer` every `period` until a
// datagram from the peer's IP arrives (then sends 3 "ack"s to the address it came from), or
// `deadline` passes.
// Returns whether the peer was heard.
bool holepunch_send_recv(int sock, SocketAddr peer, milliseconds period = milliseconds(200),
                         milliseconds deadline = milliseconds(15000));

// A TCP echo server on the node (io thread); echoes every byte until the peer closes.
ReflectorGuard spawn_tcp_echo_server(Node& node, SocketAddr bind);
// A TCP reflector on the node: writes "OBSERVED <peer>" and closes.
ReflectorGuard spawn_tcp_reflector(Node& node, SocketAddr bind);

}  // namespace patchbay::testing
