// Following a file that grows by appends, one complete line at a time, and waiting for it to grow:
// the events.jsonl tail of the devtools server (SPEC 14.1) and `patchbay fmt-log -f`.
//
//   sys::LineTail tail(run_dir / "events.jsonl");
//   sys::FileWatch watch(run_dir / "events.jsonl");
//   for (;;) {
//     tail.poll([](std::string_view line) { ... });   // history first, then what was appended
//     watch.wait(std::chrono::milliseconds(250), stop_fd);
//   }
//
// Guarantees: a line is delivered once, in file order, and only when its '\n' has been written:
// the tail keeps the byte offset just after the last complete line, so nothing is lost or
// repeated between the history and the live part, and a half-written last line waits. A file
// that does not exist yet reads as empty. A file that shrinks (truncated) is read again from 0.
// A file replaced under the same name (rename over it) is first read to its end, then the new
// file is read from 0; the old file's unterminated last line, if any, is dropped. Both count as
// a reset (resets()), so a caller that must not repeat itself can tell.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "patchbay/fd.hpp"

namespace patchbay::sys {

class LineTail {
 public:
  // `open_flags` are added to O_RDONLY | O_CLOEXEC (O_NOFOLLOW: never read through a symlink).
  explicit LineTail(std::filesystem::path file, std::size_t max_bytes_per_poll = 1 << 20, int open_flags = 0);

  // Reads what was appended since the last call (at most max_bytes_per_poll, so a huge history is
  // handed out in slices) and calls `line` for each complete line, without its '\n'. Returns the
  // number of lines delivered.
  std::size_t poll(const std::function<void(std::string_view)>& line);

  // Byte offset just after the last complete line delivered (in the file read now).
  std::uint64_t offset() const { return read_pos_ - partial_.size(); }
  // How often the file was truncated or replaced since the first open.
  std::uint64_t resets() const { return resets_; }

 private:
  // Reads up to `budget` bytes from the current fd, delivering lines; sets `eof` at its end.
  std::size_t read_some(std::size_t& budget, bool& eof, const std::function<void(std::string_view)>& line);
  void start_over(UniqueFd fd);

  std::filesystem::path file_;
  std::size_t max_bytes_;
  int open_flags_;
  UniqueFd fd_;
  std::uint64_t read_pos_ = 0;  // bytes read from the file so far
  std::string partial_;         // read bytes after the last '\n'
  std::uint64_t resets_ = 0;
};

// Wakes a waiter when a file is written (inotify), else after a timeout. Without inotify (no
// instance left: fs.inotify.max_user_instances) it degrades to the timeout, i.e. polling. A file
// that is missing, or replaced by another under the same name, is watched again once it exists.
class FileWatch {
 public:
  explicit FileWatch(std::filesystem::path file);
  // Returns when the file was modified, `timeout` passed, or `stop_fd` (-1: none) is readable.
  void wait(std::chrono::milliseconds timeout, int stop_fd);
  bool uses_inotify() const { return watch_ >= 0; }

 private:
  void rewatch();

  std::filesystem::path file_;
  UniqueFd inotify_;
  int watch_ = -1;
  std::uint64_t watched_ino_ = 0;  // the inode watch_ is on (0: none or unknown)
};

}  // namespace patchbay::sys
