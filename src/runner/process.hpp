// A program started by a `run` or `spawn` step: its output goes line by line to the step's log
// files, to its captures and (with -v) to the console; the sim deadline can interrupt it. Its
// start and end are CommandStarted / CommandCompleted timeline events in the device's
// events file (SPEC 13.5).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "patchbay/device.hpp"
#include "patchbay/exec.hpp"
#include "runner/captures.hpp"
#include "runner/console.hpp"

namespace patchbay::runner {

class StepProcess {
 public:
  // Starts `cmd` in `dev`; stdout/stderr are appended to <sim_dir>/device.<dev>.<id>.std{out,err}.log.
  StepProcess(Device& dev, Command cmd, const std::filesystem::path& sim_dir, const std::string& id,
              std::unique_ptr<StreamCapturer> capturer, Console& console);
  ~StepProcess();  // terminates the process group if still running
  StepProcess(const StepProcess&) = delete;
  StepProcess& operator=(const StepProcess&) = delete;

  // Waits for exit until `deadline`; nullopt if it is still running then. On exit the output is
  // drained and the captures finished.
  std::optional<ExitStatus> wait_until(std::chrono::steady_clock::time_point deadline);
  // SIGTERM to the process group, SIGKILL after `grace`; then drains like wait_until.
  ExitStatus terminate(std::chrono::milliseconds grace = std::chrono::seconds(1));
  void signal_group(int sig);  // to the whole process group, if still running
  bool finished() const { return status_.has_value(); }
  pid_t pid() const { return pid_; }
  const std::filesystem::path& stdout_log() const { return out_log_; }
  const std::filesystem::path& stderr_log() const { return err_log_; }

 private:
  void reader(int fd, bool is_stderr, std::string device);
  void drain();
  void completed();  // status_ was just set: the CommandCompleted event

  Device dev_;
  std::string step_id_;

  Child child_;
  pid_t pid_ = -1;
  std::filesystem::path out_log_, err_log_;
  std::unique_ptr<StreamCapturer> capturer_;
  Console& console_;
  std::atomic<bool> stop_readers_{false};
  std::atomic<std::int64_t> stop_by_ns_{0};  // steady-clock deadline for readers once stopping
  std::thread out_thread_, err_thread_;
  UniqueFd out_fd_, err_fd_;
  std::optional<ExitStatus> status_;
};

}  // namespace patchbay::runner
