// A build-type command on the host, outside any lab: the generic `build` and cargo commands of
// [[binary]], git for `repo`, and [[prepare]] commands. Started with sys::spawn_process in a
// process group of its own, stdin from /dev/null, stdout to a file or (like stderr) line by line
// to a log callback, and bounded by a deadline.
//
//   int status = run_host_command({.argv = {"make", "-j2"}, .cwd = dir, .log = log,
//                                  .timeout = std::chrono::minutes(30),
//                                  .context = "binary 'relay'", .name = "build of binary 'relay'"});
//
// At the deadline the whole process group gets SIGTERM, then SIGKILL after a grace period, and
// TimeoutError "build of binary 'relay' timed out after 30m: 'make -j2' in '/dir' (process group
// killed)" is thrown. Because the command is not in our process group, a terminal's Ctrl-C no
// longer reaches it directly: once the runner's interrupt flag is set (runner/interrupt.hpp)
// SIGINT is forwarded to the group, as the terminal would have done.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace patchbay::runner {

struct HostCommand {
  std::vector<std::string> argv{};  // argv[0] is searched in $PATH
  std::filesystem::path cwd{};
  std::function<void(const std::string&)> log{};       // stderr (and stdout) lines; may be empty
  std::optional<std::filesystem::path> stdout_file{};  // stdout truncated into this file instead
  std::chrono::milliseconds timeout{std::chrono::minutes(30)};
  std::string context{};  // prefixes a failure to start: "<context>: spawn '<cmd>' in '<cwd>': ..."
  std::string name{};     // names the command in the timeout error: "build of binary 'relay'"
};

// Runs the command to its end (its exit and EOF on its output) and returns its wait status.
// Throws SystemError when it cannot start and TimeoutError at the deadline.
int run_host_command(const HostCommand& cmd);

// The command line for messages: a `/bin/sh -c` string as written, else argv quoted where needed.
std::string display_command(const std::vector<std::string>& argv);

// "200ms", "5s", "30m": the largest unit of the sim-file duration grammar that is exact.
std::string display_duration(std::chrono::milliseconds d);

}  // namespace patchbay::runner
