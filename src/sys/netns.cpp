#include "sys/netns.hpp"

#include <fcntl.h>
#include <sched.h>

#include "sys/errno.hpp"

namespace patchbay::sys {

UniqueFd open_current_netns() {
  int fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("netns", "open /proc/thread-self/ns/net");
  return UniqueFd(fd);
}

void enter_netns(int netns_fd) {
  if (::setns(netns_fd, CLONE_NEWNET) != 0) throw_errno("netns", "setns");
}

}  // namespace patchbay::sys
