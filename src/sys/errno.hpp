// Helpers to turn a failed system call into a patchbay::SystemError with context.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>

#include "patchbay/error.hpp"

namespace patchbay::sys {

[[noreturn]] inline void throw_errno(std::string context, const std::string& what, int err = errno) {
  throw SystemError(std::move(context), what + ": " + std::strerror(err), err);
}

// Retries a syscall-like callable while it fails with EINTR.
template <class F>
auto retry_eintr(F&& f) {
  for (;;) {
    auto r = f();
    if (r >= 0 || errno != EINTR) return r;
  }
}

}  // namespace patchbay::sys
