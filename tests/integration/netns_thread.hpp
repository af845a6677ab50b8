// A test helper: a thread that lives in a fresh network namespace (with lo up) and runs jobs
// there. Test binaries enter a user namespace first when not run as root, so unshare works either
// way.
#pragma once

#include <sched.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <type_traits>

#include "sys/netlink.hpp"
#include "sys/rtnl.hpp"

namespace patchbay::testing {

class NetnsThread {
 public:
  NetnsThread() {
    std::promise<void> ready;
    auto started = ready.get_future();
    thread_ = std::thread([this, &ready] {
      try {
        if (::unshare(CLONE_NEWNET) != 0) throw std::system_error(errno, std::generic_category(), "unshare");
        patchbay::sys::NlBatch b("test netns");
        patchbay::sys::set_link(b, 1, true, std::nullopt, std::nullopt, "lo up");  // lo is index 1
        auto nl = patchbay::sys::NetlinkSocket::open();
        nl.commit(b);
      } catch (...) {
        ready.set_exception(std::current_exception());
        return;
      }
      ready.set_value();
      loop();
    });
    try {
      started.get();
    } catch (...) {
      thread_.join();
      throw;
    }
  }
  ~NetnsThread() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  // Runs f inside the namespace and returns its result (or rethrows its exception).
  template <class F>
  auto run(F&& f) {
    std::packaged_task<std::invoke_result_t<F&>()> task(std::forward<F>(f));
    auto result = task.get_future();
    {
      std::lock_guard lock(mu_);
      jobs_.push_back([&task] { task(); });
    }
    cv_.notify_all();
    return result.get();
  }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace patchbay::testing
