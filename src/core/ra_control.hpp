// Router advertisements and solicitations for RA-driven devices (SPEC 9.1): a router's RA service
// (one raw ICMPv6 socket and one timerfd on the lab's event loop, started when the first
// RA-driven device joins its LAN), a device interface's accept_ra sysctls, its solicitations and
// the wait for the default route the kernel learns from the answers.
//
// Locking: set_ra and stop run under the router's `mu` (the caller holds it); provision runs
// under the device's `mu` and takes its router's `mu` itself (node order: device, then router).
// RaControl has no lock and no state of its own: a router's service hangs off its record.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/emit_event.hpp"
#include "core/node_registry.hpp"
#include "core/records.hpp"
#include "core/services.hpp"
#include "sys/setup_thread.hpp"

namespace patchbay::detail {

class RaControl {
 public:
  // `default_mode`: the lab's provisioning mode, for devices that do not name their own.
  RaControl(sys::SetupThread& setup, LabServices& services, const NodeRegistry& nodes,
            Ipv6ProvisioningMode default_mode, EmitEvent emit)
      : setup_(setup),
        services_(services),
        nodes_(nodes),
        default_mode_(default_mode),
        emit_(std::move(emit)) {}

  bool driven(const DeviceRec& d) const;
  // Accept RAs on `i` (default route only on the default interface), start its router's RAs and
  // solicit; `wait`: until the RA default route exists (2 s, TimeoutError).
  void provision(DeviceRec& d, IfaceRec& i, bool wait);
  // The router's RA parameters (SPEC 9.1), with the ra_changed event.
  void set_ra(RouterRec& r, std::optional<bool> enabled, std::optional<std::uint64_t> interval,
              std::optional<std::uint64_t> lifetime);
  void stop(RouterRec& r);  // removal: the service leaves the event loop

 private:
  void ensure(RouterRec& r);  // r.mu held
  void send_rs(DeviceRec& d, const IfaceRec& i);
  bool has_default_route(DeviceRec& d, const IfaceRec& i);
  bool link_running(DeviceRec& d, const IfaceRec& i);

  sys::SetupThread& setup_;
  LabServices& services_;
  const NodeRegistry& nodes_;
  Ipv6ProvisioningMode default_mode_;
  EmitEvent emit_;
};

}  // namespace patchbay::detail
