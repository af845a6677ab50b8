// The NAT64 translator on hand-built packets. Checksums are verified with a deliberately naive
// reference sum over explicitly built pseudo-headers that shares no code with the translator.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "nat64/translator.hpp"
#include "patchbay/nat64.hpp"

using namespace patchbay;
using namespace patchbay::nat64;
using Bytes = std::vector<std::uint8_t>;

namespace {

constexpr std::int64_t kSec = 1'000'000'000;
constexpr std::uint8_t kSyn = 0x02, kAck = 0x10;

const Ipv6Addr kClient = Ipv6Addr::parse("2001:db8:1::10");
const Ipv6Addr kClient2 = Ipv6Addr::parse("2001:db8:1::20");
const Ipv4Addr kServer = Ipv4Addr::parse("203.0.113.1");
const Ipv4Addr kPool = Ipv4Addr::parse("192.0.2.64");
const Ipv6Addr kServer6 = Ipv6Addr::parse("64:ff9b::cb00:7101");

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
void append(Bytes& b, const Bytes& x) {
  b.insert(b.end(), x.begin(), x.end());
}
Bytes slice(const Bytes& b, std::size_t from, std::size_t n = SIZE_MAX) {
  n = std::min(n, b.size() - from);
  return Bytes(b.begin() + static_cast<std::ptrdiff_t>(from),
               b.begin() + static_cast<std::ptrdiff_t>(from + n));
}
Bytes v4b(Ipv4Addr a) {
  auto o = a.octets();
  return Bytes(o.begin(), o.end());
}
Bytes v6b(const Ipv6Addr& a) {
  return Bytes(a.bytes().begin(), a.bytes().end());
}

// Folded, not complemented: 0xFFFF over data whose checksum verifies.
std::uint16_t ref_sum(const Bytes& d) {
  std::uint64_t s = 0;
  for (std::size_t i = 0; i < d.size(); ++i) s += i % 2 == 0 ? std::uint64_t{d[i]} << 8 : d[i];
  while (s > 0xFFFF) s = (s & 0xFFFF) + (s >> 16);
  return static_cast<std::uint16_t>(s);
}
Bytes pseudo4(const Bytes& ip, std::uint8_t proto, std::size_t len) {
  Bytes p = slice(ip, 12, 8);
  append(p, {0, proto, static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len)});
  return p;
}
Bytes pseudo6(const Bytes& ip, std::uint8_t proto, std::size_t len) {
  Bytes p = slice(ip, 8, 32);
  append(p, {0, 0, static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len), 0, 0, 0, proto});
  return p;
}

// Verifies the L4 checksum of a whole IPv4 packet (TCP/UDP with pseudo-header, ICMP without).
bool l4_ok_v4(const Bytes& ip) {
  const std::size_t ihl = (ip[0] & 0x0F) * 4u;
  Bytes l4 = slice(ip, ihl);
  if (ip[9] == 1) return ref_sum(l4) == 0xFFFF;
  Bytes all = pseudo4(ip, ip[9], l4.size());
  append(all, l4);
  return ref_sum(all) == 0xFFFF;
}
bool header_ok_v4(const Bytes& ip) {
  return ref_sum(slice(ip, 0, (ip[0] & 0x0F) * 4u)) == 0xFFFF;
}
bool l4_ok_v6(const Bytes& ip) {
  Bytes l4 = slice(ip, 40);
  Bytes all = pseudo6(ip, ip[6], l4.size());
  append(all, l4);
  return ref_sum(all) == 0xFFFF;
}

// --- packet builders ---------------------------------------------------------------------------

Bytes v6_packet(const Ipv6Addr& src, const Ipv6Addr& dst, std::uint8_t next, Bytes l4, std::size_t csum_at,
                std::uint8_t hop = 64, std::uint8_t tclass = 0) {
  Bytes p = {static_cast<std::uint8_t>(0x60 | tclass >> 4),
             static_cast<std::uint8_t>(tclass << 4),
             0,
             0,
             0,
             0,
             next,
             hop};
  put16(p, 4, static_cast<std::uint16_t>(l4.size()));
  append(p, v6b(src));
  append(p, v6b(dst));
  Bytes all = pseudo6(p, next, l4.size());
  append(all, l4);
  put16(l4, csum_at, static_cast<std::uint16_t>(~ref_sum(all)));
  append(p, l4);
  return p;
}
Bytes v4_packet(Ipv4Addr src, Ipv4Addr dst, std::uint8_t proto, Bytes l4, std::size_t csum_at,
                std::uint8_t ttl = 64, bool df = true, bool l4_csum = true) {
  Bytes p = {0x45, 0, 0, 0, 0, 7, static_cast<std::uint8_t>(df ? 0x40 : 0), 0, ttl, proto, 0, 0};
  put16(p, 2, static_cast<std::uint16_t>(20 + l4.size()));
  append(p, v4b(src));
  append(p, v4b(dst));
  put16(p, 10, static_cast<std::uint16_t>(~ref_sum(p)));
  if (l4_csum) {
    Bytes all = proto == 1 ? Bytes{} : pseudo4(p, proto, l4.size());
    append(all, l4);
    put16(l4, csum_at, static_cast<std::uint16_t>(~ref_sum(all)));
  }
  append(p, l4);
  return p;
}
Bytes udp(std::uint16_t sport, std::uint16_t dport, const Bytes& payload) {
  Bytes u(8);
  put16(u, 0, sport);
  put16(u, 2, dport);
  put16(u, 4, static_cast<std::uint16_t>(8 + payload.size()));
  append(u, payload);
  return u;
}
Bytes tcp(std::uint16_t sport, std::uint16_t dport, std::uint8_t flags) {
  Bytes t(20);
  put16(t, 0, sport);
  put16(t, 2, dport);
  put32(t, 4, 1000);
  t[12] = 5 << 4;
  t[13] = flags;
  put16(t, 14, 65535);
  return t;
}
Bytes echo(std::uint8_t type, std::uint16_t id, std::uint16_t seq) {
  Bytes e = {type, 0, 0, 0, 0, 0, 0, 0, 'p', 'i', 'n', 'g'};
  put16(e, 4, id);
  put16(e, 6, seq);
  return e;
}
const Bytes kPayload = {'h', 'e', 'l', 'l', 'o', '!', 0x00, 0xFF, 0x42};

Bytes v6_udp(const Ipv6Addr& src, std::uint16_t sport, std::uint8_t hop = 64) {
  return v6_packet(src, kServer6, 17, udp(sport, 53, kPayload), 6, hop);
}
Bytes v4_udp_reply(std::uint16_t to_port, Ipv4Addr from = kServer, std::uint16_t from_port = 53) {
  return v4_packet(from, kPool, 17, udp(from_port, to_port, kPayload), 6);
}

struct Fixture {
  Translator t;
  std::vector<Out> out;
  explicit Fixture(Config c = {}, std::uint64_t seed = 42) : t(c, seed) {}
  std::vector<Out> v6(const Bytes& p, std::int64_t now = 0) {
    out.clear();
    t.from_v6(p, now, out);
    return out;
  }
  std::vector<Out> v4(const Bytes& p, std::int64_t now = 0) {
    out.clear();
    t.from_v4(p, now, out);
    return out;
  }
  // Sends a UDP packet from `src`:`sport` and returns the v4-side source port it was given.
  std::uint16_t open_udp(const Ipv6Addr& src, std::uint16_t sport, std::int64_t now = 0) {
    auto o = v6(v6_udp(src, sport), now);
    EXPECT_EQ(o.size(), 1u);
    return o.empty() ? 0 : get16(o[0].bytes, 20);
  }
};

}  // namespace

TEST(Nat64Embed, EmbedsIntoWellKnownPrefix) {
  EXPECT_EQ(nat64::embed(kServer), kServer6);
  EXPECT_EQ(nat64_embed(kServer).to_string(), "64:ff9b::cb00:7101");
  EXPECT_EQ(nat64::extract(kServer6), kServer);
}

TEST(Nat64Embed, ExtractOutsidePrefixIsNullopt) {
  EXPECT_EQ(nat64::extract(Ipv6Addr::parse("2001:db8::cb00:7101")), std::nullopt);
  EXPECT_EQ(nat64::extract(Ipv6Addr::parse("64:ff9b:1::cb00:7101")), std::nullopt);
  EXPECT_EQ(nat64::extract(Ipv6Addr::parse("64:ff9b::")), Ipv4Addr(0u));  // positive control
}

TEST(Nat64Udp, TranslatesRequestToV4) {
  Fixture f;
  Bytes in = v6_packet(kClient, kServer6, 17, udp(5000, 53, kPayload), 6, 64, 0xB8);
  auto o = f.v6(in);
  ASSERT_EQ(o.size(), 1u);
  ASSERT_EQ(o[0].to, Side::V4);
  const Bytes& p = o[0].bytes;
  ASSERT_EQ(p.size(), 20 + 8 + kPayload.size());
  EXPECT_EQ(p[0], 0x45);
  EXPECT_EQ(p[1], 0xB8);           // traffic class -> TOS
  EXPECT_EQ(get16(p, 6), 0x4000);  // DF, no fragment offset
  EXPECT_EQ(p[8], 63);             // hop limit 64, decremented
  EXPECT_EQ(p[9], 17);
  EXPECT_EQ(slice(p, 12, 4), v4b(kPool));
  EXPECT_EQ(slice(p, 16, 4), v4b(kServer));
  EXPECT_TRUE(header_ok_v4(p));
  EXPECT_TRUE(l4_ok_v4(p));
  EXPECT_GE(get16(p, 20), 1024);
  EXPECT_EQ(get16(p, 22), 53);
  EXPECT_EQ(slice(p, 28), kPayload);
  EXPECT_EQ(f.t.bindings(Proto::Udp), 1u);
}

TEST(Nat64Udp, ReplyReturnsToOriginalV6Endpoint) {
  Fixture f;
  const std::uint16_t port = f.open_udp(kClient, 5000);
  Bytes reply = v4_udp_reply(port);
  reply[1] = 0x20;
  reply[8] = 50;
  put16(reply, 10, 0);
  put16(reply, 10, static_cast<std::uint16_t>(~ref_sum(slice(reply, 0, 20))));
  auto o = f.v4(reply);
  ASSERT_EQ(o.size(), 1u);
  ASSERT_EQ(o[0].to, Side::V6);
  const Bytes& p = o[0].bytes;
  EXPECT_EQ(p[0] >> 4, 6);
  EXPECT_EQ(((p[0] & 0x0F) << 4) | (p[1] >> 4), 0x20);
  EXPECT_EQ(get16(p, 4), 8 + kPayload.size());
  EXPECT_EQ(p[6], 17);
  EXPECT_EQ(p[7], 49);
  EXPECT_EQ(slice(p, 8, 16), v6b(kServer6));
  EXPECT_EQ(slice(p, 24, 16), v6b(kClient));
  EXPECT_EQ(get16(p, 40), 53);
  EXPECT_EQ(get16(p, 42), 5000);
  EXPECT_TRUE(l4_ok_v6(p));
  EXPECT_EQ(slice(p, 48), kPayload);
}

TEST(Nat64Udp, ZeroChecksumFromV4IsComputedOnV6) {
  Fixture f;
  const std::uint16_t port = f.open_udp(kClient, 5000);
  Bytes reply = v4_packet(kServer, kPool, 17, udp(53, port, kPayload), 6, 64, true, /*l4_csum=*/false);
  ASSERT_EQ(get16(reply, 26), 0);
  auto o = f.v4(reply);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_NE(get16(o[0].bytes, 46), 0);
  EXPECT_TRUE(l4_ok_v6(o[0].bytes));
}

TEST(Nat64Tcp, SynAndSynAckTranslateWithValidChecksums) {
  Fixture f;
  auto o = f.v6(v6_packet(kClient, kServer6, 6, tcp(40000, 80, kSyn), 16));
  ASSERT_EQ(o.size(), 1u);
  const Bytes syn = o[0].bytes;
  EXPECT_EQ(syn[9], 6);
  EXPECT_EQ(syn[33], kSyn);
  EXPECT_EQ(get16(syn, 22), 80);
  EXPECT_EQ(get32(syn, 24), 1000u);
  EXPECT_TRUE(header_ok_v4(syn));
  EXPECT_TRUE(l4_ok_v4(syn));

  o = f.v4(v4_packet(kServer, kPool, 6, tcp(80, get16(syn, 20), kSyn | kAck), 16));
  ASSERT_EQ(o.size(), 1u);
  const Bytes& synack = o[0].bytes;
  EXPECT_EQ(synack[6], 6);
  EXPECT_EQ(synack[53], kSyn | kAck);
  EXPECT_EQ(get16(synack, 40), 80);
  EXPECT_EQ(get16(synack, 42), 40000);
  EXPECT_EQ(slice(synack, 24, 16), v6b(kClient));
  EXPECT_TRUE(l4_ok_v6(synack));
}

TEST(Nat64Tcp, EstablishedOutlivesTransitoryTimeout) {
  Fixture f;
  auto o = f.v6(v6_packet(kClient, kServer6, 6, tcp(40000, 80, kSyn), 16));
  ASSERT_EQ(o.size(), 1u);
  f.v6(v6_packet(kClient2, kServer6, 6, tcp(40000, 80, kSyn), 16));  // never answered
  ASSERT_EQ(f.v4(v4_packet(kServer, kPool, 6, tcp(80, get16(o[0].bytes, 20), kSyn | kAck), 16)).size(), 1u);
  f.t.expire(241 * kSec);
  EXPECT_EQ(f.t.bindings(Proto::Tcp), 1u);  // the half-open one went after 240 s
  f.t.expire(7441 * kSec);
  EXPECT_EQ(f.t.bindings(Proto::Tcp), 0u);
}

TEST(Nat64Icmp, EchoIdentifierMappedBothWays) {
  Fixture f;
  auto o = f.v6(v6_packet(kClient, kServer6, 58, echo(128, 0x1234, 7), 2));
  ASSERT_EQ(o.size(), 1u);
  const Bytes req = o[0].bytes;
  EXPECT_EQ(req[9], 1);
  EXPECT_EQ(req[20], 8);
  EXPECT_EQ(req[21], 0);
  const std::uint16_t id4 = get16(req, 24);
  EXPECT_GE(id4, 1024);
  EXPECT_EQ(get16(req, 26), 7);
  EXPECT_EQ(slice(req, 28), (Bytes{'p', 'i', 'n', 'g'}));
  EXPECT_TRUE(header_ok_v4(req));
  EXPECT_TRUE(l4_ok_v4(req));

  o = f.v4(v4_packet(kServer, kPool, 1, echo(0, id4, 7), 2));
  ASSERT_EQ(o.size(), 1u);
  const Bytes& rep = o[0].bytes;
  EXPECT_EQ(rep[6], 58);
  EXPECT_EQ(rep[40], 129);
  EXPECT_EQ(get16(rep, 44), 0x1234);
  EXPECT_EQ(slice(rep, 24, 16), v6b(kClient));
  EXPECT_TRUE(l4_ok_v6(rep));
}

TEST(Nat64Bindings, SameSourcePortFromTwoClientsGetsDifferentPorts) {
  Fixture f;
  const std::uint16_t p1 = f.open_udp(kClient, 5000);
  const std::uint16_t p2 = f.open_udp(kClient2, 5000);
  EXPECT_NE(p1, p2);
  EXPECT_EQ(f.t.bindings(Proto::Udp), 2u);
  auto o = f.v4(v4_udp_reply(p2));
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(slice(o[0].bytes, 24, 16), v6b(kClient2));
  o = f.v4(v4_udp_reply(p1));
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(slice(o[0].bytes, 24, 16), v6b(kClient));
}

TEST(Nat64Bindings, EndpointIndependentMappingReusesPort) {
  Fixture f;
  const std::uint16_t p1 = f.open_udp(kClient, 5000);
  auto o = f.v6(v6_packet(kClient, nat64::embed(Ipv4Addr(198, 51, 100, 7)), 17, udp(5000, 53, kPayload), 6));
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(get16(o[0].bytes, 20), p1);
}

std::vector<std::uint16_t> ports_for_seed(std::uint64_t seed) {
  Fixture f({}, seed);
  std::vector<std::uint16_t> ports;
  for (std::uint16_t i = 0; i < 8; ++i)
    ports.push_back(f.open_udp(kClient, static_cast<std::uint16_t>(6000 + i)));
  return ports;
}

TEST(Nat64Bindings, SameSeedGivesSamePortsDifferentSeedDifferent) {
  EXPECT_EQ(ports_for_seed(7), ports_for_seed(7));
  EXPECT_NE(ports_for_seed(7), ports_for_seed(8));
}

TEST(Nat64Filtering, DropsInboundFromRemoteNeverContacted) {
  Fixture f;
  const std::uint16_t port = f.open_udp(kClient, 5000);
  EXPECT_TRUE(f.v4(v4_udp_reply(port, Ipv4Addr(198, 51, 100, 9))).empty());  // other host
  EXPECT_TRUE(f.v4(v4_udp_reply(port, kServer, 54)).empty());                // other port
  EXPECT_EQ(f.t.stats().filtered, 2u);
  EXPECT_EQ(f.v4(v4_udp_reply(port)).size(), 1u);  // positive control
  EXPECT_TRUE(f.v4(v4_udp_reply(static_cast<std::uint16_t>(port + 1))).empty());
  EXPECT_EQ(f.t.stats().no_binding, 1u);
}

TEST(Nat64IcmpError, PortUnreachableTranslatedWithInnerPacket) {
  Fixture f;
  const Bytes orig = v6_udp(kClient, 5000);
  auto o = f.v6(orig);
  ASSERT_EQ(o.size(), 1u);
  const Bytes sent = o[0].bytes;  // what the server got
  Bytes err = {3, 3, 0, 0, 0, 0, 0, 0};
  append(err, sent);
  o = f.v4(v4_packet(kServer, kPool, 1, err, 2));
  ASSERT_EQ(o.size(), 1u);
  ASSERT_EQ(o[0].to, Side::V6);
  const Bytes& p = o[0].bytes;
  EXPECT_EQ(p[6], 58);
  EXPECT_EQ(slice(p, 8, 16), v6b(kServer6));
  EXPECT_EQ(slice(p, 24, 16), v6b(kClient));
  EXPECT_EQ(p[40], 1);
  EXPECT_EQ(p[41], 4);
  EXPECT_TRUE(l4_ok_v6(p));
  const Bytes inner = slice(p, 48);
  ASSERT_EQ(inner.size(), orig.size());
  EXPECT_EQ(inner[6], 17);
  EXPECT_EQ(inner[7], 63);  // the hop limit the v4 copy carried
  EXPECT_EQ(slice(inner, 8, 32), slice(orig, 8, 32));
  EXPECT_EQ(slice(inner, 40), slice(orig, 40));  // UDP header incl. checksum back to the original
  EXPECT_TRUE(l4_ok_v6(inner));
}

TEST(Nat64IcmpError, FragNeededBecomesPacketTooBigPlus20) {
  for (auto [mtu4, mtu6] : {std::pair<std::uint16_t, std::uint32_t>{1400, 1420}, {1000, 1280}, {0, 1280}}) {
    Fixture f;
    auto o = f.v6(v6_udp(kClient, 5000));
    ASSERT_EQ(o.size(), 1u);
    Bytes err = {3, 4, 0, 0, 0, 0, 0, 0};
    put16(err, 6, mtu4);
    append(err, slice(o[0].bytes, 0, 28));
    o = f.v4(v4_packet(Ipv4Addr(198, 18, 0, 1), kPool, 1, err, 2));
    ASSERT_EQ(o.size(), 1u);
    const Bytes& p = o[0].bytes;
    EXPECT_EQ(p[40], 2);
    EXPECT_EQ(p[41], 0);
    EXPECT_EQ(get32(p, 44), mtu6) << "v4 MTU " << mtu4;
    EXPECT_EQ(slice(p, 8, 16), v6b(nat64::embed(Ipv4Addr(198, 18, 0, 1))));
    EXPECT_TRUE(l4_ok_v6(p));
  }
}

TEST(Nat64IcmpError, PacketTooBigFromV6BecomesFragNeededMinus20) {
  Fixture f;
  const std::uint16_t port = f.open_udp(kClient, 5000);
  auto o = f.v4(v4_udp_reply(port));
  ASSERT_EQ(o.size(), 1u);
  Bytes err = {2, 0, 0, 0, 0, 0, 0x05, 0x78};  // MTU 1400
  append(err, o[0].bytes);
  o = f.v6(v6_packet(Ipv6Addr::parse("2001:db8:1::1"), kServer6, 58, err, 2));
  ASSERT_EQ(o.size(), 1u);
  const Bytes& p = o[0].bytes;
  ASSERT_EQ(o[0].to, Side::V4);
  EXPECT_EQ(slice(p, 12, 4), v4b(kPool));
  EXPECT_EQ(slice(p, 16, 4), v4b(kServer));
  EXPECT_EQ(p[20], 3);
  EXPECT_EQ(p[21], 4);
  EXPECT_EQ(get16(p, 26), 1380);
  EXPECT_TRUE(l4_ok_v4(p));
  const Bytes inner = slice(p, 28);
  EXPECT_EQ(slice(inner, 12, 4), v4b(kServer));
  EXPECT_EQ(slice(inner, 16, 4), v4b(kPool));
  EXPECT_EQ(get16(inner, 22), port);
  EXPECT_TRUE(header_ok_v4(inner));
  EXPECT_TRUE(l4_ok_v4(inner));
}

TEST(Nat64IcmpError, ParameterProblemPointerIsMapped) {
  Fixture f;
  auto o = f.v6(v6_udp(kClient, 5000));
  ASSERT_EQ(o.size(), 1u);
  Bytes err = {12, 0, 0, 0, 9, 0, 0, 0};  // pointer at the IPv4 Protocol byte
  append(err, slice(o[0].bytes, 0, 28));
  o = f.v4(v4_packet(kServer, kPool, 1, err, 2));
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].bytes[40], 4);
  EXPECT_EQ(o[0].bytes[41], 0);
  EXPECT_EQ(get32(o[0].bytes, 44), 6u);  // the IPv6 Next Header byte
  err[4] = 10;                           // header checksum: no IPv6 counterpart, dropped
  EXPECT_TRUE(f.v4(v4_packet(kServer, kPool, 1, err, 2)).empty());
}

TEST(Nat64Ttl, HopLimitOneReturnsTimeExceededToSender) {
  Fixture f;
  const Bytes in = v6_udp(kClient, 5000, 1);
  auto o = f.v6(in);
  ASSERT_EQ(o.size(), 1u);
  ASSERT_EQ(o[0].to, Side::V6);
  const Bytes& p = o[0].bytes;
  EXPECT_EQ(p[6], 58);
  EXPECT_EQ(slice(p, 8, 16), v6b(Ipv6Addr::parse("64:ff9b::c000:240")));
  EXPECT_EQ(slice(p, 24, 16), v6b(kClient));
  EXPECT_EQ(p[40], 3);
  EXPECT_EQ(p[41], 0);
  EXPECT_EQ(slice(p, 48), in);
  EXPECT_TRUE(l4_ok_v6(p));
  EXPECT_EQ(f.t.bindings(Proto::Udp), 0u);
  EXPECT_EQ(f.v6(v6_udp(kClient, 5000, 2)).at(0).to, Side::V4);  // positive control
}

TEST(Nat64Ttl, TtlOneFromV4ReturnsIcmpTimeExceeded) {
  Fixture f;
  const std::uint16_t port = f.open_udp(kClient, 5000);
  const Bytes in = v4_packet(kServer, kPool, 17, udp(53, port, kPayload), 6, 1);
  auto o = f.v4(in);
  ASSERT_EQ(o.size(), 1u);
  ASSERT_EQ(o[0].to, Side::V4);
  const Bytes& p = o[0].bytes;
  EXPECT_EQ(slice(p, 16, 4), v4b(kServer));
  EXPECT_EQ(p[20], 11);
  EXPECT_EQ(p[21], 0);
  EXPECT_EQ(slice(p, 28), in);
  EXPECT_TRUE(header_ok_v4(p));
  EXPECT_TRUE(l4_ok_v4(p));
}

TEST(Nat64Expiry, UdpBindingExpiresAfterIdleTimeout) {
  Fixture f;
  const std::uint16_t port = f.open_udp(kClient, 5000);
  EXPECT_EQ(f.v4(v4_udp_reply(port), 299 * kSec).size(), 1u);  // refreshes the binding
  f.t.expire(598 * kSec);
  EXPECT_EQ(f.t.bindings(Proto::Udp), 1u);
  f.t.expire(599 * kSec);
  EXPECT_EQ(f.t.bindings(Proto::Udp), 0u);
  EXPECT_TRUE(f.v4(v4_udp_reply(port), 600 * kSec).empty());
  EXPECT_EQ(f.t.stats().bindings_expired, 1u);
}

TEST(Nat64Expiry, LookupIgnoresIdleBindingWithoutExpireCall) {
  Fixture f;
  const std::uint16_t port = f.open_udp(kClient, 5000);
  EXPECT_EQ(f.v4(v4_udp_reply(port), 59 * kSec).size(), 1u);
  EXPECT_TRUE(f.v4(v4_udp_reply(port), 400 * kSec).empty());
}

TEST(Nat64Table, FullTableRepliesAdminProhibited) {
  Config c;
  c.max_bindings = 2;
  Fixture f(c);
  f.open_udp(kClient, 5000);
  f.open_udp(kClient, 5001);
  const Bytes in = v6_udp(kClient2, 5000);
  auto o = f.v6(in);
  ASSERT_EQ(o.size(), 1u);
  ASSERT_EQ(o[0].to, Side::V6);
  EXPECT_EQ(o[0].bytes[40], 1);
  EXPECT_EQ(o[0].bytes[41], 1);
  EXPECT_EQ(slice(o[0].bytes, 24, 16), v6b(kClient2));
  EXPECT_TRUE(l4_ok_v6(o[0].bytes));
  EXPECT_EQ(f.t.stats().table_full, 1u);
  EXPECT_EQ(f.v6(in, 301 * kSec).at(0).to, Side::V4);  // room again once the others expired
}

TEST(Nat64Table, ExhaustedPortRangeRepliesAdminProhibited) {
  Config c;
  c.port_lo = c.port_hi = 40000;
  Fixture f(c);
  EXPECT_EQ(f.open_udp(kClient, 5000), 40000);
  auto o = f.v6(v6_udp(kClient2, 5000));
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].to, Side::V6);
  EXPECT_EQ(o[0].bytes[41], 1);
}

TEST(Nat64Fragments, ReassemblesV4FragmentsBeforeTranslation) {
  Fixture f;
  const std::uint16_t port = f.open_udp(kClient, 5000);
  Bytes payload(100);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i);
  const Bytes whole = v4_packet(kServer, kPool, 17, udp(53, port, payload), 6, 64, false);
  // Two fragments: 48 + 60 bytes of the UDP datagram, delivered last-first.
  auto frag = [&](std::size_t off, std::size_t n, bool more) {
    Bytes p = slice(whole, 0, 20);
    append(p, slice(whole, 20 + off, n));
    put16(p, 2, static_cast<std::uint16_t>(p.size()));
    put16(p, 6, static_cast<std::uint16_t>((more ? 0x2000 : 0) | off / 8));
    put16(p, 10, 0);
    put16(p, 10, static_cast<std::uint16_t>(~ref_sum(slice(p, 0, 20))));
    return p;
  };
  EXPECT_TRUE(f.v4(frag(48, 60, false)).empty());
  auto o = f.v4(frag(0, 48, true));
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(get16(o[0].bytes, 4), 108);
  EXPECT_EQ(slice(o[0].bytes, 48), payload);
  EXPECT_TRUE(l4_ok_v6(o[0].bytes));
  EXPECT_EQ(f.t.stats().reassembled, 1u);
}

TEST(Nat64Fragments, IncompleteDatagramTimesOut) {
  Fixture f;
  const std::uint16_t port = f.open_udp(kClient, 5000);
  Bytes payload(100, 0x11);
  const Bytes whole = v4_packet(kServer, kPool, 17, udp(53, port, payload), 6, 64, false);
  Bytes first = slice(whole, 0, 20 + 48), last = slice(whole, 0, 20);
  append(last, slice(whole, 20 + 48));
  put16(first, 2, static_cast<std::uint16_t>(first.size()));
  put16(first, 6, 0x2000);
  put16(last, 2, static_cast<std::uint16_t>(last.size()));
  put16(last, 6, 48 / 8);
  for (Bytes* p : {&first, &last}) {
    put16(*p, 10, 0);
    put16(*p, 10, static_cast<std::uint16_t>(~ref_sum(slice(*p, 0, 20))));
  }
  EXPECT_TRUE(f.v4(first, 0).empty());
  EXPECT_TRUE(f.v4(last, 31 * kSec).empty());
  EXPECT_EQ(f.t.stats().fragments_dropped, 1u);
  EXPECT_EQ(f.v4(first, 32 * kSec).size(), 1u);  // positive control: both halves in time
}

TEST(Nat64Fragments, ReassemblesV6FragmentsAndRefragmentsWithoutDf) {
  Fixture f;
  Bytes payload(3000);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 7);
  const Bytes whole = v6_packet(kClient, kServer6, 17, udp(5000, 53, payload), 6);
  const Bytes l4 = slice(whole, 40);
  std::vector<std::uint8_t> seen;
  std::vector<Out> all;
  for (std::size_t off = 0; off < l4.size(); off += 1232) {
    const std::size_t n = std::min<std::size_t>(1232, l4.size() - off);
    Bytes p = slice(whole, 0, 40);
    p[6] = 44;
    put16(p, 4, static_cast<std::uint16_t>(8 + n));
    Bytes fh = {17, 0, 0, 0, 0, 0, 0xBE, 0xEF};
    put16(fh, 2, static_cast<std::uint16_t>(off | (off + n < l4.size() ? 1 : 0)));
    append(p, fh);
    append(p, slice(l4, off, n));
    for (auto& o : f.v6(p)) all.push_back(o);
  }
  ASSERT_EQ(all.size(), 3u);  // 3008 bytes of UDP at 1480 per v4 fragment
  Bytes joined = slice(all[0].bytes, 0, 20);
  for (std::size_t i = 0; i < all.size(); ++i) {
    const Bytes& p = all[i].bytes;
    EXPECT_EQ(all[i].to, Side::V4);
    EXPECT_LE(p.size(), 1500u);
    EXPECT_TRUE(header_ok_v4(p));
    EXPECT_EQ(get16(p, 4), 0xBEEF);  // the low bits of the v6 fragment id
    EXPECT_EQ(get16(p, 6) & 0x4000, 0) << "DF must be clear";
    EXPECT_EQ((get16(p, 6) & 0x1FFF) * 8u, joined.size() - 20);
    EXPECT_EQ((get16(p, 6) & 0x2000) != 0, i + 1 < all.size());
    append(joined, slice(p, 20));
  }
  put16(joined, 2, static_cast<std::uint16_t>(joined.size()));
  EXPECT_TRUE(l4_ok_v4(joined));
  EXPECT_EQ(slice(joined, 28), payload);
}

TEST(Nat64Fragments, LargeV4WithoutDfBecomesV6FragmentsOf1280) {
  Fixture f;
  const std::uint16_t port = f.open_udp(kClient, 5000);
  Bytes payload(1400, 0x5A);
  auto o = f.v4(v4_packet(kServer, kPool, 17, udp(53, port, payload), 6, 64, false));
  ASSERT_EQ(o.size(), 2u);
  for (auto& x : o) {
    EXPECT_LE(x.bytes.size(), 1280u);
    EXPECT_EQ(x.bytes[6], 44);
  }
  // With DF the packet goes whole; the next hop's packet-too-big is translated back instead.
  o = f.v4(v4_packet(kServer, kPool, 17, udp(53, port, payload), 6, 64, true));
  ASSERT_EQ(o.size(), 1u);
  EXPECT_TRUE(l4_ok_v6(o[0].bytes));
}

TEST(Nat64ExtHeaders, SkipsDestinationOptionsDropsActiveRouting) {
  Fixture f;
  const Bytes plain = v6_udp(kClient, 5000);
  auto with_ext = [&](std::uint8_t type, std::uint8_t segments_left) {
    Bytes p = slice(plain, 0, 40);
    p[6] = type;
    put16(p, 4, static_cast<std::uint16_t>(get16(plain, 4) + 8));
    append(p, {17, 0, 0, segments_left, 0, 0, 0, 0});
    append(p, slice(plain, 40));
    return p;
  };
  auto o = f.v6(with_ext(60, 0));
  ASSERT_EQ(o.size(), 1u);
  EXPECT_TRUE(l4_ok_v4(o[0].bytes));
  EXPECT_EQ(f.v6(with_ext(43, 0)).size(), 1u);
  EXPECT_TRUE(f.v6(with_ext(43, 1)).empty());
  EXPECT_TRUE(f.v6(with_ext(50, 0)).empty());  // ESP
  EXPECT_EQ(f.t.stats().ext_header_dropped, 1u);
  EXPECT_EQ(f.t.stats().unsupported, 1u);
}

TEST(Nat64Robustness, GarbageAndTruncatedPacketsNeverCrash) {
  Fixture f;
  const std::uint16_t port = f.open_udp(kClient, 5000);
  auto echo_out = f.v6(v6_packet(kClient, kServer6, 58, echo(128, 9, 1), 2));
  ASSERT_EQ(echo_out.size(), 1u);
  Bytes err4 = {3, 3, 0, 0, 0, 0, 0, 0};
  append(err4, f.v6(v6_udp(kClient, 5000)).at(0).bytes);
  Bytes err6 = {1, 4, 0, 0, 0, 0, 0, 0};
  append(err6, f.v4(v4_udp_reply(port)).at(0).bytes);
  const std::vector<Bytes> seeds6 = {v6_udp(kClient, 5000),
                                     v6_packet(kClient, kServer6, 58, echo(128, 9, 1), 2),
                                     v6_packet(kClient, kServer6, 6, tcp(1, 80, kSyn), 16),
                                     v6_packet(Ipv6Addr::parse("2001:db8::1"), kServer6, 58, err6, 2)};
  const std::vector<Bytes> seeds4 = {
      v4_udp_reply(port), v4_packet(kServer, kPool, 1, err4, 2),
      v4_packet(kServer, kPool, 1, echo(0, get16(echo_out[0].bytes, 24), 1), 2)};
  std::mt19937 rng(1234);
  auto mutate = [&](Bytes p) {
    const int flips = static_cast<int>(rng() % 4);
    for (int i = 0; i < flips && !p.empty(); ++i) p[rng() % p.size()] = static_cast<std::uint8_t>(rng());
    if (rng() % 3 == 0) p.resize(rng() % (p.size() + 1));
    return p;
  };
  std::int64_t now = 0;
  for (int i = 0; i < 20000; ++i) {
    now += 1'000'000;
    f.out.clear();
    if (i % 5 == 0) {
      Bytes junk(rng() % 120);
      for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
      if (!junk.empty()) junk[0] = static_cast<std::uint8_t>(i % 2 ? 0x45 : 0x60);
      f.t.from_v6(junk, now, f.out);
      f.t.from_v4(junk, now, f.out);
    } else if (i % 2) {
      f.t.from_v6(mutate(seeds6[rng() % seeds6.size()]), now, f.out);
    } else {
      f.t.from_v4(mutate(seeds4[rng() % seeds4.size()]), now, f.out);
    }
  }
  // Every prefix of every seed packet, too.
  for (const auto& s : seeds6)
    for (std::size_t n = 0; n <= s.size(); ++n) f.t.from_v6(std::span(s).first(n), now, f.out);
  for (const auto& s : seeds4)
    for (std::size_t n = 0; n <= s.size(); ++n) f.t.from_v4(std::span(s).first(n), now, f.out);
  EXPECT_GT(f.t.stats().malformed + f.t.stats().bad_checksum, 0u);
  EXPECT_EQ(f.v6(v6_udp(kClient, 5000), now).size(), 1u);  // still translating afterwards
}
