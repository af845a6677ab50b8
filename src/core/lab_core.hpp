// The lab's model: node records, the address plan, and the orchestration that turns builder
// configurations into kernel objects. Handles (Router, Device, ...) are thin views onto this.
//
// Locking: `mu_` (the lab lock) guards the maps, the name space, the address plan and every host
// pool; it is never held across a kernel call. Each node has its own `mu` for its mutable state;
// the order is node lock -> lab lock, never the reverse.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/addr_plan.hpp"
#include "core/dns.hpp"
#include "core/netns.hpp"
#include "core/node_logs.hpp"
#include "core/regions.hpp"
#include "core/services.hpp"
#include "events/bus.hpp"
#include "events/writer.hpp"
#include "exec/event_loop.hpp"
#include "exec/spawner.hpp"
#include "exec/worker.hpp"
#include "link/engine.hpp"
#include "log/sink.hpp"
#include "nat/controller.hpp"
#include "patchbay/lab.hpp"
#include "sys/netlink.hpp"
#include "sys/nfnl.hpp"
#include "sys/nft.hpp"
#include "sys/nft_batch.hpp"
#include "sys/rtnl.hpp"
#include "sys/setup_thread.hpp"

namespace patchbay::detail {

enum class NodeKind { Ix, Router, Device };
struct RaService;  // ra.cpp

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
  std::unique_ptr<core::HostPoolV4> hosts4;  // guarded by the lab lock
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
  std::optional<Ipv6Net> npt_ext;  // NPTv6 external prefix (guarded by the lab lock)
  bool ra_enabled = true;          // SPEC 9.1 (guarded by mu)
  std::uint64_t ra_interval = 30, ra_lifetime = 1800;
  std::shared_ptr<RaService> ra;                  // running once an RA-driven device joined the LAN
  bool nat6_installed = false;                    // table ip6 pb_nat6
  int nat64_ifindex = 0, nat64_wire_ifindex = 0;  // veth "nat64" and its wire-namespace end

  // Link conditions (guarded by mu): into the LAN, and of the link to the parent / IX.
  std::optional<LinkCondition> downlink, uplink_up, uplink_down;

  // Topology (guarded by the lab lock).
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

struct RouterConfig {
  std::string name;
  std::optional<NodeId> upstream;
  IpSupport ip_support = IpSupport::V4Only;
  std::optional<AddressPool> pool;  // explicit or from a preset; else derived from the NAT
  bool ra_enabled = true;
  std::uint64_t ra_interval = 30, ra_lifetime = 1800;
  Nat nat;
  NatV6Mode nat_v6 = NatV6Mode::None;
  Firewall firewall;
  std::optional<RouterPreset> preset;
  std::optional<Ipv4Net> cidr;
  std::optional<Ipv6Net> cidr6;
  std::optional<std::uint32_t> mtu;
  std::optional<LinkCondition> downlink, uplink_up, uplink_down;
  bool block_frag_needed = false;
  std::optional<std::uint32_t> region;                          // RouterBuilder::region
  std::optional<core::AddressPlan::RegionAlloc> region_bridge;  // set only for region routers
  bool built = false;
};

struct DeviceConfig {
  std::string name;
  std::vector<std::pair<std::string, NodeId>> ifaces;
  std::optional<std::string> default_via;
  std::optional<std::uint32_t> mtu;
  std::map<std::string, std::pair<std::optional<LinkCondition>, std::optional<LinkCondition>>>
      conditions;  // iface -> {up, down}
  std::optional<Ipv6ProvisioningMode> provisioning;
  bool built = false;
};

class LabCore : public std::enable_shared_from_this<LabCore> {
 public:
  explicit LabCore(LabOpts opts);
  ~LabCore();
  // Refuses new operations (Removed "the lab is shut down"), kills the children, waits for the
  // operations in flight on other threads to finish, then tears everything down. Idempotent.
  void shutdown();

  // Every public operation (handle and Lab methods) runs between enter_op() and leave_op() (see
  // LabRef), so shutdown() never destroys a service or namespace under a caller: a caller either
  // completes or gets Removed. Nested operations on one thread count once per level, and a thread
  // may shut the lab down from inside an operation (its own levels are not waited for).
  void enter_op(const std::string& what);
  void leave_op();

  const LabOpts& opts() const { return opts_; }
  const std::string& prefix() const { return prefix_; }
  std::uint64_t seed() const { return seed_; }
  // A lab service (event loop handler, NAT controller) failed and carried on: counted, emitted as
  // a service_error event and an error record (target patchbay::service); never silent.
  void service_error(const std::string& service, const std::string& what, const std::string& message);
  std::uint64_t service_errors() const { return service_errors_.load(); }
  std::uint64_t seq() const { return seq_; }

  std::shared_ptr<RouterRec> build_router(const RouterConfig& cfg);
  std::shared_ptr<DeviceRec> build_device(const DeviceConfig& cfg);
  void remove_device(NodeId id);
  void remove_router(NodeId id);
  // Runtime NAT/firewall changes; the caller holds the router's lock.
  void set_nat(RouterRec& r, const Nat& n);
  void set_firewall(RouterRec& r, const Firewall& f);
  void flush_nat_state(RouterRec& r);
  std::vector<NatBinding> nat_mappings(RouterRec& r);
  void set_block_frag_needed(RouterRec& r, bool on, bool emit_event = true);  // caller holds r.mu
  void set_nat_v6(RouterRec& r, NatV6Mode m);                                 // caller holds r.mu
  // RA-driven provisioning (ra.cpp). set_ra: caller holds r.mu.
  void set_ra(RouterRec& r, std::optional<bool> enabled, std::optional<std::uint64_t> interval,
              std::optional<std::uint64_t> lifetime);
  bool ra_driven(const DeviceRec& d) const;
  // Accept RAs on `i` (default route only on the default interface), start its router's RAs and
  // solicit; `wait`: until the RA default route exists (2 s, TimeoutError).
  void provision_ra(DeviceRec& d, IfaceRec& i, bool wait);
  void send_rs(DeviceRec& d, const IfaceRec& i);
  bool link_running(DeviceRec& d, const IfaceRec& i);

  Regions& regions() { return *regions_; }  // SPEC 8 (regions.hpp)
  WireNamespace& wire() { return *wire_; }  // region links and NAT64 veths
  // Runs f(plan) under the lab lock: address allocation and release for the parts that own
  // records of their own (regions).
  template <typename F>
  decltype(auto) with_plan(F&& f) {
    std::lock_guard lk(mu_);
    return f(plan_);
  }
  void emit(const std::string& kind, nlohmann::json fields);

  // Link conditions (src/core/link_conditions.cpp). Callers hold the node's mu.
  void set_iface_condition(DeviceRec& d, IfaceRec& i, std::optional<LinkCondition> c, LinkDirection dir);
  void set_downlink_condition(RouterRec& r, std::optional<LinkCondition> c);
  void set_uplink_condition(RouterRec& r, std::optional<LinkCondition> c, LinkDirection dir);
  LinkStats iface_link_stats(const DeviceRec& d, const IfaceRec& i);
  LinkStats uplink_stats(const RouterRec& r);
  LinkCounters downlink_stats(const RouterRec& r);
  // Dynamic device operations (src/core/dynamic.cpp). Callers hold the device's mu.
  void set_link_up(DeviceRec& d, IfaceRec& i, bool up);
  void set_default_route(DeviceRec& d, const std::string& ifname);
  void add_iface(DeviceRec& d, const std::string& ifname, NodeId router, std::optional<LinkCondition> up,
                 std::optional<LinkCondition> down);
  void remove_iface(DeviceRec& d, const std::string& ifname);
  void replug_iface(DeviceRec& d, const std::string& ifname, NodeId router);
  Ipv4Addr renew_ip(DeviceRec& d, IfaceRec& i);
  void add_ip(DeviceRec& d, IfaceRec& i, const IpAddr& ip, std::uint8_t prefix_len);

  // Build/removal hooks: conditions given to builders, LANs with a downlink condition.
  void attach_device_links(DeviceRec& d);
  void attach_router_links(RouterRec& r);
  void detach_device_links(const DeviceRec& d);
  void detach_router_links(const RouterRec& r);

  std::shared_ptr<NodeRec> node(NodeId id) const;  // nullptr if unknown or removed
  std::shared_ptr<RouterRec> router(NodeId id) const;
  std::shared_ptr<DeviceRec> device(NodeId id) const;
  std::shared_ptr<NodeRec> by_name(std::string_view name) const;
  std::shared_ptr<IxRec> ix() const { return ix_; }
  std::vector<std::shared_ptr<RouterRec>> routers() const;
  std::vector<std::shared_ptr<DeviceRec>> devices() const;
  std::string router_name(NodeId id) const;

  events::EventBus& bus() { return bus_; }
  // The per-node log files (made at build, published while the node is alive).
  NodeLogs& node_logs() { return *logs_; }
  // The resolved run directory (SPEC 13.1); nullopt when the lab writes no output.
  std::optional<std::filesystem::path> run_dir() const {
    return writer_ ? std::optional(writer_->dir()) : std::nullopt;
  }
  DnsOverlay& dns() { return *dns_; }  // SPEC 10 (src/core/dns.cpp)
  sys::SetupThread& setup() { return *setup_; }
  LabState state() const {
    std::lock_guard lk(state_mu_);
    return state_;
  }
  LabServices& services() { return *services_; }  // event loop, NAT controller, engine, spawner
  void terminate_children(NodeId id);             // of one node, with the lab's grace period
  bool closing() const { return closing_.load(); }

  nlohmann::json router_state(const RouterRec& r) const;  // RouterState fields (SPEC 13.3)
  nlohmann::json device_state(const DeviceRec& d) const;
  nlohmann::json iface_snapshot(const DeviceRec& d, const IfaceRec& i) const;

 private:
  void create_root();
  void open_netfilter(RouterRec& r);  // nft context + netfilter socket, inside the namespace
  void open_nfnl(RouterRec& r);       // the netfilter socket only (NAT and firewall need no more)
  // `firewall`: an inet batch applied in the same transaction (the firewall at build time).
  void apply_nat(RouterRec& r, const Nat& n, sys::NftBatch* firewall = nullptr);
  void apply_netfilter_at_build(RouterRec& r);
  void apply_firewall(RouterRec& r, const Firewall& f);
  // build_router in two steps: the addresses from the plan (lab lock held), then the kernel
  // objects (namespace, sysctls, LAN bridge, uplink veth) without the lab lock.
  void alloc_router_addrs(RouterRec& r, const RouterConfig& cfg, const RouterRec* parent,
                          const std::string& owner);
  void wire_router(RouterRec& r, const RouterConfig& cfg, RouterRec* parent);
  void teardown_router_kernel(RouterRec& r);
  // build_device's kernel step: the namespace, one veth per interface (created from each router's
  // side), addresses and the default routes. `rts`: the device's routers by id.
  using RouterMap = std::map<std::uint64_t, std::shared_ptr<RouterRec>>;
  void wire_device(DeviceRec& d, RouterMap& rts);
  void release_router_allocs(RouterRec& r);
  void release_device_allocs(DeviceRec& d);
  std::vector<AncestorRoute> routes_for(const RouterRec& r) const;  // lab lock held
  void install_routes(const std::vector<AncestorRoute>& routes);
  void remove_routes(const std::vector<AncestorRoute>& routes);
  Netns& ns_of(NodeId owner);  // 0 or 1 = lab root
  std::vector<sys::Sysctl> lab_sysctls() const;
  static std::vector<sys::Sysctl> bridge_sysctls();

  void ensure_bridge(std::uint64_t br);  // router id, or 1 = the IX
  link::PortSpec device_port(const DeviceRec& d, const IfaceRec& i) const;
  link::PortSpec uplink_port(const RouterRec& r) const;
  std::uint64_t uplink_bridge(const RouterRec& r) const;  // parent router id or 1
  void push_iface(DeviceRec& d, IfaceRec& i);
  void push_uplink(RouterRec& r);
  void apply_downlink(RouterRec& r, const std::optional<LinkCondition>& c);
  // Dynamic-operation helpers (dynamic.cpp).
  void alloc_iface_addrs(IfaceRec& i, RouterRec& rt, const std::string& owner);  // lab lock held
  void release_iface_addrs(const IfaceRec& i, NodeId dev);                       // lab lock held
  void unplug_iface(DeviceRec& d, const IfaceRec& i, const std::string& ctx);
  void wire_iface(DeviceRec& d, IfaceRec& i, RouterRec& rt);  // veth + addresses (+ routes if default)
  void install_default_routes(DeviceRec& d, const IfaceRec& i);
  bool dad() const { return opts_.dad_mode() == Ipv6DadMode::Enabled; }
  // Waits until no IPv6 address in `ns` is tentative (SPEC 9.1, DAD enabled).
  void wait_dad(Netns& ns, const std::string& owner);
  void ensure_ra(RouterRec& r);  // r.mu held
  void stop_ra(RouterRec& r);
  bool has_ra_default_route(DeviceRec& d, const IfaceRec& i);
  // IPv6 NAT (nat_v6.cpp).
  Ipv6Net alloc_npt_prefix(const RouterRec& r, const std::string& owner);  // lab lock held
  void apply_nat_v6(RouterRec& r, NatV6Mode m);
  void start_nat64(RouterRec& r);  // nat64_router.cpp
  void stop_nat64(RouterRec& r);

  LabOpts opts_;
  std::uint64_t seq_;
  std::string prefix_;
  std::uint64_t seed_;
  std::atomic<bool> closing_{false};  // set under op_mu_
  std::mutex op_mu_;
  std::condition_variable op_cv_;
  int ops_ = 0;  // operations in flight, all threads
  std::atomic<std::uint64_t> service_errors_{0};

  mutable std::mutex mu_;
  core::AddressPlan plan_;
  std::uint64_t next_id_ = 2;  // the IX switch is 1
  std::unordered_map<std::uint64_t, std::shared_ptr<RouterRec>> routers_;
  std::unordered_map<std::uint64_t, std::shared_ptr<DeviceRec>> devices_;
  std::map<std::string, NodeId, std::less<>> names_;
  std::shared_ptr<IxRec> ix_;

  std::unique_ptr<sys::SetupThread> setup_;
  // events.jsonl/state.json, only with an outdir. Declared before bus_ so the bus sink's target
  // outlives the bus; stopped by shutdown(), never reset before the destructor.
  std::unique_ptr<events::OutputWriter> writer_;
  events::EventBus bus_;
  mutable std::mutex state_mu_;
  std::unique_ptr<NodeLogs> logs_;         // made right after writer_
  LabState state_;                         // the reducer applied to every event (what state.json will hold)
  std::unique_ptr<LabServices> services_;  // made right after setup_, stopped by shutdown()
  std::unique_ptr<DnsOverlay> dns_;        // made in the constructor, emptied by shutdown()
  std::unique_ptr<WireNamespace> wire_;    // made right after setup_
  std::unique_ptr<Regions> regions_;       // made in the constructor
};

// A live reference to a lab for the length of one public operation: keeps the LabCore alive and
// holds an operation slot (LabCore::enter_op), so shutdown waits for it. Take it at the start of
// the operation; release() it before blocking on something only shutdown would end (user code on
// a worker, a child's exit).
class LabRef {
 public:
  // Throws Removed("<what>", "the lab has been shut down") for a destroyed or closing lab.
  LabRef(std::shared_ptr<LabCore> core, const std::string& what);
  LabRef(const std::weak_ptr<LabCore>& core, const std::string& what) : LabRef(core.lock(), what) {}
  ~LabRef() { release(); }
  LabRef(LabRef&& o) noexcept : core_(std::move(o.core_)), held_(std::exchange(o.held_, false)) {}
  LabRef& operator=(LabRef&&) = delete;
  LabRef(const LabRef&) = delete;

  LabCore* operator->() const { return core_.get(); }
  LabCore& operator*() const { return *core_; }
  const std::shared_ptr<LabCore>& shared() const { return core_; }
  void release() {
    if (held_) core_->leave_op();
    held_ = false;
  }

 private:
  std::shared_ptr<LabCore> core_;
  bool held_ = false;
};

}  // namespace patchbay::detail
