#include "exec/spawner.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

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

bool group_alive(pid_t pgid) {
  return ::kill(-pgid, 0) == 0 || errno == EPERM;
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

Spawner::Spawner(ExitCallback on_exit) : on_exit_(std::move(on_exit)) {
  epfd_.reset(::epoll_create1(EPOLL_CLOEXEC));
  evfd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!epfd_ || !evfd_) sys::throw_errno("spawner", "epoll/eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = evfd_.get();
  ::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, evfd_.get(), &ev);
  // Orphaned grandchildren come back to this process, so teardown can reap them.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  thread_ = std::thread([this] { loop(); });
}

Spawner::~Spawner() {
  terminate(std::nullopt, std::chrono::milliseconds(0));
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  wake();
  thread_.join();
}

void Spawner::wake() {
  std::uint64_t one = 1;
  ssize_t r = ::write(evfd_.get(), &one, sizeof one);
  (void)r;
}

std::shared_ptr<ChildState> Spawner::spawn(const sys::SpawnSpec& spec, NodeId node, std::string node_name,
                                           const std::function<void(const ChildState&)>& on_spawned) {
  auto task = std::make_shared<std::packaged_task<std::shared_ptr<ChildState>()>>([&] {
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
    groups_[c->pid] = node;
    return c;
  });
  auto fut = task->get_future();
  {
    std::lock_guard lk(mu_);
    if (stop_) throw Cancelled("spawn", "the lab is shutting down");
    requests_.push_back([task] { (*task)(); });
  }
  wake();
  return fut.get();
}

void Spawner::reap(const std::shared_ptr<ChildState>& c) {
  siginfo_t info{};
  if (::waitid(P_PIDFD, static_cast<id_t>(c->pidfd.get()), &info, WEXITED | WNOHANG) != 0) return;
  if (info.si_pid == 0) return;  // not exited yet
  ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, c->pidfd.get(), nullptr);
  {
    std::lock_guard lk(mu_);
    live_.erase(c->pidfd.get());
  }
  c->set(status_from(info));
  if (on_exit_) on_exit_(*c);
}

// Reaps orphaned members of groups whose leader is gone and forgets empty groups.
void Spawner::sweep_groups() {
  std::vector<pid_t> pgids;
  {
    std::lock_guard lk(mu_);
    for (auto& [pgid, node] : groups_) pgids.push_back(pgid);
  }
  for (pid_t pgid : pgids) {
    bool leader_live = false;
    {
      std::lock_guard lk(mu_);
      for (auto& [fd, c] : live_)
        if (c->pid == pgid) leader_live = true;
    }
    if (leader_live) continue;
    siginfo_t info{};
    while (::waitid(P_PGID, static_cast<id_t>(pgid), &info, WEXITED | WNOHANG) == 0 && info.si_pid != 0)
      info = {};
    if (!group_alive(pgid)) {
      std::lock_guard lk(mu_);
      groups_.erase(pgid);
    }
  }
}

void Spawner::loop() {
  ::pthread_setname_np(::pthread_self(), "patchbay:spawn");
  epoll_event events[32];
  for (;;) {
    std::deque<std::function<void()>> reqs;
    bool have_groups;
    {
      std::lock_guard lk(mu_);
      if (stop_ && requests_.empty()) return;
      reqs.swap(requests_);
      have_groups = groups_.size() > live_.size();
    }
    for (auto& r : reqs) r();
    if (!reqs.empty()) continue;
    int n = ::epoll_wait(epfd_.get(), events, 32, have_groups ? 1000 : -1);
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
      if (c) reap(c);
    }
    if (have_groups) sweep_groups();
  }
}

void Spawner::terminate(std::optional<NodeId> node, std::chrono::milliseconds grace) {
  std::vector<std::shared_ptr<ChildState>> kids;
  std::vector<pid_t> pgids;
  {
    std::lock_guard lk(mu_);
    for (auto& [fd, c] : live_)
      if (!node || c->node == *node) kids.push_back(c);
    for (auto& [pgid, n] : groups_)
      if (!node || n == *node) pgids.push_back(pgid);
  }
  if (pgids.empty()) return;
  auto deadline = std::chrono::steady_clock::now() + grace;
  if (grace.count() > 0) {
    for (pid_t g : pgids) ::kill(-g, SIGTERM);
    for (auto& c : kids) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      c->wait_for(left);
    }
  }
  for (pid_t g : pgids) ::kill(-g, SIGKILL);
  // The reaper thread collects the leaders; wait for it (bounded, SIGKILL cannot be ignored).
  for (auto& c : kids) {
    if (!c->wait_for(std::chrono::seconds(5))) {
      // The reaper thread may be stopping; collect the status here.
      reap(c);
    }
  }
  // Orphaned grandchildren in those groups are ours now (subreaper): reap until the groups are empty.
  auto sweep_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (pid_t g : pgids) {
    for (;;) {
      siginfo_t info{};
      int r = ::waitid(P_PGID, static_cast<id_t>(g), &info, WEXITED | WNOHANG);
      if (r == 0 && info.si_pid != 0) continue;
      if (!group_alive(g) || std::chrono::steady_clock::now() > sweep_deadline) break;
      ::kill(-g, SIGKILL);
      ::usleep(2000);
    }
    std::lock_guard lk(mu_);
    groups_.erase(g);
  }
}

}  // namespace patchbay::detail
