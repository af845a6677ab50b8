// The stateful half of NAT64 (RFC 6146): bindings from a v6 transport endpoint to a port (or ICMP
// identifier) on the pool address, with endpoint-independent mapping and address-and-port-dependent
// filtering, idle timeouts per protocol and a bounded table.
//
//   BindingTable t(cfg, seed);
//   Binding* b = t.outbound(Proto::Udp, client, 5000, {server, 53}, now);  // nullptr: table full
//   Binding* r = t.find_v4(Proto::Udp, b->v4_port, now);                   // the same binding
//   t.permits(*r, {server, 53});                                           // true; any other: false
//
// Ports are drawn from the configured range with a seeded SplitMix64 stream and probed linearly to
// the next free one, so the same seed and the same sequence of new flows give the same ports.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>

#include "nat64/config.hpp"

namespace patchbay::nat64 {

// A v4 peer as the filter sees it; ICMP uses port 0 (address-dependent filtering for echo).
struct Remote {
  Ipv4Addr addr;
  std::uint16_t port = 0;
};

struct Binding {
  Proto proto = Proto::Udp;
  Ipv6Addr v6;
  std::uint16_t v6_port = 0;  // source port or echo identifier on the v6 side
  std::uint16_t v4_port = 0;  // the same on the pool address
  std::int64_t last_used = 0;
  // Remotes this binding has sent to, with when it last did (the APDF permission set).
  std::map<std::uint64_t, std::int64_t> remotes;
  // Rough TCP tracking (RFC 6146 3.5.2 simplified): established once both sides sent a SYN, back to
  // transitory on FIN or RST. Only selects the idle timeout; no packet is dropped for its state.
  bool syn_v6 = false, syn_v4 = false, closing = false;
};

class BindingTable {
 public:
  BindingTable(const Config& cfg, std::uint64_t seed);

  // The live binding for (proto, v6, port), created if needed, with `to` added to its permission
  // set and its idle timer restarted. nullptr when the table is full (max bindings or no free port).
  Binding* outbound(Proto p, const Ipv6Addr& v6, std::uint16_t port, Remote to, std::int64_t now);
  // The live binding holding `v4_port`, or nullptr (an idle-expired binding is removed here).
  Binding* find_v4(Proto p, std::uint16_t v4_port, std::int64_t now);
  Binding* find_v6(Proto p, const Ipv6Addr& v6, std::uint16_t port, std::int64_t now);
  // Address-and-port-dependent filtering: only remotes the binding has sent to may reach it.
  bool permits(const Binding& b, Remote from) const;
  void touch(Binding& b, std::int64_t now) { b.last_used = now; }
  // Updates the rough TCP state from the flags byte of a TCP header seen in one direction.
  void track_tcp(Binding& b, bool from_v6, std::uint8_t flags);

  std::size_t size(Proto p) const { return tables_[index(p)].by_v4.size(); }
  void expire(std::int64_t now);
  std::uint64_t created() const { return created_; }
  std::uint64_t expired() const { return expired_; }

 private:
  struct Key6 {
    Ipv6Addr addr;
    std::uint16_t port;
    bool operator==(const Key6&) const = default;
  };
  struct Key6Hash {
    std::size_t operator()(const Key6& k) const noexcept {
      return std::hash<Ipv6Addr>{}(k.addr) * 65599 + k.port;
    }
  };
  struct Table {
    std::unordered_map<std::uint16_t, Binding> by_v4;
    std::unordered_map<Key6, std::uint16_t, Key6Hash> by_v6;
  };

  static std::size_t index(Proto p) { return static_cast<std::size_t>(p); }
  std::int64_t timeout_ns(const Binding& b) const;
  bool idle(const Binding& b, std::int64_t now) const { return now - b.last_used >= timeout_ns(b); }
  void erase(Table& t, std::uint16_t v4_port);
  std::optional<std::uint16_t> pick_port(const Table& t);
  std::uint64_t next_random();

  Config cfg_;
  std::uint64_t rng_;
  std::array<Table, 3> tables_;
  std::uint64_t created_ = 0, expired_ = 0;
};

}  // namespace patchbay::nat64
