// The lab: its options, the operation gate (enter_op/shutdown), the address plan, and the
// orchestration that turns router and device configurations (node_configs.hpp) into kernel objects
// and records (records.hpp), found through the NodeRegistry. The services (event loop, NAT
// controller, link engine, spawner: services.hpp), link conditions (link_control.hpp), a router's
// NAT and firewall (nat_control.hpp), router advertisements (ra_control.hpp), the regions (regions.hpp) and
// DNS (dns.hpp) are parts of their own that it owns. Handles (Router, Device, ...) are thin views onto this.
//
// Locking: the plan lock (`plan_mu_`) guards the address plan, the host pools and the topology
// fields of the records; it is never held across a kernel call. Each node has its own `mu` for
// its mutable state. The order is node lock -> plan lock -> the registry's and the parts' leaf
// locks, never the reverse.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/addr_plan.hpp"
#include "core/dns.hpp"
#include "core/link_control.hpp"
#include "core/nat_control.hpp"
#include "core/netns.hpp"
#include "core/node_configs.hpp"
#include "core/node_logs.hpp"
#include "core/node_registry.hpp"
#include "core/ra_control.hpp"
#include "core/records.hpp"
#include "core/regions.hpp"
#include "core/services.hpp"
#include "core/wiring.hpp"
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
  // NAT mode changes, which move the ancestors' routes with them (router_nat.cpp); the caller
  // holds the router's lock. The rest of a router's NAT and firewall is nat()'s.
  void set_nat(RouterRec& r, const Nat& n);
  void set_nat_v6(RouterRec& r, NatV6Mode m);
  NatControl& nat() { return *nat_; }  // NAT, firewall, PMTU, NAT64 in the kernel (nat_control.hpp)
  RaControl& ra() { return *ra_; }     // RA-driven provisioning (ra_control.hpp)

  Regions& regions() { return *regions_; }  // SPEC 8 (regions.hpp)
  WireNamespace& wire() { return *wire_; }  // region links and NAT64 veths
  // Runs f(plan) under the plan lock: address allocation and release for the parts that own
  // records of their own (regions).
  template <typename F>
  decltype(auto) with_plan(F&& f) {
    std::lock_guard lk(plan_mu_);
    return f(plan_);
  }
  void emit(const std::string& kind, nlohmann::json fields);
  EmitEvent emitter() {  // emit() for the parts
    return [this](const std::string& kind, nlohmann::json fields) { emit(kind, std::move(fields)); };
  }

  LinkControl& links() { return *links_; }  // link conditions and the engine (link_control.hpp)
  // Dynamic device operations (src/core/dynamic.cpp). Callers hold the device's mu.
  void set_link_up(DeviceRec& d, IfaceRec& i, bool up);
  void set_default_route(DeviceRec& d, const std::string& ifname);
  void add_iface(DeviceRec& d, const std::string& ifname, NodeId router, std::optional<LinkCondition> up,
                 std::optional<LinkCondition> down);
  void remove_iface(DeviceRec& d, const std::string& ifname);
  void replug_iface(DeviceRec& d, const std::string& ifname, NodeId router);
  Ipv4Addr renew_ip(DeviceRec& d, IfaceRec& i);
  void add_ip(DeviceRec& d, IfaceRec& i, const IpAddr& ip, std::uint8_t prefix_len);

  // The nodes by id and name (node_registry.hpp: lookups never wait for a build).
  const NodeRegistry& nodes() const { return nodes_; }
  const std::shared_ptr<IxRec>& ix() const { return nodes_.ix(); }

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
  // build_router in two steps: the addresses from the plan (plan lock held), then the kernel
  // objects (namespace, sysctls, LAN bridge, uplink veth: wiring.hpp) without it.
  void alloc_router_addrs(RouterRec& r, const RouterConfig& cfg, const RouterRec* parent,
                          const std::string& owner);
  WiringContext wiring_context() const { return {*ix(), dad()}; }
  void release_router_allocs(RouterRec& r);
  void release_device_allocs(DeviceRec& d);
  std::vector<AncestorRoute> routes_for(const RouterRec& r) const;  // plan lock held
  void install_routes(const std::vector<AncestorRoute>& routes);
  void remove_routes(const std::vector<AncestorRoute>& routes);
  Netns& ns_of(NodeId owner);  // 0 or 1 = lab root
  std::vector<sys::Sysctl> lab_sysctls() const;

  // Dynamic-operation helpers (dynamic.cpp).
  void alloc_iface_addrs(IfaceRec& i, RouterRec& rt, const std::string& owner);  // plan lock held
  void release_iface_addrs(const IfaceRec& i, NodeId dev);                       // plan lock held
  void unplug_iface(DeviceRec& d, const IfaceRec& i, const std::string& ctx);
  void wire_iface(DeviceRec& d, IfaceRec& i, RouterRec& rt);  // veth + addresses (+ routes if default)
  void install_default_routes(DeviceRec& d, const IfaceRec& i);
  bool dad() const { return opts_.dad_mode() == Ipv6DadMode::Enabled; }
  Ipv6Net alloc_npt_prefix(const RouterRec& r, const std::string& owner);  // plan lock held

  LabOpts opts_;
  std::uint64_t seq_;
  std::string prefix_;
  std::uint64_t seed_;
  std::atomic<bool> closing_{false};  // set under op_mu_
  std::mutex op_mu_;
  std::condition_variable op_cv_;
  int ops_ = 0;  // operations in flight, all threads
  std::atomic<std::uint64_t> service_errors_{0};

  // The plan lock: the address plan, the records' fields marked "plan lock" (host pools, NPTv6
  // prefixes, topology) and, by convention, every change of nodes_ (see node_registry.hpp).
  mutable std::mutex plan_mu_;
  core::AddressPlan plan_;
  NodeRegistry nodes_;

  std::unique_ptr<sys::SetupThread> setup_;
  std::unique_ptr<NodeWiring> wiring_;  // made right after setup_
  // events.jsonl/state.json, only with an outdir. Declared before bus_ so the bus sink's target
  // outlives the bus; stopped by shutdown(), never reset before the destructor.
  std::unique_ptr<events::OutputWriter> writer_;
  events::EventBus bus_;
  mutable std::mutex state_mu_;
  std::unique_ptr<NodeLogs> logs_;         // made right after writer_
  LabState state_;                         // the reducer applied to every event (what state.json will hold)
  std::unique_ptr<LabServices> services_;  // made right after setup_, stopped by shutdown()
  std::unique_ptr<LinkControl> links_;     // made right after services_
  std::unique_ptr<NatControl> nat_;        // made right after links_
  std::unique_ptr<RaControl> ra_;          // made right after nat_
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
