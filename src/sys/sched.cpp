#include "sys/sched.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace patchbay::sys {

namespace {

// struct sched_attr, version 0 (linux/sched/types.h, which cannot be included beside glibc's
// <sched.h>: both define struct sched_param).
struct SchedAttr {
  std::uint32_t size;
  std::uint32_t sched_policy;
  std::uint64_t sched_flags;
  std::int32_t sched_nice;
  std::uint32_t sched_priority;
  std::uint64_t sched_runtime;  // SCHED_OTHER: the requested slice (Linux 6.12+)
  std::uint64_t sched_deadline;
  std::uint64_t sched_period;
};
static_assert(sizeof(SchedAttr) == 48);

}  // namespace

bool run_as_background_thread(int nice) {
  // PRIO_PROCESS with a thread id sets that thread only (Linux threads are scheduled entities).
  return ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice) == 0;
}

bool run_as_latency_sensitive_thread(std::chrono::microseconds slice) {
  SchedAttr attr{};
  attr.size = sizeof attr;
  attr.sched_policy = 0;  // SCHED_OTHER
  attr.sched_nice = this_thread_nice();
  attr.sched_runtime = static_cast<std::uint64_t>(std::chrono::nanoseconds(slice).count());
  return ::syscall(SYS_sched_setattr, 0, &attr, 0) == 0;
}

int this_thread_nice() {
  errno = 0;
  return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
}

}  // namespace patchbay::sys
