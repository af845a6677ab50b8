// nat-build benchmark: builds N NAT routers with a firewall (RouterPreset::Home) and measures one
// set_nat_mode at runtime. Baselines in the same run: N plain routers (what NAT adds per router),
// applying the same NAT + firewall rule set as text through in-process libnftables and as
// libnftnl messages (what the build path uses), and through one `nft -f` process.
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <libmnl/libmnl.h>
#include <libnftnl/set.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "emit.hpp"
#include "nat/rules.hpp"
#include "nat/rules_netlink.hpp"
#include "patchbay/patchbay.hpp"
#include "sys/nfnl.hpp"
#include "sys/nft.hpp"
#include "sys/nft_batch.hpp"

using namespace patchbay;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

void emit(const std::string& metric, double value, const char* unit) {
  bench::emit("nat-build", metric, value, unit);
}

double build_routers(int n, bool nat) {
  Lab lab;
  auto t = Clock::now();
  for (int i = 0; i < n; ++i) {
    auto b = lab.add_router("r" + std::to_string(i));
    if (nat) b.preset(RouterPreset::Home);
    b.build();
  }
  return ms_since(t);
}

// The router build's rule set (queue table, NAT, firewall) applied `n` times to fresh namespaces,
// once as text through libnftables and once as libnftnl messages; milliseconds per application.
// Each namespace is made on a thread of its own (unshare needs no lab), outside the timing.
std::pair<double, double> text_vs_messages(int n) {
  double text_ms = 0, msg_ms = 0;
  const auto cfg = *Nat::home().to_config();
  const nat::NatParams np{"ix", "br-lan", Ipv4Addr(198, 18, 0, 2), cfg};
  const nat::FirewallParams fp{"ix", Firewall::block_inbound().to_config()};
  for (int i = 0; i < n; ++i) {
    std::thread([&] {
      if (::unshare(CLONE_NEWNET) != 0) throw std::runtime_error("unshare");
      auto nft = sys::NftContext::create();
      auto t = Clock::now();
      nft.run(nat::nat_queue_table() + nat::nat_ruleset(np, false) + nat::firewall_ruleset(fp, false),
              "bench");
      text_ms += ms_since(t);
    }).join();
    std::thread([&] {
      if (::unshare(CLONE_NEWNET) != 0) throw std::runtime_error("unshare");
      auto nl = sys::NfnlSocket::open("bench");
      auto t = Clock::now();
      sys::NftBatch ip(NFPROTO_IPV4), inet(NFPROTO_INET);
      nat::add_nat_queue_table(ip);
      nat::add_nat_ruleset(ip, np, false);
      nat::add_firewall_ruleset(inet, fp, false);
      nl.apply({&ip, &inet}, "bench");
      msg_ms += ms_since(t);
    }).join();
  }
  return {text_ms / n, msg_ms / n};
}

// A NAT mapping's set elements (the NAT controller's per-connection work): the map entry
// One listed element as nat_mappings reads it: key, data and the time it has left.
struct Listed {
  std::vector<std::uint8_t> key, data;
  std::uint64_t expires_ms = 0;
};

// The dump of set "m" of table "t" through libmnl + libnftnl, parsed into `out`.
void list_with_libnftnl(mnl_socket* nl, std::uint32_t& seq, std::vector<Listed>& out) {
  std::vector<char> buf(1 << 16);
  nftnl_set* req = nftnl_set_alloc();
  nftnl_set_set_str(req, NFTNL_SET_TABLE, "t");
  nftnl_set_set_str(req, NFTNL_SET_NAME, "m");
  nlmsghdr* h =
      nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_GETSETELEM, NFPROTO_IPV4, NLM_F_DUMP | NLM_F_ACK, ++seq);
  nftnl_set_elems_nlmsg_build_payload(h, req);
  nftnl_set_free(req);
  if (mnl_socket_sendto(nl, h, h->nlmsg_len) < 0) throw std::runtime_error("mnl_socket_sendto");
  auto cb = [](const nlmsghdr* m, void* data) -> int {
    auto& v = *static_cast<std::vector<Listed>*>(data);
    nftnl_set* set = nftnl_set_alloc();
    if (nftnl_set_elems_nlmsg_parse(m, set) < 0) {
      nftnl_set_free(set);
      return MNL_CB_ERROR;
    }
    nftnl_set_elems_iter* it = nftnl_set_elems_iter_create(set);
    for (nftnl_set_elem* e = nftnl_set_elems_iter_next(it); e != nullptr; e = nftnl_set_elems_iter_next(it)) {
      Listed l;
      std::uint32_t len = 0;
      auto* k = static_cast<const std::uint8_t*>(nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len));
      if (k != nullptr) l.key.assign(k, k + len);
      auto* d = static_cast<const std::uint8_t*>(nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &len));
      if (d != nullptr) l.data.assign(d, d + len);
      if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_EXPIRATION))
        l.expires_ms = nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_EXPIRATION);
      v.push_back(std::move(l));
    }
    nftnl_set_elems_iter_destroy(it);
    nftnl_set_free(set);
    return MNL_CB_OK;
  };
  const unsigned portid = mnl_socket_get_portid(nl);
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
    if (n < 0) throw std::runtime_error("mnl_socket_recvfrom");
    int r = mnl_cb_run(buf.data(), static_cast<std::size_t>(n), seq, portid, cb, &out);
    if (r < 0) throw std::runtime_error("mnl_cb_run");
    if (r == MNL_CB_STOP) return;
  }
}

// Listing a set of n elements (what nat_mappings does): our dump and parser (NfnlSocket) against
// libmnl + libnftnl, whole round trips, alternating, several rounds each.
void list_elements(sys::NfnlSocket& ours, int n) {
  mnl_socket* nl = mnl_socket_open(NETLINK_NETFILTER);
  if (nl == nullptr || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) throw std::runtime_error("mnl socket");
  std::uint32_t seq = 0;
  double t_ours = 0, t_lib = 0;
  std::size_t got_ours = 0, got_lib = 0;
  const int rounds = 10;
  for (int r = 0; r < rounds; ++r) {
    auto t = Clock::now();
    got_ours = ours.list_elements(NFPROTO_IPV4, "t", "m").size();
    t_ours += std::chrono::duration<double, std::micro>(Clock::now() - t).count();
    std::vector<Listed> v;
    t = Clock::now();
    list_with_libnftnl(nl, seq, v);
    t_lib += std::chrono::duration<double, std::micro>(Clock::now() - t).count();
    got_lib = v.size();
  }
  mnl_socket_close(nl);
  if (got_ours != static_cast<std::size_t>(n) || got_lib != got_ours)
    throw std::runtime_error("element listing: " + std::to_string(got_ours) + " ours, " +
                             std::to_string(got_lib) + " libnftnl, " + std::to_string(n) + " expected");
  emit("element_list_hand_ns_per_element", t_ours * 1000 / rounds / n, "ns");
  emit("element_list_libnftnl_ns_per_element", t_lib * 1000 / rounds / n, "ns");
}

// ipv4 . port -> ipv4 . port with a timeout, added `n` times in a fresh namespace. Userspace
// message building, hand-written (NfMsgBuffer, as nfnl.cpp did it) against libnftnl (NftBatch);
// then whole round trips: one element per transaction through NfnlSocket::add_element, and the
// controller's two elements (own port + mapping) in one transaction against two.
void elements(int n) {
  using namespace std::chrono_literals;
  auto key = [](int i) {
    return sys::KeyBuilder()
        .ipv4(Ipv4Addr(10, 0, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)))
        .port(static_cast<std::uint16_t>(1024 + i % 60000))
        .bytes();
  };
  const auto data = sys::KeyBuilder().ipv4(Ipv4Addr(198, 18, 0, 2)).port(40000).bytes();
  auto ns_per = [&](Clock::time_point t) {
    return std::chrono::duration<double, std::nano>(Clock::now() - t).count() / n;
  };
  std::vector<std::vector<std::uint8_t>> keys;
  for (int i = 0; i < n; ++i) keys.push_back(key(i));
  {
    std::size_t sink = 0;
    auto t = Clock::now();
    for (int i = 0; i < n; ++i) {
      sys::NfMsgBuffer b;
      b.begin(static_cast<std::uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM),
              NLM_F_CREATE | NLM_F_ACK, NFPROTO_IPV4);
      b.put_str(NFTA_SET_ELEM_LIST_TABLE, "t");
      b.put_str(NFTA_SET_ELEM_LIST_SET, "m");
      auto list = b.nest_begin(NFTA_SET_ELEM_LIST_ELEMENTS);
      auto elem = b.nest_begin(NFTA_LIST_ELEM);
      for (auto [type, bytes] : {std::pair{NFTA_SET_ELEM_KEY, std::span<const std::uint8_t>(keys[i])},
                                 std::pair{NFTA_SET_ELEM_DATA, std::span<const std::uint8_t>(data)}}) {
        auto nest = b.nest_begin(static_cast<std::uint16_t>(type));
        b.put(NFTA_DATA_VALUE, bytes.data(), bytes.size());
        b.nest_end(nest);
      }
      b.put_be64(NFTA_SET_ELEM_TIMEOUT, 30000);
      b.nest_end(elem);
      b.nest_end(list);
      sink += b.data().size();
    }
    emit("element_build_hand_ns", ns_per(t), "ns");
    t = Clock::now();
    for (int i = 0; i < n; ++i) {
      sys::NftBatch b(NFPROTO_IPV4);
      b.add_element("t", "m", keys[i], data, 30s);
      sink += b.messages().data().size();
    }
    emit("element_build_libnftnl_ns", ns_per(t), "ns");
    if (sink == 0) std::puts("");
  }
  std::thread([&] {
    if (::unshare(CLONE_NEWNET) != 0) throw std::runtime_error("unshare");
    auto nl = sys::NfnlSocket::open("bench");
    auto fresh = [&] {
      sys::NftBatch b(NFPROTO_IPV4);
      b.delete_table("t");
      try {
        nl.apply({&b}, "bench: drop table");
      } catch (const Error&) {
      }
      sys::NftBatch c(NFPROTO_IPV4);
      c.add_table("t");
      using sys::NftType;
      c.add_set("t", sys::NftSetSpec{"m",
                                     {NftType::Ipv4Addr, NftType::InetService},
                                     {NftType::Ipv4Addr, NftType::InetService},
                                     false,
                                     30s});
      c.add_set("t", sys::NftSetSpec{
                         "o", {NftType::InetService}, {NftType::Ipv4Addr, NftType::InetService}, false, 30s});
      nl.apply({&c}, "bench: table");
    };
    fresh();
    auto t = Clock::now();
    for (int i = 0; i < n; ++i) nl.add_element(NFPROTO_IPV4, "t", "m", keys[i], data, 30s);
    emit("element_add_us", ns_per(t) / 1000, "us");
    fresh();
    t = Clock::now();
    for (int i = 0; i < n; ++i) {
      auto own = sys::KeyBuilder().port(static_cast<std::uint16_t>(1024 + i % 60000)).bytes();
      nl.add_element(NFPROTO_IPV4, "t", "o", own, data, 30s);
      nl.add_element(NFPROTO_IPV4, "t", "m", keys[i], data, 30s);
    }
    emit("mapping_two_transactions_us", ns_per(t) / 1000, "us");
    fresh();
    t = Clock::now();
    for (int i = 0; i < n; ++i) {
      auto own = sys::KeyBuilder().port(static_cast<std::uint16_t>(1024 + i % 60000)).bytes();
      sys::NftBatch b(NFPROTO_IPV4);
      b.add_element("t", "o", own, data, 30s);
      b.add_element("t", "m", keys[i], data, 30s);
      nl.apply({&b}, "bench: mapping");
    }
    emit("mapping_one_transaction_us", ns_per(t) / 1000, "us");
    list_elements(nl, n);
  }).join();
}

}  // namespace

int main(int argc, char** argv) {
  int routers = 50;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--routers" && i + 1 < argc) {
      routers = std::atoi(argv[++i]);
    } else {
      std::cerr << "usage: nat_build [--routers N]\n";
      return 2;
    }
  }
  if (routers < 1) {
    std::cerr << "nat_build: --routers must be >= 1\n";
    return 2;
  }
  bool root = ::geteuid() == 0;
  init_userns();

  // The kernel destroys a lab's namespaces asynchronously after the lab is gone; that work holds
  // the rtnl lock and would be billed to whatever runs next, so let it finish between phases.
  auto settle = [] { std::this_thread::sleep_for(std::chrono::seconds(3)); };
  build_routers(2, true);  // warm-up: first-use costs (libnftables caches, threads)
  settle();
  double plain = build_routers(routers, false);
  settle();
  double nat = build_routers(routers, true);
  settle();
  emit("routers", routers, "count");
  emit("build_s", nat / 1000.0, "s");
  emit("per_router_ms", nat / routers, "ms");
  emit("plain_per_router_ms", plain / routers, "ms");
  emit("nat_overhead_per_router_ms", (nat - plain) / routers, "ms");

  elements(2000);
  {
    auto [text, msgs] = text_vs_messages(20);
    emit("ruleset_libnftables_ms", text, "ms");
    emit("ruleset_libnftnl_ms", msgs, "ms");
    emit("ruleset_ratio", text / msgs, "x");
  }

  // One runtime change, averaged over a few flips.
  {
    Lab lab;
    auto r = lab.add_router("r").preset(RouterPreset::Home).build();
    const int flips = 20;
    auto t = Clock::now();
    for (int i = 0; i < flips; ++i) r.set_nat_mode(i % 2 ? Nat::home() : Nat::corporate());
    emit("set_nat_ms", ms_since(t) / flips, "ms");

    if (root) {
      // Baseline: the same rule set through an `nft -f` process inside the router.
      auto rules = nat::nat_ruleset(
          nat::NatParams{"ix", "br-lan", *r.uplink_ip(), *Nat::corporate().to_config()}, true);
      std::string path = "/tmp/patchbay-bench-nat-" + std::to_string(::getpid()) + ".nft";
      std::ofstream(path) << rules;
      auto t2 = Clock::now();
      bool ok = true;
      for (int i = 0; i < flips; ++i) ok = ok && r.output(Command("nft").args({"-f", path})).status.success();
      double per = ms_since(t2) / flips;
      std::remove(path.c_str());
      if (ok) {
        emit("baseline_nft_process_ms", per, "ms");
      } else {
        std::cerr << "nat-build: the nft baseline failed (is the nftables package installed?)\n";
      }
    }
  }
  return 0;
}
