#include "sys/sysctl.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "patchbay/fd.hpp"
#include "sys/errno.hpp"

namespace patchbay::sys {

void write_sysctl(std::string_view path, std::string_view value) {
  std::string full = "/proc/sys/" + std::string(path);
  int fd = ::open(full.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("sysctl", "open " + full);
  UniqueFd guard(fd);
  if (retry_eintr([&] { return ::write(fd, value.data(), value.size()); }) < 0)
    throw_errno("sysctl", "write '" + std::string(value) + "' to " + full);
}

std::string read_sysctl(std::string_view path) {
  std::string full = "/proc/sys/" + std::string(path);
  int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("sysctl", "open " + full);
  UniqueFd guard(fd);
  char buf[256];
  ssize_t n = retry_eintr([&] { return ::read(fd, buf, sizeof buf); });
  if (n < 0) throw_errno("sysctl", "read " + full);
  std::string s(buf, static_cast<std::size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

void write_sysctls(const std::vector<Sysctl>& entries) {
  for (const auto& e : entries) write_sysctl(e.path, e.value);
}

}  // namespace patchbay::sys
