// The lab's spawner/reaper thread.
//
// Children must be forked from a thread that lives as long as the lab, because
// PR_SET_PDEATHSIG fires when the *forking thread* exits. The spawner thread (a LoopThread) forks
// every child (requests are marshalled to it), waits for each child's pidfd to become readable,
// reaps it and publishes its exit status. It is started on the first spawn, so a lab that never
// runs a program has no such thread.
//
// While any spawner exists the process is a child subreaper, so grandchildren orphaned inside a
// child's process group are reparented to us and can be reaped at teardown (this machine's pid 1
// does not reap); the last spawner restores the attribute the process had before.
//
// Process groups are signalled by id (kill(-pgid)), and an id is only safe to signal while it
// cannot have been reused: a child that exits is therefore left a zombie (its status published at
// once, through waitid(WNOWAIT)) until no other member of its group is left; only then is it
// reaped and its group forgotten. An empty group is found by a scan of /proc, at most once per
// loop iteration and only while some group's leader has exited.
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
#include <optional>
#include <set>
#include <string>
#include <thread>

#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>

#include "exec/loop_thread.hpp"
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
  bool group_done = false;  // the leader was reaped: its id may be reused, never signal -pid again

  void set(ExitStatus s);
  std::optional<ExitStatus> get();
  ExitStatus wait();
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds t);
  // kill(-pid, sig) while the group id is still ours; false once the group is done.
  bool signal_group(int sig);
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
  struct Group {
    NodeId node;
    std::shared_ptr<ChildState> leader;
    bool leader_exited = false;
  };
  // Spawner thread: waits for the child's pidfd (a dup, owned by the wait) to become readable.
  void wait_exit(const std::shared_ptr<ChildState>& c);
  // Spawner thread: sweeps now, and every 200 ms while a group outlives its leader (its
  // orphans leave no pidfd to wait on).
  void sweep_soon();
  // The leader's exit: status published, leader left a zombie. Returns false if it still runs.
  bool observe_exit(const std::shared_ptr<ChildState>& c);
  // Reaps orphaned zombies of groups whose leader exited, and the leader of every group that has
  // no other member left (then forgets the group). `only` limits it to those groups.
  void sweep(const std::vector<pid_t>* only = nullptr);

  ExitCallback on_exit_;
  std::mutex mu_;
  std::map<int, std::shared_ptr<ChildState>> live_;  // pidfd -> child still running
  std::map<pid_t, Group> groups_;                    // pgid -> group (leader unreaped)
  std::mutex sweep_mu_;                              // one sweep at a time (loop vs terminate)
  LoopThread loop_;
  // Spawner thread only; destroyed before loop_ (declared after it).
  std::map<pid_t, std::unique_ptr<asio::posix::stream_descriptor>> exit_waits_;
  std::optional<asio::steady_timer> sweep_timer_;
  bool sweep_armed_ = false;
};

}  // namespace patchbay::detail
