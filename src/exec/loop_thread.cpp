#include "exec/loop_thread.hpp"

#include <pthread.h>

#include <iostream>
#include <vector>

namespace patchbay::detail {

namespace graveyard {
namespace {
struct Grave {
  std::thread thread;
  std::shared_ptr<void> keep_alive;
};
std::mutex g_mu;
std::vector<Grave> g_graves;
}  // namespace

void bury(std::thread t, std::shared_ptr<void> keep_alive) {
  join_all();
  std::lock_guard lk(g_mu);
  g_graves.push_back({std::move(t), std::move(keep_alive)});
}

std::size_t join_all() {
  std::vector<Grave> graves, mine;
  {
    std::lock_guard lk(g_mu);
    graves.swap(g_graves);
  }
  for (auto& g : graves) {
    if (g.thread.get_id() == std::this_thread::get_id())
      mine.push_back(std::move(g));  // still running the code that buried it
    else if (g.thread.joinable())
      g.thread.join();
  }
  std::lock_guard lk(g_mu);
  for (auto& g : mine) g_graves.push_back(std::move(g));
  return g_graves.size();
}
}  // namespace graveyard

LoopThread::LoopThread(Options o) : in_(std::make_shared<Inner>(o)) {
  auto ready = std::make_shared<sys::CallState<void>>();
  thread_ = std::thread([in = in_, tname = std::move(o.thread_name), init = std::move(o.init), ready] {
    if (!tname.empty()) ::pthread_setname_np(::pthread_self(), tname.substr(0, 15).c_str());
    try {
      if (init) init();
    } catch (...) {
      in->init_error = std::current_exception();
    }
    ready->run([] {});
    run(in);
  });
  id_ = thread_.get_id();
  ready->wait(in_->name);  // init_error is final from here on
  if (o.wait_for_init && in_->init_error) {
    stop(Drain::No);
    std::rethrow_exception(in_->init_error);
  }
}

LoopThread::~LoopThread() {
  stop(Drain::No);
}

void LoopThread::run(const std::shared_ptr<Inner>& in) {
  for (;;) {
    try {
      in->ctx.run();
      return;
    } catch (...) {  // a handler that bypassed guard(): report and go on
      report(*in, "handler", std::current_exception());
    }
  }
}

void LoopThread::report(const Inner& in, const std::string& what, std::exception_ptr e) {
  if (in.on_error) {
    try {
      in.on_error(what, e);
      return;
    } catch (...) {  // a failing reporter must not end the loop either
    }
  }
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    std::cerr << "patchbay: " << in.name << ": " << what << " failed: " << x.what() << "\n";
  } catch (...) {
    std::cerr << "patchbay: " << in.name << ": " << what << " failed\n";
  }
}

bool LoopThread::post_raw(std::function<void()> fn) {
  std::lock_guard lk(in_->mu);
  if (in_->closed) return false;
  asio::post(in_->ctx, std::move(fn));
  return true;
}

bool LoopThread::post(std::function<void()> fn) {
  return post_raw([in = in_.get(), fn = std::move(fn)] {
    try {
      fn();
    } catch (...) {
      report(*in, "posted task", std::current_exception());
    }
  });
}

bool LoopThread::closed() const {
  std::lock_guard lk(in_->mu);
  return in_->closed;
}

void LoopThread::close() {
  std::lock_guard lk(in_->mu);
  in_->closed = true;
}

void LoopThread::stop(Drain drain) {
  if (stopped_.exchange(true)) return;
  close();
  // Nothing can be posted any more: without the guard run() returns once the queue is empty.
  in_->work.reset();
  if (drain == Drain::No) in_->ctx.stop();
  if (on_thread()) {
    graveyard::bury(std::move(thread_), in_);
  } else if (thread_.joinable()) {
    thread_.join();
  }
}

}  // namespace patchbay::detail
