// TaskQueue, the post-and-wait primitive of the lab's service threads, and the EventLoop on it.
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "exec/event_loop.hpp"
#include "patchbay/error.hpp"
#include "sys/task_queue.hpp"

namespace {

using patchbay::Cancelled;
using patchbay::sys::TaskQueue;

// A service thread that runs what is posted until the queue is closed.
struct Service {
  TaskQueue q{"test service", {}};
  std::thread t{[this] {
    std::deque<std::function<void()>> batch;
    while (q.wait_take(batch)) {
      for (auto& fn : batch) fn();
      batch.clear();
    }
  }};
  ~Service() {
    q.close();
    t.join();
  }
};

TEST(TaskQueue, CallReturnsTheResultAndRethrows) {
  Service s;
  EXPECT_EQ(s.q.call([] { return 41 + 1; }), 42);
  EXPECT_THROW(s.q.call([]() -> int { throw std::out_of_range("x"); }), std::out_of_range);
}

TEST(TaskQueue, AfterCloseCallThrowsCancelledAndPostRefuses) {
  Service s;
  s.q.close();
  EXPECT_FALSE(s.q.post([] {}));
  try {
    s.q.call([] { return 1; });
    FAIL() << "no exception";
  } catch (const Cancelled& e) {
    EXPECT_EQ(std::string(e.what()), "test service: is shut down");
  }
}

TEST(TaskQueue, ACallWhoseClosureIsDiscardedUnrunFailsInsteadOfWaitingForever) {
  TaskQueue q("idle service", {});  // nobody takes
  std::atomic<bool> threw{false};
  std::thread caller([&] {
    try {
      q.call([] { return 1; });
    } catch (const Cancelled&) {
      threw = true;
    }
  });
  while (q.empty()) std::this_thread::yield();
  q.close();
  q.discard();
  caller.join();
  EXPECT_TRUE(threw.load());
}

TEST(EventLoop, AThrowingTaskIsReportedAndTheLoopKeepsRunning) {
  std::atomic<int> reported{0};
  std::string what;
  patchbay::detail::EventLoop loop("test-loop", [&](const std::string& w, std::exception_ptr e) {
    what = w;
    try {
      std::rethrow_exception(e);
    } catch (const std::runtime_error& ex) {
      if (std::string(ex.what()) == "boom") ++reported;
    }
  });
  ASSERT_TRUE(loop.post([] { throw std::runtime_error("boom"); }));
  int after = 0;
  loop.call([&] { after = 7; });  // runs after the failed task: the thread survived
  EXPECT_EQ(after, 7);
  EXPECT_EQ(reported.load(), 1);
  EXPECT_EQ(what, "posted task");
  // A call()'s own exception goes to the caller, not to the reporter.
  EXPECT_THROW(loop.call([] { throw std::invalid_argument("mine"); }), std::invalid_argument);
  EXPECT_EQ(reported.load(), 1);
}

}  // namespace
