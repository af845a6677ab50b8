// Helpers to turn a failed system call into a patchbay::SystemError with context.
#pragma once

#include <cerrno>
#include <cstring>
#include <exception>
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

// The what() of a captured exception, for reporters that carry on ("unknown exception" otherwise).
inline std::string exception_text(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
  }
  return "unknown exception";
}

}  // namespace patchbay::sys
