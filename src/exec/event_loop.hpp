// The lab's event loop thread: epoll over file descriptors plus posted closures.
//
// One per lab, started on first use. It services the NAT controller's queues and the routers'
// RA sockets and timers, so per-router work never costs a thread. Handlers run on the loop thread;
// unwatch() returns only when the fd's handler can no longer run, so the caller may close the fd
// right after.
//
// Failure handling: a handler or posted closure that throws does not end the loop (nor the
// process): the exception goes to the error reporter given at construction (the lab turns it into
// an event and a log record) and the loop carries on. After stop (destruction begun) post()
// returns false and call()/watch()/unwatch() throw Cancelled("<thread name>: is shut down").
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "patchbay/fd.hpp"
#include "sys/task_queue.hpp"

namespace patchbay::detail {

class EventLoop {
 public:
  using Handler = std::function<void(std::uint32_t events)>;
  // Called on the loop thread with what a handler threw (`what` = "handler for fd 12", "posted task").
  using ErrorReporter = std::function<void(const std::string& what, std::exception_ptr)>;

  explicit EventLoop(std::string thread_name, ErrorReporter on_error = {});
  ~EventLoop();  // stops and joins; pending posts are dropped (their call()ers get Cancelled)
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  bool post(std::function<void()> fn) { return tasks_.post(std::move(fn)); }
  // Runs fn on the loop thread and waits for it (inline when already there); rethrows.
  void call(const std::function<void()>& fn);
  void watch(int fd, std::uint32_t events, Handler handler);
  void unwatch(int fd);
  bool on_loop_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  void run();
  void wake();
  template <class F>
  void guarded(int fd, F&& fn);

  std::string name_;
  ErrorReporter on_error_;
  UniqueFd epfd_, evfd_;
  sys::TaskQueue tasks_;
  std::map<int, std::shared_ptr<Handler>> handlers_;  // loop thread only
  std::thread thread_;
};

}  // namespace patchbay::detail
