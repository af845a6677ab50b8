// LoopThread: one named thread running an asio::io_context. It is the event-loop primitive of
// the lab's event loop (EventLoop), the node workers (SyncWorker, IoWorker) and the spawner; the
// link engine keeps its own measured epoll loop (docs/architecture.md, "Link engine").
//
//   LoopThread t({.name = "lab event loop", .thread_name = "patchbay:loop", .on_error = report});
//   t.post([] { ... });                  // false once closed: nothing runs
//   int n = t.call([] { return 42; });   // on the thread (inline when already there); rethrows
//   asio::steady_timer timer(t.context());   // I/O objects live on its context, used on its thread
//
// Guarantees:
// - After close() post() returns false and call() throws Cancelled("<name>", "is shut down"); a
//   call() whose closure is destroyed unrun (the thread stopped first) throws the same instead of
//   waiting forever.
// - An exception thrown by call()'s closure reaches the caller. A posted closure or any other
//   handler that throws is reported to `on_error` (or stderr without one) and the loop carries on.
// - `init` runs first on the new thread (enter namespaces, ...). With `wait_for_init` the
//   constructor waits and rethrows its failure; otherwise the thread still serves and every call()
//   rethrows init's error.
// - stop(Drain::Yes) runs what was posted before the close, then joins; stop(Drain::No) runs
//   nothing more. Closures left unrun are destroyed with the context (in the destructor).
// - Stopped from its own thread (a node removed from code running on it), the thread finishes
//   the running handler and is buried (graveyard) with the context; someone else joins it.
#pragma once

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include "patchbay/error.hpp"
#include "sys/posted_call.hpp"

namespace patchbay::detail {

// A thread stopped from itself cannot join itself. Instead of detaching, it buries the thread
// (and whatever must outlive it, e.g. its io_context) here; the next bury() and every lab
// shutdown join the buried threads, so no thread of ours outlives the labs that made it.
namespace graveyard {
void bury(std::thread t, std::shared_ptr<void> keep_alive = {});
// Joins every buried thread except the caller's own; returns how many are still buried.
std::size_t join_all();
}  // namespace graveyard

class LoopThread {
 public:
  // Called on the thread with what a handler threw (`what` = "posted task", "handler for fd 12").
  using ErrorReporter = std::function<void(const std::string& what, std::exception_ptr)>;
  struct Options {
    std::string name;         // in Cancelled errors: "<name>: is shut down"
    std::string thread_name;  // as the kernel shows it (the first 15 characters)
    ErrorReporter on_error;
    std::function<void()> init;
    bool wait_for_init = false;
  };
  enum class Drain { No, Yes };

  explicit LoopThread(Options o);
  ~LoopThread();  // stop(Drain::No), then destroys what was left unrun
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  bool post(std::function<void()> fn);

  template <class F>
  auto call(F&& fn) -> std::invoke_result_t<F> {
    if (on_thread()) {
      if (in_->init_error) std::rethrow_exception(in_->init_error);
      return fn();
    }
    // The loop may be destroyed while we wait (that is what drops the job): its name is copied.
    std::string name = in_->name;
    auto checked = [&fn, raw = in_.get()]() -> std::invoke_result_t<F> {
      if (raw->init_error) std::rethrow_exception(raw->init_error);
      return fn();
    };
    auto [job, wait] = sys::posted_call(checked);
    if (!post_raw(std::move(job))) throw Cancelled(std::move(name), "is shut down");
    return wait(std::move(name));
  }

  asio::io_context& context() { return in_->ctx; }
  bool on_thread() const { return std::this_thread::get_id() == id_; }
  bool closed() const;
  // Refuses further posts (idempotent). What was posted before still runs unless stop(No) follows.
  void close();
  // close(), then ends the thread (idempotent).
  void stop(Drain drain);
  // Runs fd's handler, reporting what it throws instead of letting it end the loop (the
  // description is built only on failure).
  template <class F>
  void guarded(int fd, F&& fn) const {
    try {
      fn();
    } catch (...) {
      report(*in_, "handler for fd " + std::to_string(fd), std::current_exception());
    }
  }

 private:
  // Shared with the thread, so a loop stopped from its own thread can finish safely.
  struct Inner {
    explicit Inner(Options& o)
        : name(std::move(o.name)), on_error(std::move(o.on_error)), ctx(1), work(ctx.get_executor()) {}
    const std::string name;
    const ErrorReporter on_error;
    asio::io_context ctx;
    asio::executor_work_guard<asio::io_context::executor_type> work;
    mutable std::mutex mu;
    bool closed = false;
    std::exception_ptr init_error;  // written by the thread before it runs any handler
  };
  static void report(const Inner& in, const std::string& what, std::exception_ptr e);
  static void run(const std::shared_ptr<Inner>& in);
  bool post_raw(std::function<void()> fn);

  std::shared_ptr<Inner> in_;
  std::thread thread_;
  std::thread::id id_;
  std::atomic<bool> stopped_{false};
};

}  // namespace patchbay::detail
