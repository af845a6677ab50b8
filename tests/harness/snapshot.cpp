#include "snapshot.hpp"

#include <dirent.h>
#include <net/if.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "sys/nft.hpp"

namespace pbharness {
namespace {

int count_dir(const char* path) {
  int n = 0;
  DIR* d = ::opendir(path);
  if (!d) return -1;
  while (auto* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n;
}

template <class T>
void set_diff(std::string& out, const char* what, const std::set<T>& a, const std::set<T>& b) {
  std::string add, del;
  for (auto& x : b)
    if (!a.count(x)) add += " +" + std::string(x);
  for (auto& x : a)
    if (!b.count(x)) del += " -" + std::string(x);
  if (!add.empty() || !del.empty()) out += std::string(what) + add + del + "; ";
}

void set_diff(std::string& out, const char* what, const std::set<int>& a, const std::set<int>& b) {
  std::set<std::string> sa, sb;
  for (int x : a) sa.insert(std::to_string(x));
  for (int x : b) sb.insert(std::to_string(x));
  set_diff(out, what, sa, sb);
}

}  // namespace

std::string Snapshot::diff(const Snapshot& b) const {
  std::string out;
  auto num = [&](const char* what, int x, int y) {
    if (x != y) out += std::string(what) + " " + std::to_string(x) + " -> " + std::to_string(y) + "; ";
  };
  num("fds", fds, b.fds);
  num("threads", threads, b.threads);
  num("mounts", mounts, b.mounts);
  set_diff(out, "children", children, b.children);
  set_diff(out, "interfaces", interfaces, b.interfaces);
  if (nft_tables != b.nft_tables) out += "nft tables '" + nft_tables + "' -> '" + b.nft_tables + "'; ";
  set_diff(out, "/tmp", tmp_entries, b.tmp_entries);
  return out;
}

Snapshot take_snapshot() {
  Snapshot s;
  s.fds = count_dir("/proc/self/fd") - 1;  // the directory stream itself
  s.threads = count_dir("/proc/self/task");
  {
    std::ifstream f("/proc/self/mountinfo");
    std::string line;
    while (std::getline(f, line)) ++s.mounts;
  }
  auto* idx = ::if_nameindex();
  for (auto* i = idx; i && i->if_index != 0; ++i) s.interfaces.insert(i->if_name);
  ::if_freenameindex(idx);
  try {
    s.nft_tables = patchbay::sys::NftContext::create().run_json("list tables", "harness snapshot");
  } catch (const std::exception&) {
    s.nft_tables = "?";
  }
  for (auto& e : std::filesystem::directory_iterator("/tmp")) {
    auto name = e.path().filename().string();
    if (name.starts_with("pb-") || name.starts_with("patchbay")) s.tmp_entries.insert(name);
  }
  DIR* d = ::opendir("/proc");
  const pid_t self = ::getpid();
  while (auto* e = ::readdir(d)) {
    const int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    const std::string dir = std::string("/proc/") + e->d_name;
    std::ifstream f(dir + "/stat");
    std::string st;
    std::getline(f, st);
    auto close = st.rfind(')');
    char state;
    int ppid;
    if (close != std::string::npos && std::sscanf(st.c_str() + close + 2, "%c %d", &state, &ppid) == 2 &&
        ppid == self)
      s.children.insert(pid);
  }
  ::closedir(d);
  return s;
}

}  // namespace pbharness
