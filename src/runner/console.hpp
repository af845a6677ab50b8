// What the runner prints while it works (SPEC 15.7): INFO lines, child output with -v, and on a
// terminal a live status line (sim and step being run, elapsed time) redrawn below the log lines.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace patchbay::runner {

class Console {
 public:
  // `live` draws the status line (normally isatty(stderr)); `verbose` echoes child output.
  Console(bool live, bool verbose, std::FILE* out = stderr);
  ~Console();
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  void info(std::string_view msg);
  void warn(std::string_view msg);
  void error(std::string_view msg);
  // One line of a child's output: "<device padded/truncated to 10>out: <line>" (only with -v).
  void child_line(std::string_view device, bool is_stderr, std::string_view line);
  // Plain text on stdout (summaries), kept apart from the status line.
  void print(std::string_view text);

  // The status line: "[2/6] sim-name · step 3/7 run id=fetch · 4.2s".
  void set_sim(std::size_t index, std::size_t total, std::string name);
  void set_step(std::string step);
  void clear_status();
  bool verbose() const { return verbose_; }

 private:
  void emit(std::string_view level, std::string_view msg);
  void draw_locked();
  void erase_locked();
  void ticker();

  const bool live_, verbose_;
  std::FILE* out_;
  std::mutex mu_;
  std::string sim_, step_;
  std::size_t index_ = 0, total_ = 0;
  std::chrono::steady_clock::time_point sim_started_, step_started_;
  bool drawn_ = false;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread ticker_;
};

}  // namespace patchbay::runner
