#include "exec/event_loop.hpp"

#include <asio/posix/stream_descriptor.hpp>

#include "patchbay/error.hpp"

namespace patchbay::detail {

// The descriptor does not own the fd: it is released (deregistered, not closed) at unwatch.
struct EventLoop::Watch {
  Watch(asio::io_context& ctx, int fd, Handler h) : fd(fd), sd(ctx, fd), handler(std::move(h)) {}
  const int fd;
  asio::posix::stream_descriptor sd;
  Handler handler;
  bool active = true;
};

EventLoop::EventLoop(std::string thread_name, ErrorReporter on_error)
    : loop_({.name = thread_name,
             .thread_name = thread_name,
             .on_error = std::move(on_error),
             .init = {},
             .wait_for_init = false}) {}

EventLoop::~EventLoop() {
  loop_.stop(LoopThread::Drain::No);
  // The thread is gone: nothing else touches the descriptors.
  for (auto& [fd, w] : watches_) w->sd.release();
  watches_.clear();
}

void EventLoop::arm(const std::shared_ptr<Watch>& w, std::uint32_t event) {
  const auto kind =
      event == EPOLLOUT ? asio::posix::descriptor_base::wait_write : asio::posix::descriptor_base::wait_read;
  // A weak reference: a completion queued before unwatch() finds the watch gone (or inactive,
  // for a re-watched fd) and does nothing.
  w->sd.async_wait(kind, [this, weak = std::weak_ptr<Watch>(w), event](const asio::error_code& ec) {
    auto w = weak.lock();
    if (ec || !w || !w->active) return;
    loop_.guarded(w->fd, [&] { w->handler(event); });
    if (w->active) arm(w, event);  // the handler may have unwatched it
  });
}

void EventLoop::watch(int fd, std::uint32_t events, Handler handler) {
  if ((events & ~std::uint32_t{EPOLLIN | EPOLLOUT}) != 0 || events == 0)
    throw InvalidArgument("event loop",
                          "watch(fd " + std::to_string(fd) + "): events must be EPOLLIN and/or EPOLLOUT");
  loop_.call([&] {
    if (watches_.count(fd))
      throw AlreadyExists("event loop", "fd " + std::to_string(fd) + " is already watched");
    auto w = std::make_shared<Watch>(loop_.context(), fd, std::move(handler));
    watches_.emplace(fd, w);
    if (events & EPOLLIN) arm(w, EPOLLIN);
    if (events & EPOLLOUT) arm(w, EPOLLOUT);
  });
}

void EventLoop::unwatch(int fd) {
  loop_.call([&] {
    auto it = watches_.find(fd);
    if (it == watches_.end()) return;
    it->second->active = false;
    it->second->sd.release();  // deregisters; pending waits complete as aborted
    watches_.erase(it);
  });
}

}  // namespace patchbay::detail
