// The kernel wiring of nodes. A build first turns a node's record into a plan (the data of what to
// create: sysctls, a LAN bridge, veths, addresses, routes; `plan_*` below, pure apart from handing
// out interface indexes), then `NodeWiring` executes the plan with as few netlink round trips as
// the kernel allows. Nothing here allocates addresses or touches records: the plan carries every
// value, and the caller copies the indexes it chose into the record.
//
// Threading: NodeWiring is stateless apart from its references and may run on any thread; each
// namespace serialises its own netlink socket (Netns::nl_mu). Callers hold the node's lock.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/netns.hpp"
#include "core/node_configs.hpp"
#include "core/records.hpp"
#include "sys/rtnl.hpp"
#include "sys/setup_thread.hpp"
#include "sys/sysctl.hpp"

namespace patchbay::detail {

struct AddrSpec {
  IpAddr addr;
  std::uint8_t prefix_len = 0;
  bool nodad = true;  // false: the kernel runs duplicate address detection (SPEC 9.1, DAD enabled)
};

// An interface to configure once it exists: its state, addresses and (default) routes.
struct IfaceSetup {
  int ifindex = 0;
  std::string name;
  bool up = true;
  std::vector<AddrSpec> addrs;
  std::vector<sys::Route> routes;
};

// A veth pair created from `port_ns`: `port` stays there (on a bridge), `peer` moves into the
// node's namespace (its netns_fd).
struct VethSpec {
  Netns* port_ns = nullptr;
  sys::LinkEnd port;
  sys::LinkEnd peer;
};

struct RouterPlan {
  std::vector<sys::Sysctl> sysctls;
  std::string lan_name;
  int lan_ifindex = 0;
  sys::Mac lan_mac{};
  std::uint32_t mtu = 0;
  std::vector<AddrSpec> lan_addrs;
  // The IX grew into a new subnet with this router: the lab root answers as its gateway.
  std::optional<AddrSpec> ix_gateway;
  int ix_bridge_ifindex = 0;
  VethSpec uplink;
  IfaceSetup wan;
  bool wait_dad = false;
};

struct DevicePlan {
  std::vector<VethSpec> veths;
  std::vector<IfaceSetup> ifaces;  // the default routes sit on the default interface's entry
  bool wait_dad = false;
};

// The lab-wide facts a plan depends on.
struct WiringContext {
  IxRec& ix;
  bool dad = false;  // Ipv6DadMode::Enabled
};

// A router's plan; hands out the router's interface indexes and its port's on the upstream bridge
// (the parent's LAN or the IX) and writes them into `r`. `r.ns` exists.
RouterPlan plan_router(RouterRec& r, RouterRec* parent, const WiringContext& ctx);
// One interface of a device: the veth from its router's LAN and the device end's setup (without
// routes). Writes the indexes into `i`. `d.ns` exists.
VethSpec plan_iface_veth(DeviceRec& d, IfaceRec& i, RouterRec& rt);
IfaceSetup plan_iface_setup(const IfaceRec& i, const WiringContext& ctx);
// A new device: every interface, and the default routes on the default interface (the IPv6 one
// only when the device does not learn it from router advertisements).
using RouterMap = std::map<std::uint64_t, std::shared_ptr<RouterRec>>;
DevicePlan plan_device(DeviceRec& d, RouterMap& rts, bool ra_driven, const WiringContext& ctx);

class NodeWiring {
 public:
  explicit NodeWiring(sys::SetupThread& setup) : setup_(setup) {}

  // A fresh namespace from the setup thread's pool.
  std::shared_ptr<Netns> new_namespace();
  // The uplink's port namespace is the IX's when the plan extends the IX.
  void wire_router(const RouterPlan& p, Netns& ns, const std::string& owner);
  void wire_device(const DevicePlan& p, Netns& ns, const std::string& owner);
  // One more interface of a running device.
  void wire_iface(const VethSpec& v, const IfaceSetup& s, Netns& ns, bool wait_dad, const std::string& owner);
  // Waits until no IPv6 address in `ns` is tentative; SystemError on a duplicate or after 5 s.
  static void wait_dad(Netns& ns, const std::string& owner);
  // Linux bridges in the lab are plain switches (no br_netfilter hooks).
  static std::vector<sys::Sysctl> bridge_sysctls();

 private:
  sys::SetupThread& setup_;
};

// Adds the configuration of `s` (state, addresses, routes) to `b`.
void add_iface_setup(sys::NlBatch& b, const IfaceSetup& s);

}  // namespace patchbay::detail
