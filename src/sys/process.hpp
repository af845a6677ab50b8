// Starting a child process inside a node's namespaces.
//
// spawn_process() clones with CLONE_VM | CLONE_VFORK | CLONE_PIDFD (no copy of the parent's page
// tables, which matters in a process with many threads and a large heap). Between clone and exec
// the child: resets signal dispositions and mask, creates its own process group, arms
// PR_SET_PDEATHSIG(SIGKILL) (tied to the calling thread: call it from a thread that lives as long
// as the lab), joins the mount and network namespaces, wires stdio, changes directory and execs.
// A failure before exec is reported through a close-on-exec pipe as ProcessError naming the step.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "patchbay/fd.hpp"

namespace patchbay::sys {

struct SpawnSpec {
  std::string path;               // absolute or relative executable path (already resolved)
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> envp;  // "KEY=VALUE"
  std::optional<std::string> cwd;
  int netns_fd = -1;
  int mntns_fd = -1;
  int stdin_fd = -1;  // -1 = inherit the parent's
  int stdout_fd = -1;
  int stderr_fd = -1;
};

struct Spawned {
  pid_t pid = -1;
  UniqueFd pidfd;
};

Spawned spawn_process(const SpawnSpec& spec);

// PATH lookup as execvp would do it; returns the program unchanged if it contains a '/'.
std::optional<std::string> find_program(const std::string& program, const std::string& path_env);

}  // namespace patchbay::sys
