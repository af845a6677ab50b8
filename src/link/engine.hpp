// The userspace link engine: applies link conditions to frames crossing bridge ports.
//
//   Engine eng(setup, [&](auto id, auto purpose) { return seed3(lab_seed, id, purpose); });
//   eng.add_bridge(router_id, ns, lan_bridge_ifindex, lan_mac, "router 'home' LAN");
//   eng.set_port(router_id, {iface_id, port_ifindex, device_mac, "device 'd1' iface 'eth0'"},
//                DirConfig{wifi_limits}, DirConfig{wifi_limits});
//   eng.set_downlink(router_id, DirConfig{limits}, all_lan_ports);
//
// A *bridge* is the engine's record of a Linux bridge in some namespace (a router's LAN, or the
// IX in the lab root), keyed by its owner's id (router id, 1 = IX). A *port*
// is one of its bridge ports whose far end is a node (a device interface, a sub-router's WAN). An
// unconditioned port is a plain veth and costs the engine nothing. A conditioned port is
// "engine-routed" (see docs/architecture.md, "Link engine"):
//   * a tc ingress filter on the port (cls_bpf, direct action "drop") discards every frame from
//     the node after the engine's AF_PACKET socket on the port has copied it;
//   * the port stops learning and flooding, so the bridge never transmits to it directly;
//   * the bridge's trunk veth (pbe0 on the bridge, hairpin on; pbe1 read by the engine) carries
//     frames between the engine and the bridge.
// Up = node -> port socket -> Up pipeline -> trunk -> bridge. Down = bridge -> trunk -> demux by
// destination MAC (group frames to every routed port except the sender) -> [downlink stage, for
// frames from the router's own MAC] -> Down pipeline -> port socket -> node.
// Clearing the last condition drains what is queued, then restores the plain path.
//
// Threads: forwarding runs on the data plane's thread ("patchbay:link"), the kernel work of
// attaching and detaching ports on the control plane's ("patchbay:plumb"), so attaching one
// port never stalls the frames of another (data_plane.hpp, control_plane.hpp). Every public
// method may be called from any thread and waits for its work. Kernel errors throw
// ImpairmentError naming the port.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "link/pipeline.hpp"
#include "sys/netlink.hpp"
#include "sys/rtnl.hpp"

namespace patchbay::sys {
class SetupThread;
}

namespace patchbay::link {

// How the engine reaches a namespace (provided by the lab core).
struct NsAccess {
  int fd = -1;
  std::function<void(sys::NlBatch&)> commit;
  std::function<int()> alloc_ifindex;
};

struct DirConfig {
  LinkLimits limits;
  std::shared_ptr<const Trace> trace;
};

struct PortSpec {
  std::uint64_t link_id = 0;  // names the port's random streams (iface id, child router id)
  int ifindex = 0;            // the bridge port; it has a clsact qdisc (core/wiring.cpp says why)
  sys::Mac peer_mac{};        // MAC of the node's end
  std::string what;           // "device 'd1' iface 'eth0'"
};

struct PortStats {
  DirectionCounters up, down;
  std::uint64_t memory_drops = 0;
  bool engine_routed = false;
};

class Engine {
 public:
  // seed(link id, purpose) -> the seed of one direction's random streams; the lab passes
  // seed3(lab seed, link id, purpose) (SPEC 7.6).
  using Seeder = std::function<std::uint64_t(std::uint64_t link_id, std::uint64_t purpose)>;
  Engine(sys::SetupThread& setup, Seeder seed);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void add_bridge(std::uint64_t br, NsAccess ns, int bridge_ifindex, sys::Mac bridge_mac, std::string what);
  // The namespace is going away: forget everything without touching the kernel.
  void remove_bridge(std::uint64_t br);

  // Sets both directions of a port (nullopt = no condition). A port with no condition on a
  // bridge without a downlink condition returns to the plain path once its queues are empty.
  void set_port(std::uint64_t br, const PortSpec& p, std::optional<DirConfig> up,
                std::optional<DirConfig> down);
  // The port is being deleted (device removed, interface replugged): queued frames are dropped.
  void remove_port(std::uint64_t br, int ifindex);
  // One shared queue for everything the router sends into its LAN. `ports` lists every port of
  // the bridge (they all become engine-routed while a downlink condition is set).
  void set_downlink(std::uint64_t br, std::optional<DirConfig> cfg, const std::vector<PortSpec>& ports);
  bool has_downlink(std::uint64_t br) const;

  // A point-to-point link (region links): two veth ends in one namespace (the lab's wire
  // namespace), whose peers are the two routers' interfaces. Frames from `if_a` take the A->B
  // direction and leave through `if_b`, and the reverse. Both directions get `cfg`.
  void add_p2p(std::uint64_t id, NsAccess ns, int if_a, int if_b, std::string what, DirConfig cfg);
  void set_p2p(std::uint64_t id, DirConfig cfg);
  void remove_p2p(std::uint64_t id);
  PortStats p2p_stats(std::uint64_t id) const;  // up = A->B

  // A packet processor on a wire-namespace veth end whose peer (MAC `peer_mac`) is a router
  // interface: every IPv4/IPv6 packet the router sends there is passed to `fn` (ethertype, IP
  // packet) on the engine thread, and what fn appends (ethertype, IP packet) is sent back to the
  // router. Used for NAT64. `fn` must not block.
  using L3Fn = std::function<void(std::uint16_t ethertype, std::span<const std::uint8_t> packet,
                                  std::vector<std::pair<std::uint16_t, std::vector<std::uint8_t>>>& out)>;
  void add_l3(std::uint64_t id, NsAccess ns, int ifindex, sys::Mac peer_mac, sys::Mac own_mac, L3Fn fn);
  void remove_l3(std::uint64_t id);

  PortStats stats(std::uint64_t br, int ifindex) const;
  std::optional<DirectionCounters> downlink_stats(std::uint64_t br) const;
  // Lab-wide cap on bytes held in delay lines and queues (SPEC 7.5); default 256 MiB.
  void set_memory_cap(std::uint64_t bytes);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace patchbay::link
