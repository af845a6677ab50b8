#include "nat/controller.hpp"

#include <linux/netfilter.h>
#include <netinet/in.h>
#include <sys/epoll.h>

#include <cstring>
#include <iostream>

#include "nat/rules.hpp"
#include "sys/nft_batch.hpp"
#include "sys/seed.hpp"

namespace patchbay::nat {

namespace {

constexpr std::uint64_t kPortPurpose = 0x4e41545f504f5254ULL;  // "NAT_PORT"
constexpr std::string_view kNatTarget = "patchbay::nat";

std::string endpoint(const Ipv4Addr& ip, std::uint16_t port) {
  return ip.to_string() + ":" + std::to_string(port);
}

struct Tuple {
  std::uint8_t proto = 0;  // IPPROTO_UDP / IPPROTO_TCP
  Ipv4Addr src, dst;
  std::uint16_t sport = 0, dport = 0;
};

std::uint16_t rd16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

// Packets are queued in prerouting before DNAT, so their headers are the original tuple (the
// conntrack tuple is used when a kernel with netlink glue attaches it).
std::optional<Tuple> tuple_of(const sys::NfQueue::Packet& p) {
  if (p.orig) {
    Tuple t;
    t.proto = p.orig->proto;
    t.src = p.orig->src;
    t.dst = p.orig->dst;
    t.sport = p.orig->sport;
    t.dport = p.orig->dport;
    return t;
  }
  const auto& b = p.payload;
  if (b.size() < 20 || (b[0] >> 4) != 4) return std::nullopt;
  std::size_t ihl = static_cast<std::size_t>(b[0] & 0x0f) * 4;
  if (b.size() < ihl + 4) return std::nullopt;
  Tuple t;
  t.proto = b[9];
  t.src = Ipv4Addr(b[12], b[13], b[14], b[15]);
  t.dst = Ipv4Addr(b[16], b[17], b[18], b[19]);
  t.sport = rd16(&b[ihl]);
  t.dport = rd16(&b[ihl + 2]);
  return t;
}

}  // namespace

struct Controller::Router {
  NodeId id;
  sys::NfQueue queue;
  sys::NfnlSocket nfnl;
  NatConfig cfg;
  Ipv4Addr wan;
  std::uint64_t rng;
  ControllerStats stats;
  std::shared_ptr<log::detail::NodeSink> log;

  std::uint64_t next_random() {
    rng += 0x9E3779B97F4A7C15ULL;
    return sys::splitmix64(rng);
  }
};

Controller::Controller(detail::EventLoop& loop, std::uint64_t lab_seed, ErrorReporter report)
    : loop_(loop), seed_(lab_seed), report_(std::move(report)) {}

Controller::~Controller() {
  std::vector<std::uint64_t> ids;
  {
    std::lock_guard lk(mu_);
    for (auto& [id, r] : routers_) ids.push_back(id);
  }
  for (auto id : ids) detach(NodeId{id});
}

void Controller::attach(NodeId router, sys::NfQueue queue, sys::NfnlSocket nfnl, const NatConfig& cfg,
                        Ipv4Addr wan, std::shared_ptr<log::detail::NodeSink> log) {
  auto r = std::make_unique<Router>(Router{router,
                                           std::move(queue),
                                           std::move(nfnl),
                                           cfg,
                                           wan,
                                           sys::seed3(seed_, router.value, kPortPurpose),
                                           {},
                                           std::move(log)});
  Router* raw = r.get();
  int fd = raw->queue.fd();
  {
    std::lock_guard lk(mu_);
    routers_[router.value] = std::move(r);
  }
  loop_.watch(fd, EPOLLIN, [this, raw](std::uint32_t) { on_readable(*raw); });
}

void Controller::reconfigure(NodeId router, const NatConfig& cfg, Ipv4Addr wan) {
  loop_.call([&] {
    std::lock_guard lk(mu_);
    auto it = routers_.find(router.value);
    if (it == routers_.end()) return;
    it->second->cfg = cfg;
    it->second->wan = wan;
  });
}

void Controller::detach(NodeId router) {
  std::unique_ptr<Router> r;
  {
    std::lock_guard lk(mu_);
    auto it = routers_.find(router.value);
    if (it == routers_.end()) return;
    r = std::move(it->second);
    routers_.erase(it);
  }
  loop_.unwatch(r->queue.fd());
}

ControllerStats Controller::stats(NodeId router) const {
  ControllerStats s;
  loop_.call([&] {
    std::lock_guard lk(mu_);
    auto it = routers_.find(router.value);
    if (it != routers_.end()) s = it->second->stats;
  });
  return s;
}

void Controller::on_readable(Router& r) {
  for (const auto& p : r.queue.receive()) {
    try {
      handle(r, p);
    } catch (const std::exception& e) {
      // Never leave a packet held, and never let it through unmapped: the kernel would masquerade
      // it with a mapping behaviour other than the configured one. Dropped, counted, reported.
      ++r.stats.failed;
      if (report_) {
        report_(r.id, e.what());
      } else {
        std::cerr << "patchbay: NAT controller (router " << r.id.value << "): " << e.what() << "\n";
      }
      try {
        r.queue.verdict(p.id, NF_DROP);
      } catch (...) {
        // The queue itself is broken; the next receive() throws and the event loop reports that.
      }
    }
  }
}

void Controller::handle(Router& r, const sys::NfQueue::Packet& p) {
  auto t = tuple_of(p);
  if (!t || (t->proto != IPPROTO_UDP && t->proto != IPPROTO_TCP)) {
    r.queue.verdict(p.id, NF_ACCEPT);
    return;
  }
  const std::string proto = t->proto == IPPROTO_UDP ? "udp" : "tcp";
  const std::string map = "map_" + proto, own = "own_" + proto;
  const auto& c = r.cfg;

  sys::KeyBuilder kb;
  kb.ipv4(t->src).port(t->sport);
  if (c.mapping != NatMapping::EndpointIndependent) kb.ipv4(t->dst);
  if (c.mapping == NatMapping::AddressAndPortDependent) kb.port(t->dport);
  const auto key = kb.bytes();
  // Another queued packet of the same endpoint may have created the mapping already.
  if (r.nfnl.get_element(AF_INET, kNatTable, map, key)) {
    r.queue.verdict(p.id, NF_ACCEPT);
    return;
  }

  auto owned = [&](std::uint16_t port) {
    return r.nfnl.get_element(AF_INET, kNatTable, own, sys::KeyBuilder().port(port).bytes()).has_value();
  };
  std::optional<std::uint16_t> eport;
  // Port preservation: the internal port, unless some endpoint (this one included, for a second
  // address-dependent mapping) already owns it.
  if (c.port_preservation && t->sport != 0 && !owned(t->sport)) {
    eport = t->sport;
    ++r.stats.preserved;
  }
  if (!eport) {
    const std::uint32_t lo = c.port_range.lo, span = static_cast<std::uint32_t>(c.port_range.hi) - lo + 1;
    for (int attempt = 0; attempt < 64 && !eport; ++attempt) {
      auto cand = static_cast<std::uint16_t>(lo + r.next_random() % span);
      if (!owned(cand)) eport = cand;
    }
    // A crowded range: walk it from a random point so the search ends.
    for (std::uint32_t i = 0, start = static_cast<std::uint32_t>(r.next_random() % span); i < span && !eport;
         ++i) {
      auto cand = static_cast<std::uint16_t>(lo + (start + i) % span);
      if (!owned(cand)) eport = cand;
    }
  }
  if (!eport) {
    ++r.stats.exhausted;
    if (log::detail::wants(r.log.get(), log::Level::Warn, kNatTarget))
      log::detail::write(r.log.get(), log::Level::Warn, kNatTarget, "no free external port, packet dropped",
                         {{"proto", proto}, {"internal", endpoint(t->src, t->sport)}});
    r.queue.verdict(p.id, NF_DROP);
    return;
  }
  const auto timeout = std::chrono::milliseconds(
      1000ull * (t->proto == IPPROTO_UDP ? c.timeouts.udp : c.timeouts.tcp_transitory));
  // The port's owner and the mapping in one transaction: never one without the other, and one
  // round trip instead of two (bench/run.sh nat-build: mapping_one_transaction_us).
  sys::NftBatch b(NFPROTO_IPV4);
  b.add_element(kNatTable, own, sys::KeyBuilder().port(*eport).bytes(),
                sys::KeyBuilder().ipv4(t->src).port(t->sport).bytes(), timeout);
  b.add_element(kNatTable, map, key, sys::KeyBuilder().ipv4(r.wan).port(*eport).bytes(), timeout);
  r.nfnl.add_elements(b, [&] {
    return "add " + proto + " mapping " + endpoint(t->src, t->sport) + " -> port " + std::to_string(*eport);
  });
  ++r.stats.mappings;
  r.queue.verdict(p.id, NF_ACCEPT);
  // After the verdict: the packet is not held while the record is written.
  if (log::detail::wants(r.log.get(), log::Level::Debug, kNatTarget))
    log::detail::write(r.log.get(), log::Level::Debug, kNatTarget, "new mapping",
                       {{"proto", proto},
                        {"internal", endpoint(t->src, t->sport)},
                        {"external", endpoint(r.wan, *eport)},
                        {"remote", endpoint(t->dst, t->dport)},
                        {"preserved", *eport == t->sport && c.port_preservation}});
}

}  // namespace patchbay::nat
