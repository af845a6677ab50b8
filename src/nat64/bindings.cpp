#include "nat64/bindings.hpp"

#include <algorithm>

namespace patchbay::nat64 {

namespace {

constexpr std::int64_t kNsPerSec = 1'000'000'000;
// A binding talking to very many remotes keeps only the most recent ones as permitted peers, so a
// scanning client cannot grow one binding without bound.
constexpr std::size_t kMaxRemotes = 256;

std::uint64_t remote_key(Remote r) {
  return std::uint64_t{r.addr.to_u32()} << 16 | r.port;
}

}  // namespace

BindingTable::BindingTable(const Config& cfg, std::uint64_t seed) : cfg_(cfg), rng_(seed) {}

// SplitMix64 (Steele, Lea, Flood): the same finaliser as core::splitmix64 over a Weyl sequence. The
// lab derives `seed` with core::seed3(lab seed, router id, purpose) (SPEC 7.6); this folder may not
// include core, hence the local copy of five lines.
std::uint64_t BindingTable::next_random() {
  std::uint64_t z = (rng_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::int64_t BindingTable::timeout_ns(const Binding& b) const {
  const Timeouts& t = cfg_.timeouts;
  switch (b.proto) {
    case Proto::Udp:
      return t.udp_s * kNsPerSec;
    case Proto::Icmp:
      return t.icmp_s * kNsPerSec;
    case Proto::Tcp:
      break;
  }
  const bool established = b.syn_v6 && b.syn_v4 && !b.closing;
  return (established ? t.tcp_established_s : t.tcp_transitory_s) * kNsPerSec;
}

std::optional<std::uint16_t> BindingTable::pick_port(const Table& t) {
  const std::uint32_t lo = std::min(cfg_.port_lo, cfg_.port_hi);
  const std::uint32_t n = std::max(cfg_.port_lo, cfg_.port_hi) - lo + 1;
  if (t.by_v4.size() >= n) return std::nullopt;
  // Random start, then the next free port: O(1) draws per flow and never a collision. The draw is
  // consumed even when the start is taken, so the sequence depends only on the seed and the flows.
  const std::uint32_t start = static_cast<std::uint32_t>(next_random() % n);
  for (std::uint32_t i = 0; i < n; ++i) {
    const auto port = static_cast<std::uint16_t>(lo + (start + i) % n);
    if (!t.by_v4.contains(port)) return port;
  }
  return std::nullopt;
}

void BindingTable::erase(Table& t, std::uint16_t v4_port) {
  auto it = t.by_v4.find(v4_port);
  if (it == t.by_v4.end()) return;
  t.by_v6.erase(Key6{it->second.v6, it->second.v6_port});
  t.by_v4.erase(it);
  ++expired_;
}

Binding* BindingTable::outbound(Proto p, const Ipv6Addr& v6, std::uint16_t port, Remote to,
                                std::int64_t now) {
  Binding* b = find_v6(p, v6, port, now);
  if (b == nullptr) {
    Table& t = tables_[index(p)];
    if (t.by_v4.size() >= cfg_.max_bindings) expire(now);  // only pay for the sweep when full
    if (t.by_v4.size() >= cfg_.max_bindings) return nullptr;
    auto v4_port = pick_port(t);
    if (!v4_port) return nullptr;
    b = &t.by_v4[*v4_port];
    b->proto = p;
    b->v6 = v6;
    b->v6_port = port;
    b->v4_port = *v4_port;
    t.by_v6.emplace(Key6{v6, port}, *v4_port);
    ++created_;
  }
  b->last_used = now;
  auto& rs = b->remotes;
  rs[remote_key(to)] = now;
  if (rs.size() > kMaxRemotes) {
    auto oldest = std::min_element(rs.begin(), rs.end(),
                                   [](const auto& x, const auto& y) { return x.second < y.second; });
    rs.erase(oldest);
  }
  return b;
}

Binding* BindingTable::find_v4(Proto p, std::uint16_t v4_port, std::int64_t now) {
  Table& t = tables_[index(p)];
  auto it = t.by_v4.find(v4_port);
  if (it == t.by_v4.end()) return nullptr;
  if (idle(it->second, now)) {
    erase(t, v4_port);
    return nullptr;
  }
  return &it->second;
}

Binding* BindingTable::find_v6(Proto p, const Ipv6Addr& v6, std::uint16_t port, std::int64_t now) {
  Table& t = tables_[index(p)];
  auto it = t.by_v6.find(Key6{v6, port});
  if (it == t.by_v6.end()) return nullptr;
  return find_v4(p, it->second, now);
}

bool BindingTable::permits(const Binding& b, Remote from) const {
  return b.remotes.contains(remote_key(from));
}

void BindingTable::track_tcp(Binding& b, bool from_v6, std::uint8_t flags) {
  constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04;
  if (flags & (kFin | kRst)) {
    b.closing = true;
    return;
  }
  if (flags & kSyn) {
    if (b.closing) b.syn_v6 = b.syn_v4 = b.closing = false;  // a new connection on the same tuple
    (from_v6 ? b.syn_v6 : b.syn_v4) = true;
  }
}

void BindingTable::expire(std::int64_t now) {
  for (Table& t : tables_) {
    for (auto it = t.by_v4.begin(); it != t.by_v4.end();) {
      if (idle(it->second, now)) {
        t.by_v6.erase(Key6{it->second.v6, it->second.v6_port});
        it = t.by_v4.erase(it);
        ++expired_;
      } else {
        ++it;
      }
    }
  }
}

}  // namespace patchbay::nat64
