// Per-node worker threads, created on first use.
//
// SyncWorker runs closures one at a time (Node::run); IoWorker runs an asio::io_context
// (Node::spawn, Node::executor, reflectors). Both are a LoopThread whose thread enters the node's
// namespaces once at start, so user code on them sees the node's network. An idle node has
// neither thread. A worker destroyed from its own thread is buried (loop_thread.hpp).
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

#include "exec/loop_thread.hpp"
#include "patchbay/exec.hpp"

namespace patchbay::detail {

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
  bool on_worker_thread() const { return loop_.on_thread(); }

 private:
  std::string node_;
  LoopThread loop_;
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

  asio::any_io_executor executor() { return loop_->context().get_executor(); }
  void track(std::weak_ptr<TaskCancel> c);
  std::shared_ptr<IoGate> gate() const { return gate_; }
  bool on_worker_thread() const { return loop_->on_thread(); }

 private:
  // A pointer: destroyed from a coroutine on its own thread, the loop must outlive the running
  // handler, so it is handed to the graveyard instead of being destroyed.
  std::unique_ptr<LoopThread> loop_;
  std::shared_ptr<IoGate> gate_ = std::make_shared<IoGate>();
  std::mutex mu_;
  std::vector<std::weak_ptr<TaskCancel>> tracked_;
};

}  // namespace patchbay::detail
