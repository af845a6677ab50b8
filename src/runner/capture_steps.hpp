// The `capture` and `capture-stop` sim steps: pcapng captures of a node's interface into the sim
// directory (Node::capture), running from their `capture` step until `capture-stop` or the end
// of the sim.
//
//   [[step]]                                  [[step]]
//   action = "capture"                        action = "capture-stop"
//   device = "client"   # or router = "home"  id = "eth0"
//   interface = "eth0"  # device default: its default interface; routers must name one
//   filter = "icmp"     # pcap-filter syntax (optional)
//   id = "eth0"         # default: the interface; the file is <kind>.<node>.<id>.pcapng
//   rotate_mb = 64      # optional, with max_files = N
//
// Captures recorded: <id>.path when it starts; <id>.packets and <id>.kernel_drops when it stops.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "patchbay/capture.hpp"
#include "patchbay/lab.hpp"
#include "runner/captures.hpp"
#include "runner/interpolate.hpp"
#include "runner/step_view.hpp"

namespace patchbay::runner {

class PacketCaptureSteps {
 public:
  // Runs `v` if it is a capture step and returns true; false for any other action. ConfigError
  // names the step and key (unknown node or id, an id already running, bad numbers); the
  // library's errors (unknown interface, a filter libpcap rejects) carry through.
  // `filter` is interpolated (`host $NETSIM_IP_server`).
  bool run(Lab& lab, const StepView& v, const InterpContext& ctx, CaptureStore& store);
  // Stops every capture still running, recording its figures; errors are returned as text.
  std::vector<std::string> stop_all(CaptureStore& store);

 private:
  void start(Lab& lab, const StepView& v, const InterpContext& ctx, CaptureStore& store);
  void stop(const StepView& v, CaptureStore& store);

  std::map<std::string, CaptureGuard> running_;
};

}  // namespace patchbay::runner
