// Review item 8: a span on a thread whose records cannot be written anywhere (no node sink, no
// console) costs no allocation. Counted with a replaced operator new, per thread, so this file
// must stay the only one in the binary that replaces it.
#include <cstdlib>
#include <new>

#include <gtest/gtest.h>

#include "patchbay/log.hpp"

namespace {
thread_local std::size_t t_allocs = 0;
}  // namespace

void* operator new(std::size_t n) {
  ++t_allocs;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
// The nothrow pair too (std::stable_sort's temporary buffer): otherwise the sanitizer's own
// nothrow new would allocate what the free() above releases (ASan: alloc-dealloc-mismatch).
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  ++t_allocs;
  return std::malloc(n == 0 ? 1 : n);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}

namespace patchbay::log {
namespace {

// The console is process-wide and only ever set in child processes by the other log tests.
TEST(LogSpanCost, SpanWithoutSinkOrConsoleAllocatesNothing) {
  ASSERT_FALSE(enabled(Level::Error, "anything"));  // no sink, no console on this thread
  const std::size_t before = t_allocs;
  {
    Span outer("a-span-name-well-beyond-the-small-string-buffer", {{"n", 1}, {"ok", true}});
    Span inner("another-span-name-beyond-the-small-string-buffer");
    info("app", "nothing to write");
  }
  EXPECT_EQ(t_allocs - before, 0u);
}

}  // namespace
}  // namespace patchbay::log
