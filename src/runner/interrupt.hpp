// Ctrl-C and SIGTERM during `patchbay run`: the current sim stops at once (its processes are
// terminated, its reports written with the error "interrupted"), later sims are not started, and
// the command exits with 130.
#pragma once

namespace patchbay::runner {

void install_interrupt_handler();  // SIGINT and SIGTERM set the flag instead of killing us
bool interrupted();

}  // namespace patchbay::runner
