// Scheduling hints (sys/sched.hpp): they change the calling thread only.
#include <algorithm>
#include <thread>

#include <gtest/gtest.h>

#include "sys/sched.hpp"

namespace patchbay::sys {
namespace {

TEST(Sched, BackgroundThreadIsNicerAndOthersAreNot) {
  const int before = this_thread_nice();
  int inside = before, sibling = before;
  std::thread t([&] {
    ASSERT_TRUE(run_as_background_thread(5));
    inside = this_thread_nice();
  });
  t.join();
  std::thread s([&] { sibling = this_thread_nice(); });
  s.join();
  EXPECT_EQ(inside, std::min(before + 5, 19));
  EXPECT_EQ(this_thread_nice(), before);  // the process and its other threads keep theirs
  EXPECT_EQ(sibling, before);
}

TEST(Sched, LatencySensitiveKeepsTheNiceValue) {
  int nice_after = 100;
  std::thread t([&] {
    const int before = this_thread_nice();
    // Kernels before 6.12 have no custom slices: the hint fails and nothing changes.
    (void)run_as_latency_sensitive_thread();
    nice_after = this_thread_nice() - before;
  });
  t.join();
  EXPECT_EQ(nice_after, 0);
}

}  // namespace
}  // namespace patchbay::sys
