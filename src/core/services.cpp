#include "core/services.hpp"

#include "core/ids.hpp"
#include "patchbay/error.hpp"
#include "sys/errno.hpp"

namespace patchbay::detail {

LabServices::LabServices(std::string lab, std::uint64_t seed, sys::SetupThread& setup, ErrorSink on_error,
                         Spawner::ExitCallback on_child_exit)
    : lab_(std::move(lab)),
      seed_(seed),
      setup_(setup),
      on_error_(std::move(on_error)),
      on_child_exit_(std::move(on_child_exit)) {}

LabServices::~LabServices() {
  close();
  stop();
}

void LabServices::refuse() const {
  throw Removed("lab '" + lab_ + "'", "the lab has been shut down");
}

EventLoop& LabServices::loop() {
  std::lock_guard lk(loop_mu_);
  return loop_locked();
}

EventLoop& LabServices::loop_locked() {
  // Never made again once stop() has taken it (it does so under loop_mu_, after closed_).
  if (closed_) refuse();
  if (!loop_) {
    // A failing handler (NAT queue, RA socket) is reported and the loop carries on.
    loop_ =
        std::make_unique<EventLoop>("patchbay:loop", [this](const std::string& what, std::exception_ptr e) {
          on_error_("event loop", what, sys::exception_text(e));
        });
  }
  return *loop_;
}

nat::Controller& LabServices::nat_controller() {
  auto& l = loop();
  std::lock_guard lk(loop_mu_);
  if (closed_) refuse();
  if (!nat_ctrl_)
    nat_ctrl_ = std::make_unique<nat::Controller>(l, seed_, [this](NodeId router, const std::string& msg) {
      on_error_("nat controller", "router " + std::to_string(router.value), msg);
    });
  return *nat_ctrl_;
}

link::Engine* LabServices::engine_if_started() {
  std::lock_guard lk(engine_mu_);
  return engine_.get();
}

link::Engine& LabServices::engine() {
  std::lock_guard lk(engine_mu_);
  if (closed_) refuse();
  if (!engine_)
    engine_ = std::make_unique<link::Engine>(
        setup_, [s = seed_](std::uint64_t id, std::uint64_t purpose) { return core::seed3(s, id, purpose); });
  return *engine_;
}

std::shared_ptr<Spawner> LabServices::spawner() {
  std::lock_guard lk(spawner_mu_);
  if (closed_) refuse();
  if (!spawner_) spawner_ = std::make_shared<Spawner>(on_child_exit_);
  return spawner_;
}

void LabServices::terminate_children(std::optional<NodeId> node, std::chrono::milliseconds grace) {
  std::shared_ptr<Spawner> sp;
  {
    std::lock_guard lk(spawner_mu_);
    sp = spawner_;
  }
  if (sp) sp->terminate(node, grace);
}

void LabServices::keep_ra(std::shared_ptr<RaService> ra) {
  std::lock_guard lk(ra_mu_);
  ra_services_.push_back(std::move(ra));
}

void LabServices::drop_ra(const std::shared_ptr<RaService>& ra, int sock_fd, int timer_fd) {
  {
    std::lock_guard lk(loop_mu_);
    if (loop_) {
      loop_->unwatch(sock_fd);
      loop_->unwatch(timer_fd);
    }
  }
  std::lock_guard lk(ra_mu_);
  std::erase(ra_services_, ra);
}

void LabServices::watch_until_stop(int fd, EventLoop::Handler handler, std::function<void()> on_stop) {
  std::lock_guard lk(loop_mu_);
  loop_locked().watch(fd, EPOLLIN, std::move(handler));
  stop_watches_[fd] = std::move(on_stop);
}

bool LabServices::drop_watch(int fd) {
  std::lock_guard lk(loop_mu_);
  if (!stop_watches_.erase(fd)) return false;
  if (loop_) loop_->unwatch(fd);
  return true;
}

std::shared_ptr<Spawner> LabServices::close() {
  closed_ = true;
  std::lock_guard lk(spawner_mu_);
  return std::move(spawner_);
}

void LabServices::stop() {
  std::unique_ptr<nat::Controller> ctrl;
  std::unique_ptr<EventLoop> loop;
  {
    // Under loop_mu_ throughout, so a concurrent drop_watch() either unwatched first or returns
    // false after the on_stop calls here finished.
    std::lock_guard lk(loop_mu_);
    for (auto& [fd, on_stop] : stop_watches_) {
      if (loop_) loop_->unwatch(fd);
      try {
        if (on_stop) on_stop();
      } catch (...) {
        on_error_("event loop", "fd " + std::to_string(fd) + " at lab stop",
                  sys::exception_text(std::current_exception()));
      }
    }
    stop_watches_.clear();
    ctrl = std::move(nat_ctrl_);
    loop = std::move(loop_);
  }
  ctrl.reset();  // detaches through the loop, so before it
  loop.reset();
  std::unique_ptr<link::Engine> eng;
  {
    std::lock_guard lk(engine_mu_);
    eng = std::move(engine_);
  }
  eng.reset();  // before the setup thread: it may still be opening a packet socket
}

}  // namespace patchbay::detail
