// Scheduling hints for the lab's own threads. On a small machine the forwarding thread of the link
// engine shares the cores with the threads that build the lab (setup, plumbing, event output);
// a frame due now must not wait for a namespace being created. Both hints are best effort and
// need no privilege: a thread may always lower its own priority, and a fair-class thread may
// choose its own time slice (Linux 6.12+, EEVDF); on older kernels the call just fails.
#pragma once

#include <chrono>

namespace patchbay::sys {

// The calling thread yields the CPU to normal threads first: nice +`nice` (1..19) for it alone.
// Returns false when the kernel refused.
bool run_as_background_thread(int nice = 5);

// The calling thread asks for a short slice (EEVDF `sched_runtime` of SCHED_OTHER), so it is picked
// soon after it wakes even while other threads run. Returns false where the kernel has no custom
// slices.
bool run_as_latency_sensitive_thread(std::chrono::microseconds slice = std::chrono::microseconds(100));

// The calling thread's nice value (tests).
int this_thread_nice();

}  // namespace patchbay::sys
