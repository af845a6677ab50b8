// Writing whole buffers to a descriptor, and the process's descriptor limit.
//
//   if (!sys::write_all(fd, line)) report(errno);   // EINTR and short writes handled
//   sys::raise_nofile_limit_once();                 // soft RLIMIT_NOFILE := hard, once per process
//
// Guarantees: write_all() either writes every byte (retrying on EINTR and after partial writes)
// or returns false with errno set; it never returns early on a short write. raise_nofile_limit_once()
// changes the limit at most once per process (later calls return the first call's result), never
// lowers it and never throws.
#pragma once

#include <sys/resource.h>
#include <string_view>

namespace patchbay::sys {

// False with errno set when write(2) fails (a write of 0 bytes counts as EIO, so a broken
// descriptor never spins).
bool write_all(int fd, std::string_view data);

// The soft and hard RLIMIT_NOFILE after the first call raised the soft limit to the hard one.
struct NofileLimit {
  rlim_t soft = 0, hard = 0;
};
NofileLimit raise_nofile_limit_once();

}  // namespace patchbay::sys
