// Following a file that grows by appends, one complete line at a time (the events.jsonl tail of
// SPEC 14.1), and waiting for it to grow.
//
//   LineTail tail(run_dir / "events.jsonl");
//   FileWatch watch(run_dir / "events.jsonl");
//   for (;;) {
//     tail.poll([](std::string_view line) { ... });   // history first, then what was appended
//     watch.wait(std::chrono::milliseconds(250), stop_fd);
//   }
//
// Guarantees: a line is delivered once, in file order, and only when its '\n' has been written:
// the tail keeps the byte offset just after the last complete line, so nothing is lost or
// repeated between the history and the live part, and a half-written last line waits. A file
// that does not exist yet reads as empty; a file that shrinks (truncated) is read again from 0.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "patchbay/fd.hpp"

namespace patchbay::server {

class LineTail {
 public:
  explicit LineTail(std::filesystem::path file, std::size_t max_bytes_per_poll = 1 << 20);

  // Reads what was appended since the last call (at most max_bytes_per_poll, so a huge history is
  // handed out in slices) and calls `line` for each complete line, without its '\n'. Returns the
  // number of lines delivered.
  std::size_t poll(const std::function<void(std::string_view)>& line);

  // Byte offset just after the last complete line delivered.
  std::uint64_t offset() const { return read_pos_ - partial_.size(); }

 private:
  std::filesystem::path file_;
  std::size_t max_bytes_;
  UniqueFd fd_;
  std::uint64_t read_pos_ = 0;  // bytes read from the file so far
  std::string partial_;         // read bytes after the last '\n'
};

// Wakes a waiter when a file is written (inotify), else after a timeout. Without inotify (no
// instance left: fs.inotify.max_user_instances) it degrades to the timeout, i.e. polling.
class FileWatch {
 public:
  explicit FileWatch(const std::filesystem::path& file);
  // Returns when the file was modified, `timeout` passed, or `stop_fd` (-1: none) is readable.
  void wait(std::chrono::milliseconds timeout, int stop_fd);
  bool uses_inotify() const { return watch_ >= 0; }

 private:
  UniqueFd inotify_;
  int watch_ = -1;
};

}  // namespace patchbay::server
