// Network namespaces held by file descriptor; no thread lives in them.
//
// A namespace fd keeps the namespace alive; closing it lets the kernel tear the namespace down with
// everything in it (interfaces, routes, nftables tables, conntrack state). Creating namespaces and
// hopping in and out is the setup thread's job (setup_thread.hpp), because in a rootless lab only a
// thread whose home is the lab root can come back from a hop.
#pragma once

#include "patchbay/fd.hpp"

namespace patchbay::sys {

// The calling thread's current network namespace.
UniqueFd open_current_netns();

// Moves the calling thread into `netns_fd` for good (worker threads).
void enter_netns(int netns_fd);

}  // namespace patchbay::sys
