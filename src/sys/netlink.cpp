#include "sys/netlink.hpp"

#include <endian.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>

#include "patchbay/error.hpp"
#include "sys/errno.hpp"

namespace patchbay::sys {

namespace {

constexpr std::size_t kMaxSendChunk = 32 * 1024;
constexpr std::size_t kRxBuffer = 64 * 1024;

std::string extack_message(const nlmsghdr* h) {
  if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return {};
  auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
  std::size_t off = sizeof(nlmsgerr);
  // Without NETLINK_CAP_ACK the original request follows the header; we always set CAP_ACK,
  // but honour the flag to be safe.
  if (!(h->nlmsg_flags & NLM_F_CAPPED)) off += err->msg.nlmsg_len - sizeof(nlmsghdr);
  auto* base = static_cast<const std::uint8_t*>(NLMSG_DATA(h));
  std::size_t total = h->nlmsg_len - NLMSG_HDRLEN;
  while (off + sizeof(nlattr) <= total) {
    auto* a = reinterpret_cast<const nlattr*>(base + off);
    if (a->nla_len < sizeof(nlattr) || off + a->nla_len > total) break;
    if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
      auto* s = reinterpret_cast<const char*>(a) + NLA_HDRLEN;
      return std::string(s, strnlen(s, a->nla_len - NLA_HDRLEN));
    }
    off += NLA_ALIGN(a->nla_len);
  }
  return {};
}

}  // namespace

// ---- NlMessageBuffer, NlBatch ----

void NlMessageBuffer::start_message(std::uint16_t type, std::uint16_t flags) {
  std::size_t off = buf_.size();
  offsets_.push_back(off);
  buf_.resize(off + NLMSG_HDRLEN, 0);
  auto* h = msg(offsets_.size() - 1);
  h->nlmsg_len = NLMSG_HDRLEN;
  h->nlmsg_type = type;
  h->nlmsg_flags = static_cast<std::uint16_t>(flags | NLM_F_REQUEST);
}

void NlMessageBuffer::append_message(const nlmsghdr* h) {
  std::size_t off = buf_.size();
  offsets_.push_back(off);
  buf_.resize(off + NLMSG_ALIGN(h->nlmsg_len), 0);
  std::memcpy(buf_.data() + off, h, h->nlmsg_len);
}

std::size_t NlMessageBuffer::append(const void* data, std::size_t len) {
  std::size_t off = buf_.size();
  buf_.resize(off + NLMSG_ALIGN(len), 0);
  if (data != nullptr && len > 0) std::memcpy(buf_.data() + off, data, len);
  msg(offsets_.size() - 1)->nlmsg_len = static_cast<std::uint32_t>(buf_.size() - offsets_.back());
  return off;
}

void NlMessageBuffer::put(std::uint16_t type, const void* data, std::size_t len) {
  if (len > 0xFFFF - NLA_HDRLEN)
    throw InvalidArgument("netlink attribute " + std::to_string(type),
                          "payload of " + std::to_string(len) + " bytes exceeds 65531");
  nlattr a{};
  a.nla_len = static_cast<std::uint16_t>(NLA_HDRLEN + len);
  a.nla_type = type;
  append(&a, sizeof a);  // NLA_HDRLEN == sizeof(nlattr) == 4, already aligned
  if (len > 0) append(data, len);
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
  std::string tmp(s);
  put(type, tmp.c_str(), tmp.size() + 1);
}

std::size_t NlMessageBuffer::nest_begin(std::uint16_t type) {
  nlattr a{};
  a.nla_len = NLA_HDRLEN;
  a.nla_type = static_cast<std::uint16_t>(type | NLA_F_NESTED);
  return append(&a, sizeof a);
}

void NlMessageBuffer::nest_end(std::size_t token) {
  auto* a = reinterpret_cast<nlattr*>(buf_.data() + token);
  const std::size_t len = buf_.size() - token;
  if (len > 0xFFFF)
    throw InvalidArgument("netlink attribute " + std::to_string(a->nla_type & NLA_TYPE_MASK),
                          "nest of " + std::to_string(len) + " bytes exceeds 65535");
  a->nla_len = static_cast<std::uint16_t>(len);
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
      int len = static_cast<int>(recv_reply(fd_.get(), rx_, batch.context() + ": " + batch.what(i)));
      for (auto* h = reinterpret_cast<nlmsghdr*>(rx_.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
        if (h->nlmsg_type != NLMSG_ERROR) continue;
        std::uint32_t idx = h->nlmsg_seq - first_seq;
        if (idx < i || idx >= j) continue;  // a stale reply from an earlier, aborted batch
        --pending;
        auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(h));
        if (e->error != 0 && first_err == 0) {
          first_err = -e->error;
          first_err_idx = idx;
          first_err_text = extack_message(h);
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
    int len = static_cast<int>(recv_reply(fd_.get(), rx_, request.context() + ": " + request.what(0)));
    for (auto* h = reinterpret_cast<nlmsghdr*>(rx_.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
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
