#include "sys/setup_thread.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>

#include <cstdio>
#include <cstdlib>
#include <future>

#include "sys/errno.hpp"
#include "sys/netns.hpp"
#include "sys/rtnl.hpp"
#include "sys/sched.hpp"

namespace patchbay::sys {

namespace {

void go_home(int home) {
  if (::setns(home, CLONE_NEWNET) != 0) {
    // The thread would keep configuring whatever namespace it is stranded in.
    std::perror("patchbay: setup thread cannot return to the lab root namespace");
    std::abort();
  }
}

}  // namespace

SetupThread::SetupThread(std::vector<Sysctl> sysctls) : sysctls_(std::move(sysctls)) {}

SetupThread::~SetupThread() {
  stop();
}

void SetupThread::stop() {
  std::thread t;
  {
    std::lock_guard lk(mu_);
    stop_ = true;
    t = std::move(thread_);
  }
  cv_.notify_all();
  if (t.joinable()) t.join();
  std::lock_guard lk(mu_);
  spare_.clear();
  home_.reset();
}

void SetupThread::ensure_thread() {
  if (running_ || stop_) return;
  if (thread_.joinable()) thread_.join();
  running_ = true;
  thread_ = std::thread([this] { loop(); });
}

void SetupThread::submit(std::function<void()> job) {
  std::promise<void> done;
  auto fut = done.get_future();
  {
    std::lock_guard lk(mu_);
    if (stop_) throw Cancelled("setup", "the lab is shutting down");
    jobs_.push_back([&] {
      try {
        job();
        done.set_value();
      } catch (...) {
        done.set_exception(std::current_exception());
      }
    });
    ensure_thread();
  }
  cv_.notify_all();
  fut.get();
}

PreparedNs SetupThread::create_home() {
  PreparedNs p;
  submit([&] {
    // The thread stays in the namespace it creates: that is what makes it the home.
    if (::unshare(CLONE_NEWNET) != 0) throw_errno("lab root", "unshare(CLONE_NEWNET)");
    p.fd = open_current_netns();
    for (const auto& s : sysctls_) write_sysctl(s.path, s.value);
    p.nl = NetlinkSocket::open();
    int dup = ::fcntl(p.fd.get(), F_DUPFD_CLOEXEC, 3);
    if (dup < 0) throw_errno("lab root", "dup");
    home_.reset(dup);
  });
  NlBatch b("lab root");
  set_link(b, 1, true, std::nullopt, std::nullopt, "bring up lo");
  p.nl.commit(b);
  return p;
}

PreparedNs SetupThread::make() {
  PreparedNs p;
  if (::unshare(CLONE_NEWNET) != 0) {
    int err = errno;
    go_home(home_.get());
    throw_errno("netns", "unshare(CLONE_NEWNET)", err);
  }
  try {
    p.fd = open_current_netns();
    for (const auto& s : sysctls_) write_sysctl(s.path, s.value);
    p.nl = NetlinkSocket::open();
  } catch (...) {
    go_home(home_.get());
    throw;
  }
  go_home(home_.get());
  NlBatch b("namespace setup");
  set_link(b, 1, true, std::nullopt, std::nullopt, "bring up lo");
  p.nl.commit(b);
  return p;
}

PreparedNs SetupThread::take() {
  std::optional<PreparedNs> got;
  {
    std::lock_guard lk(mu_);
    auto now = std::chrono::steady_clock::now();
    // Back-to-back takes mean a lab is being built: keep more ready. A lone take keeps one.
    bool busy = now - last_take_ < std::chrono::milliseconds(50);
    last_take_ = now;
    target_ = busy ? std::min(kMaxSpare, std::max<std::size_t>(4, target_ * 2)) : 1;
    if (!spare_.empty()) {
      got.emplace(std::move(spare_.front()));
      spare_.pop_front();
    }
    ensure_thread();
  }
  cv_.notify_all();
  if (got) return std::move(*got);
  PreparedNs p;
  submit([&] { p = make(); });
  return p;
}

void SetupThread::in_netns(int netns_fd, const std::function<void()>& fn) {
  submit([&] {
    enter_netns(netns_fd);
    try {
      fn();
    } catch (...) {
      go_home(home_.get());
      throw;
    }
    go_home(home_.get());
  });
}

void SetupThread::loop() {
  ::pthread_setname_np(::pthread_self(), "patchbay:setup");
  run_as_background_thread();  // namespace pre-creation must not delay forwarding (sched.hpp)
  std::unique_lock lk(mu_);
  // A restarted thread begins wherever its creator was; the home is the lab root.
  if (home_) go_home(home_.get());
  for (;;) {
    if (!jobs_.empty()) {
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lk.unlock();
      job();
      lk.lock();
      continue;
    }
    if (stop_) break;
    if (home_ && spare_.size() < target_) {
      lk.unlock();
      std::optional<PreparedNs> p;
      try {
        p.emplace(make());
      } catch (...) {
        // take() will make its own and report the error there; stop pre-creating.
      }
      lk.lock();
      if (p)
        spare_.push_back(std::move(*p));
      else
        target_ = 0;
      continue;
    }
    if (!cv_.wait_for(lk, std::chrono::seconds(1),
                      [&] { return stop_ || !jobs_.empty() || (home_ && spare_.size() < target_); })) {
      // Idle: release the spares (each holds kernel memory) and let the thread go.
      spare_.clear();
      target_ = 0;
      break;
    }
  }
  spare_.clear();
  running_ = false;
}

}  // namespace patchbay::sys
