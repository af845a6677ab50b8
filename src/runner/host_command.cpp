#include "runner/host_command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "patchbay/error.hpp"
#include "patchbay/fd.hpp"
#include "runner/interrupt.hpp"
#include "sys/errno.hpp"
#include "sys/process.hpp"

extern char** environ;

namespace patchbay::runner {

namespace {

using Clock = std::chrono::steady_clock;

// Between SIGTERM and SIGKILL at the deadline: long enough for make or cargo to stop their jobs.
constexpr std::chrono::milliseconds kKillGrace{2000};
// How often the interrupt flag is looked at while nothing arrives.
constexpr std::chrono::milliseconds kTick{100};

// Partial lines wait for their newline; the tail is flushed at EOF.
class LineSplitter {
 public:
  explicit LineSplitter(const std::function<void(const std::string&)>& log) : log_(log) {}
  void feed(const char* data, std::size_t n) {
    pending_.append(data, n);
    for (std::size_t nl; (nl = pending_.find('\n')) != std::string::npos; pending_.erase(0, nl + 1)) {
      std::string line = pending_.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (log_) log_(line);
    }
  }
  void flush() {
    if (!pending_.empty() && log_) log_(pending_);
    pending_.clear();
  }

 private:
  const std::function<void(const std::string&)>& log_;
  std::string pending_;
};

struct Running {
  pid_t pid = -1;
  UniqueFd pidfd;
  UniqueFd out;  // read end of the stdout/stderr pipe
};

std::string where(const HostCommand& c) {
  return "'" + display_command(c.argv) + "' in '" + c.cwd.string() + "'";
}

Running start(const HostCommand& c) {
  const char* path_env = std::getenv("PATH");
  auto path = sys::find_program(c.argv[0], path_env ? path_env : "");
  if (!path) sys::throw_errno(c.context, "spawn " + where(c), ENOENT);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) sys::throw_errno(c.context, "pipe", errno);
  Running r;
  r.out.reset(fds[0]);
  UniqueFd wr(fds[1]);
  UniqueFd in(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!in) sys::throw_errno(c.context, "open /dev/null", errno);
  UniqueFd file;
  if (c.stdout_file) {
    file.reset(::open(c.stdout_file->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!file) sys::throw_errno(c.context, "create '" + c.stdout_file->string() + "'", errno);
  }
  sys::SpawnSpec spec;
  spec.path = *path;
  spec.argv = c.argv;
  spec.cwd = c.cwd.string();
  for (char** e = environ; *e != nullptr; ++e) spec.envp.emplace_back(*e);
  spec.stdin_fd = in.get();
  spec.stdout_fd = file ? file.get() : wr.get();
  spec.stderr_fd = wr.get();
  try {
    auto s = sys::spawn_process(spec);
    r.pid = s.pid;
    r.pidfd = std::move(s.pidfd);
  } catch (const ProcessError& e) {
    // e.what() is "<its context>: <stage> failed: <reason>"; keep the reason under our context.
    std::string cause = std::string(e.what()).substr(e.context().size() + 2);
    throw ProcessError(c.context, "spawn " + where(c) + ": " + cause);
  }
  return r;
}

// One read; false at EOF.
bool read_some(int fd, LineSplitter& lines) {
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof buf);
  if (n > 0) lines.feed(buf, static_cast<std::size_t>(n));
  return n > 0 || (n < 0 && (errno == EINTR || errno == EAGAIN));
}

// Until the command has exited and its output reached EOF (a background child still holding the
// pipe keeps it going, as before), or the deadline: false then.
bool pump(const Running& r, LineSplitter& lines, Clock::time_point deadline, const std::string& ctx) {
  bool exited = false, eof = false, forwarded = false;
  while (!exited || !eof) {
    if (!forwarded && interrupted()) {
      ::kill(-r.pid, SIGINT);
      forwarded = true;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= std::chrono::milliseconds::zero()) return false;
    pollfd fds[2] = {{exited ? -1 : r.pidfd.get(), POLLIN, 0}, {eof ? -1 : r.out.get(), POLLIN, 0}};
    if (::poll(fds, 2, static_cast<int>(std::min(left, kTick).count())) < 0 && errno != EINTR)
      sys::throw_errno(ctx, "poll");
    if (fds[0].revents != 0) exited = true;
    if (fds[1].revents != 0) eof = !read_some(r.out.get(), lines);
  }
  return true;
}

// SIGTERM to the group, SIGKILL to whatever is left after the grace period. The leader is not
// reaped yet, so the group id cannot have been reused.
void kill_group(const Running& r) {
  ::kill(-r.pid, SIGTERM);
  pollfd p{r.pidfd.get(), POLLIN, 0};
  ::poll(&p, 1, static_cast<int>(kKillGrace.count()));
  ::kill(-r.pid, SIGKILL);
}

int reap(pid_t pid) {
  int status = 0;
  sys::retry_eintr([&] { return ::waitpid(pid, &status, 0); });
  return status;
}

}  // namespace

int run_host_command(const HostCommand& c) {
  if (c.argv.empty()) throw Error(c.context, "empty command");
  const auto deadline = Clock::now() + c.timeout;
  Running r = start(c);
  LineSplitter lines(c.log);
  bool finished = false;
  try {
    finished = pump(r, lines, deadline, c.context);
  } catch (...) {
    kill_group(r);  // never leave a build running behind an error
    reap(r.pid);
    throw;
  }
  if (finished) {
    lines.flush();
    return reap(r.pid);
  }
  kill_group(r);
  reap(r.pid);
  lines.flush();
  throw TimeoutError(c.name + " timed out after " + display_duration(c.timeout) + ": " + where(c) +
                     " (process group killed)");
}

std::string display_command(const std::vector<std::string>& argv) {
  if (argv.size() == 3 && argv[0] == "/bin/sh" && argv[1] == "-c") return argv[2];
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    out += a.find_first_of(" \t'\"") == std::string::npos && !a.empty() ? a : "'" + a + "'";
  }
  return out;
}

std::string display_duration(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms != 0 && ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace patchbay::runner
