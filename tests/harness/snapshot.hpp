// What a lab may leave behind in the process and on the host, as one comparable value: the
// churn and fault harnesses take one before and one after and require them equal.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace pbharness {

struct Snapshot {
  int fds = 0;
  int threads = 0;
  std::set<int> children;             // processes whose parent is this process
  int mounts = 0;                     // lines of /proc/self/mountinfo
  std::set<std::string> interfaces;   // of the namespace this process runs in
  std::string nft_tables;             // `list tables` there; "?" when it cannot be read
  std::set<std::string> tmp_entries;  // /tmp entries named pb-* or patchbay*

  // "fds 41 -> 45; interfaces +veth3" etc.; empty when equal.
  std::string diff(const Snapshot& after) const;
};

// A lab's namespaces are held by this process's fds and by its children, so fds and children
// cover them. /tmp, interfaces and nft tables are machine-wide: run the harness serially.
Snapshot take_snapshot();

}  // namespace pbharness
