#include "exec/event_loop.hpp"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <future>

#include "sys/errno.hpp"

namespace patchbay::detail {

EventLoop::EventLoop(std::string thread_name) {
  epfd_.reset(::epoll_create1(EPOLL_CLOEXEC));
  evfd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!epfd_ || !evfd_) sys::throw_errno("event loop", "epoll_create1/eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = evfd_.get();
  if (::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, evfd_.get(), &ev) != 0)
    sys::throw_errno("event loop", "epoll_ctl");
  thread_ = std::thread([this, name = std::move(thread_name)] {
    ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
    run();
  });
}

EventLoop::~EventLoop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  wake();
  if (thread_.joinable()) thread_.join();
}

void EventLoop::wake() {
  std::uint64_t one = 1;
  ssize_t r = ::write(evfd_.get(), &one, sizeof one);
  (void)r;
}

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard lk(mu_);
    if (stop_) return;
    posted_.push_back(std::move(fn));
  }
  wake();
}

void EventLoop::call(const std::function<void()>& fn) {
  if (on_loop_thread()) {
    fn();
    return;
  }
  std::promise<void> done;
  auto fut = done.get_future();
  post([&] {
    try {
      fn();
      done.set_value();
    } catch (...) {
      done.set_exception(std::current_exception());
    }
  });
  fut.get();
}

void EventLoop::watch(int fd, std::uint32_t events, Handler handler) {
  call([&] {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
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

void EventLoop::run() {
  epoll_event events[64];
  for (;;) {
    std::deque<std::function<void()>> posted;
    {
      std::lock_guard lk(mu_);
      if (stop_) return;
      posted.swap(posted_);
    }
    for (auto& fn : posted) fn();
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
      (*h)(events[i].events);
    }
  }
}

}  // namespace patchbay::detail
