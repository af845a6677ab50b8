#include "server/thread_pool.hpp"

#include <pthread.h>

#include <algorithm>
#include <system_error>

namespace patchbay::server {

GrowingThreadPool::GrowingThreadPool(std::size_t max_threads)
    : max_threads_(std::max<std::size_t>(max_threads, 1)) {}

GrowingThreadPool::~GrowingThreadPool() {
  shutdown();
}

void GrowingThreadPool::enqueue(std::function<void()> fn) {
  std::lock_guard lk(mu_);
  if (shutdown_) return;  // httplib never enqueues after shutdown; a late task is dropped, not run twice
  jobs_.push_back(std::move(fn));
  // Idle threads are counted before the job is handed out, so a burst of connections starts
  // one thread per job that no idle thread can take.
  if (idle_ >= jobs_.size() || threads_.size() >= max_threads_) {
    cv_.notify_one();
    return;
  }
  try {
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "patchbay:conn");
      work();
    });
  } catch (const std::system_error&) {
    cv_.notify_one();  // no thread to spare (RLIMIT_NPROC): the job waits for a busy thread
  }
}

void GrowingThreadPool::shutdown() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lk(mu_);
    shutdown_ = true;
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (auto& t : threads) t.join();
}

std::size_t GrowingThreadPool::threads() const {
  std::lock_guard lk(mu_);
  return threads_.size();
}

void GrowingThreadPool::work() {
  std::unique_lock lk(mu_);
  for (;;) {
    ++idle_;
    cv_.wait(lk, [&] { return !jobs_.empty() || shutdown_; });
    --idle_;
    if (jobs_.empty()) return;  // shutdown with nothing left to run
    auto fn = std::move(jobs_.front());
    jobs_.pop_front();
    lk.unlock();
    fn();
    lk.lock();
  }
}

}  // namespace patchbay::server
