// Linked into test binaries: enters the user namespace before main() and before any thread.
#include "patchbay/userns.hpp"

__attribute__((constructor(101))) static void patchbay_autoinit() {
  patchbay::init_userns_early();
}
