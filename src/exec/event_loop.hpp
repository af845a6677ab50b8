// The lab's event loop thread: file descriptors watched for readiness plus posted closures, on a
// LoopThread (one asio::io_context).
//
// One per lab, started on first use. It services the NAT controller's queues and the routers'
// RA sockets and timers, so per-router work never costs a thread. Handlers run on the loop thread;
// unwatch() returns only when the fd's handler can no longer run, so the caller may close the fd
// right after. A handler is called once per readiness and re-armed after it returns (level
// semantics: data it leaves unread calls it again).
//
// Failure handling: a handler or posted closure that throws does not end the loop (nor the
// process): the exception goes to the error reporter given at construction (the lab turns it into
// an event and a log record) and the loop carries on. After stop (destruction begun) post()
// returns false and call()/watch()/unwatch() throw Cancelled("<thread name>: is shut down").
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "exec/loop_thread.hpp"

namespace patchbay::detail {

class EventLoop {
 public:
  using Handler = std::function<void(std::uint32_t events)>;
  using ErrorReporter = LoopThread::ErrorReporter;

  explicit EventLoop(std::string thread_name, ErrorReporter on_error = {});
  ~EventLoop();  // stops and joins; pending posts are dropped (their call()ers get Cancelled)
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  bool post(std::function<void()> fn) { return loop_.post(std::move(fn)); }
  // Runs fn on the loop thread and waits for it (inline when already there); rethrows.
  void call(const std::function<void()>& fn) {
    loop_.call([&] { fn(); });
  }
  // `events`: EPOLLIN and/or EPOLLOUT; the handler gets the one that became ready.
  void watch(int fd, std::uint32_t events, Handler handler);
  void unwatch(int fd);
  bool on_loop_thread() const { return loop_.on_thread(); }

 private:
  struct Watch;
  void arm(const std::shared_ptr<Watch>& w, std::uint32_t event);

  LoopThread loop_;
  std::map<int, std::shared_ptr<Watch>> watches_;  // loop thread only; destroyed before loop_
};

}  // namespace patchbay::detail
