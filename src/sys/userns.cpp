#include "patchbay/userns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "patchbay/error.hpp"

namespace patchbay {

namespace {

constexpr const char* kRemedy =
    "unprivileged user namespaces must be enabled: sysctl kernel.unprivileged_userns_clone=1 (where it "
    "exists); on Ubuntu >= 24.04 also kernel.apparmor_restrict_unprivileged_userns=0";

int thread_count() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  return -1;
}

bool write_file(const char* path, const std::string& content) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  ::close(fd);
  return ok;
}

// Returns an empty string on success, else the reason.
std::string enter() {
  if (::geteuid() == 0) return {};
  if (thread_count() != 1) return "init_userns must run before any thread is started";
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  if (::unshare(CLONE_NEWUSER) != 0)
    return std::string("unshare(CLONE_NEWUSER): ") + std::strerror(errno) + "; " + kRemedy;
  if (!write_file("/proc/self/setgroups", "deny"))
    return std::string("write /proc/self/setgroups: ") + std::strerror(errno);
  if (!write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1"))
    return std::string("write uid_map: ") + std::strerror(errno);
  if (!write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1"))
    return std::string("write gid_map: ") + std::strerror(errno);
  if (::geteuid() != 0) return "uid is not 0 after entering the user namespace";
  return {};
}

}  // namespace

void init_userns() {
  auto err = enter();
  if (!err.empty()) throw CapabilityError("init_userns", err);
}

bool init_userns_early() noexcept {
  try {
    return enter().empty();
  } catch (...) {
    return false;
  }
}

void check_caps() {
  if (::geteuid() == 0) return;
  std::ifstream f("/proc/self/status");
  std::string line;
  unsigned long long caps = 0;
  while (std::getline(f, line))
    if (line.rfind("CapEff:", 0) == 0) caps = std::stoull(line.substr(7), nullptr, 16);
  std::string missing;
  auto need = [&](int bit, const char* name) {
    if (!(caps & (1ULL << bit))) missing += missing.empty() ? name : std::string(", ") + name;
  };
  need(12, "CAP_NET_ADMIN");
  need(13, "CAP_NET_RAW");
  need(21, "CAP_SYS_ADMIN");
  if (!missing.empty())
    throw CapabilityError("check_caps",
                          "missing " + missing + "; call patchbay::init_userns() first; " + kRemedy);
}

}  // namespace patchbay
