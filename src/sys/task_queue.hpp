// TaskQueue: closures handed to one service thread, and the post-and-wait call on top of it.
//
//   sys::TaskQueue q("link engine", [&] { wake_the_thread(); });
//   q.post([] { ... });                      // false once the queue is closed: nothing runs
//   int n = q.call([] { return 42; });       // runs on the service thread, waits, rethrows
//   // service thread: for (auto& fn : q.take()) fn();     ...     q.close();  (at shutdown)
//   // or, for a thread with nothing else to wait on: while (q.wait_take(batch)) run(batch);
//
// The queue of the link engine's two threads (data plane, control plane), which keep their own
// measured loops; the lab event loop, the spawner and the node workers are LoopThreads
// (exec/loop_thread.hpp, one asio::io_context each) with the same guarantees.
// Guarantees:
// - After close() every post() returns false and every call() throws Cancelled("<name>", "is shut
//   down"). Closures accepted before close() can still be taken (a service may drain them); a
//   call() whose closure is destroyed unrun (the queue destroyed, or discard()) throws the same
//   Cancelled instead of waiting forever.
// - An exception thrown by a call()'s closure reaches the caller; post()ed closures own their
//   errors (the service thread decides what to do with them).
// - Thread-safe; `wake` runs after every accepted post, outside the lock.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>

#include "patchbay/error.hpp"
#include "sys/posted_call.hpp"

namespace patchbay::sys {

class TaskQueue {
 public:
  TaskQueue(std::string name, std::function<void()> wake) : name_(std::move(name)), wake_(std::move(wake)) {}
  TaskQueue(const TaskQueue&) = delete;
  TaskQueue& operator=(const TaskQueue&) = delete;

  bool post(std::function<void()> fn) {
    {
      std::lock_guard lk(mu_);
      if (closed_) return false;
      queue_.push_back(std::move(fn));
    }
    cv_.notify_one();
    if (wake_) wake_();
    return true;
  }

  // Runs fn on the service thread and returns its result. The caller must not be that thread.
  template <class F>
  auto call(F&& fn) -> std::invoke_result_t<F> {
    std::string name = name_;  // the queue may be gone when a dropped job wakes us
    auto [job, wait] = posted_call(fn);
    if (!post(std::move(job))) throw Cancelled(std::move(name), "is shut down");
    return wait(std::move(name));
  }

  // The closures posted so far, oldest first (service thread).
  std::deque<std::function<void()>> take() {
    std::deque<std::function<void()>> out;
    std::lock_guard lk(mu_);
    out.swap(queue_);
    return out;
  }
  void take_into(std::deque<std::function<void()>>& out) {
    std::lock_guard lk(mu_);
    out.swap(queue_);
  }

  // Blocks until something was posted (true, `out` filled) or the queue is closed and empty (false).
  bool wait_take(std::deque<std::function<void()>>& out) {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return closed_ || !queue_.empty(); });
    out.swap(queue_);
    return !out.empty();
  }

  // Refuses further posts; what was posted before can still be taken.
  void close() {
    {
      std::lock_guard lk(mu_);
      closed_ = true;
    }
    cv_.notify_all();
    if (wake_) wake_();
  }
  // Destroys what was not taken: their call()ers get Cancelled.
  void discard() {
    std::deque<std::function<void()>> dropped;
    std::lock_guard lk(mu_);
    dropped.swap(queue_);
  }
  bool closed() const {
    std::lock_guard lk(mu_);
    return closed_;
  }
  bool empty() const {
    std::lock_guard lk(mu_);
    return queue_.empty();
  }

 private:
  std::string name_;
  std::function<void()> wake_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool closed_ = false;
};

}  // namespace patchbay::sys
