// Netlink requests batched per namespace.
//
// A NetlinkSocket is opened inside a namespace once and stays bound to it, so any thread can then
// configure that namespace without entering it. Requests are collected in an NlBatch and sent in
// as few sendmsg() calls as possible; every request carries NLM_F_ACK and the first failure is
// reported with the request's description and the kernel's extended-ack text:
//
//   NlBatch b("router 'home'");
//   b.begin(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, "add 10.0.1.1/24 on br-lan");
//   auto& ifa = b.header<ifaddrmsg>(); ...
//   b.put_u32(IFA_LOCAL, ...);
//   sock.commit(b);   // throws NetlinkError "router 'home': add 10.0.1.1/24 on br-lan: File exists"
#pragma once

#include <linux/netlink.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "patchbay/fd.hpp"

namespace patchbay::sys {

// Netlink messages and their attributes, appended to one buffer (the one attribute writer of both
// rtnetlink batches and nfnetlink buffers), written by libmnl. Lengths are checked: an attribute
// payload beyond 65,531 bytes or a nest beyond 65,535 (nla_len is 16 bits) throws InvalidArgument
// naming the attribute type instead of wrapping around into a malformed message.
class NlMessageBuffer {
 public:
  // Appends the zeroed family header of the current message; call right after starting it.
  template <class T>
  T& header() {
    return *static_cast<T*>(put_header(sizeof(T)));
  }
  void put(std::uint16_t type, const void* data, std::size_t len);
  void put_u8(std::uint16_t type, std::uint8_t v) { put(type, &v, 1); }
  void put_u16(std::uint16_t type, std::uint16_t v) { put(type, &v, 2); }
  void put_u32(std::uint16_t type, std::uint32_t v) { put(type, &v, 4); }
  void put_be32(std::uint16_t type, std::uint32_t v);
  void put_be64(std::uint16_t type, std::uint64_t v);
  void put_str(std::uint16_t type, std::string_view s);  // NUL-terminated
  // Appends raw bytes (padded to 4) to the current message, e.g. a struct embedded in a nest.
  void put_raw(const void* data, std::size_t len);
  // Opens a nested attribute; returns a token for nest_end.
  std::size_t nest_begin(std::uint16_t type);
  void nest_end(std::size_t token);

  // Appends a complete message built elsewhere (e.g. by libnftnl).
  void append_message(const nlmsghdr* h);

  bool empty() const { return offsets_.empty(); }
  std::size_t count() const { return offsets_.size(); }
  nlmsghdr* msg(std::size_t i) { return reinterpret_cast<nlmsghdr*>(buf_.data() + offsets_[i]); }
  std::size_t offset(std::size_t i) const { return offsets_[i]; }
  const std::vector<std::uint8_t>& data() const { return buf_; }
  void clear();

 protected:
  // Starts a message with `flags | NLM_F_REQUEST`.
  void start_message(std::uint16_t type, std::uint16_t flags);

 private:
  nlmsghdr* current();
  void* put_header(std::size_t size);
  void grow(std::size_t n);  // zero-filled room for what the next libmnl call appends

  std::vector<std::uint8_t> buf_;
  std::vector<std::size_t> offsets_;
};

// rtnetlink requests of one namespace; each carries NLM_F_ACK and a description for errors.
class NlBatch : public NlMessageBuffer {
 public:
  explicit NlBatch(std::string context = {}) : context_(std::move(context)) {}

  // Starts a new request. NLM_F_REQUEST | NLM_F_ACK are added.
  NlBatch& begin(std::uint16_t type, std::uint16_t flags, std::string what);
  const std::string& what(std::size_t i) const { return whats_[i]; }
  const std::string& context() const { return context_; }
  void clear();

 private:
  std::string context_;
  std::vector<std::string> whats_;
};

// Walking the messages of one receive buffer, as NLMSG_OK/NLMSG_NEXT do but with an unsigned
// length (the macros compare an int with the u32 nlmsg_len):
//   for (auto* h = first_nlmsg(buf); nlmsg_ok(h, len); h = nlmsg_next(h, len)) ...
// A truncated message (or a length past the buffer) ends the walk.
template <class B>
auto* first_nlmsg(B* buf) {
  if constexpr (std::is_const_v<B>)
    return reinterpret_cast<const nlmsghdr*>(buf);
  else
    return reinterpret_cast<nlmsghdr*>(buf);
}
inline bool nlmsg_ok(const nlmsghdr* h, std::size_t len) {
  return len >= sizeof(nlmsghdr) && h->nlmsg_len >= sizeof(nlmsghdr) && h->nlmsg_len <= len;
}
template <class H>
H* nlmsg_next(H* h, std::size_t& len) {
  const std::size_t step = NLMSG_ALIGN(h->nlmsg_len);
  len = step >= len ? 0 : len - step;
  using Byte = std::conditional_t<std::is_const_v<H>, const char, char>;
  return reinterpret_cast<H*>(reinterpret_cast<Byte*>(h) + step);
}

// Calls fn(type, payload, len) for each attribute in [p, p + len) (e.g. a nest's payload); stops
// at the first attribute whose length does not fit.
template <class F>
void for_each_nla(const std::uint8_t* p, std::size_t len, F&& fn) {
  std::size_t off = 0;
  while (off + NLA_HDRLEN <= len) {
    auto* a = reinterpret_cast<const nlattr*>(p + off);
    if (a->nla_len < NLA_HDRLEN || a->nla_len > len - off) break;
    fn(static_cast<std::uint16_t>(a->nla_type & NLA_TYPE_MASK), p + off + NLA_HDRLEN,
       static_cast<std::size_t>(a->nla_len - NLA_HDRLEN));
    off += NLA_ALIGN(a->nla_len);
  }
}

// Calls fn(type, payload, payload_len) for each attribute after a family header of `hdr_len` bytes.
template <class F>
void for_each_attr(const nlmsghdr* h, std::size_t hdr_len, F&& fn) {
  const std::size_t skip = NLMSG_HDRLEN + NLMSG_ALIGN(hdr_len);
  if (h->nlmsg_len <= skip) return;
  for_each_nla(reinterpret_cast<const std::uint8_t*>(h) + skip, h->nlmsg_len - skip, std::forward<F>(fn));
}

// The NLMSGERR_ATTR_MSG text (the kernel's extended ack) of an NLMSG_ERROR reply, or "".
std::string extack_text(const nlmsghdr* h);

// How long a request waits for the kernel's reply (SO_RCVTIMEO of every NetlinkSocket).
inline constexpr std::chrono::seconds kReplyTimeout{10};

// A receive buffer left uninitialised: a zeroed one would touch (page-fault) every page of it up
// front, and a lab opens thousands of these sockets whose replies use a few hundred bytes.
class RxBuffer {
 public:
  RxBuffer() = default;
  explicit RxBuffer(std::size_t n) : p_(new std::uint8_t[n]), n_(n) {}
  std::uint8_t* data() { return p_.get(); }
  const std::uint8_t* data() const { return p_.get(); }
  std::size_t size() const { return n_; }

 private:
  std::unique_ptr<std::uint8_t[]> p_;
  std::size_t n_ = 0;
};

// One blocking recv of replies into `rx` (sized by the caller). Throws NetlinkError "<context>: no
// reply from the kernel within 10 s" (errnum ETIMEDOUT) when the socket's timeout passes, or with
// the recv error.
std::size_t recv_reply(int fd, RxBuffer& rx, const std::string& context);

class NetlinkSocket {
 public:
  NetlinkSocket() = default;
  // Opens a NETLINK_ROUTE (or other protocol) socket in the calling thread's current namespace.
  // Blocking reads on it time out after kReplyTimeout.
  static NetlinkSocket open(int protocol = 0 /* NETLINK_ROUTE */);

  // Sends every request of the batch and waits for all acknowledgements. Throws NetlinkError for
  // the first failed request; the batch is cleared either way.
  void commit(NlBatch& batch);

  // Sends one dump request and calls `on_msg` for every reply message until NLMSG_DONE.
  void dump(NlBatch& request, const std::function<void(const nlmsghdr*)>& on_msg);

  bool valid() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  std::uint32_t seq_ = 1;
  RxBuffer rx_;
};

}  // namespace patchbay::sys
