// The lab's spawner/reaper thread.
//
// Children must be forked from a thread that lives as long as the lab, because
// PR_SET_PDEATHSIG fires when the *forking thread* exits. The spawner thread forks every child
// (requests are marshalled to it), watches each child's pidfd with epoll, reaps it and publishes
// its exit status. It is started on the first spawn, so a lab that never runs a program has no
// such thread.
//
// The process is made a child subreaper so that grandchildren orphaned inside a child's process
// group are reparented to us and can be reaped at teardown (this machine's pid 1 does not reap).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "patchbay/exec.hpp"
#include "patchbay/fd.hpp"
#include "patchbay/types.hpp"
#include "sys/process.hpp"

namespace patchbay::detail {

struct ChildState {
  pid_t pid = -1;
  UniqueFd pidfd;
  NodeId node;
  std::string node_name;
  std::mutex mu;
  std::condition_variable cv;
  std::optional<ExitStatus> status;

  void set(ExitStatus s);
  std::optional<ExitStatus> get();
  ExitStatus wait();
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds t);
};

class Spawner {
 public:
  using ExitCallback = std::function<void(const ChildState&)>;
  explicit Spawner(ExitCallback on_exit);
  ~Spawner();  // terminates every remaining child (grace 0) and joins
  Spawner(const Spawner&) = delete;
  Spawner& operator=(const Spawner&) = delete;

  // Forks on the spawner thread; throws ProcessError on failure. `on_spawned` runs on the spawner
  // thread before the child can be reaped, so a "spawned" event always precedes its "exited".
  std::shared_ptr<ChildState> spawn(const sys::SpawnSpec& spec, NodeId node, std::string node_name,
                                    const std::function<void(const ChildState&)>& on_spawned = {});

  // SIGTERM to the process groups of the matching children, SIGKILL after `grace`, reap all,
  // including orphaned grandchildren in those groups. `node` = nullopt means every child.
  void terminate(std::optional<NodeId> node, std::chrono::milliseconds grace);

 private:
  void loop();
  void wake();
  void reap(const std::shared_ptr<ChildState>& c);
  void sweep_groups();

  ExitCallback on_exit_;
  UniqueFd epfd_, evfd_;
  std::mutex mu_;
  std::deque<std::function<void()>> requests_;
  std::map<int, std::shared_ptr<ChildState>> live_;  // pidfd -> child
  std::map<pid_t, NodeId> groups_;                   // process groups that may still hold members
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace patchbay::detail
