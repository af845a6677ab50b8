#include "sys/nfnl.hpp"

#include "sys/nft_batch.hpp"

#include <arpa/inet.h>
#include <endian.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "patchbay/error.hpp"
#include "sys/errno.hpp"

namespace patchbay::sys {

namespace {

// Large enough for the biggest nf_tables message (a set element list is a 64 KiB nest) and for the
// dump skbs the kernel fills.
constexpr std::size_t kRxBuffer = 256 * 1024;

constexpr std::uint16_t nft_type(std::uint8_t msg) {
  return static_cast<std::uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | msg);
}
constexpr std::uint16_t ct_type(std::uint8_t msg) {
  return static_cast<std::uint16_t>((NFNL_SUBSYS_CTNETLINK << 8) | msg);
}

std::string family_name(std::uint8_t family) {
  switch (family) {
    case NFPROTO_INET:
      return "inet";
    case NFPROTO_IPV4:
      return "ip";
    case NFPROTO_ARP:
      return "arp";
    case NFPROTO_NETDEV:
      return "netdev";
    case NFPROTO_BRIDGE:
      return "bridge";
    case NFPROTO_IPV6:
      return "ip6";
    default:
      return "family " + std::to_string(family);
  }
}

std::string set_name(std::uint8_t family, const std::string& table, const std::string& set) {
  return family_name(family) + " " + table + "/" + set;
}

std::uint64_t load_be64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return be64toh(v);
}

std::vector<std::uint8_t> data_value(const std::uint8_t* p, std::size_t len) {
  std::vector<std::uint8_t> out;
  for_each_nla(p, len, [&](std::uint16_t type, const std::uint8_t* d, std::size_t n) {
    if (type == NFTA_DATA_VALUE) out.assign(d, d + n);
  });
  return out;
}

NfnlSocket::Element parse_element(const std::uint8_t* p, std::size_t len) {
  NfnlSocket::Element e;
  for_each_nla(p, len, [&](std::uint16_t type, const std::uint8_t* d, std::size_t n) {
    switch (type) {
      case NFTA_SET_ELEM_KEY:
        e.key = data_value(d, n);
        break;
      case NFTA_SET_ELEM_DATA:
        e.data = data_value(d, n);
        break;
      case NFTA_SET_ELEM_TIMEOUT:
        if (n == 8) e.timeout = std::chrono::milliseconds(load_be64(d));
        break;
      case NFTA_SET_ELEM_EXPIRATION:
        if (n == 8) e.expires = std::chrono::milliseconds(load_be64(d));
        break;
      default:
        break;
    }
  });
  return e;
}

// Calls fn(Element) for every element of a NEWSETELEM message (a get reply or a dump part).
template <class F>
void for_each_element(const nlmsghdr* h, F&& fn) {
  if (h->nlmsg_type != nft_type(NFT_MSG_NEWSETELEM)) return;
  for_each_attr(h, sizeof(nfgenmsg), [&](std::uint16_t type, const std::uint8_t* p, std::size_t n) {
    if (type != NFTA_SET_ELEM_LIST_ELEMENTS) return;
    for_each_nla(p, n, [&](std::uint16_t t, const std::uint8_t* q, std::size_t m) {
      if (t == NFTA_LIST_ELEM) fn(parse_element(q, m));
    });
  });
}

}  // namespace

// ---- KeyBuilder / KeyReader ----

KeyBuilder& KeyBuilder::add(const std::uint8_t* p, std::size_t n) {
  padded_.insert(padded_.end(), p, p + n);
  padded_.resize(padded_.size() + (4 - n % 4) % 4, 0);
  unpadded_len_ = n;
  ++components_;
  return *this;
}

KeyBuilder& KeyBuilder::ipv4(Ipv4Addr a) {
  auto o = a.octets();
  return add(o.data(), o.size());
}

KeyBuilder& KeyBuilder::ipv6(const Ipv6Addr& a) {
  return add(a.bytes().data(), a.bytes().size());
}

KeyBuilder& KeyBuilder::port(std::uint16_t p) {
  const std::uint8_t b[2] = {static_cast<std::uint8_t>(p >> 8), static_cast<std::uint8_t>(p)};
  return add(b, 2);
}

KeyBuilder& KeyBuilder::proto(std::uint8_t p) {
  return add(&p, 1);
}

std::vector<std::uint8_t> KeyBuilder::bytes() const {
  // nft pads only the components of a concatenation (each sits in its own 32-bit register); a plain
  // key has the width of its type, and the kernel rejects any other length.
  if (components_ == 1)
    return {padded_.begin(), padded_.begin() + static_cast<std::ptrdiff_t>(unpadded_len_)};
  return padded_;
}

const std::uint8_t* KeyReader::take(std::size_t n) {
  if (off_ + n > b_.size())
    throw InvalidArgument("nft key", "need " + std::to_string(n) + " bytes at offset " +
                                         std::to_string(off_) + ", have " + std::to_string(b_.size()));
  const std::uint8_t* p = b_.data() + off_;
  off_ = std::min(b_.size(), off_ + (n + 3) / 4 * 4);
  return p;
}

Ipv4Addr KeyReader::ipv4() {
  auto* p = take(4);
  return Ipv4Addr(p[0], p[1], p[2], p[3]);
}

Ipv6Addr KeyReader::ipv6() {
  Ipv6Addr::Bytes b;
  std::memcpy(b.data(), take(16), 16);
  return Ipv6Addr(b);
}

std::uint16_t KeyReader::port() {
  auto* p = take(2);
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

std::uint8_t KeyReader::proto() {
  return *take(1);
}

// ---- NfMsgBuffer ----

void NfMsgBuffer::begin(std::uint16_t type, std::uint16_t flags, std::uint8_t family, std::uint16_t res_id) {
  start_message(type, flags);
  auto& g = header<nfgenmsg>();
  g.nfgen_family = family;
  g.version = NFNETLINK_V0;
  g.res_id = htons(res_id);
}

// ---- NfnlSocket ----

NfnlSocket NfnlSocket::open(std::string context) {
  NfnlSocket s;
  s.context_ = std::move(context);
  s.sock_ = NetlinkSocket::open(NETLINK_NETFILTER);
  s.rx_ = RxBuffer(kRxBuffer);
  return s;
}

void NfnlSocket::fail(const std::string& what, const Result& r) const {
  std::string cause = what + ": " + std::strerror(r.err);
  if (!r.extack.empty()) cause += " (" + r.extack + ")";
  throw NetlinkError(context_, cause, r.err);
}

std::size_t NfnlSocket::recv_some() {
  return recv_reply(sock_.fd(), rx_, context_ + ": nfnetlink");
}

NfnlSocket::Result NfnlSocket::exchange(NfMsgBuffer& buf, const OnMsg& on_reply) {
  if (!sock_.valid()) return Result{EBADF, "nfnetlink socket not open"};
  const std::uint32_t first = seq_;
  std::vector<bool> wants_ack(buf.count());
  std::size_t pending = 0;
  for (std::size_t i = 0; i < buf.count(); ++i) {
    buf.msg(i)->nlmsg_seq = seq_++;
    wants_ack[i] = (buf.msg(i)->nlmsg_flags & NLM_F_ACK) != 0;
    pending += wants_ack[i];
  }
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (retry_eintr([&] {
        return ::sendto(sock_.fd(), buf.data().data(), buf.data().size(), 0,
                        reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
      }) < 0)
    return Result{errno, "sendto"};

  Result r;
  while (pending > 0) {
    std::size_t len = recv_some();
    for (auto* h = first_nlmsg(std::as_const(rx_).data()); nlmsg_ok(h, len); h = nlmsg_next(h, len)) {
      std::uint32_t idx = h->nlmsg_seq - first;
      if (idx >= buf.count()) continue;  // left over from an earlier, abandoned request
      if (h->nlmsg_type != NLMSG_ERROR) {
        if (on_reply) on_reply(h);
        continue;
      }
      auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
      if (e->error != 0 && r.err == 0) r = Result{-e->error, extack_text(h)};
      // An error on a message that asked for no ack (a batch header) means the kernel rejected
      // the whole datagram: no further replies will come.
      if (wants_ack[idx] && pending > 0)
        --pending;
      else if (!wants_ack[idx])
        pending = 0;
    }
  }
  return r;
}

NfMsgBuffer NfnlSocket::nft_batch() {
  // nf_tables changes are accepted only inside a batch, which is one transaction. The batch
  // markers carry no ack flag: kernels before 6.10 never answer them.
  NfMsgBuffer b;
  b.begin(NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
  return b;
}

NfnlSocket::Result NfnlSocket::commit_nft(NfMsgBuffer& batch) {
  batch.begin(NFNL_MSG_BATCH_END, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
  return exchange(batch);
}

void NfnlSocket::require_set(std::uint8_t family, const std::string& table, const std::string& set,
                             const std::string& what) {
  NfMsgBuffer q;
  q.begin(nft_type(NFT_MSG_GETSET), NLM_F_ACK, family);
  q.put_str(NFTA_SET_TABLE, table);
  q.put_str(NFTA_SET_NAME, set);
  if (auto r = exchange(q); r.err != 0) fail(what, r);
}

void NfnlSocket::dump(NfMsgBuffer& req, const std::string& what, const OnMsg& on_msg) {
  if (!sock_.valid()) fail(what, Result{EBADF, "nfnetlink socket not open"});
  auto* h0 = req.msg(0);
  h0->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | NLM_F_DUMP);
  const std::uint32_t seq = h0->nlmsg_seq = seq_++;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (retry_eintr([&] {
        return ::sendto(sock_.fd(), req.data().data(), req.data().size(), 0,
                        reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
      }) < 0)
    fail(what + ": sendto", Result{errno, {}});
  for (;;) {
    std::size_t len = recv_some();
    for (auto* h = first_nlmsg(std::as_const(rx_).data()); nlmsg_ok(h, len); h = nlmsg_next(h, len)) {
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_type == NLMSG_DONE) {
        // A dump that fails midway ends with a negative errno in NLMSG_DONE.
        int err = 0;
        if (h->nlmsg_len >= NLMSG_HDRLEN + sizeof(int)) std::memcpy(&err, NLMSG_DATA(h), sizeof err);
        if (err < 0) fail(what, Result{-err, {}});
        return;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        if (e->error != 0) fail(what, Result{-e->error, extack_text(h)});
        return;
      }
      on_msg(h);
    }
  }
}

void NfnlSocket::add_queue_rule(std::uint8_t family, const std::string& table, const std::string& chain,
                                std::uint16_t queue_num, bool bypass) {
  const std::string what =
      "add NFQUEUE " + std::to_string(queue_num) + " rule to " + set_name(family, table, chain);
  xt_NFQ_info_v3 info{};
  info.queuenum = queue_num;  // x_tables structures are host byte order
  info.queues_total = 1;
  info.flags = bypass ? NFQ_FLAG_BYPASS : 0;
  // nft_compat hands XT_ALIGN(len) to the target's size check, like iptables-nft does.
  std::uint8_t padded[XT_ALIGN(sizeof info)] = {};
  std::memcpy(padded, &info, sizeof info);

  NfMsgBuffer b = nft_batch();
  b.begin(nft_type(NFT_MSG_NEWRULE), NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, family);
  b.put_str(NFTA_RULE_TABLE, table);
  b.put_str(NFTA_RULE_CHAIN, chain);
  auto exprs = b.nest_begin(NFTA_RULE_EXPRESSIONS);
  auto elem = b.nest_begin(NFTA_LIST_ELEM);
  b.put_str(NFTA_EXPR_NAME, "target");
  auto data = b.nest_begin(NFTA_EXPR_DATA);
  b.put_str(NFTA_TARGET_NAME, "NFQUEUE");
  b.put_be32(NFTA_TARGET_REV, 3);
  b.put(NFTA_TARGET_INFO, padded, sizeof padded);
  b.nest_end(data);
  b.nest_end(elem);
  b.nest_end(exprs);
  if (auto r = commit_nft(b); r.err != 0) fail(what, r);
}

NfnlSocket::Result NfnlSocket::commit_batches(std::initializer_list<NftBatch*> batches) {
  NfMsgBuffer b = nft_batch();
  for (NftBatch* batch : batches) {
    if (batch == nullptr) continue;
    const NfMsgBuffer& msgs = batch->messages();
    for (std::size_t i = 0; i < msgs.count(); ++i)
      b.append_message(reinterpret_cast<const nlmsghdr*>(msgs.data().data() + msgs.offset(i)));
  }
  return commit_nft(b);
}

void NfnlSocket::apply(std::initializer_list<NftBatch*> batches, const std::string& what) {
  if (auto r = commit_batches(batches); r.err != 0) fail(what, r);
}

void NfnlSocket::add_elements(NftBatch& elements, const std::string& what) {
  add_elements(elements, [&] { return what; });
}

void NfnlSocket::fail_elements(const std::string& what, Result r) const {
  // nf_tables explains none of its EINVALs here; name the usual causes instead.
  if (r.err == EINVAL && r.extack.empty())
    r.extack =
        "key or data length does not match the set's type, data given for a set or missing for "
        "a map, or a timeout on a set without 'flags timeout'";
  fail(what, r);
}

void NfnlSocket::add_element(std::uint8_t family, const std::string& table, const std::string& set,
                             std::span<const std::uint8_t> key, std::span<const std::uint8_t> data,
                             std::optional<std::chrono::milliseconds> timeout) {
  NftBatch b(family);
  b.add_element(table, set, key, data, timeout);
  add_elements(b, "add element to " + set_name(family, table, set));
}

std::optional<std::vector<std::uint8_t>> NfnlSocket::get_element(std::uint8_t family,
                                                                 const std::string& table,
                                                                 const std::string& set,
                                                                 std::span<const std::uint8_t> key) {
  NfMsgBuffer b;
  add_get_elements(b, family, table, set, key, NLM_F_ACK);
  std::optional<std::vector<std::uint8_t>> out;
  auto r = exchange(
      b, [&](const nlmsghdr* h) { for_each_element(h, [&](Element e) { out = std::move(e.data); }); });
  const std::string what = "get element of " + set_name(family, table, set);
  if (r.err == 0) return out;
  if (r.err != ENOENT) fail(what, r);
  // ENOENT also stands for a missing table or set, which must not read as "no such element".
  require_set(family, table, set, what);
  return std::nullopt;
}

void NfnlSocket::delete_element(std::uint8_t family, const std::string& table, const std::string& set,
                                std::span<const std::uint8_t> key) {
  NftBatch b(family);
  b.delete_element(table, set, key);
  auto r = commit_batches({&b});
  if (r.err == 0) return;
  const std::string what = "delete element from " + set_name(family, table, set);
  if (r.err != ENOENT) fail(what, r);
  // ENOENT also means a missing table or set; only a missing element is fine.
  require_set(family, table, set, what);
}

void NfnlSocket::flush_set(std::uint8_t family, const std::string& table, const std::string& set) {
  // A DELSETELEM without an element list removes every element.
  NftBatch b(family);
  b.flush_set(table, set);
  if (auto r = commit_batches({&b}); r.err != 0) fail("flush " + set_name(family, table, set), r);
}

std::vector<NfnlSocket::Element> NfnlSocket::list_elements(std::uint8_t family, const std::string& table,
                                                           const std::string& set) {
  NfMsgBuffer b;
  add_get_elements(b, family, table, set, {}, 0);
  std::vector<Element> out;
  dump(b, "list elements of " + set_name(family, table, set),
       [&](const nlmsghdr* h) { for_each_element(h, [&](Element e) { out.push_back(std::move(e)); }); });
  return out;
}

void NfnlSocket::flush_conntrack() {
  // Without a tuple, CT_DELETE flushes the table. Version 0 (or AF_UNSPEC) makes the kernel ignore
  // the family, so IPv4 and IPv6 entries go together.
  NfMsgBuffer b;
  b.begin(ct_type(IPCTNL_MSG_CT_DELETE), NLM_F_ACK, AF_UNSPEC);
  if (auto r = exchange(b); r.err != 0) fail("flush conntrack", r);
}

std::size_t NfnlSocket::conntrack_count() {
  NfMsgBuffer b;
  b.begin(ct_type(IPCTNL_MSG_CT_GET), 0, AF_UNSPEC);
  std::size_t n = 0;
  dump(b, "dump conntrack", [&](const nlmsghdr* h) { n += h->nlmsg_type == ct_type(IPCTNL_MSG_CT_NEW); });
  return n;
}

}  // namespace patchbay::sys
