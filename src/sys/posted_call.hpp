// A closure run on a service thread while its caller waits: the one post-and-wait mechanism of
// TaskQueue::call (link engine) and LoopThread::call (event loop, workers, spawner).
//
//   auto [job, wait] = sys::posted_call(fn);   // job: std::function<void()> for the service thread
//   if (!post(std::move(job))) throw Cancelled(name, "is shut down");
//   return wait(name);                          // fn's result, or its exception rethrown
//
// The job holds the only reference to its run-once state besides the caller: destroyed unrun (the
// queue closed or discarded, the io_context destroyed), it wakes the caller with
// Cancelled("<name>", "is shut down") instead of leaving it waiting forever.
//
// Built on a mutex and a condition variable rather than std::packaged_task/std::future: libstdc++
// waits for a future with a futex inside the shared library, which ThreadSanitizer cannot see, so
// every value handed back through a future read as a data race under --sanitize=thread.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "patchbay/error.hpp"

namespace patchbay::sys {

template <class R>
class CallState {
 public:
  template <class F>
  void run(F&& fn) {
    std::optional<Value> v;
    std::exception_ptr e;
    try {
      if constexpr (std::is_void_v<R>) {
        fn();
        v.emplace();
      } else {
        v.emplace(fn());
      }
    } catch (...) {
      e = std::current_exception();
    }
    // Outside the handler, and moved: this thread keeps no reference to the exception, so the
    // caller's thread destroys it (libstdc++ counts exception references where ThreadSanitizer
    // cannot see, so a last release here would read as a race with the caller's catch block).
    finish(std::move(v), std::move(e));
  }
  void drop() { finish(std::nullopt, nullptr); }

  R wait(std::string name) {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return done_; });
    if (error_) {
      std::exception_ptr e = std::move(error_);
      lk.unlock();
      std::rethrow_exception(std::move(e));
    }
    if (!value_) throw Cancelled(std::move(name), "is shut down");
    if constexpr (!std::is_void_v<R>) return std::move(value_->v);
  }

 private:
  struct Empty {};
  struct Value {
    Value() = default;
    template <class T>
    explicit Value(T&& t) : v(std::forward<T>(t)) {}
    std::conditional_t<std::is_void_v<R>, Empty, R> v;
  };
  void finish(std::optional<Value> v, std::exception_ptr e) {
    {
      std::lock_guard lk(mu_);
      if (done_) return;
      value_ = std::move(v);
      error_ = std::move(e);
      done_ = true;
    }
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::optional<Value> value_;
  std::exception_ptr error_;
};

// `fn` is referenced, not copied: the caller keeps it alive by waiting.
template <class F>
auto posted_call(F& fn) {
  using R = std::invoke_result_t<F&>;
  struct Job {
    Job(std::shared_ptr<CallState<R>> s, F* f) : state(std::move(s)), fn(f) {}
    Job(const Job&) = delete;
    Job& operator=(const Job&) = delete;
    ~Job() {
      if (!ran) state->drop();
    }
    std::shared_ptr<CallState<R>> state;
    F* fn;
    bool ran = false;
  };
  auto state = std::make_shared<CallState<R>>();
  auto job = std::make_shared<Job>(state, &fn);
  std::function<void()> run = [job] {
    job->ran = true;
    job->state->run(*job->fn);
  };
  auto wait = [state](std::string name) -> R { return state->wait(std::move(name)); };
  return std::pair{std::move(run), std::move(wait)};
}

}  // namespace patchbay::sys
