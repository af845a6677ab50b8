#include "exec/worker.hpp"

#include <pthread.h>

#include <future>

#include <asio/post.hpp>

#include "patchbay/error.hpp"

namespace patchbay::detail {

void set_thread_name(const std::string& node, const std::string& suffix) {
  std::string n = node + ":" + suffix;
  if (n.size() > 15) n = n.substr(n.size() - 15);
  ::pthread_setname_np(::pthread_self(), n.c_str());
}

SyncWorker::SyncWorker(std::string node_name, std::function<void()> init) {
  thread_ = std::thread([in = in_, name = std::move(node_name), init = std::move(init)] {
    set_thread_name(name, "sw");
    loop(in, init);
  });
}

SyncWorker::~SyncWorker() {
  {
    std::lock_guard lk(in_->mu);
    in_->stop = true;
  }
  in_->cv.notify_all();
  in_->space_cv.notify_all();
  // Destroyed from its own thread (a node removed from code running on it): let it finish alone.
  if (on_worker_thread())
    thread_.detach();
  else if (thread_.joinable())
    thread_.join();
}

void SyncWorker::loop(const std::shared_ptr<Inner>& in, const std::function<void()>& init) {
  try {
    if (init) init();
  } catch (...) {
    std::lock_guard lk(in->mu);
    in->init_error = std::current_exception();
  }
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lk(in->mu);
      in->cv.wait(lk, [&] { return in->stop || !in->queue.empty(); });
      if (in->queue.empty()) return;
      job = std::move(in->queue.front());
      in->queue.pop_front();
    }
    in->space_cv.notify_one();
    job();
  }
}

void SyncWorker::run(const std::function<void()>& fn) {
  if (on_worker_thread()) {
    fn();
    return;
  }
  std::promise<void> done;
  auto fut = done.get_future();
  auto in = in_;
  {
    std::unique_lock lk(in->mu);
    in->space_cv.wait(lk, [&] { return in->stop || in->queue.size() < kQueueLimit; });
    if (in->stop) throw Removed("worker", "the node has been removed");
    in->queue.push_back([&, in] {
      std::exception_ptr init_err;
      {
        std::lock_guard lk2(in->mu);
        init_err = in->init_error;
      }
      try {
        if (init_err) std::rethrow_exception(init_err);
        fn();
        done.set_value();
      } catch (...) {
        done.set_exception(std::current_exception());
      }
    });
  }
  in->cv.notify_one();
  fut.get();
}

bool IoGate::post(std::function<void()> fn) {
  std::lock_guard lk(mu);
  if (!open) return false;
  asio::post(ex, std::move(fn));
  return true;
}

IoWorker::IoWorker(std::string node_name, std::function<void()> init)
    : ctx_(std::make_unique<asio::io_context>(1)), guard_(ctx_->get_executor()) {
  gate_->ex = ctx_->get_executor();
  std::promise<void> ready;
  auto fut = ready.get_future();
  thread_ = std::thread([this, name = std::move(node_name), init = std::move(init), &ready] {
    set_thread_name(name, "aw");
    try {
      if (init) init();
      ready.set_value();
    } catch (...) {
      ready.set_exception(std::current_exception());
      return;
    }
    ctx_->run();
  });
  try {
    fut.get();
  } catch (...) {
    thread_.join();
    throw;
  }
}

IoWorker::~IoWorker() {
  {
    std::lock_guard lk(gate_->mu);
    gate_->open = false;
  }
  ctx_->stop();
  if (on_worker_thread()) {
    // Destroyed from a coroutine on this very thread: the context must outlive the running handler.
    thread_.detach();
    (void)ctx_.release();
    return;
  }
  if (thread_.joinable()) thread_.join();
  // Destroy every pending handler (and with them the suspended coroutine frames) now, while the
  // objects they reference still exist, then tell the waiting handles.
  guard_.reset();
  std::vector<std::weak_ptr<TaskCancel>> tracked;
  {
    std::lock_guard lk(mu_);
    tracked.swap(tracked_);
  }
  ctx_.reset();
  for (auto& w : tracked)
    if (auto c = w.lock()) c->cancel_on_shutdown();
}

void IoWorker::track(std::weak_ptr<TaskCancel> c) {
  std::lock_guard lk(mu_);
  std::erase_if(tracked_, [](const auto& w) { return w.expired(); });
  tracked_.push_back(std::move(c));
}

}  // namespace patchbay::detail
