// Small observers shared by the integration tests.
#pragma once

#include <dirent.h>
#include <net/if.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>

#include "patchbay/patchbay.hpp"

namespace pbtest {

// A fresh directory /tmp/<prefix>-XXXXXX, removed with everything in it.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "pb-test") {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline int thread_count() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  return -1;
}

inline int fd_count() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (auto* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n - 1;  // the directory stream itself
}

inline std::set<std::string> host_interfaces() {
  std::set<std::string> out;
  auto* idx = ::if_nameindex();
  for (auto* i = idx; i && i->if_index != 0; ++i) out.insert(i->if_name);
  ::if_freenameindex(idx);
  return out;
}

// Processes whose parent is this process (children and reparented orphans).
inline std::set<pid_t> child_pids() {
  std::set<pid_t> out;
  DIR* d = ::opendir("/proc");
  while (auto* e = ::readdir(d)) {
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
    std::string s;
    std::getline(f, s);
    auto close = s.rfind(')');
    if (close == std::string::npos) continue;
    char state;
    int ppid;
    if (std::sscanf(s.c_str() + close + 2, "%c %d", &state, &ppid) == 2 && ppid == ::getpid())
      out.insert(pid);
  }
  ::closedir(d);
  return out;
}

inline bool pid_alive(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  if (!std::getline(f, s)) return false;
  auto close = s.rfind(')');
  return close != std::string::npos && s[close + 2] != 'Z';
}

// The state letter of /proc/<pid>/stat ('R', 'S', 'Z', ...), or 0 when the process is gone.
inline char pid_state(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  if (!std::getline(f, s)) return 0;
  auto close = s.rfind(')');
  return close == std::string::npos || close + 2 >= s.size() ? 0 : s[close + 2];
}

}  // namespace pbtest
