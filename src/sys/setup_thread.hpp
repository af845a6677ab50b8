// The lab's setup thread: every namespace hop of the library, plus namespaces made ahead of demand.
//
// Why one thread does the hopping: once a process has entered a user namespace (rootless labs), a
// thread may enter the lab's namespaces but can never return to the host's, which belongs to the
// initial user namespace. So hops happen on a thread whose home is the lab root namespace: it
// enters the target, does the work (open a socket, write sysctls) and comes back home.
//
// Creating a namespace (0.4 ms here), writing its lab-wide sysctls and opening its netlink socket
// costs about as much as wiring a node and does not depend on the topology, so while a lab is
// being built the thread keeps a few namespaces ready (using the second core). It exits after one
// idle second and is started again on demand: an idle lab holds no setup thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "patchbay/fd.hpp"
#include "sys/netlink.hpp"
#include "sys/sysctl.hpp"

namespace patchbay::sys {

struct PreparedNs {
  UniqueFd fd;
  NetlinkSocket nl;  // NETLINK_ROUTE, bound to the namespace
};

class SetupThread {
 public:
  // `sysctls` are written in every new namespace before any interface exists; `lo` is brought up.
  explicit SetupThread(std::vector<Sysctl> sysctls);
  ~SetupThread();  // == stop()
  SetupThread(const SetupThread&) = delete;
  SetupThread& operator=(const SetupThread&) = delete;

  // Creates the home namespace (the lab root). Call once, before anything else.
  PreparedNs create_home();
  // A prepared namespace: a spare if one is ready, else made now.
  PreparedNs take();
  // Runs fn on the setup thread inside `netns_fd`, then returns home. Rethrows fn's exception.
  void in_netns(int netns_fd, const std::function<void()>& fn);
  // Joins the thread and drops the spares; later calls throw Cancelled.
  void stop();

 private:
  static constexpr std::size_t kMaxSpare = 32;
  void submit(std::function<void()> job);  // runs job on the thread and waits
  void ensure_thread();                    // mu_ held
  void loop();
  PreparedNs make();  // on the setup thread

  const std::vector<Sysctl> sysctls_;
  UniqueFd home_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::deque<PreparedNs> spare_;
  std::size_t target_ = 0;
  std::chrono::steady_clock::time_point last_take_{};
  bool stop_ = false;
  bool running_ = false;
  std::thread thread_;
};

}  // namespace patchbay::sys
