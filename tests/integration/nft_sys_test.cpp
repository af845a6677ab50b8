// The in-process netfilter layer against the real kernel: NftContext (libnftables), NfnlSocket
// (set elements, xt queue rule, conntrack) and NfQueue. Each test works in a private network
// namespace owned by a thread that unshared it (the binary enters a user namespace first when not
// run as root, so unshare works either way).
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>

#include "netns_thread.hpp"
#include "patchbay/error.hpp"
#include "patchbay/fd.hpp"
#include "patchbay/net.hpp"
#include "sys/netlink.hpp"
#include "sys/nfnl.hpp"
#include "sys/nfqueue.hpp"
#include "sys/nft.hpp"
#include "sys/nft_batch.hpp"
#include "sys/rtnl.hpp"

namespace {

using namespace std::chrono_literals;
using patchbay::Ipv4Addr;
using patchbay::SocketAddr;
using patchbay::UniqueFd;
using patchbay::sys::KeyBuilder;
using patchbay::sys::KeyReader;
using patchbay::sys::NfnlSocket;
using patchbay::sys::NfQueue;
using patchbay::sys::NftContext;
using patchbay::testing::NetnsThread;
using Bytes = std::vector<std::uint8_t>;

UniqueFd udp_socket(const std::string& bind_to = {}) {
  int family = bind_to.empty() || bind_to[0] != '[' ? AF_INET : AF_INET6;
  UniqueFd fd(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) throw std::system_error(errno, std::generic_category(), "socket");
  if (!bind_to.empty()) {
    sockaddr_storage ss;
    socklen_t len = SocketAddr::parse(bind_to).to_sockaddr(ss);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
      throw std::system_error(errno, std::generic_category(), "bind " + bind_to);
  }
  return fd;
}

void send_to(int fd, const std::string& to, const std::string& msg) {
  sockaddr_storage ss;
  socklen_t len = SocketAddr::parse(to).to_sockaddr(ss);
  if (::sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) < 0)
    throw std::system_error(errno, std::generic_category(), "sendto " + to);
}

bool readable_within(int fd, std::chrono::milliseconds t) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(t.count())) == 1;
}

// The next datagram within `t`, or "" when none arrives.
std::string recv_within(int fd, std::chrono::milliseconds t) {
  if (!readable_within(fd, t)) return {};
  char buf[2048];
  ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// Packets of the queue, waiting up to `t` for at least `want` of them.
std::vector<NfQueue::Packet> receive_packets(NfQueue& q, std::size_t want, std::chrono::milliseconds t) {
  std::vector<NfQueue::Packet> out;
  auto deadline = std::chrono::steady_clock::now() + t;
  while (out.size() < want && std::chrono::steady_clock::now() < deadline) {
    readable_within(q.fd(), 50ms);
    for (auto& p : q.receive()) out.push_back(std::move(p));
  }
  return out;
}

std::uint16_t udp_dport(const Bytes& ip) {
  std::size_t ihl = (ip.at(0) & 0x0f) * 4u;
  return static_cast<std::uint16_t>((ip.at(ihl + 2) << 8) | ip.at(ihl + 3));
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// ---- NftContext ----

TEST(NftContext, AppliedRulesetIsListedAsJson) {
  NetnsThread ns;
  auto nft = ns.run([] { return NftContext::create(); });
  nft.run(
      "add table ip t\n"
      "add chain ip t in { type filter hook input priority 0; }\n"
      "add rule ip t in udp dport 5000 accept\n",
      "test");
  std::string json = nft.run_json("list ruleset", "test");
  EXPECT_TRUE(contains(json, R"({"table": {"family": "ip", "name": "t")")) << json;
  EXPECT_TRUE(contains(json, R"("right": 5000)")) << json;
}

TEST(NftContext, SyntaxErrorThrowsNftErrorWithNftsComplaintAndLine) {
  NetnsThread ns;
  auto nft = ns.run([] { return NftContext::create(); });
  try {
    nft.run("add table ip t\nadd tabel ip t2\n", "router 'home': setup");
    FAIL() << "no exception";
  } catch (const patchbay::NftError& e) {
    std::string msg = e.what();
    EXPECT_EQ(e.context(), "router 'home': setup");
    EXPECT_TRUE(contains(msg, "router 'home': setup: line 2:")) << msg;
    EXPECT_TRUE(contains(msg, "syntax error")) << msg;
    EXPECT_TRUE(contains(msg, "\nadd tabel ip t2\n")) << msg;
  }
}

TEST(NftContext, KernelRejectionNamesTheFailingLineAndAppliesNothing) {
  NetnsThread ns;
  auto nft = ns.run([] { return NftContext::create(); });
  try {
    nft.run("add table ip t\nadd chain ip t c\nadd rule ip t nochain accept\n", "test");
    FAIL() << "no exception";
  } catch (const patchbay::NftError& e) {
    std::string msg = e.what();
    EXPECT_TRUE(contains(msg, "line 3:")) << msg;
    EXPECT_TRUE(contains(msg, "No such file or directory")) << msg;
    EXPECT_TRUE(contains(msg, "\nadd rule ip t nochain accept\n")) << msg;
  }
  EXPECT_FALSE(contains(nft.run_text("list tables", "test"), "table ip t")) << "script was not atomic";
  nft.run("add table ip t2", "test");  // positive control: the context still works
  EXPECT_TRUE(contains(nft.run_text("list tables", "test"), "table ip t2"));
}

TEST(NftContext, StaysInItsCreatorsNamespaceWhenRunFromAnotherThread) {
  NetnsThread a;
  NetnsThread b;
  auto nft_a = a.run([] { return NftContext::create(); });
  auto nft_b = b.run([] { return NftContext::create(); });
  nft_a.run("add table ip from_main_thread", "test");  // called on the test's main thread
  EXPECT_TRUE(contains(a.run([&] { return nft_a.run_text("list tables", "test"); }), "from_main_thread"));
  EXPECT_FALSE(contains(nft_b.run_text("list tables", "test"), "from_main_thread"));
}

// ---- NfnlSocket: sets and maps ----

// A namespace with a table holding a port set and a concatenated NAT-style map.
struct SetFixture {
  NetnsThread ns;
  NftContext nft = ns.run([] { return NftContext::create(); });
  NfnlSocket nf = ns.run([] { return NfnlSocket::open("test"); });

  SetFixture() {
    nft.run(
        "add table ip t\n"
        "add set ip t ports { type inet_service; flags timeout; }\n"
        "add map ip t nat { type ipv4_addr . inet_service : ipv4_addr . inet_service; flags timeout; }\n",
        "test");
  }
};

TEST(NfnlSet, AddedPortIsFoundListedAndDeleted) {
  SetFixture f;
  Bytes key = KeyBuilder().port(4000).bytes();
  ASSERT_EQ(key, (Bytes{0x0f, 0xa0}));  // a single inet_service is 2 bytes, unpadded

  f.nf.add_element(NFPROTO_IPV4, "t", "ports", key, {});
  auto got = f.nf.get_element(NFPROTO_IPV4, "t", "ports", key);
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->empty());  // a set element has no data
  EXPECT_FALSE(f.nf.get_element(NFPROTO_IPV4, "t", "ports", KeyBuilder().port(4001).bytes()).has_value());
  EXPECT_TRUE(contains(f.nft.run_text("list set ip t ports", "test"), "elements = { 4000 }"));

  auto list = f.nf.list_elements(NFPROTO_IPV4, "t", "ports");
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].key, key);
  EXPECT_FALSE(list[0].timeout.has_value());

  f.nf.delete_element(NFPROTO_IPV4, "t", "ports", key);
  EXPECT_FALSE(f.nf.get_element(NFPROTO_IPV4, "t", "ports", key).has_value());
  EXPECT_NO_THROW(f.nf.delete_element(NFPROTO_IPV4, "t", "ports", key));  // absent is fine
}

TEST(NfnlSet, MissingSetIsAnErrorNotAnAbsentElement) {
  SetFixture f;
  Bytes key = KeyBuilder().port(1).bytes();
  try {
    f.nf.get_element(NFPROTO_IPV4, "t", "nosuchset", key);
    FAIL() << "no exception";
  } catch (const patchbay::NetlinkError& e) {
    EXPECT_EQ(e.errnum(), ENOENT);
    EXPECT_TRUE(contains(e.what(), "test: get element of ip t/nosuchset")) << e.what();
  }
  EXPECT_THROW(f.nf.delete_element(NFPROTO_IPV4, "t", "nosuchset", key), patchbay::NetlinkError);
  EXPECT_THROW(f.nf.add_element(NFPROTO_IPV4, "nosuchtable", "ports", key, {}), patchbay::NetlinkError);
  EXPECT_NO_THROW(f.nf.delete_element(NFPROTO_IPV4, "t", "ports", key));  // positive control
}

TEST(NfnlMap, ConcatenatedElementUsesNftablesLayout) {
  SetFixture f;
  Bytes key = KeyBuilder().ipv4(Ipv4Addr(10, 0, 0, 2)).port(4000).bytes();
  Bytes val = KeyBuilder().ipv4(Ipv4Addr(198, 18, 0, 1)).port(50000).bytes();
  // Each component of a concatenation sits in its own 32-bit register: port, then 2 zero bytes.
  EXPECT_EQ(key, (Bytes{10, 0, 0, 2, 0x0f, 0xa0, 0, 0}));
  EXPECT_EQ(val, (Bytes{198, 18, 0, 1, 0xc3, 0x50, 0, 0}));

  f.nf.add_element(NFPROTO_IPV4, "t", "nat", key, val);
  // nft itself reads the bytes back as the intended tuple.
  EXPECT_TRUE(contains(f.nft.run_text("list map ip t nat", "test"), "10.0.0.2 . 4000 : 198.18.0.1 . 50000"));

  auto got = f.nf.get_element(NFPROTO_IPV4, "t", "nat", key);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, val);
  KeyReader r(*got);
  EXPECT_EQ(r.ipv4(), Ipv4Addr(198, 18, 0, 1));
  EXPECT_EQ(r.port(), 50000);
  EXPECT_TRUE(r.at_end());

  auto list = f.nf.list_elements(NFPROTO_IPV4, "t", "nat");
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].key, key);
  EXPECT_EQ(list[0].data, val);
}

TEST(NfnlMap, ElementAddedByNftReadsBackThroughKeyReader) {
  SetFixture f;
  f.nft.run("add element ip t nat { 10.1.2.3 . 53 : 198.18.5.6 . 1053 }", "test");
  auto list = f.nf.list_elements(NFPROTO_IPV4, "t", "nat");
  ASSERT_EQ(list.size(), 1u);
  KeyReader k(list[0].key);
  EXPECT_EQ(k.ipv4(), Ipv4Addr(10, 1, 2, 3));
  EXPECT_EQ(k.port(), 53);
  KeyReader d(list[0].data);
  EXPECT_EQ(d.ipv4(), Ipv4Addr(198, 18, 5, 6));
  EXPECT_EQ(d.port(), 1053);
}

TEST(NfnlMap, ExistingKeyWithOtherDataIsRejectedButSameDataIsNot) {
  SetFixture f;
  Bytes key = KeyBuilder().ipv4(Ipv4Addr(10, 0, 0, 2)).port(4000).bytes();
  Bytes val = KeyBuilder().ipv4(Ipv4Addr(198, 18, 0, 1)).port(50000).bytes();
  Bytes other = KeyBuilder().ipv4(Ipv4Addr(198, 18, 0, 1)).port(50001).bytes();
  f.nf.add_element(NFPROTO_IPV4, "t", "nat", key, val);
  EXPECT_NO_THROW(f.nf.add_element(NFPROTO_IPV4, "t", "nat", key, val));
  try {
    f.nf.add_element(NFPROTO_IPV4, "t", "nat", key, other);
    FAIL() << "no exception";
  } catch (const patchbay::NetlinkError& e) {
    EXPECT_EQ(e.errnum(), EEXIST) << e.what();
  }
  EXPECT_EQ(f.nf.get_element(NFPROTO_IPV4, "t", "nat", key), val);
}

// The NAT controller's new mapping: the port's owner and the mapping in one transaction, so a
// refused mapping leaves no owner behind (and the other way round).
TEST(NfnlMap, ElementsAddedTogetherAreAllOrNothing) {
  SetFixture f;
  Bytes port = KeyBuilder().port(50000).bytes();
  Bytes key = KeyBuilder().ipv4(Ipv4Addr(10, 0, 0, 2)).port(4000).bytes();
  Bytes val = KeyBuilder().ipv4(Ipv4Addr(198, 18, 0, 1)).port(50000).bytes();
  Bytes taken = KeyBuilder().ipv4(Ipv4Addr(198, 18, 0, 1)).port(50001).bytes();
  f.nf.add_element(NFPROTO_IPV4, "t", "nat", key, taken);  // the key is mapped elsewhere already

  patchbay::sys::NftBatch b(NFPROTO_IPV4);
  b.add_element("t", "ports", port, {}, 30s);
  b.add_element("t", "nat", key, val, 30s);
  try {
    f.nf.add_elements(b, "add mapping");
    FAIL() << "no exception";
  } catch (const patchbay::NetlinkError& e) {
    EXPECT_EQ(e.errnum(), EEXIST) << e.what();
    EXPECT_TRUE(contains(e.what(), "test: add mapping: File exists")) << e.what();
  }
  EXPECT_FALSE(f.nf.get_element(NFPROTO_IPV4, "t", "ports", port).has_value());  // rolled back
  EXPECT_EQ(f.nf.get_element(NFPROTO_IPV4, "t", "nat", key), taken);

  patchbay::sys::NftBatch ok(NFPROTO_IPV4);
  ok.add_element("t", "ports", port, {}, 30s);
  ok.add_element("t", "nat", KeyBuilder().ipv4(Ipv4Addr(10, 0, 0, 3)).port(4000).bytes(), val, 30s);
  f.nf.add_elements(ok, "add mapping");
  EXPECT_TRUE(f.nf.get_element(NFPROTO_IPV4, "t", "ports", port).has_value());
  EXPECT_EQ(
      f.nf.get_element(NFPROTO_IPV4, "t", "nat", KeyBuilder().ipv4(Ipv4Addr(10, 0, 0, 3)).port(4000).bytes()),
      val);
}

TEST(NfnlMap, ElementWithTimeoutIsGoneAfterItExpires) {
  SetFixture f;
  Bytes brief = KeyBuilder().ipv4(Ipv4Addr(10, 0, 0, 2)).port(1).bytes();
  Bytes lasting = KeyBuilder().ipv4(Ipv4Addr(10, 0, 0, 2)).port(2).bytes();
  Bytes val = KeyBuilder().ipv4(Ipv4Addr(198, 18, 0, 1)).port(3).bytes();
  f.nf.add_element(NFPROTO_IPV4, "t", "nat", brief, val, 200ms);
  f.nf.add_element(NFPROTO_IPV4, "t", "nat", lasting, val, 60s);

  auto list = f.nf.list_elements(NFPROTO_IPV4, "t", "nat");
  ASSERT_EQ(list.size(), 2u);
  for (const auto& e : list) {
    ASSERT_TRUE(e.timeout.has_value());
    ASSERT_TRUE(e.expires.has_value());
    EXPECT_LE(*e.expires, *e.timeout);
    if (e.key == brief) {
      EXPECT_NEAR(e.timeout->count(), 200, 10);
    } else {
      EXPECT_NEAR(e.timeout->count(), 60000, 10);
      EXPECT_GT(e.expires->count(), 59000);
    }
  }
  EXPECT_TRUE(f.nf.get_element(NFPROTO_IPV4, "t", "nat", brief).has_value());

  std::this_thread::sleep_for(400ms);
  EXPECT_FALSE(f.nf.get_element(NFPROTO_IPV4, "t", "nat", brief).has_value());
  EXPECT_TRUE(f.nf.get_element(NFPROTO_IPV4, "t", "nat", lasting).has_value());  // positive control
  list = f.nf.list_elements(NFPROTO_IPV4, "t", "nat");
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].key, lasting);
}

TEST(NfnlSet, FlushRemovesEveryElement) {
  SetFixture f;
  for (std::uint16_t p = 1000; p < 1010; ++p)
    f.nf.add_element(NFPROTO_IPV4, "t", "ports", KeyBuilder().port(p).bytes(), {});
  EXPECT_EQ(f.nf.list_elements(NFPROTO_IPV4, "t", "ports").size(), 10u);
  f.nf.flush_set(NFPROTO_IPV4, "t", "ports");
  EXPECT_TRUE(f.nf.list_elements(NFPROTO_IPV4, "t", "ports").empty());
}

// ---- NfnlSocket: queue rule ----

constexpr const char* kQueueRuleset =
    "add table ip q\n"
    "add chain ip q out { type filter hook output priority 0; }\n"
    "add chain ip q to_queue\n"
    "add rule ip q out udp dport 9999 jump to_queue\n";

TEST(NfnlRule, QueueRuleIsListedAsNftQueue) {
  NetnsThread ns;
  auto nft = ns.run([] { return NftContext::create(); });
  auto nf = ns.run([] { return NfnlSocket::open("test"); });
  nft.run(kQueueRuleset, "test");
  nf.add_queue_rule(NFPROTO_IPV4, "q", "to_queue", 3, true);
  nf.add_queue_rule(NFPROTO_IPV4, "q", "to_queue", 7, false);
  // Text rendering of xt targets probes the kernel from the calling thread's namespace (see
  // nft.hpp), so list from inside the lab namespace.
  std::string text = ns.run([&] { return nft.run_text("list chain ip q to_queue", "test"); });
  EXPECT_TRUE(contains(text, "queue num 3 bypass\n")) << text;
  EXPECT_TRUE(contains(text, "queue num 7\n")) << text;
  std::string json = nft.run_json("list chain ip q to_queue", "test");
  EXPECT_TRUE(contains(json, R"({"xt": {"type": "target", "name": "NFQUEUE"}})")) << json;
}

TEST(NfnlRule, QueueRuleInMissingChainThrowsWithKernelReason) {
  NetnsThread ns;
  auto nf = ns.run([] { return NfnlSocket::open("router 'r'"); });
  try {
    nf.add_queue_rule(NFPROTO_IPV4, "nosuchtable", "c", 3, true);
    FAIL() << "no exception";
  } catch (const patchbay::NetlinkError& e) {
    EXPECT_EQ(e.errnum(), ENOENT);
    EXPECT_TRUE(contains(e.what(), "router 'r': add NFQUEUE 3 rule to ip nosuchtable/c")) << e.what();
  }
}

// ---- NfQueue ----

// A namespace where UDP to 127.0.0.1:9999 goes through queue 3 (no bypass: unbound means drop).
struct QueueFixture {
  NetnsThread ns;
  NfQueue queue;
  UniqueFd rx, tx;

  QueueFixture() {
    ns.run([&] {
      NftContext::create().run(kQueueRuleset, "test");
      NfnlSocket::open("test").add_queue_rule(NFPROTO_IPV4, "q", "to_queue", 3, false);
      queue = NfQueue::open(3, 0xffff);
      rx = udp_socket("127.0.0.1:9999");
      tx = udp_socket();
    });
  }
};

TEST(NfQueue, AcceptedDatagramIsDelivered) {
  QueueFixture f;
  send_to(f.tx.get(), "127.0.0.1:9999", "hello");
  auto pkts = receive_packets(f.queue, 1, 2s);
  ASSERT_EQ(pkts.size(), 1u);
  const auto& p = pkts[0];
  EXPECT_EQ(p.hw_protocol, ETH_P_IP);
  EXPECT_EQ(p.hook, NF_INET_LOCAL_OUT);
  ASSERT_GE(p.payload.size(), 28u);
  EXPECT_EQ(p.payload[0] >> 4, 4);  // IPv4
  EXPECT_EQ(p.payload[9], 17);      // UDP
  EXPECT_EQ(udp_dport(p.payload), 9999);
  EXPECT_EQ(std::string(p.payload.end() - 5, p.payload.end()), "hello");
  EXPECT_EQ(recv_within(f.rx.get(), 100ms), "");  // held until the verdict

  f.queue.verdict(p.id, NF_ACCEPT);
  EXPECT_EQ(recv_within(f.rx.get(), 2s), "hello");
}

TEST(NfQueue, DroppedDatagramIsNotDelivered) {
  QueueFixture f;
  send_to(f.tx.get(), "127.0.0.1:9999", "drop me");
  send_to(f.tx.get(), "127.0.0.1:9999", "keep me");
  auto pkts = receive_packets(f.queue, 2, 2s);
  ASSERT_EQ(pkts.size(), 2u);
  std::vector<NfQueue::Verdict> vs{{pkts[0].id, NF_DROP}, {pkts[1].id, NF_ACCEPT}};
  f.queue.verdicts(vs);
  EXPECT_EQ(recv_within(f.rx.get(), 2s), "keep me");  // positive control
  EXPECT_EQ(recv_within(f.rx.get(), 300ms), "");
}

TEST(NfQueue, SecondBindOfTheSameQueueFails) {
  QueueFixture f;
  try {
    f.ns.run([] { return NfQueue::open(3, 128); });
    FAIL() << "no exception";
  } catch (const patchbay::NetlinkError& e) {
    // nfnetlink_queue reports a queue held by another socket as EPERM.
    EXPECT_EQ(e.errnum(), EPERM) << e.what();
    EXPECT_TRUE(contains(e.what(), "nfqueue 3: bind: ")) << e.what();
  }
  EXPECT_NO_THROW(f.ns.run([] { return NfQueue::open(4, 128); }));  // positive control
}

// ---- conntrack ----

TEST(NfnlConntrack, FlushRemovesIpv4AndIpv6Entries) {
  NetnsThread ns;
  auto nf = ns.run([] { return NfnlSocket::open("test"); });
  ns.run([] {
    // Conntrack tracks a namespace only once a rule needs it.
    NftContext::create().run(
        "add table inet track\n"
        "add chain inet track out { type filter hook output priority 0; }\n"
        "add rule inet track out ct state new counter\n",
        "test");
    auto rx4 = udp_socket("127.0.0.1:7000");
    auto rx6 = udp_socket("[::1]:7000");
    auto tx4 = udp_socket();
    UniqueFd tx6(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    send_to(tx4.get(), "127.0.0.1:7000", "x");
    send_to(tx6.get(), "[::1]:7000", "x");
    EXPECT_EQ(recv_within(rx4.get(), 1s), "x");
    EXPECT_EQ(recv_within(rx6.get(), 1s), "x");
  });
  EXPECT_EQ(nf.conntrack_count(), 2u);
  nf.flush_conntrack();
  EXPECT_EQ(nf.conntrack_count(), 0u);
}

}  // namespace
