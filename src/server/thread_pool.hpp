// The devtools server's connection threads: an httplib TaskQueue that grows on demand.
//
// httplib serves one connection per task and a task lives as long as its connection, so a
// server-sent-events stream holds a thread for as long as the browser tab is open. A fixed pool
// (httplib's default: 8 threads) is starved by a few tabs; this pool starts a new thread
// whenever no thread is idle, up to `max_threads`, and keeps idle threads for reuse. The server
// caps its streams below `max_threads`, so plain requests always find a thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

namespace patchbay::server {

class GrowingThreadPool : public httplib::TaskQueue {
 public:
  explicit GrowingThreadPool(std::size_t max_threads);
  ~GrowingThreadPool() override;  // == shutdown()

  void enqueue(std::function<void()> fn) override;
  // Runs every queued task, then joins all threads (httplib calls it when listening stops).
  void shutdown() override;

  std::size_t threads() const;

 private:
  void work();

  const std::size_t max_threads_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  std::vector<std::thread> threads_;        // guarded by mu_
  std::size_t idle_ = 0;                    // guarded by mu_
  bool shutdown_ = false;                   // guarded by mu_
};

}  // namespace patchbay::server
