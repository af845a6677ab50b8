// The link engine's control plane: the kernel work of moving a bridge port behind the engine and
// back (trunk veth, sysctls, packet sockets opened through the setup thread, tc filters, bridge
// port flags, FDB entries), on its own thread ("patchbay:plumb"), so the forwarding thread only
// ever pauses for the short hand-overs (DataPlane::call). Tasks run one at a time, in order: the
// public engine operations and the restores the data plane asks for after draining.
#pragma once

#include <string>
#include <thread>

#include "link/data_plane.hpp"
#include "sys/task_queue.hpp"

namespace patchbay::sys {
class SetupThread;
}

namespace patchbay::link {

class ControlPlane {
 public:
  ControlPlane(sys::SetupThread& setup, DataPlane& data);
  ~ControlPlane();  // stop()s
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // Runs fn on the control thread, waits, rethrows.
  template <class F>
  auto call(F&& fn) -> decltype(fn()) {
    return tasks_.call(std::forward<F>(fn));
  }
  // Refuses new tasks (call throws Cancelled, post returns false); the current one finishes.
  void close() { tasks_.close(); }
  void stop();

  // ---- on the control thread ------------------------------------------------------------------
  // Routes a port through the engine (and its bridge's trunk first, if needed).
  void plumb_port(Bridge& br, Port& p);
  // Asked by the data plane after a port drained: restores the plain bridge path if the port is
  // still unwanted (no-op otherwise, e.g. a condition came back meanwhile).
  void post_restore(std::uint64_t br, int ifindex);
  // The shared socket of a namespace of point-to-point ends, opened on first use.
  Hub* hub_for(int ns_fd, const std::string& what);

 private:
  void run();
  void plumb_bridge(Bridge& br);
  void restore(std::uint64_t br, int ifindex);
  void forget_fdb(Bridge& br, int port, const sys::Mac& mac);

  sys::SetupThread& setup_;
  DataPlane& data_;
  sys::TaskQueue tasks_{"link engine control", {}};
  std::thread thread_;
};

}  // namespace patchbay::link
