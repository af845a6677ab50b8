// The lab's node records: what LabCore knows of each IX, router and device and of each device
// interface. Handles (Router, Device, ...) are thin views onto these.
//
// Locking: a node's `mu` serialises every change of the node (its kernel objects, NAT, conditions);
// fields marked "plan lock" (addresses from the pools, topology) are guarded by LabCore's plan lock
// instead, which is taken after a node's `mu`, never before. `alive` and the workers have their own
// synchronisation. The records are found through the NodeRegistry (node_registry.hpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/addr_plan.hpp"
#include "core/netns.hpp"
#include "exec/worker.hpp"
#include "log/sink.hpp"
#include "patchbay/lab.hpp"
#include "sys/nfnl.hpp"
#include "sys/nft.hpp"
#include "sys/rtnl.hpp"

namespace patchbay::detail {

enum class NodeKind { Ix, Router, Device };
struct RaService;  // ra_control.cpp

// InvalidArgument naming the node unless `n` is a valid node name (1-64 of [A-Za-z0-9_-], not
// starting with the reserved "region_").
void validate_node_name(const std::string& kind, const std::string& n);
// InvalidArgument naming the device unless `n` is a valid Linux interface name (1-15 characters).
void validate_ifname(const std::string& dev, const std::string& n);

struct NodeRec {
  NodeKind kind;
  NodeId id;
  std::string name;
  std::string ns_label;
  std::shared_ptr<Netns> ns;
  std::mutex mu;  // serialises every mutation of this node
  std::atomic<bool> alive{false};

  std::mutex exec_mu;
  std::shared_ptr<SyncWorker> sw;
  std::unique_ptr<IoWorker> aw;
  // The node's log files (log.hpp); null without an output directory and for the IX. Set at
  // build, closed at removal and teardown; node threads hold it as their log context.
  std::shared_ptr<log::detail::NodeSink> log;

  NodeRec(NodeKind k, NodeId i, std::string n) : kind(k), id(i), name(std::move(n)) {}
  virtual ~NodeRec() = default;
  std::string describe() const;  // "router 'home'"
  std::string kind_name() const;
  void stop_workers();
};

struct IfaceRec {
  NodeId id;
  std::string name;
  NodeId router;
  int ifindex = 0;       // in the device namespace
  int port_ifindex = 0;  // "v<id>" on the router's LAN bridge
  std::optional<Ipv4Addr> ip, gw;
  std::uint8_t prefix = 0;
  std::optional<Ipv6Addr> ip6, gw6, ll6;
  std::uint8_t prefix6 = 0;
  bool up = true;
  std::optional<LinkCondition> cond_up, cond_down;           // guarded by the device's mu
  std::vector<std::pair<IpAddr, std::uint8_t>> extra_addrs;  // add_ip
};

struct DeviceRec : NodeRec {
  using NodeRec::NodeRec;
  std::vector<IfaceRec> ifaces;
  std::string default_if;
  std::optional<std::uint32_t> mtu;
  std::optional<Ipv6ProvisioningMode> provisioning;  // overrides the lab's
  IfaceRec* find(std::string_view n);
};

// A route this router's prefixes need in one ancestor namespace (0 = lab root).
struct AncestorRoute {
  NodeId owner;
  sys::Route route;
};

struct RouterRec : NodeRec {
  using NodeRec::NodeRec;
  NodeId lan_switch;
  std::optional<NodeId> upstream;
  std::optional<std::uint32_t> region;  // region index (inherited from the parent)
  bool region_router = false;           // the hidden router of a region
  IpSupport ip_support = IpSupport::V4Only;
  AddressPool pool = AddressPool::Public;
  std::optional<std::uint32_t> mtu;

  // Uplink ("ix" or "wan") and the port on the parent's bridge.
  std::string wan_name;
  int wan_ifindex = 0;
  std::string parent_port_name;
  int parent_port_ifindex = 0;
  std::optional<Ipv4Addr> wan_ip, wan_gw;
  std::uint8_t wan_prefix = 0;
  std::optional<Ipv6Addr> wan_ip6, wan_gw6, wan_ll6;
  std::uint8_t wan_prefix6 = 0;
  std::optional<Ipv4Net> new_ix_subnet;  // first router in an extra IX subnet: root owns .1

  // LAN bridge.
  std::string lan_name = "br-lan";
  int lan_ifindex = 0;
  std::optional<Ipv4Net> lan4;
  std::optional<Ipv6Net> lan6;
  bool lan4_override = false, lan6_override = false;
  std::unique_ptr<core::HostPoolV4> hosts4;  // guarded by the plan lock
  std::unique_ptr<core::HostPoolV6> hosts6;
  std::optional<Ipv6Addr> lan_ll6;

  // NAT and firewall (guarded by mu). The nftables context and netfilter socket are opened inside
  // the router's namespace on first need and used under mu.
  Nat nat;
  NatV6Mode nat_v6 = NatV6Mode::None;
  Firewall firewall;
  std::optional<RouterPreset> preset;
  std::optional<sys::NftContext> nft;
  std::optional<sys::NfnlSocket> nfnl;
  bool nat_attached = false;     // queue handed to the controller
  bool nat_installed = false;    // table pb_nat exists
  bool queue_installed = false;  // table pb_natq and its NFQUEUE rule exist
  bool fw_installed = false;
  bool block_frag_needed = false;  // table inet pb_pmtu installed (SPEC 11)
  std::optional<Ipv6Net> npt_ext;  // NPTv6 external prefix (guarded by the plan lock)
  bool ra_enabled = true;          // SPEC 9.1 (guarded by mu)
  std::uint64_t ra_interval = 30, ra_lifetime = 1800;
  std::shared_ptr<RaService> ra;                  // running once an RA-driven device joined the LAN
  bool nat6_installed = false;                    // table ip6 pb_nat6
  int nat64_ifindex = 0, nat64_wire_ifindex = 0;  // veth "nat64" and its wire-namespace end

  // Link conditions (guarded by mu): into the LAN, and of the link to the parent / IX.
  std::optional<LinkCondition> downlink, uplink_up, uplink_down;

  // Topology (guarded by the plan lock).
  std::set<NodeId> children;
  std::map<NodeId, std::set<std::string>> attached;  // device -> its interfaces on this LAN
  std::vector<AncestorRoute> ancestor_routes;

  std::optional<Ipv4Addr> gw4() const { return hosts4 ? std::optional(hosts4->gateway()) : std::nullopt; }
  std::optional<Ipv6Addr> gw6() const { return hosts6 ? std::optional(hosts6->gateway()) : std::nullopt; }
};

struct IxRec : NodeRec {
  using NodeRec::NodeRec;
  int bridge_ifindex = 0;
  std::string bridge = "br-ix";
};

}  // namespace patchbay::detail
