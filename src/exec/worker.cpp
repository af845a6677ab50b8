#include "exec/worker.hpp"

#include <pthread.h>

#include <mutex>
#include <vector>

#include <asio/post.hpp>

#include "patchbay/error.hpp"

namespace patchbay::detail {

namespace {

// "<node>:<suffix>", keeping the rightmost 15 characters (the kernel's limit).
std::string thread_label(const std::string& node, const std::string& suffix) {
  std::string n = node + ":" + suffix;
  return n.size() > 15 ? n.substr(n.size() - 15) : n;
}

}  // namespace

void set_thread_name(const std::string& node, const std::string& suffix) {
  ::pthread_setname_np(::pthread_self(), thread_label(node, suffix).c_str());
}

SyncWorker::SyncWorker(std::string node_name, std::function<void()> init)
    : node_(node_name),
      loop_({.name = "node '" + node_name + "' worker",
             .thread_name = thread_label(node_name, "sw"),
             .on_error = {},
             .init = std::move(init),
             .wait_for_init = false}) {}

SyncWorker::~SyncWorker() {
  // What was queued still runs. Destroyed from its own thread (a node removed from code running on
  // it), the thread finishes its job and is buried; someone else joins it.
  loop_.stop(LoopThread::Drain::Yes);
}

void SyncWorker::run(const std::function<void()>& fn) {
  try {
    loop_.call([&] { fn(); });
  } catch (const Cancelled&) {
    if (!loop_.closed()) throw;  // fn's own Cancelled
    throw Removed("node '" + node_ + "'", "the node has been removed");
  }
}

bool IoGate::post(std::function<void()> fn) {
  std::lock_guard lk(mu);
  if (!open) return false;
  asio::post(ex, std::move(fn));
  return true;
}

IoWorker::IoWorker(std::string node_name, std::function<void()> init)
    : loop_(std::make_unique<LoopThread>(LoopThread::Options{.name = "node '" + node_name + "' io worker",
                                                             .thread_name = thread_label(node_name, "aw"),
                                                             .on_error = {},
                                                             .init = std::move(init),
                                                             .wait_for_init = true})) {
  gate_->ex = loop_->context().get_executor();
}

IoWorker::~IoWorker() {
  {
    std::lock_guard lk(gate_->mu);
    gate_->open = false;
  }
  const bool self = loop_->on_thread();
  loop_->stop(LoopThread::Drain::No);
  // Destroyed from a coroutine on this very thread: the context outlives the running handler in
  // the graveyard and dies after the join.
  if (self) return;
  // Destroy every pending handler (and with them the suspended coroutine frames) now, while the
  // objects they reference still exist, then tell the waiting handles.
  std::vector<std::weak_ptr<TaskCancel>> tracked;
  {
    std::lock_guard lk(mu_);
    tracked.swap(tracked_);
  }
  loop_.reset();
  for (auto& w : tracked)
    if (auto c = w.lock()) c->cancel_on_shutdown();
}

void IoWorker::track(std::weak_ptr<TaskCancel> c) {
  std::lock_guard lk(mu_);
  std::erase_if(tracked_, [](const auto& w) { return w.expired(); });
  tracked_.push_back(std::move(c));
}

}  // namespace patchbay::detail
