#include "sys/nft_batch.hpp"

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter/nf_tables.h>
#include <net/if.h>

#include <cstring>
#include <new>
#include <utility>

#include "patchbay/error.hpp"

namespace patchbay::sys {

namespace {

constexpr std::uint32_t kTypeBits = 6;  // nft: a concatenation's type is the parts' ids, 6 bits each

std::uint32_t type_len(NftType t) {
  switch (t) {
    case NftType::Ipv4Addr:
      return 4;
    case NftType::InetProto:
      return 1;
    case NftType::InetService:
      return 2;
  }
  return 0;
}

// A single value keeps its natural width; in a concatenation every part takes whole registers.
std::pair<std::uint32_t, std::uint32_t> type_and_len(const std::vector<NftType>& parts) {
  if (parts.size() == 1) return {static_cast<std::uint32_t>(parts[0]), type_len(parts[0])};
  std::uint32_t type = 0, len = 0;
  for (NftType p : parts) {
    type = (type << kTypeBits) | static_cast<std::uint32_t>(p);
    len += (type_len(p) + 3) / 4 * 4;
  }
  return {type, len};
}

nftnl_expr* expr(const char* name) {
  nftnl_expr* e = nftnl_expr_alloc(name);
  if (e == nullptr) throw std::bad_alloc();
  return e;
}

template <class T, void (*Free)(const T*)>
struct Owned {
  T* p;
  explicit Owned(T* x) : p(x) {
    if (p == nullptr) throw std::bad_alloc();
  }
  ~Owned() { Free(p); }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
};
using Table = Owned<nftnl_table, nftnl_table_free>;
using Chain = Owned<nftnl_chain, nftnl_chain_free>;
using Set = Owned<nftnl_set, nftnl_set_free>;

}  // namespace

std::uint32_t nft_reg32(std::uint32_t reg, std::size_t i) {
  if (i == 0) return reg;
  return NFT_REG32_00 + (reg - NFT_REG_1) * 4 + static_cast<std::uint32_t>(i);
}

// ---- NftRule ----

NftRule::NftRule(std::uint8_t family, std::string_view table, std::string_view chain)
    : r_(nftnl_rule_alloc()) {
  if (r_ == nullptr) throw std::bad_alloc();
  nftnl_rule_set_u32(r_, NFTNL_RULE_FAMILY, family);
  nftnl_rule_set_str(r_, NFTNL_RULE_TABLE, std::string(table).c_str());
  nftnl_rule_set_str(r_, NFTNL_RULE_CHAIN, std::string(chain).c_str());
}

NftRule::NftRule(NftRule&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}

NftRule& NftRule::operator=(NftRule&& o) noexcept {
  if (this != &o) {
    if (r_ != nullptr) nftnl_rule_free(r_);
    r_ = std::exchange(o.r_, nullptr);
  }
  return *this;
}

NftRule::~NftRule() {
  if (r_ != nullptr) nftnl_rule_free(r_);
}

NftRule& NftRule::add(nftnl_expr* e) {
  nftnl_rule_add_expr(r_, e);  // the rule owns it from here
  return *this;
}

NftRule& NftRule::meta_load(std::uint32_t key, std::uint32_t dreg) {
  auto* e = expr("meta");
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
  return add(e);
}

NftRule& NftRule::meta_set(std::uint32_t key, std::uint32_t sreg) {
  auto* e = expr("meta");
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, sreg);
  return add(e);
}

NftRule& NftRule::cmp(std::uint32_t op, std::span<const std::uint8_t> data, std::uint32_t sreg) {
  auto* e = expr("cmp");
  nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
  nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
  nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data.data(), static_cast<std::uint32_t>(data.size()));
  return add(e);
}

NftRule& NftRule::cmp_u8(std::uint32_t op, std::uint8_t v) {
  return cmp(op, std::span<const std::uint8_t>(&v, 1));
}

NftRule& NftRule::cmp_u32(std::uint32_t op, std::uint32_t v) {
  std::uint8_t b[4];
  std::memcpy(b, &v, 4);
  return cmp(op, b);
}

NftRule& NftRule::cmp_ifname(std::uint32_t op, std::string_view name) {
  std::uint8_t b[IFNAMSIZ] = {};
  std::memcpy(b, name.data(), std::min(name.size(), std::size_t{IFNAMSIZ - 1}));
  return cmp(op, b);
}

NftRule& NftRule::bitwise(std::span<const std::uint8_t> mask, std::span<const std::uint8_t> xor_,
                          std::uint32_t reg) {
  auto* e = expr("bitwise");
  nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
  nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
  nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, static_cast<std::uint32_t>(mask.size()));
  nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask.data(), static_cast<std::uint32_t>(mask.size()));
  nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor_.data(), static_cast<std::uint32_t>(xor_.size()));
  return add(e);
}

NftRule& NftRule::bitwise_u8(std::uint8_t mask, std::uint8_t xor_) {
  return bitwise(std::span<const std::uint8_t>(&mask, 1), std::span<const std::uint8_t>(&xor_, 1));
}

NftRule& NftRule::bitwise_u32(std::uint32_t mask, std::uint32_t xor_) {
  std::uint8_t m[4], x[4];
  std::memcpy(m, &mask, 4);
  std::memcpy(x, &xor_, 4);
  return bitwise(m, x);
}

NftRule& NftRule::payload(std::uint32_t base, std::uint32_t offset, std::uint32_t len, std::uint32_t dreg) {
  auto* e = expr("payload");
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
  return add(e);
}

NftRule& NftRule::ct(std::uint32_t key, std::optional<std::uint8_t> dir, std::uint32_t dreg) {
  auto* e = expr("ct");
  nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
  if (dir) nftnl_expr_set_u8(e, NFTNL_EXPR_CT_DIR, *dir);
  nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
  return add(e);
}

NftRule& NftRule::fib(std::uint32_t flags, std::uint32_t result, std::uint32_t dreg) {
  auto* e = expr("fib");
  nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, flags);
  nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, result);
  nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, dreg);
  return add(e);
}

NftRule& NftRule::lookup(const NftSetRef& set, std::uint32_t sreg, std::optional<std::uint32_t> dreg,
                         bool invert) {
  auto* e = expr("lookup");
  nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
  if (dreg) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, *dreg);
  nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set.name.c_str());
  nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set.id);
  if (invert) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
  return add(e);
}

NftRule& NftRule::dynset_update(const NftSetRef& set, std::uint32_t sreg_key,
                                std::optional<std::uint32_t> sreg_data, std::chrono::milliseconds timeout) {
  auto* e = expr("dynset");
  nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, sreg_key);
  if (sreg_data) nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_DATA, *sreg_data);
  nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
  nftnl_expr_set_u64(e, NFTNL_EXPR_DYNSET_TIMEOUT, static_cast<std::uint64_t>(timeout.count()));
  nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set.name.c_str());
  nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SET_ID, set.id);
  return add(e);
}

NftRule& NftRule::nat(std::uint32_t type, std::uint8_t family, std::uint32_t reg_addr,
                      std::uint32_t reg_proto) {
  auto* e = expr("nat");
  nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, type);
  nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, family);
  nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, reg_addr);
  nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, reg_proto);
  return add(e);
}

NftRule& NftRule::masq() {
  return add(expr("masq"));
}

NftRule& NftRule::verdict(int code, std::string_view chain) {
  auto* e = expr("immediate");
  nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
  nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, static_cast<std::uint32_t>(code));
  if (!chain.empty()) nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, std::string(chain).c_str());
  return add(e);
}

// ---- NftBatch ----

NftBatch::NftBatch(std::uint8_t family) : family_(family), scratch_(kMessageCapacity) {}

template <class Build>
void NftBatch::message(std::uint16_t type, std::uint16_t flags, Build&& build, std::size_t capacity) {
  // libnftnl writes attributes without a bound: the buffer must be large enough beforehand.
  if (scratch_.size() < capacity) scratch_.resize(capacity);
  nlmsghdr* h =
      nftnl_nlmsg_build_hdr(scratch_.data(), type, family_, static_cast<std::uint16_t>(flags | NLM_F_ACK), 0);
  build(h);
  msgs_.append_message(h);
}

void NftBatch::add_table(std::string_view table) {
  Table t(nftnl_table_alloc());
  nftnl_table_set_str(t.p, NFTNL_TABLE_NAME, std::string(table).c_str());
  message(NFT_MSG_NEWTABLE, NLM_F_CREATE, [&](nlmsghdr* h) { nftnl_table_nlmsg_build_payload(h, t.p); });
}

void NftBatch::delete_table(std::string_view table) {
  Table t(nftnl_table_alloc());
  nftnl_table_set_str(t.p, NFTNL_TABLE_NAME, std::string(table).c_str());
  message(NFT_MSG_DELTABLE, 0, [&](nlmsghdr* h) { nftnl_table_nlmsg_build_payload(h, t.p); });
}

void NftBatch::add_chain(std::string_view table, std::string_view chain, std::optional<NftBaseChain> base) {
  Chain c(nftnl_chain_alloc());
  nftnl_chain_set_str(c.p, NFTNL_CHAIN_TABLE, std::string(table).c_str());
  nftnl_chain_set_str(c.p, NFTNL_CHAIN_NAME, std::string(chain).c_str());
  if (base) {
    nftnl_chain_set_u32(c.p, NFTNL_CHAIN_HOOKNUM, base->hook);
    nftnl_chain_set_s32(c.p, NFTNL_CHAIN_PRIO, base->priority);
    nftnl_chain_set_str(c.p, NFTNL_CHAIN_TYPE, base->type);
    nftnl_chain_set_u32(c.p, NFTNL_CHAIN_POLICY, NF_ACCEPT);
  }
  message(NFT_MSG_NEWCHAIN, NLM_F_CREATE, [&](nlmsghdr* h) { nftnl_chain_nlmsg_build_payload(h, c.p); });
}

NftSetRef NftBatch::add_set(std::string_view table, const NftSetSpec& spec) {
  NftSetRef ref{spec.name, next_set_id_++};
  Set s(nftnl_set_alloc());
  nftnl_set_set_str(s.p, NFTNL_SET_TABLE, std::string(table).c_str());
  nftnl_set_set_str(s.p, NFTNL_SET_NAME, spec.name.c_str());
  nftnl_set_set_u32(s.p, NFTNL_SET_ID, ref.id);
  std::uint32_t flags = 0;
  if (!spec.data.empty()) flags |= NFT_SET_MAP;
  if (spec.timeout) flags |= NFT_SET_TIMEOUT;
  if (spec.dynamic) flags |= NFT_SET_EVAL;
  nftnl_set_set_u32(s.p, NFTNL_SET_FLAGS, flags);
  auto [ktype, klen] = type_and_len(spec.key);
  nftnl_set_set_u32(s.p, NFTNL_SET_KEY_TYPE, ktype);
  nftnl_set_set_u32(s.p, NFTNL_SET_KEY_LEN, klen);
  if (!spec.data.empty()) {
    auto [dtype, dlen] = type_and_len(spec.data);
    nftnl_set_set_u32(s.p, NFTNL_SET_DATA_TYPE, dtype);
    nftnl_set_set_u32(s.p, NFTNL_SET_DATA_LEN, dlen);
  }
  if (spec.timeout)
    nftnl_set_set_u64(s.p, NFTNL_SET_TIMEOUT, static_cast<std::uint64_t>(spec.timeout->count()));
  message(NFT_MSG_NEWSET, NLM_F_CREATE, [&](nlmsghdr* h) { nftnl_set_nlmsg_build_payload(h, s.p); });
  return ref;
}

NftSetRef NftBatch::add_anonymous_set(std::string_view table, NftType type,
                                      const std::vector<std::vector<std::uint8_t>>& elements) {
  // The kernel replaces %d with a free number; rules in the same batch find the set by its id.
  NftSetRef ref{"__set%d", next_set_id_++};
  Set s(nftnl_set_alloc());
  nftnl_set_set_str(s.p, NFTNL_SET_TABLE, std::string(table).c_str());
  nftnl_set_set_str(s.p, NFTNL_SET_NAME, ref.name.c_str());
  nftnl_set_set_u32(s.p, NFTNL_SET_ID, ref.id);
  nftnl_set_set_u32(s.p, NFTNL_SET_FLAGS, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT);
  nftnl_set_set_u32(s.p, NFTNL_SET_KEY_TYPE, static_cast<std::uint32_t>(type));
  nftnl_set_set_u32(s.p, NFTNL_SET_KEY_LEN, type_len(type));
  nftnl_set_set_u32(s.p, NFTNL_SET_DESC_SIZE, static_cast<std::uint32_t>(elements.size()));
  message(NFT_MSG_NEWSET, NLM_F_CREATE, [&](nlmsghdr* h) { nftnl_set_nlmsg_build_payload(h, s.p); });
  for (const auto& bytes : elements) {
    nftnl_set_elem* e = nftnl_set_elem_alloc();
    if (e == nullptr) throw std::bad_alloc();
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, bytes.data(), static_cast<std::uint32_t>(bytes.size()));
    nftnl_set_elem_add(s.p, e);  // the set owns it
  }
  // An element is a nest with the key nest inside: well under 64 bytes for the types above.
  message(
      NFT_MSG_NEWSETELEM, NLM_F_CREATE, [&](nlmsghdr* h) { nftnl_set_elems_nlmsg_build_payload(h, s.p); },
      kMessageCapacity + 64 * elements.size());
  return ref;
}

void NftBatch::add(NftRule&& r) {
  NftRule rule = std::move(r);
  message(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND,
          [&](nlmsghdr* h) { nftnl_rule_nlmsg_build_payload(h, rule.r_); });
}

namespace {

// Names the set an element request is for.
void name_set(Set& s, std::string_view table, std::string_view set) {
  nftnl_set_set_str(s.p, NFTNL_SET_TABLE, std::string(table).c_str());
  nftnl_set_set_str(s.p, NFTNL_SET_NAME, std::string(set).c_str());
}

// Adds an element with `key` to `s` (which owns it) and returns it for more attributes.
nftnl_set_elem* keyed_element(Set& s, std::span<const std::uint8_t> key) {
  nftnl_set_elem* e = nftnl_set_elem_alloc();
  if (e == nullptr) throw std::bad_alloc();
  nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key.data(), static_cast<std::uint32_t>(key.size()));
  nftnl_set_elem_add(s.p, e);
  return e;
}

}  // namespace

void NftBatch::add_element(std::string_view table, std::string_view set, std::span<const std::uint8_t> key,
                           std::span<const std::uint8_t> data,
                           std::optional<std::chrono::milliseconds> timeout) {
  Set s(nftnl_set_alloc());
  name_set(s, table, set);
  nftnl_set_elem* e = keyed_element(s, key);
  if (!data.empty())
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, data.data(), static_cast<std::uint32_t>(data.size()));
  if (timeout)
    nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, static_cast<std::uint64_t>(timeout->count()));
  message(
      NFT_MSG_NEWSETELEM, NLM_F_CREATE, [&](nlmsghdr* h) { nftnl_set_elems_nlmsg_build_payload(h, s.p); },
      1024 + key.size() + data.size());
}

void NftBatch::delete_element(std::string_view table, std::string_view set,
                              std::span<const std::uint8_t> key) {
  Set s(nftnl_set_alloc());
  name_set(s, table, set);
  keyed_element(s, key);
  message(
      NFT_MSG_DELSETELEM, 0, [&](nlmsghdr* h) { nftnl_set_elems_nlmsg_build_payload(h, s.p); },
      1024 + key.size());
}

void NftBatch::flush_set(std::string_view table, std::string_view set) {
  Set s(nftnl_set_alloc());
  name_set(s, table, set);
  message(
      NFT_MSG_DELSETELEM, 0, [&](nlmsghdr* h) { nftnl_set_elems_nlmsg_build_payload(h, s.p); }, 1024);
}

void add_get_elements(NfMsgBuffer& out, std::uint8_t family, std::string_view table, std::string_view set,
                      std::span<const std::uint8_t> key, std::uint16_t flags) {
  Set s(nftnl_set_alloc());
  name_set(s, table, set);
  if (!key.empty()) keyed_element(s, key);
  std::vector<char> buf(1024 + key.size());
  nlmsghdr* h = nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_GETSETELEM, family, flags, 0);
  nftnl_set_elems_nlmsg_build_payload(h, s.p);
  out.append_message(h);
}

}  // namespace patchbay::sys
