// GSO segmentation and checksum completion on synthetic frames built the way the kernel hands them
// to a PACKET_VNET_HDR socket. Checksums are verified with a deliberately naive reference sum that
// shares no code with csum_partial/csum_fold.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "link/frame.hpp"

using namespace patchbay::link;
using Bytes = std::vector<std::uint8_t>;

namespace {

constexpr std::uint8_t kFin = 0x01, kPsh = 0x08, kAck = 0x10, kCwr = 0x80, kEce = 0x40;

std::uint16_t get16(const Bytes& b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}
std::uint32_t get32(const Bytes& b, std::size_t at) {
  return std::uint32_t{get16(b, at)} << 16 | get16(b, at + 2);
}
void put16(Bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}
void put32(Bytes& b, std::size_t at, std::uint32_t v) {
  put16(b, at, static_cast<std::uint16_t>(v >> 16));
  put16(b, at + 2, static_cast<std::uint16_t>(v));
}

// Folded but not complemented sum of big-endian words: 0xFFFF over a range with a valid checksum.
std::uint16_t ref_sum(const Bytes& d) {
  std::uint64_t s = 0;
  for (std::size_t i = 0; i < d.size(); ++i) s += i % 2 == 0 ? std::uint64_t{d[i]} << 8 : d[i];
  while (s > 0xFFFF) s = (s & 0xFFFF) + (s >> 16);
  return static_cast<std::uint16_t>(s);
}

struct Spec {
  bool v6 = false;
  bool udp = false;
  bool vlan = false;
  std::size_t payload = 1000;
  std::uint16_t gso_size = 0;  // 0: a non-GSO frame
  std::uint8_t tcp_flags = kAck | kPsh;
  bool ecn = false;
};

struct Built {
  Frame frame;
  std::size_t l3 = 0, l4 = 0, hdr = 0;
  Bytes payload;
};

// The pseudo-header (RFC 793 / RFC 8200) of the packet in `b` for an L4 length of `len`.
Bytes pseudo(const Bytes& b, std::size_t l3, bool v6, std::uint8_t proto, std::uint32_t len) {
  Bytes p;
  if (v6) {
    p.assign(b.begin() + l3 + 8, b.begin() + l3 + 40);
    p.resize(40);
    put32(p, 32, len);
    p[39] = proto;
  } else {
    p.assign(b.begin() + l3 + 12, b.begin() + l3 + 20);
    p.resize(12);
    p[9] = proto;
    put16(p, 10, static_cast<std::uint16_t>(len));
  }
  return p;
}

// An Ethernet (+802.1Q) / IPv4-or-IPv6 / TCP-or-UDP frame with a random payload, carrying the
// partial checksum the kernel leaves with NEEDS_CSUM: the folded pseudo-header sum in the field.
Built build(const Spec& s, std::mt19937& rng) {
  Built r;
  Bytes& b = r.frame.bytes;
  const std::uint8_t proto = s.udp ? 17 : 6;
  r.l3 = 14 + (s.vlan ? 4 : 0);
  r.l4 = r.l3 + (s.v6 ? 40 : 20);
  r.hdr = r.l4 + (s.udp ? 8 : 32);  // TCP with 12 bytes of options (NOP NOP timestamps)
  r.payload.resize(s.payload);
  for (auto& x : r.payload) x = static_cast<std::uint8_t>(rng());
  b.assign(r.hdr, 0);
  b.insert(b.end(), r.payload.begin(), r.payload.end());

  for (int i = 0; i < 6; ++i)
    b[i] = static_cast<std::uint8_t>(0x02 + i), b[6 + i] = static_cast<std::uint8_t>(0x12 + i);
  if (s.vlan) put16(b, 12, 0x8100), put16(b, 14, 0x0064);
  put16(b, r.l3 - 2, s.v6 ? 0x86DD : 0x0800);

  const std::size_t l4_len = b.size() - r.l4;
  if (s.v6) {
    b[r.l3] = 0x60;
    put16(b, r.l3 + 4, static_cast<std::uint16_t>(l4_len));
    b[r.l3 + 6] = proto;
    b[r.l3 + 7] = 64;
    put16(b, r.l3 + 8, 0x2001), put16(b, r.l3 + 10, 0x0db8), b[r.l3 + 23] = 1;
    put16(b, r.l3 + 24, 0x2001), put16(b, r.l3 + 26, 0x0db8), b[r.l3 + 39] = 2;
  } else {
    b[r.l3] = 0x45;
    put16(b, r.l3 + 2, static_cast<std::uint16_t>(std::min<std::size_t>(b.size() - r.l3, 0xFFFF)));
    put16(b, r.l3 + 4, 0xFFFE);  // so that per-segment ids wrap
    put16(b, r.l3 + 6, 0x4000);  // DF
    b[r.l3 + 8] = 64;
    b[r.l3 + 9] = proto;
    put32(b, r.l3 + 12, 0xC6120001), put32(b, r.l3 + 16, 0xC6120102);
    Bytes ip(b.begin() + r.l3, b.begin() + r.l4);
    put16(b, r.l3 + 10, static_cast<std::uint16_t>(~ref_sum(ip)));
  }

  std::size_t csum_off = 0;
  if (s.udp) {
    put16(b, r.l4, 40000), put16(b, r.l4 + 2, 4433);
    put16(b, r.l4 + 4, static_cast<std::uint16_t>(l4_len));
    csum_off = 6;
  } else {
    put16(b, r.l4, 40000), put16(b, r.l4 + 2, 5201);
    put32(b, r.l4 + 4, 0xFFFFF000);  // so that sequence numbers wrap
    put32(b, r.l4 + 8, 0x01020304);
    b[r.l4 + 12] = 8 << 4;
    b[r.l4 + 13] = s.tcp_flags;
    put16(b, r.l4 + 14, 502);
    b[r.l4 + 20] = 1, b[r.l4 + 21] = 1, b[r.l4 + 22] = 8, b[r.l4 + 23] = 10;
    put32(b, r.l4 + 24, 0xA1B2C3D4), put32(b, r.l4 + 28, 0x11223344);
    csum_off = 16;
  }
  // For TSO the kernel leaves the pseudo-header sum without the length; otherwise with it.
  const bool tso = s.gso_size != 0 && !s.udp;
  put16(b, r.l4 + csum_off,
        ref_sum(pseudo(b, r.l3, s.v6, proto, tso ? 0 : static_cast<std::uint32_t>(l4_len))));

  auto& v = r.frame.vnet;
  v.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  v.csum_start = static_cast<std::uint16_t>(r.l4);
  v.csum_offset = static_cast<std::uint16_t>(csum_off);
  if (s.gso_size != 0) {
    v.gso_type = s.udp  ? VIRTIO_NET_HDR_GSO_UDP_L4
                 : s.v6 ? VIRTIO_NET_HDR_GSO_TCPV6
                        : VIRTIO_NET_HDR_GSO_TCPV4;
    if (s.ecn) v.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
    v.gso_size = s.gso_size;
    v.hdr_len = static_cast<std::uint16_t>(r.hdr);
  }
  return r;
}

bool l4_checksum_valid(const Bytes& pkt, std::size_t l3, std::size_t l4, bool v6, bool udp) {
  Bytes all = pseudo(pkt, l3, v6, udp ? 17 : 6, static_cast<std::uint32_t>(pkt.size() - l4));
  all.insert(all.end(), pkt.begin() + l4, pkt.end());
  return ref_sum(all) == 0xFFFF;
}

bool vnet_is_zero(const virtio_net_hdr& v) {
  return v.flags == 0 && v.gso_type == 0 && v.hdr_len == 0 && v.gso_size == 0 && v.csum_start == 0 &&
         v.csum_offset == 0;
}

std::vector<FramePtr> run_segment(const Frame& f) {
  std::vector<FramePtr> out;
  split_gso(std::make_unique<Frame>(f), out);
  return out;
}

// Checks everything a receiver could notice about the segments of `b`'s frame.
void check_segments(const Spec& s, const Built& b) {
  SCOPED_TRACE(testing::Message() << "v6=" << s.v6 << " udp=" << s.udp << " vlan=" << s.vlan
                                  << " payload=" << s.payload << " gso=" << s.gso_size);
  const WireShape shape = wire_shape(b.frame);
  const auto out = run_segment(b.frame);
  const std::size_t n = (s.payload + s.gso_size - 1) / s.gso_size;
  ASSERT_EQ(out.size(), n);
  ASSERT_EQ(shape.packets, n);

  const Bytes& orig = b.frame.bytes;
  Bytes joined;
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    SCOPED_TRACE(testing::Message() << "segment " << i);
    const Bytes& p = out[i]->bytes;
    const std::size_t off = i * s.gso_size;
    const std::size_t len = std::min<std::size_t>(s.gso_size, s.payload - off);
    total += p.size();
    ASSERT_EQ(p.size(), b.hdr + len);
    EXPECT_TRUE(vnet_is_zero(out[i]->vnet));
    EXPECT_TRUE(std::equal(orig.begin(), orig.begin() + b.l3, p.begin()));  // L2 untouched
    joined.insert(joined.end(), p.begin() + b.hdr, p.end());

    if (s.v6) {
      EXPECT_EQ(get16(p, b.l3 + 4), p.size() - b.l4);
    } else {
      EXPECT_EQ(get16(p, b.l3 + 2), p.size() - b.l3);
      EXPECT_EQ(get16(p, b.l3 + 4), static_cast<std::uint16_t>(0xFFFE + i));
      EXPECT_EQ(get16(p, b.l3 + 6), 0x4000);
      EXPECT_EQ(ref_sum(Bytes(p.begin() + b.l3, p.begin() + b.l4)), 0xFFFF) << "IPv4 header checksum";
    }
    EXPECT_TRUE(l4_checksum_valid(p, b.l3, b.l4, s.v6, s.udp));
    if (s.udp) {
      EXPECT_EQ(get16(p, b.l4 + 4), p.size() - b.l4);
      EXPECT_NE(get16(p, b.l4 + 6), 0);
    } else {
      EXPECT_EQ(get32(p, b.l4 + 4), static_cast<std::uint32_t>(0xFFFFF000u + off));
      EXPECT_EQ(get32(p, b.l4 + 8), 0x01020304u);
      std::uint8_t want = s.tcp_flags;
      if (i + 1 < n) want &= static_cast<std::uint8_t>(~(kFin | kPsh));
      if (i > 0) want &= static_cast<std::uint8_t>(~kCwr);
      EXPECT_EQ(p[b.l4 + 13], want);
      EXPECT_TRUE(std::equal(orig.begin() + b.l4 + 20, orig.begin() + b.hdr, p.begin() + b.l4 + 20));
    }
  }
  EXPECT_EQ(joined, b.payload);
  EXPECT_EQ(total, shape.wire_bytes);
}

TEST(Checksum, MatchesRfc1071Example) {
  const Bytes d = {0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7};
  const std::uint32_t sum = csum_partial(d.data(), d.size(), 0);
  EXPECT_EQ(csum_fold(sum), static_cast<std::uint16_t>(~0xDDF2));
}

TEST(Checksum, OddLengthPadsWithZeroByte) {
  const Bytes d = {0x12, 0x34, 0xAB};
  EXPECT_EQ(csum_fold(csum_partial(d.data(), d.size(), 0)), static_cast<std::uint16_t>(~(0x1234 + 0xAB00)));
}

TEST(Checksum, FoldReturnsComplementOfFoldedSum) {
  EXPECT_EQ(csum_fold(0), 0xFFFF);
  EXPECT_EQ(csum_fold(0xFFFF), 0);
  EXPECT_EQ(csum_fold(0x0001FFFE), 0);  // 0xFFFE + 1 = 0xFFFF
  EXPECT_EQ(csum_fold(0xFFFFFFFF), 0);
  EXPECT_EQ(csum_fold(0x00012345), static_cast<std::uint16_t>(~0x2346));
}

TEST(Checksum, PartialChainsOverEvenChunksAndAgreesWithReference) {
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    Bytes d(rng() % 70000);
    for (auto& x : d) x = static_cast<std::uint8_t>(rng());
    const std::size_t cut = (d.empty() ? 0 : rng() % d.size()) & ~std::size_t{1};
    const std::uint32_t whole = csum_partial(d.data(), d.size(), 0xFFFFFFF0u);
    const std::uint32_t chained =
        csum_partial(d.data() + cut, d.size() - cut, csum_partial(d.data(), cut, 0xFFFFFFF0u));
    EXPECT_EQ(csum_fold(whole), csum_fold(chained));
    const std::uint16_t ref = ref_sum(d);
    EXPECT_EQ(csum_fold(csum_partial(d.data(), d.size(), 0)), static_cast<std::uint16_t>(~ref));
  }
}

TEST(Checksum, CompletesNonGsoTcpV4AndUdpV6) {
  std::mt19937 rng(1);
  for (const Spec s : {Spec{.payload = 1337}, Spec{.v6 = true, .udp = true, .payload = 999},
                       Spec{.udp = true, .vlan = true, .payload = 1}, Spec{.v6 = true, .payload = 0}}) {
    Built b = build(s, rng);
    EXPECT_FALSE(l4_checksum_valid(b.frame.bytes, b.l3, b.l4, s.v6, s.udp));
    complete_checksum(b.frame);
    EXPECT_TRUE(l4_checksum_valid(b.frame.bytes, b.l3, b.l4, s.v6, s.udp));
    EXPECT_EQ(b.frame.vnet.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM, 0);
    EXPECT_TRUE(std::equal(b.payload.begin(), b.payload.end(), b.frame.bytes.begin() + b.hdr));
  }
}

TEST(Checksum, UdpResultOfZeroIsStoredAsFfff) {
  std::mt19937 rng(2);
  Spec s{.udp = true, .payload = 64};
  Built b = build(s, rng);
  // Choose the last payload word so that the complete sum is 0xFFFF, i.e. the checksum is 0.
  Bytes& p = b.frame.bytes;
  put16(p, p.size() - 2, 0);
  const std::uint16_t rest = ref_sum(Bytes(p.begin() + b.l4, p.end()));
  put16(p, p.size() - 2, static_cast<std::uint16_t>(0xFFFF - rest));
  complete_checksum(b.frame);
  EXPECT_EQ(get16(p, b.l4 + 6), 0xFFFF);
  EXPECT_TRUE(l4_checksum_valid(p, b.l3, b.l4, false, true));
}

TEST(Checksum, LeavesFramesWithoutFlagOrWithBadOffsetsUntouched) {
  std::mt19937 rng(3);
  Built b = build(Spec{.payload = 100}, rng);
  Frame no_flag = b.frame;
  no_flag.vnet.flags = 0;
  complete_checksum(no_flag);
  EXPECT_EQ(no_flag.bytes, b.frame.bytes);

  Frame bad = b.frame;
  bad.vnet.csum_start = static_cast<std::uint16_t>(bad.bytes.size() - 1);
  bad.vnet.csum_offset = 0;
  complete_checksum(bad);
  EXPECT_EQ(bad.bytes, b.frame.bytes);
  bad.vnet.csum_start = 0xFFFF;
  bad.vnet.csum_offset = 0xFFFF;
  complete_checksum(bad);
  EXPECT_EQ(bad.bytes, b.frame.bytes);
}

TEST(Gso, TcpV4JumboFrameIntoMssSegments) {
  std::mt19937 rng(42);
  const Spec s{.payload = 9000 - 66, .gso_size = 1448, .tcp_flags = kAck | kPsh | kFin};
  const Built b = build(s, rng);
  ASSERT_EQ(b.frame.bytes.size(), 9000u);
  check_segments(s, b);
  EXPECT_EQ(wire_shape(b.frame).packets, 7u);
  EXPECT_EQ(wire_shape(b.frame).wire_bytes, 9000u + 6 * 66);
}

TEST(Gso, TcpV6WithVlanTag) {
  std::mt19937 rng(43);
  const Spec s{.v6 = true, .vlan = true, .payload = 30000, .gso_size = 1428};
  check_segments(s, build(s, rng));
}

TEST(Gso, UdpL4SegmentsEachGetLengthAndChecksum) {
  std::mt19937 rng(44);
  for (const Spec s : {Spec{.udp = true, .payload = 12345, .gso_size = 1200},
                       Spec{.v6 = true, .udp = true, .vlan = true, .payload = 60000, .gso_size = 1452}}) {
    check_segments(s, build(s, rng));
  }
}

TEST(Gso, UdpSegmentChecksumOfZeroIsSentAsFfff) {
  std::mt19937 rng(51);
  const Spec s{.udp = true, .payload = 3000, .gso_size = 1000};
  Built b = build(s, rng);
  // Rig the second segment's last payload word so that its checksum computes to 0.
  Bytes& f = b.frame.bytes;
  const std::size_t last_word = b.hdr + 2 * 1000 - 2;
  put16(f, last_word, 0);
  Bytes seg(f.begin() + b.l4, f.begin() + b.hdr);
  seg.insert(seg.end(), f.begin() + b.hdr + 1000, f.begin() + b.hdr + 2000);
  put16(seg, 4, 1008);
  put16(seg, 6, 0);
  Bytes all = pseudo(f, b.l3, false, 17, 1008);
  all.insert(all.end(), seg.begin(), seg.end());
  put16(f, last_word, static_cast<std::uint16_t>(0xFFFF - ref_sum(all)));
  b.payload.assign(f.begin() + b.hdr, f.end());
  check_segments(s, b);
  EXPECT_EQ(get16(run_segment(b.frame)[1]->bytes, b.l4 + 6), 0xFFFF);
}

TEST(Gso, EcnCwrOnlyOnFirstSegment) {
  std::mt19937 rng(45);
  const Spec s{.payload = 5000, .gso_size = 1000, .tcp_flags = kAck | kCwr | kEce | kPsh, .ecn = true};
  const Built b = build(s, rng);
  check_segments(s, b);
  const auto out = run_segment(b.frame);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0]->bytes[b.l4 + 13], kAck | kCwr | kEce);
  EXPECT_EQ(out[2]->bytes[b.l4 + 13], kAck | kEce);
  EXPECT_EQ(out[4]->bytes[b.l4 + 13], kAck | kEce | kPsh);
}

TEST(Gso, EdgeSizesAndGarbagePartialChecksum) {
  std::mt19937 rng(46);
  for (const Spec s : {Spec{.payload = 1448, .gso_size = 1448}, Spec{.payload = 100, .gso_size = 1448},
                       Spec{.payload = 2 * 1448, .gso_size = 1448}, Spec{.payload = 1449, .gso_size = 1448},
                       Spec{.v6 = true, .udp = true, .payload = 17, .gso_size = 1}}) {
    Built b = build(s, rng);
    check_segments(s, b);
    // The partial value must not matter: segments are checksummed from scratch.
    put16(b.frame.bytes, b.l4 + (s.udp ? 6 : 16), 0xBEEF);
    b.frame.vnet.flags = 0;
    check_segments(s, b);
  }
}

TEST(Gso, NonGsoFrameIsChecksummedAndPassedThrough) {
  std::mt19937 rng(47);
  Built b = build(Spec{.v6 = true, .payload = 1400}, rng);
  auto f = std::make_unique<Frame>(b.frame);
  const Frame* raw = f.get();
  std::vector<FramePtr> out;
  split_gso(std::move(f), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].get(), raw);  // no copy
  EXPECT_TRUE(l4_checksum_valid(out[0]->bytes, b.l3, b.l4, true, false));
  EXPECT_EQ(out[0]->vnet.flags, 0);
}

TEST(Gso, UnparseableFramesPassThroughUnchanged) {
  std::mt19937 rng(48);
  const Built base = build(Spec{.payload = 4000, .gso_size = 1000}, rng);
  std::vector<std::pair<const char*, Frame>> cases;
  auto add = [&](const char* name, auto mutate) {
    Frame f = base.frame;
    mutate(f);
    cases.emplace_back(name, std::move(f));
  };
  add("gso_size 0", [](Frame& f) { f.vnet.gso_size = 0; });
  add("ARP ethertype", [](Frame& f) { put16(f.bytes, 12, 0x0806); });
  add("UFO", [](Frame& f) { f.vnet.gso_type = VIRTIO_NET_HDR_GSO_UDP; });
  add("TCPV4 type on UDP", [&](Frame& f) { f.bytes[base.l3 + 9] = 17; });
  add("TCPV6 type on IPv4", [](Frame& f) { f.vnet.gso_type = VIRTIO_NET_HDR_GSO_TCPV6; });
  add("IHL 4", [&](Frame& f) { f.bytes[base.l3] = 0x44; });
  add("TCP doff 4", [&](Frame& f) { f.bytes[base.l4 + 12] = 4 << 4; });
  add("no payload", [&](Frame& f) { f.bytes.resize(base.hdr); });
  add("truncated TCP", [&](Frame& f) { f.bytes.resize(base.l4 + 10); });
  add("truncated Ethernet", [](Frame& f) { f.bytes.resize(13); });
  add("empty", [](Frame& f) { f.bytes.clear(); });
  for (auto& [name, f] : cases) {
    SCOPED_TRACE(name);
    EXPECT_EQ(wire_shape(f).packets, 1u);
    EXPECT_EQ(wire_shape(f).wire_bytes, f.bytes.size());
    const auto out = run_segment(f);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0]->bytes, f.bytes);
    EXPECT_EQ(out[0]->vnet.gso_type, f.vnet.gso_type);
  }
}

TEST(Frame, WireShapeOfNonGsoFrameIsItsSize) {
  Frame f;
  f.bytes.resize(1514);
  EXPECT_EQ(wire_shape(f).packets, 1u);
  EXPECT_EQ(wire_shape(f).wire_bytes, 1514u);
}

TEST(Frame, WireShapeAgreesWithSegmentAcrossShapes) {
  std::mt19937 rng(49);
  for (int round = 0; round < 200; ++round) {
    Spec s{.v6 = (rng() & 1) != 0, .udp = (rng() & 1) != 0, .vlan = (rng() & 1) != 0};
    s.gso_size = static_cast<std::uint16_t>(1 + rng() % 9000);
    s.payload = 1 + rng() % (65000 - 70);
    check_segments(s, build(s, rng));
  }
}

// Random bytes and randomly damaged real frames with random vnet headers: nothing may crash
// (the suite also runs under ASan+UBSan), and wire_shape must always describe split_gso()'s output.
TEST(Frame, FuzzedInputsNeverCrashAndShapeAgrees) {
  std::mt19937 rng(50);
  const std::uint8_t types[] = {0, 1, 3, 4, 5, 0x81, 0x84, 0x85, 0xFF};
  for (int round = 0; round < 4000; ++round) {
    Frame f;
    if (rng() % 3 == 0) {
      f.bytes.resize(rng() % 200);
      for (auto& x : f.bytes) x = static_cast<std::uint8_t>(rng());
    } else {
      Spec s{.v6 = (rng() & 1) != 0, .udp = (rng() & 1) != 0, .vlan = (rng() & 1) != 0};
      s.payload = rng() % 3000;
      s.gso_size = static_cast<std::uint16_t>(rng() % 2 ? 1 + rng() % 1500 : 0);
      f = build(s, rng).frame;
      for (int k = static_cast<int>(rng() % 4); k > 0; --k)
        f.bytes[rng() % std::min<std::size_t>(f.bytes.size(), 90)] = static_cast<std::uint8_t>(rng());
      if (rng() % 4 == 0) f.bytes.resize(rng() % (f.bytes.size() + 1));
    }
    if (rng() % 2) {
      f.vnet.flags = static_cast<std::uint8_t>(rng() % 4);
      f.vnet.gso_type = types[rng() % std::size(types)];
      f.vnet.gso_size = static_cast<std::uint16_t>(rng() % 3 == 0 ? rng() % 4 : rng());
      f.vnet.csum_start = static_cast<std::uint16_t>(rng() % 2 ? rng() % 100 : rng());
      f.vnet.csum_offset = static_cast<std::uint16_t>(rng() % 2 ? rng() % 20 : rng());
    }
    const WireShape shape = wire_shape(f);
    Frame copy = f;
    complete_checksum(copy);
    EXPECT_EQ(copy.bytes.size(), f.bytes.size());
    const auto out = run_segment(f);
    ASSERT_EQ(out.size(), shape.packets) << "round " << round;
    std::uint64_t total = 0;
    for (const auto& p : out) total += p->bytes.size();
    ASSERT_EQ(total, shape.wire_bytes) << "round " << round;
  }
}

}  // namespace
