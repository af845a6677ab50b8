#include "runner/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "patchbay/consts.hpp"
#include "patchbay/error.hpp"
#include "runner/interrupt.hpp"

namespace patchbay::runner {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kEventPrefix = "patchbay::runner";

}  // namespace

StepProcess::StepProcess(Device& dev, Command cmd, const fs::path& sim_dir, const std::string& id,
                         std::unique_ptr<StreamCapturer> capturer, Console& console)
    : dev_(dev), step_id_(id), capturer_(std::move(capturer)), console_(console) {
  const std::string step = dev.name() + "." + id;
  out_log_ = sim_dir / consts::node_file(consts::kKindDevice, step, consts::kStdoutLogExt);
  err_log_ = sim_dir / consts::node_file(consts::kKindDevice, step, consts::kStderrLogExt);
  cmd.std_out(Stdio::piped()).std_err(Stdio::piped()).std_in(Stdio::null());
  const std::string cmdline = cmd.to_string();
  child_ = dev.spawn_command(std::move(cmd));
  dev_.emit_event(kEventPrefix, "CommandStarted",
                  {{"device", dev.name()}, {"step_id", id}, {"cmd", cmdline}});
  pid_ = child_.pid();
  out_fd_ = child_.take_stdout();
  err_fd_ = child_.take_stderr();
  std::string name = dev.name();
  out_thread_ = std::thread([this, name] { reader(out_fd_.get(), false, name); });
  err_thread_ = std::thread([this, name] { reader(err_fd_.get(), true, name); });
}

StepProcess::~StepProcess() {
  if (!status_) {
    try {
      terminate(std::chrono::milliseconds(200));
    } catch (...) {
    }
  }
  stop_readers_ = true;
  if (out_thread_.joinable()) out_thread_.join();
  if (err_thread_.joinable()) err_thread_.join();
}

// Reads until EOF. Once the process is gone, a grandchild that escaped the process group may
// still hold the pipe: after stop_readers_ is set the reader leaves as soon as the pipe is idle,
// and at the latest half a second later even if that grandchild keeps writing.
void StepProcess::reader(int fd, bool is_stderr, std::string device) {
  std::FILE* log = std::fopen((is_stderr ? err_log_ : out_log_).c_str(), "ae");
  if (!log)
    console_.warn("cannot write " + (is_stderr ? err_log_ : out_log_).string() + ": " + std::strerror(errno));
  std::string pending;
  char buf[16384];
  auto emit_line = [&](std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (capturer_) capturer_->line(is_stderr ? Pipe::Stderr : Pipe::Stdout, line);
    console_.child_line(device, is_stderr, line);
  };
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, 100);
    if (r < 0 && errno == EINTR) continue;
    if (stop_readers_ && std::chrono::steady_clock::now().time_since_epoch().count() > stop_by_ns_.load())
      break;
    if (r == 0) {
      if (stop_readers_) break;
      continue;
    }
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;
    if (log) {
      std::fwrite(buf, 1, static_cast<size_t>(n), log);
      std::fflush(log);
    }
    pending.append(buf, static_cast<size_t>(n));
    std::size_t start = 0, nl;
    while ((nl = pending.find('\n', start)) != std::string::npos) {
      emit_line(std::string_view(pending).substr(start, nl - start));
      start = nl + 1;
    }
    pending.erase(0, start);
  }
  if (!pending.empty()) emit_line(pending);
  if (log) std::fclose(log);
}

void StepProcess::drain() {
  // Readers see EOF once every writer is gone; a pipe kept open by an escaped grandchild ends
  // their loop at the next idle poll instead.
  stop_by_ns_ =
      (std::chrono::steady_clock::now() + std::chrono::milliseconds(500)).time_since_epoch().count();
  stop_readers_ = true;
  if (out_thread_.joinable()) out_thread_.join();
  if (err_thread_.joinable()) err_thread_.join();
  if (capturer_) capturer_->finish();
}

std::optional<ExitStatus> StepProcess::wait_until(std::chrono::steady_clock::time_point deadline) {
  if (status_) return status_;
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    auto left = deadline > now ? std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now)
                               : std::chrono::milliseconds(0);
    auto slice = std::min(left, std::chrono::milliseconds(100));
    if (auto st = child_.wait_for(slice)) {
      status_ = *st;
      completed();
      drain();
      return status_;
    }
    if (std::chrono::steady_clock::now() >= deadline || interrupted()) return std::nullopt;
  }
}

void StepProcess::signal_group(int sig) {
  if (!status_ && pid_ > 0) ::kill(-pid_, sig);
}

ExitStatus StepProcess::terminate(std::chrono::milliseconds grace) {
  if (status_) return *status_;
  if (pid_ > 0) ::kill(-pid_, SIGTERM);
  if (auto st = child_.wait_for(grace)) {
    status_ = *st;
  } else {
    child_.kill();
    status_ = child_.wait();
  }
  completed();
  // The rest of the group may outlive the leader briefly; make sure nothing keeps running.
  if (pid_ > 0) ::kill(-pid_, SIGKILL);
  drain();
  return *status_;
}

void StepProcess::completed() {
  // A process killed by a signal gets the shell's 128 + signal, plus the signal itself.
  const std::int64_t code = status_->code ? *status_->code : 128 + status_->signal.value_or(0);
  if (status_->signal)
    dev_.emit_event(kEventPrefix, "CommandCompleted",
                    {{"device", dev_.name()},
                     {"step_id", step_id_},
                     {"exit_code", code},
                     {"signal", static_cast<std::int64_t>(*status_->signal)}});
  else
    dev_.emit_event(kEventPrefix, "CommandCompleted",
                    {{"device", dev_.name()}, {"step_id", step_id_}, {"exit_code", code}});
}

}  // namespace patchbay::runner
