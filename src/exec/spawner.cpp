#include "exec/spawner.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
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

Spawner::Spawner(ExitCallback on_exit) : on_exit_(std::move(on_exit)), tasks_("spawner", [this] { wake(); }) {
  epfd_.reset(::epoll_create1(EPOLL_CLOEXEC));
  evfd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!epfd_ || !evfd_) sys::throw_errno("spawner", "epoll/eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = evfd_.get();
  ::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, evfd_.get(), &ev);
  acquire_subreaper();
  thread_ = std::thread([this] { loop(); });
}

Spawner::~Spawner() {
  terminate(std::nullopt, std::chrono::milliseconds(0));
  tasks_.close();
  thread_.join();
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

void Spawner::wake() {
  std::uint64_t one = 1;
  ssize_t r = ::write(evfd_.get(), &one, sizeof one);
  (void)r;
}

std::shared_ptr<ChildState> Spawner::spawn(const sys::SpawnSpec& spec, NodeId node, std::string node_name,
                                           const std::function<void(const ChildState&)>& on_spawned) {
  return tasks_.call([&] {
    auto spawned = sys::spawn_process(spec);
    auto c = std::make_shared<ChildState>();
    c->pid = spawned.pid;
    c->pidfd = std::move(spawned.pidfd);
    c->node = node;
    c->node_name = node_name;
    if (on_spawned) on_spawned(*c);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = c->pidfd.get();
    ::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, c->pidfd.get(), &ev);
    std::lock_guard lk(mu_);
    live_[c->pidfd.get()] = c;
    groups_[c->pid] = Group{node, c, false};
    return c;
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
    ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, c->pidfd.get(), nullptr);
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

void Spawner::loop() {
  ::pthread_setname_np(::pthread_self(), "patchbay:spawn");
  epoll_event events[32];
  std::deque<std::function<void()>> reqs;
  for (;;) {
    tasks_.take_into(reqs);
    if (reqs.empty() && tasks_.closed()) return;
    for (auto& r : reqs) r();
    const bool had_requests = !reqs.empty();
    reqs.clear();
    if (had_requests) continue;
    bool waiting_groups;
    {
      std::lock_guard lk(mu_);
      waiting_groups = groups_.size() > live_.size();
    }
    // Orphans of an exited leader leave no pidfd to wait on: look again every 200 ms.
    int n = ::epoll_wait(epfd_.get(), events, 32, waiting_groups ? 200 : -1);
    bool exited = false;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == evfd_.get()) {
        std::uint64_t v;
        ssize_t r = ::read(evfd_.get(), &v, sizeof v);
        (void)r;
        continue;
      }
      std::shared_ptr<ChildState> c;
      {
        std::lock_guard lk(mu_);
        auto it = live_.find(events[i].data.fd);
        if (it != live_.end()) c = it->second;
      }
      if (c && observe_exit(c)) exited = true;
    }
    if (exited || waiting_groups) sweep();
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
