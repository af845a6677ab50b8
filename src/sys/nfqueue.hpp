// A netfilter queue: packets a rule sent to queue N come to user space for a verdict.
//
// NfQueue binds one queue number in the network namespace of the calling thread (open() must run
// on a thread inside it). The socket is non-blocking; wait for fd() to become readable (epoll),
// then drain and decide:
//
//   NfQueue q = NfQueue::open(3, 0xffff);          // on a thread inside the router's namespace
//   for (auto& p : q.receive())                    // never blocks; empty when nothing is queued
//     q.verdict(p.id, keep(p.payload) ? NF_ACCEPT : NF_DROP);
//
// Guarantees: the queue is opened fail-open, so when it is full the kernel accepts packets
// instead of dropping them. Packets still waiting for a verdict when the NfQueue is destroyed are
// dropped by the kernel; later packets pass only if the rule has "bypass", else they are dropped.
// Verdicts are sent without an acknowledgement, to keep the packet path at one syscall; a verdict
// the kernel refuses (an unknown or already decided id) is discarded by the next receive().
// One thread at a time (callers serialise).
#pragma once

// NF_ACCEPT and friends for callers; <netinet/in.h> first, see nfnl.hpp.
#include <netinet/in.h>
// clang-format off
#include <linux/netfilter.h>
// clang-format on

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "patchbay/net.hpp"
#include "sys/netlink.hpp"

namespace patchbay::sys {

class NfQueue {
 public:
  struct Packet {
    std::uint32_t id = 0;
    std::uint16_t hw_protocol = 0;      // host order, e.g. ETH_P_IP
    std::uint8_t hook = 0;              // NF_INET_*
    std::vector<std::uint8_t> payload;  // starts at the network header; at most copy_range bytes
    // The conntrack original tuple (IPv4), when the queue was opened with `conntrack`: it is what
    // the flow looked like before any DNAT (hairpinned packets are already rewritten).
    struct Tuple {
      std::uint8_t proto = 0;
      Ipv4Addr src, dst;
      std::uint16_t sport = 0, dport = 0;
    };
    std::optional<Tuple> orig;
  };
  struct Verdict {
    std::uint32_t id = 0;
    std::uint32_t verdict = 0;  // NF_ACCEPT, NF_DROP, NF_REPEAT (<linux/netfilter.h>)
  };

  NfQueue() = default;
  // Binds queue `queue_num` and asks for packet copies of up to `copy_range` bytes. Throws
  // NetlinkError; errnum() is EPERM when another socket holds the queue ("nfqueue 3: bind:
  // Operation not permitted (queue bound by another socket, or no CAP_NET_ADMIN)").
  // With `conntrack`, every packet carries its conntrack entry's original tuple.
  static NfQueue open(std::uint16_t queue_num, std::uint32_t copy_range, bool conntrack = false);

  int fd() const { return sock_.fd(); }
  std::uint16_t queue_num() const { return queue_num_; }

  // Every packet readable now; never blocks.
  std::vector<Packet> receive();
  void verdict(std::uint32_t id, std::uint32_t verdict);
  // Several verdicts in one sendmsg().
  void verdicts(std::span<const Verdict> vs);

  // Appends the packets of one recv()'s worth of netlink messages (anything else is skipped;
  // truncated messages and attributes end the walk). Never reads outside [data, data + len).
  // Public for the fuzz target (tests/fuzz).
  static void parse(const std::uint8_t* data, std::size_t len, std::vector<Packet>& out);

 private:
  NetlinkSocket sock_;
  std::uint16_t queue_num_ = 0;
  RxBuffer rx_;
  std::vector<char> verdict_buf_;  // reused: verdicts are on the packet path
  std::vector<Packet> early_;      // arrived while open() waited for its ack
};

}  // namespace patchbay::sys
