#include "sys/process.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "patchbay/error.hpp"

namespace patchbay::sys {

namespace {

// Everything the child needs, prepared in the parent: the child shares our memory and must not
// allocate.
struct ChildArgs {
  const char* path;
  char* const* argv;
  char* const* envp;
  const char* cwd;
  int netns_fd, mntns_fd;
  int stdio[3];
  int err_pipe;
  pid_t parent;
};

enum Stage : int { kSignals = 1, kPgrp, kDeathSig, kMntns, kNetns, kStdio, kCwd, kExec };

const char* stage_name(int s) {
  switch (s) {
    case kSignals:
      return "reset signals";
    case kPgrp:
      return "setpgid";
    case kDeathSig:
      return "prctl(PR_SET_PDEATHSIG)";
    case kMntns:
      return "setns(mount namespace)";
    case kNetns:
      return "setns(network namespace)";
    case kStdio:
      return "dup2(stdio)";
    case kCwd:
      return "chdir";
    case kExec:
      return "exec";
  }
  return "?";
}

// The child runs on the parent thread's memory, TLS included, until it execs, so it makes raw
// system calls only: under ThreadSanitizer the libc wrappers' interceptors (sigaction,
// sigprocmask, the fd calls) rewrote the parent thread's bookkeeping, and TSan then saw every
// spawn as a race. (syscall() still reports through errno, the parent's: harmless, since the
// parent reads errno only after calls of its own.)
// Not instrumented either: the child's shadow-memory writes would land in the parent thread's
// ThreadSanitizer state.
#define PB_CHILD_CODE __attribute__((no_sanitize("thread")))

PB_CHILD_CODE long raw(long n, long a = 0, long b = 0, long c = 0, long d = 0) {
  return ::syscall(n, a, b, c, d);
}

[[noreturn]] PB_CHILD_CODE void child_fail(const ChildArgs* a, int stage, long ret) {
  int msg[2] = {stage, static_cast<int>(-ret)};
  raw(SYS_write, a->err_pipe, reinterpret_cast<long>(msg), sizeof msg);
  raw(SYS_exit_group, 127);
  __builtin_unreachable();
}

// The kernel's struct sigaction (x86-64 and the other 64-bit ABIs): not glibc's.
struct KernelSigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)();
  unsigned long mask;
};

// -errno on failure, the result otherwise.
PB_CHILD_CODE long checked(long r) {
  return r == -1 ? -errno : r;
}

PB_CHILD_CODE int child_main(void* arg) {
  auto* a = static_cast<const ChildArgs*>(arg);
  long r;
  const unsigned long none = 0;
  if ((r = checked(raw(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&none), 0, sizeof none))) < 0)
    child_fail(a, kSignals, r);
  const KernelSigaction dfl{SIG_DFL, 0, nullptr, 0};
  for (int s = 1; s < NSIG; ++s) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    // Ignored dispositions would otherwise survive exec.
    raw(SYS_rt_sigaction, s, reinterpret_cast<long>(&dfl), 0, sizeof dfl.mask);
  }
  if ((r = checked(raw(SYS_setpgid, 0, 0))) < 0) child_fail(a, kPgrp, r);
  if ((r = checked(raw(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL))) < 0) child_fail(a, kDeathSig, r);
  if (raw(SYS_getppid) != a->parent) raw(SYS_exit_group, 127);  // the lab process is already gone
  if (a->mntns_fd >= 0 && (r = checked(raw(SYS_setns, a->mntns_fd, CLONE_NEWNS))) < 0)
    child_fail(a, kMntns, r);
  if (a->netns_fd >= 0 && (r = checked(raw(SYS_setns, a->netns_fd, CLONE_NEWNET))) < 0)
    child_fail(a, kNetns, r);
  for (int i = 0; i < 3; ++i) {
    const int fd = a->stdio[i];
    if (fd < 0) continue;
    if (fd == i) {
      const long flags = checked(raw(SYS_fcntl, fd, F_GETFD));
      if (flags < 0) child_fail(a, kStdio, flags);
      if ((r = checked(raw(SYS_fcntl, fd, F_SETFD, flags & ~FD_CLOEXEC))) < 0) child_fail(a, kStdio, r);
    } else if ((r = checked(raw(SYS_dup2, fd, i))) < 0) {
      child_fail(a, kStdio, r);
    }
  }
  if (a->cwd != nullptr && (r = checked(raw(SYS_chdir, reinterpret_cast<long>(a->cwd)))) < 0)
    child_fail(a, kCwd, r);
  r = checked(raw(SYS_execve, reinterpret_cast<long>(a->path), reinterpret_cast<long>(a->argv),
                  reinterpret_cast<long>(a->envp)));
  child_fail(a, kExec, r);
}

std::vector<char*> c_array(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::optional<std::string> find_program(const std::string& program, const std::string& path_env) {
  if (program.empty()) return std::nullopt;
  if (program.find('/') != std::string::npos) return program;
  std::size_t start = 0;
  while (start <= path_env.size()) {
    auto end = path_env.find(':', start);
    if (end == std::string::npos) end = path_env.size();
    std::string dir = path_env.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + program;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

Spawned spawn_process(const SpawnSpec& spec) {
  if (spec.argv.empty()) throw ProcessError("spawn", "empty argv");
  auto argv = c_array(spec.argv);
  auto envp = c_array(spec.envp);
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0)
    throw ProcessError("spawn " + spec.argv[0], std::string("pipe2: ") + std::strerror(errno));
  UniqueFd rd(pipefd[0]), wr(pipefd[1]);

  ChildArgs args{spec.path.c_str(),
                 argv.data(),
                 envp.data(),
                 spec.cwd ? spec.cwd->c_str() : nullptr,
                 spec.netns_fd,
                 spec.mntns_fd,
                 {spec.stdin_fd, spec.stdout_fd, spec.stderr_fd},
                 wr.get(),
                 ::getpid()};

  constexpr std::size_t kStack = 64 * 1024;
  std::vector<char> stack(kStack);
  int pidfd = -1;
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer's clone interceptor treats every clone as a fork and resets the calling
  // thread's state, which a CLONE_VM child shares: every later access looked racy. It understands
  // fork, so sanitizer builds fork (slower, same semantics for the child).
  pid_t pid = ::fork();
  if (pid == 0) child_main(&args);
  if (pid > 0 && (pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))) < 0) {
    const int err = errno;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    throw ProcessError("spawn " + spec.argv[0], std::string("pidfd_open: ") + std::strerror(err));
  }
#else
  // CLONE_VFORK suspends this thread until the child has exec'd or exited.
  pid_t pid = ::clone(child_main, stack.data() + kStack, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD,
                      &args, &pidfd);
#endif
  if (pid < 0) throw ProcessError("spawn " + spec.argv[0], std::string("clone: ") + std::strerror(errno));
  wr.reset();
  UniqueFd pfd(pidfd);

  int msg[2] = {0, 0};
  ssize_t n;
  do {
    n = ::read(rd.get(), msg, sizeof msg);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof msg)) {
    // The child failed before exec and has exited with 127; reap it here so it leaves no zombie.
    siginfo_t info{};
    ::waitid(P_PIDFD, static_cast<id_t>(pfd.get()), &info, WEXITED);
    throw ProcessError("spawn " + spec.argv[0], std::string(stage_name(msg[0])) +
                                                    " failed: " + std::strerror(msg[1]) +
                                                    (msg[0] == kExec ? " (" + spec.path + ")" : ""));
  }
  return Spawned{pid, std::move(pfd)};
}

}  // namespace patchbay::sys
