#include "exec/spawner.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <vector>

#include "sys/errno.hpp"

namespace patchbay::detail {

namespace {

ExitStatus status_from(const siginfo_t& info) {
  ExitStatus s;
  if (info.si_code == CLD_EXITED)
    s.code = info.si_status;
  else
    s.signal = info.si_status;
  return s;
}

// PR_SET_CHILD_SUBREAPER is an attribute of the whole process: set it while spawners exist and
// put back what was there before when the last one goes.
std::mutex g_subreaper_mu;
int g_subreaper_users = 0;
int g_subreaper_before = 0;

void acquire_subreaper() {
  std::lock_guard lk(g_subreaper_mu);
  if (g_subreaper_users++ > 0) return;
  g_subreaper_before = 0;
  ::prctl(PR_GET_CHILD_SUBREAPER, &g_subreaper_before);
  if (g_subreaper_before == 0) ::prctl(PR_SET_CHILD_SUBREAPER, 1);
}

void release_subreaper() {
  std::lock_guard lk(g_subreaper_mu);
  if (--g_subreaper_users == 0 && g_subreaper_before == 0) ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

struct ProcInfo {
  pid_t pid, ppid, pgrp;
  char state;
};

// Every process whose process group is in `pgids` (from /proc/<pid>/stat).
std::vector<ProcInfo> members_of(const std::set<pid_t>& pgids) {
  std::vector<ProcInfo> out;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return out;
  char path[300], buf[512];
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    // "pid (comm) S ppid pgrp ..."; comm may hold spaces and parentheses: parse after the last ')'.
    const char* rp = std::strrchr(buf, ')');
    ProcInfo p{};
    if (rp == nullptr || std::sscanf(rp + 1, " %c %d %d", &p.state, &p.ppid, &p.pgrp) != 3) continue;
    if (!pgids.count(p.pgrp)) continue;
    p.pid = static_cast<pid_t>(std::atoi(e->d_name));
    out.push_back(p);
  }
  ::closedir(d);
  return out;
}

}  // namespace

void ChildState::set(ExitStatus s) {
  {
    std::lock_guard lk(mu);
    if (status) return;
    status = s;
  }
  cv.notify_all();
}

std::optional<ExitStatus> ChildState::get() {
  std::lock_guard lk(mu);
  return status;
}

ExitStatus ChildState::wait() {
  std::unique_lock lk(mu);
  cv.wait(lk, [&] { return status.has_value(); });
  return *status;
}

std::optional<ExitStatus> ChildState::wait_for(std::chrono::milliseconds t) {
  std::unique_lock lk(mu);
  if (!cv.wait_for(lk, t, [&] { return status.has_value(); })) return std::nullopt;
  return status;
}

bool ChildState::signal_group(int sig) {
  std::lock_guard lk(mu);  // the spawner reaps the leader under this lock
  if (group_done) return false;
  ::kill(-pid, sig);
  return true;
}

Spawner::Spawner(ExitCallback on_exit)
    : on_exit_(std::move(on_exit)),
      loop_({.name = "spawner",
             .thread_name = "patchbay:spawn",
             .on_error = {},
             .init = {},
             .wait_for_init = false}) {
  acquire_subreaper();
  loop_.call([this] { sweep_timer_.emplace(loop_.context()); });
}

Spawner::~Spawner() {
  terminate(std::nullopt, std::chrono::milliseconds(0));
  loop_.stop(LoopThread::Drain::No);
  exit_waits_.clear();  // the thread is gone: the asio objects die before their context
  sweep_timer_.reset();
  // A group that outlived the bounded sweep (a member stuck in the kernel) loses its zombie leader
  // now; group_done keeps Child::kill from signalling its id afterwards.
  for (auto& [pgid, g] : groups_) {
    std::lock_guard lk(g.leader->mu);
    g.leader->group_done = true;
    siginfo_t info{};
    ::waitid(P_PIDFD, static_cast<id_t>(g.leader->pidfd.get()), &info, WEXITED | WNOHANG);
  }
  groups_.clear();
  release_subreaper();
}

std::shared_ptr<ChildState> Spawner::spawn(const sys::SpawnSpec& spec, NodeId node, std::string node_name,
                                           const std::function<void(const ChildState&)>& on_spawned) {
  return loop_.call([&] {
    auto spawned = sys::spawn_process(spec);
    auto c = std::make_shared<ChildState>();
    c->pid = spawned.pid;
    c->pidfd = std::move(spawned.pidfd);
    c->node = node;
    c->node_name = node_name;
    if (on_spawned) on_spawned(*c);
    {
      std::lock_guard lk(mu_);
      live_[c->pidfd.get()] = c;
      groups_[c->pid] = Group{node, c, false};
    }
    wait_exit(c);
    return c;
  });
}

void Spawner::wait_exit(const std::shared_ptr<ChildState>& c) {
  // A dup, so the wait owns what it closes and the child's pidfd stays valid for waitid.
  const int fd = ::fcntl(c->pidfd.get(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) sys::throw_errno("spawner", "dup(pidfd of " + std::to_string(c->pid) + ")");
  auto& sd = exit_waits_[c->pid] = std::make_unique<asio::posix::stream_descriptor>(loop_.context(), fd);
  sd->async_wait(
      asio::posix::descriptor_base::wait_read, [this, c, self = sd.get()](const asio::error_code& ec) {
        if (ec) return;  // stopping, or replaced by a child that reuses the pid
        // terminate() may have reaped the child and its pid been reused since: erase only our wait.
        if (auto it = exit_waits_.find(c->pid); it != exit_waits_.end() && it->second.get() == self)
          exit_waits_.erase(it);
        observe_exit(c);  // false only for a pidfd readable before the exit, which does not happen
        sweep_soon();
      });
}

void Spawner::sweep_soon() {
  sweep();
  bool waiting_groups;
  {
    std::lock_guard lk(mu_);
    waiting_groups = groups_.size() > live_.size();
  }
  if (!waiting_groups || sweep_armed_) return;
  sweep_armed_ = true;
  sweep_timer_->expires_after(std::chrono::milliseconds(200));
  sweep_timer_->async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    sweep_armed_ = false;
    sweep_soon();
  });
}

bool Spawner::observe_exit(const std::shared_ptr<ChildState>& c) {
  siginfo_t info{};
  // WNOWAIT: the status without the reaping; the zombie keeps the group id ours.
  if (::waitid(P_PIDFD, static_cast<id_t>(c->pidfd.get()), &info, WEXITED | WNOHANG | WNOWAIT) != 0)
    return false;
  if (info.si_pid == 0) return false;  // not exited yet
  {
    std::lock_guard lk(mu_);
    if (!live_.erase(c->pidfd.get())) return true;  // observed already (loop and terminate race)
    if (auto g = groups_.find(c->pid); g != groups_.end()) g->second.leader_exited = true;
  }
  c->set(status_from(info));
  if (on_exit_) on_exit_(*c);
  return true;
}

void Spawner::sweep(const std::vector<pid_t>* only) {
  std::lock_guard sweep_lk(sweep_mu_);
  std::set<pid_t> pending;
  std::map<pid_t, std::shared_ptr<ChildState>> leaders;
  {
    std::lock_guard lk(mu_);
    for (auto& [pgid, g] : groups_) {
      if (!g.leader_exited) continue;
      if (only && std::find(only->begin(), only->end(), pgid) == only->end()) continue;
      pending.insert(pgid);
      leaders[pgid] = g.leader;
    }
  }
  if (pending.empty()) return;
  std::set<pid_t> occupied;
  const pid_t self = ::getpid();
  for (auto& p : members_of(pending)) {
    if (p.pid == p.pgrp) continue;  // the zombie leader itself
    if (p.state == 'Z' && p.ppid == self) {
      siginfo_t info{};
      ::waitid(P_PID, static_cast<id_t>(p.pid), &info, WEXITED | WNOHANG);  // an orphan, ours now
      continue;
    }
    occupied.insert(p.pgrp);
  }
  for (pid_t pgid : pending) {
    if (occupied.count(pgid)) continue;
    auto& c = leaders[pgid];
    {
      std::lock_guard lk(c->mu);
      c->group_done = true;
      siginfo_t info{};
      ::waitid(P_PIDFD, static_cast<id_t>(c->pidfd.get()), &info, WEXITED | WNOHANG);
    }
    std::lock_guard lk(mu_);
    groups_.erase(pgid);
  }
}

void Spawner::terminate(std::optional<NodeId> node, std::chrono::milliseconds grace) {
  std::vector<std::shared_ptr<ChildState>> leaders;
  std::vector<pid_t> pgids;
  {
    std::lock_guard lk(mu_);
    for (auto& [pgid, g] : groups_)
      if (!node || g.node == *node) {
        pgids.push_back(pgid);
        leaders.push_back(g.leader);
      }
  }
  if (pgids.empty()) return;
  // Signalling by group id is safe here: every leader in `leaders` is unreaped until its group is
  // empty, and signal_group() checks that under the leader's lock.
  auto deadline = std::chrono::steady_clock::now() + grace;
  if (grace.count() > 0) {
    for (auto& c : leaders) c->signal_group(SIGTERM);
    for (auto& c : leaders) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      c->wait_for(left);
    }
  }
  for (auto& c : leaders) c->signal_group(SIGKILL);
  for (auto& c : leaders) {
    if (!c->wait_for(std::chrono::seconds(5))) observe_exit(c);  // the loop may be stopping
  }
  // Members die with SIGKILL; orphans among them are ours (subreaper): sweep until the groups are
  // gone, bounded (a member that left its group, or one in uninterruptible sleep, is not waited for).
  auto sweep_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (;;) {
    for (auto& c : leaders) observe_exit(c);
    sweep(&pgids);
    bool left = false;
    {
      std::lock_guard lk(mu_);
      for (pid_t g : pgids) left = left || groups_.count(g) > 0;
    }
    if (!left || std::chrono::steady_clock::now() > sweep_deadline) break;
    for (auto& c : leaders) c->signal_group(SIGKILL);
    ::usleep(2000);
  }
}

}  // namespace patchbay::detail
