// LoopThread, the asio event-loop primitive of the lab event loop, the node workers and the
// spawner, and EventLoop's fd watching on it.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "exec/event_loop.hpp"
#include "exec/loop_thread.hpp"
#include "patchbay/error.hpp"

namespace {

using patchbay::Cancelled;
using patchbay::detail::EventLoop;
using patchbay::detail::LoopThread;
using namespace std::chrono_literals;

LoopThread::Options named(std::string n) {
  return {
      .name = std::move(n), .thread_name = "test-loop", .on_error = {}, .init = {}, .wait_for_init = false};
}

// Polls `pred` for up to 5 s.
template <class P>
bool eventually(P pred) {
  for (int i = 0; i < 5000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return pred();
}

TEST(LoopThread, CallRunsOnTheThreadReturnsAndRethrows) {
  LoopThread t(named("svc"));
  EXPECT_EQ(t.call([&] { return t.on_thread() ? 42 : 0; }), 42);
  EXPECT_FALSE(t.on_thread());
  EXPECT_THROW(t.call([]() -> int { throw std::out_of_range("x"); }), std::out_of_range);
  // Nested: inline on the thread, no deadlock.
  EXPECT_EQ(t.call([&] { return t.call([] { return 5; }); }), 5);
}

TEST(LoopThread, AfterCloseCallThrowsCancelledAndPostRefuses) {
  LoopThread t(named("test service"));
  t.close();
  EXPECT_FALSE(t.post([] {}));
  try {
    t.call([] { return 1; });
    FAIL() << "no exception";
  } catch (const Cancelled& e) {
    EXPECT_EQ(std::string(e.what()), "test service: is shut down");
  }
}

TEST(LoopThread, ACallLeftUnrunByAStopFailsInsteadOfWaitingForever) {
  auto t = std::make_unique<LoopThread>(named("svc"));
  std::promise<void> entered, queued;
  auto q = queued.get_future().share();
  LoopThread* raw = t.get();
  ASSERT_TRUE(t->post([&, q, raw] {
    entered.set_value();
    q.wait();
    raw->context().stop();  // what stop(Drain::No) does: the queued call never runs
  }));
  entered.get_future().wait();  // the thread is busy: the next call queues behind it
  std::atomic<bool> cancelled{false}, calling{false};
  std::thread caller([&, raw] {  // the loop object, not the unique_ptr main resets
    calling = true;
    try {
      raw->call([] { return 1; });
    } catch (const Cancelled&) {
      cancelled = true;
    }
  });
  while (!calling) std::this_thread::yield();
  std::this_thread::sleep_for(50ms);  // let the call be posted (it touches the loop until then)
  queued.set_value();
  t.reset();  // joins; the unrun closure dies with the context
  caller.join();
  EXPECT_TRUE(cancelled.load());
}

TEST(LoopThread, DrainRunsWhatWasPostedBeforeTheStop) {
  LoopThread t(named("svc"));
  std::atomic<int> ran{0};
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(t.post([&] { ++ran; }));
  t.stop(LoopThread::Drain::Yes);
  EXPECT_EQ(ran.load(), 100);
  EXPECT_FALSE(t.post([&] { ++ran; }));
}

TEST(LoopThread, AThrowingPostIsReportedAndTheLoopKeepsRunning) {
  std::atomic<int> reported{0};
  std::string what;
  LoopThread t({.name = "svc",
                .thread_name = "t",
                .on_error =
                    [&](const std::string& w, std::exception_ptr) {
                      what = w;
                      ++reported;
                    },
                .init = {},
                .wait_for_init = false});
  ASSERT_TRUE(t.post([] { throw std::runtime_error("boom"); }));
  EXPECT_EQ(t.call([] { return 7; }), 7);
  EXPECT_EQ(reported.load(), 1);
  EXPECT_EQ(what, "posted task");
}

TEST(LoopThread, InitFailureIsRethrownByEveryCallOrByTheConstructor) {
  auto fail = [] { throw std::runtime_error("cannot enter"); };
  LoopThread lazy({.name = "svc", .thread_name = "t", .on_error = {}, .init = fail, .wait_for_init = false});
  EXPECT_THROW(lazy.call([] { return 1; }), std::runtime_error);
  EXPECT_THROW(lazy.call([] { return 1; }), std::runtime_error);
  EXPECT_THROW(
      LoopThread({.name = "svc", .thread_name = "t", .on_error = {}, .init = fail, .wait_for_init = true}),
      std::runtime_error);
}

TEST(LoopThread, StoppedFromItsOwnThreadIsBuriedAndJoinedLater) {
  auto t = std::make_unique<LoopThread>(named("svc"));
  std::promise<void> done;
  LoopThread* raw = t.get();
  ASSERT_TRUE(t->post([&] {
    raw->stop(LoopThread::Drain::No);  // may not join itself
    done.set_value();
  }));
  done.get_future().wait();
  t.reset();
  EXPECT_TRUE(eventually([] { return patchbay::detail::graveyard::join_all() == 0; }));
}

TEST(EventLoop, AHandlerIsCalledAgainWhileDataIsLeftUnread) {
  EventLoop loop("test-loop");
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC | EFD_SEMAPHORE);
  ASSERT_GE(fd, 0);
  std::atomic<int> calls{0};
  loop.watch(fd, EPOLLIN, [&](std::uint32_t ev) {
    EXPECT_EQ(ev, std::uint32_t{EPOLLIN});
    std::uint64_t v;
    if (::read(fd, &v, sizeof v) == sizeof v) ++calls;  // one unit per call (semaphore mode)
  });
  const std::uint64_t three = 3;
  ASSERT_EQ(::write(fd, &three, sizeof three), static_cast<ssize_t>(sizeof three));
  EXPECT_TRUE(eventually([&] { return calls.load() == 3; })) << calls.load();
  loop.unwatch(fd);
  const std::uint64_t one = 1;
  ASSERT_EQ(::write(fd, &one, sizeof one), static_cast<ssize_t>(sizeof one));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(calls.load(), 3);  // unwatched: never called again
  ::close(fd);
}

TEST(EventLoop, AHandlerMayUnwatchItselfAndTheFdMayBeWatchedAgain) {
  EventLoop loop("test-loop");
  const int fd = ::eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::atomic<int> first{0}, second{0};
  loop.watch(fd, EPOLLIN, [&](std::uint32_t) {
    ++first;
    loop.unwatch(fd);  // data stays unread: only unwatching stops the calls
  });
  EXPECT_TRUE(eventually([&] { return first.load() == 1; }));
  loop.watch(fd, EPOLLIN, [&](std::uint32_t) {
    ++second;
    std::uint64_t v;
    (void)::read(fd, &v, sizeof v);
  });
  EXPECT_TRUE(eventually([&] { return second.load() == 1; }));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(first.load(), 1);
  EXPECT_EQ(second.load(), 1);
  EXPECT_THROW(loop.watch(fd, EPOLLIN, [](std::uint32_t) {}), patchbay::AlreadyExists);
  EXPECT_THROW(loop.watch(fd, EPOLLPRI, [](std::uint32_t) {}), patchbay::InvalidArgument);
  loop.unwatch(fd);
  ::close(fd);
}

TEST(EventLoop, AThrowingHandlerIsReportedWithItsFdAndKeepsBeingServed) {
  std::atomic<int> reported{0};
  std::string what;
  EventLoop loop("test-loop", [&](const std::string& w, std::exception_ptr) {
    what = w;
    ++reported;
  });
  const int fd = ::eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
  std::atomic<int> calls{0};
  loop.watch(fd, EPOLLIN, [&](std::uint32_t) {
    std::uint64_t v;
    (void)::read(fd, &v, sizeof v);
    if (++calls == 1) throw std::runtime_error("bad packet");
  });
  EXPECT_TRUE(eventually([&] { return reported.load() == 1; }));
  const std::uint64_t one = 1;
  ASSERT_EQ(::write(fd, &one, sizeof one), static_cast<ssize_t>(sizeof one));
  EXPECT_TRUE(eventually([&] { return calls.load() == 2; }));
  loop.call([&] {});  // `what` was written on the loop thread before this returns
  EXPECT_EQ(what, "handler for fd " + std::to_string(fd));
  loop.unwatch(fd);
  ::close(fd);
}

}  // namespace
