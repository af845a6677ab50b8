// The lab's shared services, each started on first use: the event loop (NAT queues, RA sockets),
// the NAT controller on it, the userspace link engine and the child-process spawner. This class
// owns their lifetime and the order they stop in; it knows nothing of nodes or the topology.
//
// Contract: after close() no service is made (again); every getter throws Removed. Callers that
// already hold a service keep using it until stop(), which LabCore calls only once the
// operations in flight have finished.
//
// Locking: one leaf mutex per service (`loop_mu_` also guards the NAT controller, which lives on
// the loop); a getter never calls out while holding another service's mutex.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "exec/event_loop.hpp"
#include "exec/spawner.hpp"
#include "link/engine.hpp"
#include "nat/controller.hpp"
#include "sys/setup_thread.hpp"

namespace patchbay::detail {

struct RaService;  // ra_control.cpp

class LabServices {
 public:
  // A service failed and carried on: (service, what, message). Called on the service's thread.
  using ErrorSink = std::function<void(const std::string&, const std::string&, const std::string&)>;

  // `setup` must outlive this object's stop(). `lab` names the lab in Removed errors.
  LabServices(std::string lab, std::uint64_t seed, sys::SetupThread& setup, ErrorSink on_error,
              Spawner::ExitCallback on_child_exit);
  ~LabServices();
  LabServices(const LabServices&) = delete;
  LabServices& operator=(const LabServices&) = delete;

  EventLoop& loop();
  nat::Controller& nat_controller();
  link::Engine& engine();
  link::Engine* engine_if_started();
  std::shared_ptr<Spawner> spawner();

  // SIGTERM to a node's children (all when nullopt), SIGKILL after `grace`; nothing if no child
  // was ever spawned.
  void terminate_children(std::optional<NodeId> node, std::chrono::milliseconds grace);

  // Router advertisement services stay alive while their handlers are on the loop.
  void keep_ra(std::shared_ptr<RaService> ra);
  // Takes the RA service's fds off the loop and lets it go.
  void drop_ra(const std::shared_ptr<RaService>& ra, int sock_fd, int timer_fd);

  // An fd served on the loop until drop_watch(fd) or, at the latest, stop(), which unwatches it and
  // then calls `on_stop` before the loop ends (packet captures flush and close their files
  // there). Throws Removed once closed.
  void watch_until_stop(int fd, EventLoop::Handler handler, std::function<void()> on_stop);
  // Unwatches fd (its handler cannot run once this returns) and forgets its on_stop. False when
  // stop() has already taken it, in which case its on_stop has run or is running.
  bool drop_watch(int fd);

  // Refuses new services from now on and hands over the spawner, which shutdown keeps using to
  // kill children while the operations in flight finish.
  std::shared_ptr<Spawner> close();
  // Stops the NAT controller, the loop and the engine, in that order (the controller detaches
  // through the loop; the engine may still use the setup thread).
  void stop();

 private:
  [[noreturn]] void refuse() const;
  EventLoop& loop_locked();  // loop() with loop_mu_ held

  const std::string lab_;
  const std::uint64_t seed_;
  sys::SetupThread& setup_;
  const ErrorSink on_error_;
  const Spawner::ExitCallback on_child_exit_;
  std::atomic<bool> closed_{false};

  std::mutex loop_mu_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<nat::Controller> nat_ctrl_;
  std::map<int, std::function<void()>> stop_watches_;  // fd -> on_stop; under loop_mu_
  std::mutex spawner_mu_;
  std::shared_ptr<Spawner> spawner_;
  std::mutex engine_mu_;
  std::unique_ptr<link::Engine> engine_;
  std::mutex ra_mu_;
  std::vector<std::shared_ptr<RaService>> ra_services_;
};

}  // namespace patchbay::detail
