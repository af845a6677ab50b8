// nf_tables rule sets built as netlink messages with libnftnl: tables, chains, sets and rules made
// of kernel expressions, sent by NfnlSocket::apply() as one transaction.
//
// Why not text through libnftables (sys/nft.hpp): parsing and evaluating a script costs about
// 2 ms of CPU for a NAT router's rule set, and inside a busy process more (libnftables allocates
// four 128 KiB hash tables per table it parses or caches, and the page faults dominate). The same
// rule set as messages costs a tenth of that; docs/architecture.md has the numbers.
//
//   NftBatch b(NFPROTO_IPV4);
//   b.add_table("t");
//   b.add_chain("t", "in", NftBaseChain{"filter", NF_INET_LOCAL_IN, 0});
//   auto own = b.add_set("t", NftSetSpec{"own", {NftType::InetService}, {}, true, 30s});
//   NftRule r = b.rule("t", "in");
//   r.meta_load(NFT_META_L4PROTO).cmp_eq(std::uint8_t{IPPROTO_UDP})
//    .payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2).lookup(own).verdict(NF_DROP);
//   b.add(std::move(r));
//   nfnl.apply(b, "router 'home': NAT");   // NfnlSocket opened inside the namespace
//
// The expressions are the kernel's: what `nft --debug=netlink` prints for a rule is what a rule
// here must contain, in that order and with those registers, for the kernel (and `nft list`) to
// see the same rule. Registers follow nft: a value or the first part of a concatenation in the
// 16-byte register 1 (data: 2), later parts in the 4-byte registers after it (reg32()).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sys/nfnl.hpp"

struct nftnl_rule;
struct nftnl_expr;

namespace patchbay::sys {

// nft's datatype ids, as stored in a set's key and data type (concatenations combine them).
enum class NftType : std::uint32_t { Ipv4Addr = 7, InetProto = 12, InetService = 13 };

struct NftSetSpec {
  std::string name;
  std::vector<NftType> key;                          // more than one: a concatenation
  std::vector<NftType> data;                         // empty: a set; else a map
  bool dynamic = false;                              // "flags dynamic": updated from the packet path
  std::optional<std::chrono::milliseconds> timeout;  // "flags timeout" with this default
};

// How a rule names a set: by name, and by the batch-local id for sets made in the same batch.
struct NftSetRef {
  std::string name;
  std::uint32_t id = 0;
};

struct NftBaseChain {
  const char* type;       // "filter" or "nat"
  std::uint32_t hook;     // NF_INET_*
  std::int32_t priority;  // e.g. -150 for mangle, 100 for srcnat
};

// Register numbers as nft allocates them (NFT_REG_1 / NFT_REG_2 and their 4-byte parts).
inline constexpr std::uint32_t kNftReg1 = 1, kNftReg2 = 2;
// Part `i` of a concatenation that starts in 16-byte register `reg` (1 or 2): the register itself
// for part 0, then NFT_REG32_xx numbering (reg 1 . 9 . 10 . 11; reg 2 . 13 . 14 . 15).
std::uint32_t nft_reg32(std::uint32_t reg, std::size_t i);

class NftRule {
 public:
  NftRule(std::uint8_t family, std::string_view table, std::string_view chain);
  NftRule(NftRule&&) noexcept;
  NftRule& operator=(NftRule&&) noexcept;
  ~NftRule();

  NftRule& meta_load(std::uint32_t key, std::uint32_t dreg = kNftReg1);  // NFT_META_*
  NftRule& meta_set(std::uint32_t key, std::uint32_t sreg = kNftReg1);
  NftRule& cmp(std::uint32_t op, std::span<const std::uint8_t> data, std::uint32_t sreg = kNftReg1);
  NftRule& cmp_eq(std::uint8_t v) { return cmp_u8(0, v); }
  NftRule& cmp_u8(std::uint32_t op, std::uint8_t v);
  NftRule& cmp_u32(std::uint32_t op, std::uint32_t v);           // host order (meta mark, ct state)
  NftRule& cmp_ifname(std::uint32_t op, std::string_view name);  // 16 bytes, NUL padded
  NftRule& bitwise(std::span<const std::uint8_t> mask, std::span<const std::uint8_t> xor_,
                   std::uint32_t reg = kNftReg1);
  NftRule& bitwise_u8(std::uint8_t mask, std::uint8_t xor_);
  NftRule& bitwise_u32(std::uint32_t mask, std::uint32_t xor_);  // host order
  NftRule& payload(std::uint32_t base, std::uint32_t offset, std::uint32_t len,
                   std::uint32_t dreg = kNftReg1);
  // ct `key` (NFT_CT_*) of direction `dir` (IP_CT_DIR_*; none for direction-less keys).
  NftRule& ct(std::uint32_t key, std::optional<std::uint8_t> dir, std::uint32_t dreg = kNftReg1);
  NftRule& fib(std::uint32_t flags, std::uint32_t result, std::uint32_t dreg = kNftReg1);
  NftRule& lookup(const NftSetRef& set, std::uint32_t sreg = kNftReg1, std::optional<std::uint32_t> dreg = {},
                  bool invert = false);
  NftRule& dynset_update(const NftSetRef& set, std::uint32_t sreg_key, std::optional<std::uint32_t> sreg_data,
                         std::chrono::milliseconds timeout);
  // NFT_NAT_SNAT / NFT_NAT_DNAT of `family` to the address and port in the given registers.
  NftRule& nat(std::uint32_t type, std::uint8_t family, std::uint32_t reg_addr, std::uint32_t reg_proto);
  NftRule& masq();
  NftRule& verdict(int code, std::string_view chain = {});  // NF_ACCEPT, NF_DROP, NFT_JUMP + chain

 private:
  friend class NftBatch;
  NftRule& add(nftnl_expr* e);
  nftnl_rule* r_ = nullptr;
};

class NftBatch {
 public:
  explicit NftBatch(std::uint8_t family);

  void add_table(std::string_view table);  // no error when it exists
  void delete_table(std::string_view table);
  void add_chain(std::string_view table, std::string_view chain, std::optional<NftBaseChain> base = {});
  NftSetRef add_set(std::string_view table, const NftSetSpec& spec);
  // An anonymous constant set ("{ 80, 443 }") of one type; each element is that type's bytes.
  NftSetRef add_anonymous_set(std::string_view table, NftType type,
                              const std::vector<std::vector<std::uint8_t>>& elements);
  NftRule rule(std::string_view table, std::string_view chain) const {
    return NftRule(family_, table, chain);
  }
  void add(NftRule&& r);  // appends the rule to its chain
  // One element of a named set or map (`data` empty for a set), as KeyBuilder lays it out. A
  // timeout needs a set with "flags timeout" (or a default). Adding an identical element again is
  // not an error; the same key with other data is (EEXIST).
  void add_element(std::string_view table, std::string_view set, std::span<const std::uint8_t> key,
                   std::span<const std::uint8_t> data,
                   std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  // Removes one element by key; a missing element fails the transaction with ENOENT.
  void delete_element(std::string_view table, std::string_view set, std::span<const std::uint8_t> key);
  // Removes every element of the set (a deletion without an element list).
  void flush_set(std::string_view table, std::string_view set);

  std::uint8_t family() const { return family_; }
  // The messages, without the batch markers NfnlSocket::apply() puts around them.
  NfMsgBuffer& messages() { return msgs_; }

 private:
  // Tables, chains, sets and rules of the sizes nft allows fit easily; elements get more room.
  static constexpr std::size_t kMessageCapacity = 16 * 1024;
  template <class Build>
  void message(std::uint16_t type, std::uint16_t flags, Build&& build,
               std::size_t capacity = kMessageCapacity);

  std::uint8_t family_;
  std::uint32_t next_set_id_ = 1;
  NfMsgBuffer msgs_;
  std::vector<char> scratch_;
};

// A GETSETELEM request, which is never part of a batch: the element with `key`, or with `key`
// empty every element (send it as a dump). Appended to `out` with `flags` (plus NLM_F_REQUEST).
void add_get_elements(NfMsgBuffer& out, std::uint8_t family, std::string_view table, std::string_view set,
                      std::span<const std::uint8_t> key, std::uint16_t flags);

}  // namespace patchbay::sys
