// nfnetlink in-process: nf_tables set/map elements and rules, conntrack flush.
//
// An NfnlSocket is a NETLINK_NETFILTER socket opened in the calling thread's network namespace and
// bound to it for good, so any thread can use it afterwards (callers serialise). It does the
// frequent, small updates that would be slow as nft scripts: NAT mapping entries, a queue rule.
//
//   NfnlSocket nf = NfnlSocket::open("router 'home'");   // on a thread inside the namespace
//   auto key = KeyBuilder().ipv4(Ipv4Addr(10, 0, 1, 2)).port(4000).bytes();
//   auto val = KeyBuilder().ipv4(Ipv4Addr(198, 18, 0, 1)).port(50000).bytes();
//   nf.add_element(NFPROTO_IPV4, "pb_nat", "own_udp", key, val, std::chrono::seconds(30));
//   if (auto d = nf.get_element(NFPROTO_IPV4, "pb_nat", "own_udp", key)) {
//     KeyReader r(*d);  r.ipv4();  r.port();               // 198.18.0.1, 50000
//   }
//
// Keys and data are raw bytes laid out as nf_tables stores them: addresses and ports in network
// byte order; in a concatenation every component padded with zeros to 4 bytes (ipv4 . port is
// 4 + 2 + 2 bytes), a single component unpadded (a set of inet_service has 2-byte keys).
// KeyBuilder and KeyReader produce and read exactly that. Only value sets and maps without the
// interval flag are supported (no ranges, no verdict maps).
//
// Errors throw NetlinkError "context: step: strerror (kernel extended ack)" with errnum() set, e.g.
// "router 'home': add element to ip pb_nat/own_udp: File exists" when the key is present with
// other data (adding an identical element again is not an error).
#pragma once

// <netinet/in.h> must come before <linux/netfilter.h> (which callers need for NFPROTO_*): the
// other order redefines struct in_addr.
#include <netinet/in.h>
// clang-format off
#include <linux/netfilter.h>
// clang-format on
#include <linux/netlink.h>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "patchbay/net.hpp"
#include "sys/netlink.hpp"

namespace patchbay::sys {

// Builds a set key or map value in nf_tables' register layout.
class KeyBuilder {
 public:
  KeyBuilder& ipv4(Ipv4Addr a);         // ipv4_addr: 4 bytes, network order
  KeyBuilder& ipv6(const Ipv6Addr& a);  // ipv6_addr: 16 bytes
  KeyBuilder& port(std::uint16_t p);    // inet_service: 2 bytes big-endian
  KeyBuilder& proto(std::uint8_t p);    // inet_proto: 1 byte
  // One component: its natural width; a concatenation: each component padded to 4 bytes.
  std::vector<std::uint8_t> bytes() const;

 private:
  KeyBuilder& add(const std::uint8_t* p, std::size_t n);
  std::vector<std::uint8_t> padded_;
  std::size_t unpadded_len_ = 0;
  std::size_t components_ = 0;
};

// Reads components in order from bytes made by the kernel or KeyBuilder. Accepts a component padded
// to 4 bytes (concatenation) or unpadded at the very end (single-component key). Throws
// InvalidArgument when the bytes run out.
class KeyReader {
 public:
  explicit KeyReader(std::span<const std::uint8_t> bytes) : b_(bytes) {}
  Ipv4Addr ipv4();
  Ipv6Addr ipv6();
  std::uint16_t port();
  std::uint8_t proto();
  bool at_end() const { return off_ >= b_.size(); }

 private:
  const std::uint8_t* take(std::size_t n);
  std::span<const std::uint8_t> b_;
  std::size_t off_ = 0;
};

// nfnetlink messages (netlink header + nfgenmsg + attributes) collected in one buffer, because an
// nf_tables batch must reach the kernel in a single datagram. Multi-byte attributes in nfnetlink
// are big-endian unless a structure says otherwise, hence the put_be* helpers.
class NfMsgBuffer : public NlMessageBuffer {
 public:
  // Starts a message; NLM_F_REQUEST is added. `res_id` is in host order.
  void begin(std::uint16_t type, std::uint16_t flags, std::uint8_t family, std::uint16_t res_id = 0);
};

class NftBatch;

class NfnlSocket {
 public:
  struct Element {
    std::vector<std::uint8_t> key;
    std::vector<std::uint8_t> data;                    // empty for a set
    std::optional<std::chrono::milliseconds> timeout;  // absent when the set's default applies
    std::optional<std::chrono::milliseconds> expires;  // time left
  };

  NfnlSocket() = default;
  // Opens NETLINK_NETFILTER in the calling thread's current namespace. `context` prefixes every
  // error message (e.g. "router 'home'").
  static NfnlSocket open(std::string context = "nfnetlink");

  // Appends a rule made only of the xtables target NFQUEUE (revision 3) to an existing chain.
  // nf_tables' own queue expression is not always built; the xt target reaches nfnetlink_queue
  // through nft_compat. nft lists the rule as "queue num N bypass" (text, see nft.hpp for the
  // thread that needs) or {"xt": {"type": "target", "name": "NFQUEUE"}} (JSON). Prefer ip or ip6
  // tables: the kernel accepts the rule in inet too, but listing it there makes libxtables print
  // "unhandled NFPROTO" on stderr.
  void add_queue_rule(std::uint8_t family, const std::string& table, const std::string& chain,
                      std::uint16_t queue_num, bool bypass);

  // Applies the batch's messages as one transaction. Throws NetlinkError "context: what: strerror
  // (kernel extended ack)" naming the first message the kernel refused.
  // Null entries are skipped.
  void apply(std::initializer_list<NftBatch*> batches, const std::string& what);

  // Element additions (NftBatch::add_element, built with libnftnl) as one transaction: all or
  // none. An unexplained EINVAL gets the usual causes as its extended ack.
  void add_elements(NftBatch& elements, const std::string& what);
  // The same, with the description made only when the kernel refuses (a new NAT mapping's path).
  template <std::invocable Describe>
  void add_elements(NftBatch& elements, Describe&& what) {
    if (auto r = commit_batches({&elements}); r.err != 0) fail_elements(what(), std::move(r));
  }
  // `data` empty for a set. A timeout needs a set declared with "flags timeout" (or a default).
  void add_element(std::uint8_t family, const std::string& table, const std::string& set,
                   std::span<const std::uint8_t> key, std::span<const std::uint8_t> data,
                   std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  // The data of a map element, an empty vector for a set element, nullopt when absent or expired.
  std::optional<std::vector<std::uint8_t>> get_element(std::uint8_t family, const std::string& table,
                                                       const std::string& set,
                                                       std::span<const std::uint8_t> key);
  // Absent is not an error.
  void delete_element(std::uint8_t family, const std::string& table, const std::string& set,
                      std::span<const std::uint8_t> key);
  void flush_set(std::uint8_t family, const std::string& table, const std::string& set);
  std::vector<Element> list_elements(std::uint8_t family, const std::string& table, const std::string& set);

  // Deletes every conntrack entry of this namespace, IPv4 and IPv6.
  void flush_conntrack();
  // Number of conntrack entries in this namespace (a full dump; meant for tests and diagnostics).
  std::size_t conntrack_count();

  bool valid() const { return sock_.valid(); }
  int fd() const { return sock_.fd(); }

 private:
  using OnMsg = std::function<void(const nlmsghdr*)>;
  struct Result {
    int err = 0;  // positive errno of the first failed message
    std::string extack;
  };
  // Sends every message of `buf` in one datagram and waits for the acks of those that asked for
  // one. Other replies with our sequence numbers go to on_reply.
  Result exchange(NfMsgBuffer& buf, const OnMsg& on_reply = {});
  // A buffer opened with NFNL_MSG_BATCH_BEGIN; commit_nft() closes and sends it.
  static NfMsgBuffer nft_batch();
  Result commit_nft(NfMsgBuffer& batch);
  Result commit_batches(std::initializer_list<NftBatch*> batches);
  // Throws for a missing table or set (they share ENOENT with a missing element).
  void require_set(std::uint8_t family, const std::string& table, const std::string& set,
                   const std::string& what);
  void dump(NfMsgBuffer& req, const std::string& what, const OnMsg& on_msg);
  [[noreturn]] void fail(const std::string& what, const Result& r) const;
  [[noreturn]] void fail_elements(const std::string& what, Result r) const;  // + EINVAL causes
  std::size_t recv_some();

  std::string context_;
  NetlinkSocket sock_;  // owns the descriptor; opened with extended acks
  std::uint32_t seq_ = 1;
  RxBuffer rx_;
};

}  // namespace patchbay::sys
