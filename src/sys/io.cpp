#include "sys/io.hpp"

#include <unistd.h>

#include <cerrno>
#include <mutex>

namespace patchbay::sys {

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) {
      errno = EIO;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

NofileLimit raise_nofile_limit_once() {
  // Once: a program that lowers its limit on purpose after the first lab keeps its choice.
  static NofileLimit result = [] {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return NofileLimit{};
    if (rl.rlim_cur < rl.rlim_max) {
      rlimit raised = rl;
      raised.rlim_cur = rl.rlim_max;
      if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
    }
    return NofileLimit{rl.rlim_cur, rl.rlim_max};
  }();
  return result;
}

}  // namespace patchbay::sys
