#include "sys/netlink.hpp"

#include <endian.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>

#include <libmnl/libmnl.h>

#include "patchbay/error.hpp"
#include "sys/errno.hpp"

namespace patchbay::sys {

namespace {

constexpr std::size_t kMaxSendChunk = 32 * 1024;
constexpr std::size_t kRxBuffer = 64 * 1024;

}  // namespace

// ---- NlMessageBuffer, NlBatch ----
//
// libmnl writes the headers and attributes in place; the buffer only grows first by what the
// call will append, so the current message always ends exactly at the end of the buffer.

nlmsghdr* NlMessageBuffer::current() {
  return msg(offsets_.size() - 1);
}

void NlMessageBuffer::grow(std::size_t n) {
  buf_.resize(buf_.size() + n);
}

void NlMessageBuffer::start_message(std::uint16_t type, std::uint16_t flags) {
  offsets_.push_back(buf_.size());
  grow(MNL_NLMSG_HDRLEN);
  auto* h = mnl_nlmsg_put_header(buf_.data() + offsets_.back());
  h->nlmsg_type = type;
  h->nlmsg_flags = static_cast<std::uint16_t>(flags | NLM_F_REQUEST);
}

void* NlMessageBuffer::put_header(std::size_t size) {
  grow(MNL_ALIGN(size));
  return mnl_nlmsg_put_extra_header(current(), size);  // zeroed
}

void NlMessageBuffer::append_message(const nlmsghdr* h) {
  offsets_.push_back(buf_.size());
  grow(MNL_ALIGN(h->nlmsg_len));
  std::memcpy(buf_.data() + offsets_.back(), h, h->nlmsg_len);
}

void NlMessageBuffer::put_raw(const void* data, std::size_t len) {
  const std::size_t off = buf_.size();
  grow(MNL_ALIGN(len));  // zero-filled, so the padding is too
  if (len > 0) std::memcpy(buf_.data() + off, data, len);
  current()->nlmsg_len += static_cast<std::uint32_t>(MNL_ALIGN(len));
}

void NlMessageBuffer::put(std::uint16_t type, const void* data, std::size_t len) {
  // mnl_attr_put would truncate nla_len to 16 bits and write a malformed message.
  if (len > 0xFFFF - MNL_ATTR_HDRLEN)
    throw InvalidArgument("netlink attribute " + std::to_string(type),
                          "payload of " + std::to_string(len) + " bytes exceeds 65531");
  grow(MNL_ATTR_HDRLEN + MNL_ALIGN(len));
  mnl_attr_put(current(), type, len, data);  // fills exactly what grow() added
}

void NlMessageBuffer::put_be32(std::uint16_t type, std::uint32_t v) {
  v = htobe32(v);
  put(type, &v, 4);
}

void NlMessageBuffer::put_be64(std::uint16_t type, std::uint64_t v) {
  v = htobe64(v);
  put(type, &v, 8);
}

void NlMessageBuffer::put_str(std::uint16_t type, std::string_view s) {
  if (s.size() > 0xFFFF - MNL_ATTR_HDRLEN - 1)
    throw InvalidArgument("netlink attribute " + std::to_string(type),
                          "string of " + std::to_string(s.size()) + " bytes exceeds 65530");
  grow(MNL_ATTR_HDRLEN + MNL_ALIGN(s.size() + 1));
  auto* a = static_cast<nlattr*>(mnl_nlmsg_get_payload_tail(current()));
  a->nla_type = type;
  a->nla_len = static_cast<std::uint16_t>(MNL_ATTR_HDRLEN + s.size() + 1);
  std::memcpy(mnl_attr_get_payload(a), s.data(), s.size());  // the NUL and padding are zeroes
  current()->nlmsg_len += static_cast<std::uint32_t>(MNL_ALIGN(a->nla_len));
}

std::size_t NlMessageBuffer::nest_begin(std::uint16_t type) {
  const std::size_t token = buf_.size();
  grow(MNL_ATTR_HDRLEN);
  mnl_attr_nest_start(current(), type);  // sets NLA_F_NESTED
  return token;
}

void NlMessageBuffer::nest_end(std::size_t token) {
  auto* a = reinterpret_cast<nlattr*>(buf_.data() + token);
  const std::size_t len = buf_.size() - token;
  if (len > 0xFFFF)
    throw InvalidArgument("netlink attribute " + std::to_string(a->nla_type & NLA_TYPE_MASK),
                          "nest of " + std::to_string(len) + " bytes exceeds 65535");
  mnl_attr_nest_end(current(), a);
}

void NlMessageBuffer::clear() {
  buf_.clear();
  offsets_.clear();
}

NlBatch& NlBatch::begin(std::uint16_t type, std::uint16_t flags, std::string what) {
  start_message(type, static_cast<std::uint16_t>(flags | NLM_F_ACK));
  whats_.push_back(std::move(what));
  return *this;
}

void NlBatch::clear() {
  NlMessageBuffer::clear();
  whats_.clear();
}

std::string extack_text(const nlmsghdr* h) {
  if (h->nlmsg_type != NLMSG_ERROR || !(h->nlmsg_flags & NLM_F_ACK_TLVS)) return {};
  auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
  std::size_t off = sizeof(nlmsgerr);
  // Without NETLINK_CAP_ACK the whole request is echoed before the TLVs (we always cap).
  if (!(h->nlmsg_flags & NLM_F_CAPPED)) off += NLMSG_ALIGN(err->msg.nlmsg_len - sizeof(nlmsghdr));
  std::size_t total = h->nlmsg_len - NLMSG_HDRLEN;
  if (off >= total) return {};
  std::string text;
  for_each_nla(static_cast<const std::uint8_t*>(NLMSG_DATA(h)) + off, total - off,
               [&](std::uint16_t type, const std::uint8_t* p, std::size_t n) {
                 if (type == NLMSGERR_ATTR_MSG)
                   text.assign(reinterpret_cast<const char*>(p),
                               strnlen(reinterpret_cast<const char*>(p), n));
               });
  return text;
}

// ---- NetlinkSocket ----

std::size_t recv_reply(int fd, RxBuffer& rx, const std::string& context) {
  ssize_t n = retry_eintr([&] { return ::recv(fd, rx.data(), rx.size(), 0); });
  if (n >= 0) return static_cast<std::size_t>(n);
  if (errno == EAGAIN || errno == EWOULDBLOCK)
    throw NetlinkError(context,
                       "no reply from the kernel within " + std::to_string(kReplyTimeout.count()) + " s",
                       ETIMEDOUT);
  throw NetlinkError(context, std::string("recv: ") + std::strerror(errno), errno);
}

NetlinkSocket NetlinkSocket::open(int protocol) {
  NetlinkSocket s;
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd < 0) throw_errno("netlink", "socket(AF_NETLINK)");
  s.fd_.reset(fd);
  int one = 1;
  // Extended acks carry the kernel's explanation; capped acks keep replies small.
  ::setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  ::setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  int buf = 1 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  // The kernel answers at once; a reply that never comes (a lost ack, a wedged subsystem) must
  // become an error naming the request, not a thread blocked forever under a lab lock.
  timeval tv{};
  tv.tv_sec = kReplyTimeout.count();
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) throw_errno("netlink", "bind");
  s.rx_ = RxBuffer(kRxBuffer);
  return s;
}

void NetlinkSocket::commit(NlBatch& batch) {
  struct Cleanup {
    NlBatch& b;
    ~Cleanup() { b.clear(); }
  } cleanup{batch};
  if (batch.empty()) return;
  if (!fd_.valid()) throw NetlinkError(batch.context(), "netlink socket not open", EBADF);

  const std::uint32_t first_seq = seq_;
  for (std::size_t i = 0; i < batch.count(); ++i) batch.msg(i)->nlmsg_seq = seq_++;

  int first_err = 0;
  std::size_t first_err_idx = 0;
  std::string first_err_text;

  std::size_t i = 0;
  while (i < batch.count()) {
    // A chunk of whole messages, small enough for the socket buffers.
    std::size_t start = batch.offset(i);
    std::size_t j = i;
    std::size_t end = start;
    while (j < batch.count()) {
      std::size_t mend = batch.offset(j) + batch.msg(j)->nlmsg_len;
      if (j > i && mend - start > kMaxSendChunk) break;
      end = mend;
      ++j;
    }
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    ssize_t sent = retry_eintr([&] {
      return ::sendto(fd_.get(), batch.data().data() + start, end - start, 0,
                      reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    });
    if (sent < 0)
      throw NetlinkError(batch.context(), batch.what(i) + ": sendto: " + std::strerror(errno), errno);

    std::size_t pending = j - i;
    while (pending > 0) {
      std::size_t len = recv_reply(fd_.get(), rx_, batch.context() + ": " + batch.what(i));
      for (auto* h = first_nlmsg(rx_.data()); nlmsg_ok(h, len); h = nlmsg_next(h, len)) {
        if (h->nlmsg_type != NLMSG_ERROR) continue;
        std::uint32_t idx = h->nlmsg_seq - first_seq;
        if (idx < i || idx >= j) continue;  // a stale reply from an earlier, aborted batch
        --pending;
        auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(h));
        if (e->error != 0 && first_err == 0) {
          first_err = -e->error;
          first_err_idx = idx;
          first_err_text = extack_text(h);
        }
      }
    }
    i = j;
  }
  if (first_err != 0) {
    std::string cause = batch.what(first_err_idx) + ": " + std::strerror(first_err);
    if (!first_err_text.empty()) cause += " (" + first_err_text + ")";
    throw NetlinkError(batch.context(), cause, first_err);
  }
}

void NetlinkSocket::dump(NlBatch& request, const std::function<void(const nlmsghdr*)>& on_msg) {
  struct Cleanup {
    NlBatch& b;
    ~Cleanup() { b.clear(); }
  } cleanup{request};
  if (request.count() != 1) throw NetlinkError(request.context(), "dump needs exactly one request", EINVAL);
  auto* req = request.msg(0);
  req->nlmsg_flags = static_cast<std::uint16_t>((req->nlmsg_flags & ~NLM_F_ACK) | NLM_F_DUMP);
  req->nlmsg_seq = seq_++;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (retry_eintr([&] {
        return ::sendto(fd_.get(), request.data().data(), req->nlmsg_len, 0,
                        reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
      }) < 0)
    throw NetlinkError(request.context(), request.what(0) + ": sendto: " + std::strerror(errno), errno);
  for (;;) {
    std::size_t len = recv_reply(fd_.get(), rx_, request.context() + ": " + request.what(0));
    for (auto* h = first_nlmsg(rx_.data()); nlmsg_ok(h, len); h = nlmsg_next(h, len)) {
      if (h->nlmsg_seq != req->nlmsg_seq) continue;
      if (h->nlmsg_type == NLMSG_DONE) return;
      if (h->nlmsg_type == NLMSG_ERROR) {
        auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(h));
        if (e->error == 0) return;
        throw NetlinkError(request.context(), request.what(0) + ": " + std::strerror(-e->error), -e->error);
      }
      on_msg(h);
    }
  }
}

}  // namespace patchbay::sys
