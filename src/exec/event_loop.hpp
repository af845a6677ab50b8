// The lab's event loop thread: epoll over file descriptors plus posted closures.
//
// One per lab, started on first use. It services the NAT controller's queues now and will host the
// link engine (packet sockets, timers) and NAT64 translators, so per-router work never costs a
// thread. Handlers run on the loop thread; unwatch() returns only when the fd's handler can no
// longer run, so the caller may close the fd right after.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "patchbay/fd.hpp"

namespace patchbay::detail {

class EventLoop {
 public:
  using Handler = std::function<void(std::uint32_t events)>;

  explicit EventLoop(std::string thread_name);
  ~EventLoop();  // stops and joins; pending posts are dropped
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  void post(std::function<void()> fn);
  // Runs fn on the loop thread and waits for it (inline when already there); rethrows.
  void call(const std::function<void()>& fn);
  void watch(int fd, std::uint32_t events, Handler handler);
  void unwatch(int fd);
  bool on_loop_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  void run();
  void wake();

  UniqueFd epfd_, evfd_;
  std::mutex mu_;
  std::deque<std::function<void()>> posted_;
  std::map<int, std::shared_ptr<Handler>> handlers_;  // loop thread only
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace patchbay::detail
