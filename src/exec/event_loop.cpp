#include "exec/event_loop.hpp"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <iostream>

#include "sys/errno.hpp"

namespace patchbay::detail {

EventLoop::EventLoop(std::string thread_name, ErrorReporter on_error)
    : name_(std::move(thread_name)), on_error_(std::move(on_error)), tasks_(name_, [this] { wake(); }) {
  epfd_.reset(::epoll_create1(EPOLL_CLOEXEC));
  evfd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!epfd_ || !evfd_) sys::throw_errno("event loop", "epoll_create1/eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = evfd_.get();
  if (::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, evfd_.get(), &ev) != 0)
    sys::throw_errno("event loop", "epoll_ctl");
  thread_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), name_.substr(0, 15).c_str());
    run();
  });
}

EventLoop::~EventLoop() {
  tasks_.close();
  wake();
  if (thread_.joinable()) thread_.join();
}

void EventLoop::wake() {
  std::uint64_t one = 1;
  ssize_t r = ::write(evfd_.get(), &one, sizeof one);
  (void)r;
}

void EventLoop::call(const std::function<void()>& fn) {
  if (on_loop_thread()) {
    fn();
    return;
  }
  tasks_.call([&] { fn(); });
}

void EventLoop::watch(int fd, std::uint32_t events, Handler handler) {
  call([&] {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;  // the only member this loop writes and reads
    if (::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
      sys::throw_errno("event loop", "epoll_ctl(ADD)");
    handlers_[fd] = std::make_shared<Handler>(std::move(handler));
  });
}

void EventLoop::unwatch(int fd) {
  call([&] {
    ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, nullptr);
    handlers_.erase(fd);
  });
}

// `fd` < 0: a posted task. The description is built only when something failed.
template <class F>
void EventLoop::guarded(int fd, F&& fn) {
  try {
    fn();
  } catch (...) {
    const std::string what = fd < 0 ? std::string("posted task") : "handler for fd " + std::to_string(fd);
    if (on_error_) {
      try {
        on_error_(what, std::current_exception());
        return;
      } catch (...) {  // a failing reporter must not end the loop either
      }
    }
    try {
      throw;
    } catch (const std::exception& e) {
      std::cerr << "patchbay: " << name_ << ": " << what << " failed: " << e.what() << "\n";
    } catch (...) {
      std::cerr << "patchbay: " << name_ << ": " << what << " failed\n";
    }
  }
}

void EventLoop::run() {
  epoll_event events[64];
  std::deque<std::function<void()>> posted;
  for (;;) {
    if (tasks_.closed()) return;
    tasks_.take_into(posted);
    for (auto& fn : posted) guarded(-1, fn);
    posted.clear();
    int n = ::epoll_wait(epfd_.get(), events, 64, -1);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == evfd_.get()) {
        std::uint64_t v;
        ssize_t r = ::read(fd, &v, sizeof v);
        (void)r;
        continue;
      }
      auto it = handlers_.find(fd);
      if (it == handlers_.end()) continue;
      auto h = it->second;  // the handler may unwatch itself
      const std::uint32_t ev = events[i].events;
      guarded(fd, [&] { (*h)(ev); });
    }
  }
}

}  // namespace patchbay::detail
