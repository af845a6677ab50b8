#include "sys/nfqueue.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <sys/socket.h>

#include <cstring>
#include <string>
#include <utility>

#include "patchbay/error.hpp"
#include "sys/errno.hpp"
#include "sys/nfnl.hpp"

namespace patchbay::sys {

namespace {

// A packet message is at most the copied payload (the kernel caps copy_range at 64 KiB) plus a few
// hundred bytes of metadata; anything larger would be truncated and its id lost.
constexpr std::size_t kRxBuffer = 128 * 1024;
// The socket buffer absorbs bursts between two receive() calls. Fail-open covers the queue length,
// but a packet that does not fit the socket buffer is also accepted unseen, so be generous.
constexpr int kSocketBuffer = 8 << 20;

constexpr std::uint16_t queue_type(std::uint8_t msg) {
  return static_cast<std::uint16_t>((NFNL_SUBSYS_QUEUE << 8) | msg);
}

std::string queue_context(std::uint16_t n) {
  return "nfqueue " + std::to_string(n);
}

std::uint16_t be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

// NFQA_CT holds a ctnetlink message body: CTA_TUPLE_ORIG { CTA_TUPLE_IP { v4 src, dst },
// CTA_TUPLE_PROTO { num, src port, dst port } }.
std::optional<NfQueue::Packet::Tuple> parse_orig_tuple(const std::uint8_t* a, std::size_t n) {
  std::optional<NfQueue::Packet::Tuple> out;
  for_each_nla(a, n, [&](std::uint16_t type, const std::uint8_t* t, std::size_t tn) {
    if (type != CTA_TUPLE_ORIG) return;
    NfQueue::Packet::Tuple tup;
    bool ip = false;
    for_each_nla(t, tn, [&](std::uint16_t ttype, const std::uint8_t* x, std::size_t xn) {
      if (ttype == CTA_TUPLE_IP) {
        for_each_nla(x, xn, [&](std::uint16_t it, const std::uint8_t* v, std::size_t vn) {
          if (vn != 4) return;
          if (it == CTA_IP_V4_SRC) tup.src = Ipv4Addr(v[0], v[1], v[2], v[3]), ip = true;
          if (it == CTA_IP_V4_DST) tup.dst = Ipv4Addr(v[0], v[1], v[2], v[3]);
        });
      } else if (ttype == CTA_TUPLE_PROTO) {
        for_each_nla(x, xn, [&](std::uint16_t pt, const std::uint8_t* v, std::size_t vn) {
          if (pt == CTA_PROTO_NUM && vn >= 1) tup.proto = v[0];
          if (pt == CTA_PROTO_SRC_PORT && vn >= 2) tup.sport = be16(v);
          if (pt == CTA_PROTO_DST_PORT && vn >= 2) tup.dport = be16(v);
        });
      }
    });
    if (ip) out = tup;
  });
  return out;
}

}  // namespace

NfQueue NfQueue::open(std::uint16_t queue_num, std::uint32_t copy_range, bool conntrack) {
  const std::string ctx = queue_context(queue_num);
  NfQueue q;
  q.queue_num_ = queue_num;
  q.sock_ = NetlinkSocket::open(NETLINK_NETFILTER);
  q.rx_ = RxBuffer(kRxBuffer);
  const int fd = q.sock_.fd();
  // SO_RCVBUFFORCE needs CAP_NET_ADMIN in the initial user namespace; rootless labs get the
  // rmem_max-capped SO_RCVBUF instead.
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &kSocketBuffer, sizeof kSocketBuffer) != 0)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kSocketBuffer, sizeof kSocketBuffer);
  // An overrun is not an error for us (those packets were accepted fail-open); without this flag
  // the next recv() would fail with ENOBUFS.
  int one = 1;
  ::setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);

  NfMsgBuffer b;
  b.begin(queue_type(NFQNL_MSG_CONFIG), NLM_F_ACK, AF_UNSPEC, queue_num);
  nfqnl_msg_config_cmd cmd{};
  cmd.command = NFQNL_CFG_CMD_BIND;
  b.put(NFQA_CFG_CMD, &cmd, sizeof cmd);
  nfqnl_msg_config_params params{};
  params.copy_range = htonl(copy_range);
  params.copy_mode = NFQNL_COPY_PACKET;
  b.put(NFQA_CFG_PARAMS, &params, sizeof params);
  const std::uint32_t cfg_flags = NFQA_CFG_F_FAIL_OPEN | (conntrack ? NFQA_CFG_F_CONNTRACK : 0);
  b.put_be32(NFQA_CFG_FLAGS, cfg_flags);
  b.put_be32(NFQA_CFG_MASK, NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_CONNTRACK);
  b.msg(0)->nlmsg_seq = 1;

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (retry_eintr([&] {
        return ::sendto(fd, b.data().data(), b.data().size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                        sizeof kernel);
      }) < 0)
    throw_errno(ctx, "bind: sendto");
  // The queue is live as soon as the kernel handled the bind, so packets may precede the ack.
  for (bool acked = false; !acked;) {
    std::size_t len = recv_reply(fd, q.rx_, ctx + ": bind");
    for (auto* h = first_nlmsg(std::as_const(q.rx_).data()); nlmsg_ok(h, len); h = nlmsg_next(h, len)) {
      if (h->nlmsg_type != NLMSG_ERROR) {
        q.parse(reinterpret_cast<const std::uint8_t*>(h), h->nlmsg_len, q.early_);
        continue;
      }
      if (h->nlmsg_seq != 1) continue;
      acked = true;
      int err = -static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
      if (err != 0) {
        std::string cause = std::string("bind: ") + std::strerror(err);
        if (auto text = extack_text(h); !text.empty()) cause += " (" + text + ")";
        // The kernel answers EPERM, not EBUSY, when another socket holds the queue number.
        if (err == EPERM) cause += " (queue bound by another socket, or no CAP_NET_ADMIN)";
        throw NetlinkError(ctx, cause, err);
      }
    }
  }
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) throw_errno(ctx, "fcntl(O_NONBLOCK)");
  return q;
}

void NfQueue::parse(const std::uint8_t* data, std::size_t len, std::vector<Packet>& out) {
  std::size_t left = len;
  for (auto* h = first_nlmsg(data); nlmsg_ok(h, left); h = nlmsg_next(h, left)) {
    // NLMSG_ERROR here answers a verdict the kernel refused; see the header.
    if (h->nlmsg_type != queue_type(NFQNL_MSG_PACKET)) continue;
    Packet p;
    bool have_hdr = false;
    for_each_attr(h, sizeof(nfgenmsg), [&](std::uint16_t type, const std::uint8_t* a, std::size_t n) {
      if (type == NFQA_PACKET_HDR && n >= sizeof(nfqnl_msg_packet_hdr)) {
        nfqnl_msg_packet_hdr ph;
        std::memcpy(&ph, a, sizeof ph);
        p.id = ntohl(ph.packet_id);
        p.hw_protocol = ntohs(ph.hw_protocol);
        p.hook = ph.hook;
        have_hdr = true;
      } else if (type == NFQA_PAYLOAD) {
        p.payload.assign(a, a + n);
      } else if (type == NFQA_CT) {
        p.orig = parse_orig_tuple(a, n);
      }
    });
    if (have_hdr) out.push_back(std::move(p));
  }
}

std::vector<NfQueue::Packet> NfQueue::receive() {
  std::vector<Packet> out = std::move(early_);
  early_.clear();
  if (!sock_.valid()) return out;
  for (;;) {
    ssize_t n = ::recv(sock_.fd(), rx_.data(), rx_.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == ENOBUFS) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      throw_errno(queue_context(queue_num_), "recv");
    }
    parse(rx_.data(), static_cast<std::size_t>(n), out);
  }
  return out;
}

void NfQueue::verdict(std::uint32_t id, std::uint32_t verdict) {
  const Verdict v{id, verdict};
  verdicts(std::span<const Verdict>(&v, 1));
}

void NfQueue::verdicts(std::span<const Verdict> vs) {
  if (vs.empty()) return;
  // libnetfilter_queue builds verdicts faster than our growable buffer (bench netfilter-libs).
  // No NLM_F_ACK: the kernel answers only failures, which receive() skips.
  constexpr std::size_t kVerdictMsg = 64;  // header 16 + nfgenmsg 4 + NFQA_VERDICT_HDR 12, aligned
  verdict_buf_.resize(vs.size() * kVerdictMsg);
  std::size_t len = 0;
  for (const auto& v : vs) {
    nlmsghdr* h = nfq_nlmsg_put(verdict_buf_.data() + len, NFQNL_MSG_VERDICT, queue_num_);
    nfq_nlmsg_verdict_put(h, static_cast<int>(v.id), static_cast<int>(v.verdict));
    len += NLMSG_ALIGN(h->nlmsg_len);
  }
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (retry_eintr([&] {
        return ::sendto(sock_.fd(), verdict_buf_.data(), len, 0, reinterpret_cast<sockaddr*>(&kernel),
                        sizeof kernel);
      }) < 0)
    throw_errno(queue_context(queue_num_), "verdict");
}

}  // namespace patchbay::sys
