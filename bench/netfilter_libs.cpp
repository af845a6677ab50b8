// netfilter-libs benchmark: our nfnetlink code against the Debian libraries made for the same
// job, for what the NAT path does with them.
//
// * Queue receive path (userspace only; the kernel's share is the same for the same bytes): a
//   receive buffer of 64 NFQUEUE packet messages (packet header, a 60-byte IPv4/UDP payload and
//   the conntrack tuple of a queue opened with `conntrack`) parsed by NfQueue::parse against
//   libnetfilter_queue's nfq_nlmsg_parse on libmnl's message walk with the tuple read by
//   libnetfilter_conntrack's nfct_payload_parse; the payload is copied in both, as receive() does.
// * Verdict building: 64 verdict messages with NfMsgBuffer against nfq_nlmsg_put +
//   nfq_nlmsg_verdict_put (libmnl).
// * Conntrack (kernel round trips, in a fresh namespace, root or a user namespace): a table of N
//   UDP entries created through libnetfilter_conntrack, then counted by a full dump
//   (NfnlSocket::conntrack_count against nfct_query(NFCT_Q_DUMP) with a counting callback) and
//   flushed (NfnlSocket::flush_conntrack against nfct_query(NFCT_Q_FLUSH)).
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <netinet/in.h>
// clang-format off
#include <linux/netfilter.h>
// clang-format on
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "emit.hpp"
#include "patchbay/patchbay.hpp"
#include "sys/nfnl.hpp"
#include "sys/nfqueue.hpp"

using namespace patchbay;
using Clock = std::chrono::steady_clock;

namespace {

void emit(const std::string& metric, double value, const char* unit) {
  bench::emit("netfilter-libs", metric, value, unit);
}

double ns_since(Clock::time_point t, double per) {
  return std::chrono::duration<double, std::nano>(Clock::now() - t).count() / per;
}

constexpr int kPackets = 64;

// One receive buffer as the kernel writes it for a queue opened with payload copies and
// conntrack: kPackets NFQNL_MSG_PACKET messages.
std::vector<std::uint8_t> queue_buffer() {
  std::vector<std::uint8_t> buf(kPackets * 512);
  std::size_t off = 0;
  for (int i = 0; i < kPackets; ++i) {
    nlmsghdr* h = mnl_nlmsg_put_header(buf.data() + off);
    h->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;
    auto* g = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(h, sizeof(nfgenmsg)));
    g->nfgen_family = AF_INET;
    g->res_id = htons(3);
    nfqnl_msg_packet_hdr ph{htonl(static_cast<std::uint32_t>(i + 1)), htons(0x0800), NF_INET_FORWARD};
    mnl_attr_put(h, NFQA_PACKET_HDR, sizeof ph, &ph);
    std::uint8_t pkt[60] = {0x45, 0, 0, 60, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 1, 2, 198, 51, 100, 7};
    pkt[20] = static_cast<std::uint8_t>(i);  // source port
    mnl_attr_put(h, NFQA_PAYLOAD, sizeof pkt, pkt);
    nlattr* ct = mnl_attr_nest_start(h, NFQA_CT);
    nlattr* orig = mnl_attr_nest_start(h, CTA_TUPLE_ORIG);
    nlattr* ip = mnl_attr_nest_start(h, CTA_TUPLE_IP);
    mnl_attr_put_u32(h, CTA_IP_V4_SRC, htonl(0x0a000102));
    mnl_attr_put_u32(h, CTA_IP_V4_DST, htonl(0xc6336407));
    mnl_attr_nest_end(h, ip);
    nlattr* proto = mnl_attr_nest_start(h, CTA_TUPLE_PROTO);
    mnl_attr_put_u8(h, CTA_PROTO_NUM, IPPROTO_UDP);
    mnl_attr_put_u16(h, CTA_PROTO_SRC_PORT, htons(static_cast<std::uint16_t>(4000 + i)));
    mnl_attr_put_u16(h, CTA_PROTO_DST_PORT, htons(3478));
    mnl_attr_nest_end(h, proto);
    mnl_attr_nest_end(h, orig);
    mnl_attr_nest_end(h, ct);
    off += h->nlmsg_len;
  }
  buf.resize(off);
  return buf;
}

struct LibPacket {
  std::uint32_t id = 0;
  std::vector<std::uint8_t> payload;
  std::uint16_t sport = 0;
};

struct LibState {
  nf_conntrack* ct;
  std::vector<LibPacket>* out;
};

int lib_packet_cb(const nlmsghdr* h, void* data) {
  auto* st = static_cast<LibState*>(data);
  nlattr* attr[NFQA_MAX + 1] = {};
  if (nfq_nlmsg_parse(h, attr) < 0) return MNL_CB_ERROR;
  LibPacket p;
  auto* ph = static_cast<nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attr[NFQA_PACKET_HDR]));
  p.id = ntohl(ph->packet_id);
  auto* pl = static_cast<const std::uint8_t*>(mnl_attr_get_payload(attr[NFQA_PAYLOAD]));
  p.payload.assign(pl, pl + mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]));
  if (st->ct != nullptr && attr[NFQA_CT] &&
      nfct_payload_parse(mnl_attr_get_payload(attr[NFQA_CT]), mnl_attr_get_payload_len(attr[NFQA_CT]),
                         AF_INET, st->ct) >= 0)
    p.sport = ntohs(nfct_get_attr_u16(st->ct, ATTR_ORIG_PORT_SRC));
  st->out->push_back(std::move(p));
  return MNL_CB_OK;
}

void queue_path(int rounds) {
  const auto buf = queue_buffer();
  std::size_t sink = 0;
  for (int pass = 0; pass < 2; ++pass) {  // the first pass warms up
    auto t = Clock::now();
    for (int r = 0; r < rounds; ++r) {
      std::vector<sys::NfQueue::Packet> out;
      sys::NfQueue::parse(buf.data(), buf.size(), out);
      sink += out.size() + (out.back().orig ? out.back().orig->sport : 0);
    }
    const double ours = ns_since(t, double(rounds) * kPackets);
    nf_conntrack* ct = nfct_new();
    t = Clock::now();
    for (int r = 0; r < rounds; ++r) {
      std::vector<LibPacket> out;
      LibState st{ct, &out};
      if (mnl_cb_run(buf.data(), buf.size(), 0, 0, lib_packet_cb, &st) < 0)
        throw std::runtime_error("mnl_cb_run");
      sink += out.size() + out.back().sport;
    }
    const double lib = ns_since(t, double(rounds) * kPackets);
    nfct_destroy(ct);
    // The NAT controller's queue is opened without conntrack: the libraries without the tuple.
    t = Clock::now();
    for (int r = 0; r < rounds; ++r) {
      std::vector<LibPacket> out;
      LibState st{nullptr, &out};
      if (mnl_cb_run(buf.data(), buf.size(), 0, 0, lib_packet_cb, &st) < 0)
        throw std::runtime_error("mnl_cb_run");
      sink += out.size();
    }
    const double lib_no_ct = ns_since(t, double(rounds) * kPackets);
    if (pass == 1) {
      emit("queue_parse_ours_ns_per_packet", ours, "ns");
      emit("queue_parse_libs_ns_per_packet", lib, "ns");
      emit("queue_parse_ratio", lib / ours, "x");
      emit("queue_parse_libs_without_tuple_ns_per_packet", lib_no_ct, "ns");
    }
  }
  for (int pass = 0; pass < 2; ++pass) {
    auto t = Clock::now();
    for (int r = 0; r < rounds; ++r) {
      sys::NfMsgBuffer b;
      for (int i = 0; i < kPackets; ++i) {
        b.begin((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT, 0, AF_UNSPEC, 3);
        nfqnl_msg_verdict_hdr vh{htonl(NF_ACCEPT), htonl(static_cast<std::uint32_t>(i + 1))};
        b.put(NFQA_VERDICT_HDR, &vh, sizeof vh);
      }
      sink += b.data().size();
    }
    const double ours = ns_since(t, double(rounds) * kPackets);
    std::vector<char> lbuf(kPackets * 64);
    t = Clock::now();
    for (int r = 0; r < rounds; ++r) {
      std::size_t off = 0;
      for (int i = 0; i < kPackets; ++i) {
        nlmsghdr* h = nfq_nlmsg_put(lbuf.data() + off, NFQNL_MSG_VERDICT, 3);
        nfq_nlmsg_verdict_put(h, i + 1, NF_ACCEPT);
        off += h->nlmsg_len;
      }
      sink += off;
    }
    const double lib = ns_since(t, double(rounds) * kPackets);
    if (pass == 1) {
      emit("verdict_build_ours_ns", ours, "ns");
      emit("verdict_build_libs_ns", lib, "ns");
      emit("verdict_build_ratio", lib / ours, "x");
    }
  }
  if (sink == 0) std::puts("");
}

void create_entries(nfct_handle* h, int n) {
  nf_conntrack* ct = nfct_new();
  for (int i = 0; i < n; ++i) {
    nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET);
    nfct_set_attr_u32(ct, ATTR_IPV4_SRC, htonl(0x0a000000u + static_cast<std::uint32_t>(i)));
    nfct_set_attr_u32(ct, ATTR_IPV4_DST, htonl(0xc6336407));
    nfct_set_attr_u8(ct, ATTR_L4PROTO, IPPROTO_UDP);
    nfct_set_attr_u16(ct, ATTR_PORT_SRC, htons(4000));
    nfct_set_attr_u16(ct, ATTR_PORT_DST, htons(3478));
    nfct_setobjopt(ct, NFCT_SOPT_SETUP_REPLY);
    nfct_set_attr_u32(ct, ATTR_TIMEOUT, 300);
    if (nfct_query(h, NFCT_Q_CREATE, ct) < 0)
      throw std::runtime_error("conntrack create: " + std::string(std::strerror(errno)));
  }
  nfct_destroy(ct);
}

int count_cb(enum nf_conntrack_msg_type, nf_conntrack*, void* data) {
  ++*static_cast<std::size_t*>(data);
  return NFCT_CB_CONTINUE;
}

void conntrack_path(int entries, int rounds) {
  std::thread([&] {
    if (::unshare(CLONE_NEWNET) != 0) throw std::runtime_error("unshare");
    auto nl = sys::NfnlSocket::open("bench");
    nfct_handle* h = nfct_open(CONNTRACK, 0);
    if (h == nullptr) throw std::runtime_error("nfct_open");
    std::size_t n = 0;
    nfct_callback_register(h, NFCT_T_ALL, count_cb, &n);
    create_entries(h, entries);
    double ours = 0, lib = 0;
    for (int r = 0; r < rounds; ++r) {
      auto t = Clock::now();
      const std::size_t a = nl.conntrack_count();
      ours += ns_since(t, entries) / 1000;
      n = 0;
      const std::uint32_t family = AF_INET;
      t = Clock::now();
      if (nfct_query(h, NFCT_Q_DUMP, &family) < 0) throw std::runtime_error("nfct dump");
      lib += ns_since(t, entries) / 1000;
      if (a != static_cast<std::size_t>(entries) || n != static_cast<std::size_t>(entries))
        throw std::runtime_error("counts differ: " + std::to_string(a) + " / " + std::to_string(n));
    }
    emit("conntrack_entries", entries, "count");
    emit("conntrack_dump_ours_us_per_entry", ours / rounds, "us");
    emit("conntrack_dump_libs_us_per_entry", lib / rounds, "us");
    double f_ours = 0, f_lib = 0;
    for (int r = 0; r < rounds; ++r) {
      auto t = Clock::now();
      nl.flush_conntrack();
      f_ours += ns_since(t, 1) / 1e6;
      create_entries(h, entries);
      const std::uint32_t family = AF_INET;
      t = Clock::now();
      if (nfct_query(h, NFCT_Q_FLUSH, &family) < 0) throw std::runtime_error("nfct flush");
      f_lib += ns_since(t, 1) / 1e6;
      create_entries(h, entries);
    }
    emit("conntrack_flush_ours_ms", f_ours / rounds, "ms");
    emit("conntrack_flush_libs_ms", f_lib / rounds, "ms");
    nfct_close(h);
  }).join();
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 20000, entries = 2000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else if (a == "--entries" && i + 1 < argc) {
      entries = std::atoi(argv[++i]);
    } else {
      std::cerr << "usage: netfilter_libs [--rounds N] [--entries N]\n";
      return 2;
    }
  }
  if (rounds < 1 || entries < 1) {
    std::cerr << "netfilter_libs: --rounds and --entries must be >= 1\n";
    return 2;
  }
  init_userns();
  queue_path(rounds);
  conntrack_path(entries, 5);
  return 0;
}
