// Per-node worker threads, created on first use.
//
// SyncWorker runs closures one at a time (Node::run); IoWorker runs an asio::io_context
// (Node::spawn, Node::executor, reflectors). Both threads enter the node's namespaces once at
// start, so user code on them sees the node's network. An idle node has neither thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include "patchbay/exec.hpp"
#include "sys/task_queue.hpp"

namespace patchbay::detail {

// A worker destroyed from its own thread cannot join itself. Instead of detaching, it buries the
// thread (and whatever must outlive it, e.g. its io_context) here; the next bury() and every lab
// shutdown join the buried threads, so no thread of ours outlives the labs that made it.
namespace graveyard {
void bury(std::thread t, std::shared_ptr<void> keep_alive = {});
// Joins every buried thread except the caller's own; returns how many are still buried.
std::size_t join_all();
}  // namespace graveyard

// Names a thread "<node>:<suffix>", keeping the rightmost 15 characters (the kernel's limit).
void set_thread_name(const std::string& node, const std::string& suffix);

class SyncWorker {
 public:
  // `init` runs first on the new thread (enter namespaces); if it throws, every run() rethrows it.
  SyncWorker(std::string node_name, std::function<void()> init);
  ~SyncWorker();  // runs what was queued, then joins
  SyncWorker(const SyncWorker&) = delete;
  SyncWorker& operator=(const SyncWorker&) = delete;

  // Runs fn on the worker and waits; rethrows its exception. Inline when called on the worker.
  // Removed once the worker is being destroyed.
  void run(const std::function<void()>& fn);
  bool on_worker_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  // Shared with the thread, so a worker destroyed from its own thread can finish safely.
  struct Inner {
    explicit Inner(std::string name) : tasks(std::move(name), {}) {}
    sys::TaskQueue tasks;
    std::exception_ptr init_error;  // written by the worker before it runs any task
  };
  static void loop(const std::shared_ptr<Inner>& in, const std::function<void()>& init);

  std::string node_;
  std::shared_ptr<Inner> in_;
  std::thread thread_;
};

// Lets other threads post to an io_context only while it exists: the IoWorker closes the gate
// (under its mutex) before destroying the context.
struct IoGate {
  std::mutex mu;
  bool open = true;
  asio::any_io_executor ex;
  // Posts fn if the context is still alive; returns false otherwise.
  bool post(std::function<void()> fn);
};

class IoWorker {
 public:
  IoWorker(std::string node_name, std::function<void()> init);
  ~IoWorker();  // stops the context, joins, destroys pending coroutines, cancels their handles
  IoWorker(const IoWorker&) = delete;
  IoWorker& operator=(const IoWorker&) = delete;

  asio::any_io_executor executor() { return ctx_->get_executor(); }
  void track(std::weak_ptr<TaskCancel> c);
  std::shared_ptr<IoGate> gate() const { return gate_; }
  bool on_worker_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  std::unique_ptr<asio::io_context> ctx_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::shared_ptr<IoGate> gate_ = std::make_shared<IoGate>();
  std::mutex mu_;
  std::vector<std::weak_ptr<TaskCancel>> tracked_;
  std::thread thread_;
};

}  // namespace patchbay::detail
