// Link conditions: where each condition lives in the model and how it reaches the link engine.
//
// Conditions are stored on the records (IfaceRec, RouterRec) and pushed to the engine as a whole
// port state, so re-applying after a replug or a default-route change is the same call as the
// first application. The engine thread starts only when the first condition is set.
//
// Locking: every method runs under the lock of the node it names (the caller holds it), except
// the attach_* calls, which take it. apply_downlink reads the LAN's topology under the plan lock,
// and a router's `mu` is taken before the plan lock, never after it.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/emit_event.hpp"
#include "core/node_registry.hpp"
#include "core/records.hpp"
#include "core/services.hpp"
#include "link/engine.hpp"
#include "patchbay/link.hpp"

namespace patchbay::detail {

class LinkControl {
 public:
  LinkControl(LabServices& services, const NodeRegistry& nodes, std::mutex& plan_mu, EmitEvent emit)
      : services_(services), nodes_(nodes), plan_mu_(plan_mu), emit_(std::move(emit)) {}

  // Changes (SPEC 7); each emits its event and logs to the node's files. The caller holds the
  // node's mu.
  void set_iface_condition(DeviceRec& d, IfaceRec& i, std::optional<LinkCondition> c, LinkDirection dir);
  void set_downlink_condition(RouterRec& r, std::optional<LinkCondition> c);
  void set_uplink_condition(RouterRec& r, std::optional<LinkCondition> c, LinkDirection dir);
  LinkStats iface_link_stats(const DeviceRec& d, const IfaceRec& i);
  LinkStats uplink_stats(const RouterRec& r);
  LinkCounters downlink_stats(const RouterRec& r);

  // An interface's whole port state, again (after a replug, a new interface).
  void push_iface(DeviceRec& d, IfaceRec& i);
  // Build and removal: the conditions given to builders, LANs with a downlink condition. The
  // attach calls take the node's mu.
  void attach_device_links(DeviceRec& d);
  void attach_router_links(RouterRec& r);
  void detach_device_links(const DeviceRec& d);
  void detach_router_links(const RouterRec& r);
  // The engine forgets one device interface's port (unplug).
  void forget_iface(const IfaceRec& i);

 private:
  void ensure_bridge(std::uint64_t br);  // router id, or 1 = the IX
  link::PortSpec device_port(const DeviceRec& d, const IfaceRec& i) const;
  link::PortSpec uplink_port(const RouterRec& r) const;
  static std::uint64_t uplink_bridge(const RouterRec& r);  // parent router id or 1
  void push_uplink(RouterRec& r);
  void apply_downlink(RouterRec& r, const std::optional<LinkCondition>& c);

  LabServices& services_;
  const NodeRegistry& nodes_;
  std::mutex& plan_mu_;
  EmitEvent emit_;
};

}  // namespace patchbay::detail
