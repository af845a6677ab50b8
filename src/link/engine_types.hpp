// The link engine's records, shared by its data plane (forwarding thread) and its control plane
// (kernel plumbing thread). Every field is owned by one of them, as marked; the other touches it
// only inside a DataPlane::call, i.e. on the data plane's thread. Records are created by the data
// plane and erased only by control-plane tasks, so a control task may keep pointers to them for
// its length.
#pragma once

#include "link/engine.hpp"

#include <cstdint>
#include <ctime>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "link/frame.hpp"
#include "sys/packet_socket.hpp"
#include "sys/tc.hpp"

namespace patchbay::link {

namespace engine_detail {

constexpr Nanos kNever = std::numeric_limits<Nanos>::max();
constexpr std::uint16_t kRedirectPrio = 1;
// Purposes for seed3(lab seed, link id, purpose): one stream family per direction.
constexpr std::uint64_t kSeedUp = 0x7570;        // "up"
constexpr std::uint64_t kSeedDown = 0x646f;      // "do"
constexpr std::uint64_t kSeedDownlink = 0x646c;  // "dl"
constexpr Nanos kLeaveGrace = 1'000'000'000;     // Port::leaving_until after a restore
constexpr std::size_t kRxBudget = 256;           // frames per socket per wake-up (fairness)
// Engine sockets have no mmap ring: a TPACKET_V2 slot must hold a whole 64 KB GSO frame, so a
// ring costs ~4.4 MB per 64 slots and 8-28 ms to allocate, for every conditioned port. Frames
// wait in the socket's queue instead and are read with recvmmsg into the engine thread's shared
// buffers; measured with bench/run.sh link this was also faster (11-16 Gbit/s, 140-190k pps
// against 10.8 Gbit/s and 83-133k pps with 64/256-slot rings).
constexpr unsigned kPortRing = 0;
constexpr unsigned kTrunkRing = 0;

inline Nanos now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<Nanos>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline std::uint64_t mac_key(const std::uint8_t* m) {
  std::uint64_t k = 0;
  for (int i = 0; i < 6; ++i) k = (k << 8) | m[i];
  return k;
}
inline std::uint64_t mac_key(const sys::Mac& m) {
  return mac_key(m.data());
}

// A routed port must neither learn nor receive floods: the bridge would bypass the engine.
inline sys::BridgePortFlags port_flags(bool on) {
  sys::BridgePortFlags f;
  f.learning = f.flood = f.mcast_flood = f.bcast_flood = on;
  return f;
}

inline bool is_active(const std::optional<DirConfig>& c) {
  return c && !c->limits.is_zero();
}

}  // namespace engine_detail
using namespace engine_detail;

struct Bridge;
struct Port;
struct P2p;
struct Hub;

// A Direction plus where its output goes and when the engine last armed a timer for it.
struct DirSlot {
  enum class Out { Trunk, Port, Demux, Sock };
  std::uint64_t id;
  Direction dir;
  Out out;
  Bridge* br;
  Port* port;                         // for Out::Port
  sys::PacketSocket* sock = nullptr;  // for Out::Sock
  int sock_ifindex = 0;               // for Out::Sock on a socket bound to every interface
  Nanos scheduled = kNever;
  std::uint64_t pass_packets = 0, pass_bytes = 0;  // forwarded without queueing
  // What the pipeline counted plus what bypassed it.
  DirectionCounters total() const {
    auto c = dir.counters();
    c.packets += pass_packets;
    c.bytes += pass_bytes;
    return c;
  }
  DirSlot(std::uint64_t i, std::uint64_t seed, Out o, Bridge* s, Port* p)
      : id(i), dir(seed), out(o), br(s), port(p) {}
};

// What an epoll event points at.
struct Source {
  Bridge* br = nullptr;
  Port* port = nullptr;  // nullptr = the bridge's trunk
  Hub* hub = nullptr;    // the shared socket of a namespace of point-to-point ends
};

struct P2p {
  std::uint64_t id = 0;
  std::string what;
  Hub* hub = nullptr;
  int if_a = 0, if_b = 0;
  std::unique_ptr<DirSlot> ab, ba;
  std::uint64_t memory_drops = 0;
};

// A packet processor behind a wire-namespace veth end (the NAT64 translator of a router).
struct L3End {
  std::uint64_t id = 0;
  int ifindex = 0;
  sys::Mac peer_mac{}, own_mac{};
  Engine::L3Fn fn;
  std::vector<FramePtr> gso_out;
  std::vector<std::pair<std::uint16_t, std::vector<std::uint8_t>>> out;
};

// One socket bound to every interface of a namespace that holds only point-to-point link ends
// (the wire namespace): one ring for hundreds of links instead of two sockets per link.
struct Hub {
  int ns_fd = -1;
  sys::PacketSocket sock;
  Source src;
  std::unordered_map<int, std::pair<P2p*, bool>> ends;  // ifindex -> link, is side B
  std::unordered_map<int, std::unique_ptr<L3End>> l3;   // ifindex -> processor
};

// A bridge port that is or was engine-routed. `spec` and `key` never change; the control plane
// owns `has_sock` (what exists in the kernel); everything else is the data plane's.
struct Port {
  PortSpec spec;
  std::uint64_t key = 0;  // peer MAC
  // Control plane.
  bool has_sock = false;  // the socket was opened and handed to the data plane
  // Data plane.
  std::optional<DirConfig> up_cfg, down_cfg;
  std::unique_ptr<DirSlot> up, down;
  sys::PacketSocket sock;
  Source src;
  bool watched = false;          // sock is in the epoll set
  bool plumbed = false;          // frames take the engine path (by_mac holds the port)
  bool unplumb_pending = false;  // drained; the control plane is asked to restore the plain path
  // After a restore: until then, frames the bridge still sends to the trunk for the port's MAC
  // (a frame in flight may have taught it the trunk again) are delivered, not dropped.
  Nanos leaving_until = 0;
  std::uint64_t memory_drops = 0;
};

// A bridge whose ports the engine may route. The first six fields never change; the control
// plane owns `wired`, `trunk_if` and `engine_if`; the rest is the data plane's.
struct Bridge {
  std::uint64_t id = 0;
  NsAccess ns;
  int bridge = 0;
  sys::Mac bridge_mac{};
  std::uint64_t bridge_key = 0;
  std::string what;
  // Control plane.
  bool wired = false;               // the trunk veth exists and its socket was handed over
  int trunk_if = 0, engine_if = 0;  // pbe0 (bridge port, hairpin), pbe1 (read by the engine)
  // Data plane.
  bool plumbed = false;  // the trunk socket is in the epoll set
  sys::PacketSocket trunk;
  Source src;
  std::unordered_map<int, std::unique_ptr<Port>> ports;  // by bridge-port ifindex
  std::unordered_map<std::uint64_t, Port*> by_mac;       // ports that are or were routed
  std::optional<DirConfig> downlink_cfg;
  std::unique_ptr<DirSlot> downlink;
};

}  // namespace patchbay::link
