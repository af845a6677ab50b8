// Namespaced sysctls written in-process.
//
// /proc/sys/net resolves to the network namespace of the thread that opens the file: call these on
// a thread inside the namespace (the setup thread does the hopping).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace patchbay::sys {

struct Sysctl {
  std::string path;  // relative to /proc/sys, e.g. "net/ipv4/ip_forward"
  std::string value;
};

// Writes in the calling thread's current namespace. Throws SystemError naming the path.
void write_sysctl(std::string_view path, std::string_view value);
std::string read_sysctl(std::string_view path);
void write_sysctls(const std::vector<Sysctl>& entries);

}  // namespace patchbay::sys
