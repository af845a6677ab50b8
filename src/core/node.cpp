// Node: running code and programs inside a node's namespaces.
#include "patchbay/node.hpp"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "core/lab_core.hpp"
#include "sys/errno.hpp"
#include "sys/netns.hpp"

namespace patchbay {

using detail::LabCore;
using detail::NodeRec;

detail::LabRef Node::core() const {
  return detail::LabRef(lab_, "node '" + name_ + "'");
}

std::shared_ptr<NodeRec> Node::rec() const {
  auto c = core();
  auto r = c->nodes().node(id_);
  if (!r || !r->alive) throw Removed("node '" + name_ + "'", "the node has been removed");
  return r;
}

std::string Node::ns() const {
  return rec()->ns_label;
}

bool Node::alive() const {
  auto c = lab_.lock();
  if (!c || c->closing()) return false;
  auto r = c->nodes().node(id_);
  return r && r->alive;
}

namespace {

// The code every node thread runs first: take the node's log context, enter the node's network
// namespace for good and, on a device, its DNS overlay (mount namespace). The overlay is made
// here, on the caller's thread, so a failure is reported by the call that started the thread; the
// thread drops its reference to the namespace fd once inside.
std::function<void()> entry_for(const std::shared_ptr<NodeRec>& r, LabCore& c) {
  std::weak_ptr<NodeRec> weak = r;
  auto mnt = std::make_shared<std::shared_ptr<const UniqueFd>>();
  if (r->kind == detail::NodeKind::Device) *mnt = c.dns().mount_ns(r->id);
  return [weak, mnt, sink = r->log] {
    log::detail::set_thread_sink(sink);
    auto n = weak.lock();
    if (!n || !n->ns) throw Removed("node", "the node has been removed");
    sys::enter_netns(n->ns->fd.get());
    if (auto fd = std::move(*mnt)) detail::DnsOverlay::join(fd->get());
  };
}

// The node's log files, or null (no output directory, the IX, node or lab gone). Never throws,
// never takes the plan lock or an operation slot (logging must not wait for builds or shutdown).
std::shared_ptr<log::detail::NodeSink> sink_of(const std::weak_ptr<LabCore>& lab, NodeId id) {
  auto c = lab.lock();
  if (!c || c->closing()) return nullptr;
  return c->node_logs().find(id);
}

}  // namespace

std::optional<std::filesystem::path> Node::filepath(std::string_view suffix) const {
  auto sink = sink_of(lab_, id_);
  if (!sink) {
    rec();  // Removed for a node or lab that is gone, like every other operation
    return std::nullopt;
  }
  return sink->path(suffix);
}

void Node::log(log::Level level, std::string_view target, std::string_view msg, log::Fields fields) const {
  if (!log::detail::below_ceiling(level)) return;  // no filter anywhere wants it: no lookup at all
  auto sink = sink_of(lab_, id_);
  log::detail::write(sink.get(), level, target, msg, fields);
}

void Node::emit_event(std::string_view kind, log::Fields fields) const {
  emit_event("patchbay", kind, fields);
}

void Node::emit_event(std::string_view target_prefix, std::string_view kind, log::Fields fields) const {
  auto sink = sink_of(lab_, id_);
  log::detail::write(sink.get(), log::Level::Info, log::detail::event_target(target_prefix, kind), "",
                     fields);
}

void Node::run_erased(const std::function<void()>& fn) {
  auto c = core();
  auto r = rec();
  std::shared_ptr<detail::SyncWorker> w;
  {
    std::lock_guard lk(r->exec_mu);
    if (!r->sw) r->sw = std::make_shared<detail::SyncWorker>(r->name, entry_for(r, *c));
    w = r->sw;
  }
  // User code may run for as long as it likes: it is not an operation shutdown waits for (it
  // stops the worker, which waits for the code instead).
  c.release();
  w->run(fn);
}

std::function<void()> Node::thread_entry(const char* suffix) const {
  auto c = core();
  auto r = rec();
  auto enter = entry_for(r, *c);
  std::string name = r->name;
  std::string sfx = suffix;
  return [enter, name, sfx] {
    detail::set_thread_name(name, sfx);
    enter();
  };
}

asio::any_io_executor Node::executor() {
  auto c = core();
  auto r = rec();
  std::lock_guard lk(r->exec_mu);
  if (!r->aw) r->aw = std::make_unique<detail::IoWorker>(r->name, entry_for(r, *c));
  return r->aw->executor();
}

void Node::track_task(std::shared_ptr<detail::TaskCancel> t) {
  auto r = rec();
  std::lock_guard lk(r->exec_mu);
  if (r->aw) r->aw->track(t);
}

UniqueFd Node::socket(int family, int type, int protocol) {
  auto c = core();
  auto r = rec();
  UniqueFd out;
  c->setup().in_netns(r->ns->fd.get(), [&] {
    int fd = ::socket(family, type | SOCK_CLOEXEC, protocol);
    if (fd < 0) sys::throw_errno(r->describe(), "socket");
    out.reset(fd);
  });
  return out;
}

// ---- child processes ----

namespace {

struct StdioPlan {
  UniqueFd child_end;   // what the child gets (closed in the parent after spawning)
  UniqueFd parent_end;  // pipes: our side
  int raw = -1;         // Stdio::fd(): borrowed
};

StdioPlan plan_stdio(const Stdio& s, bool is_input, const std::string& ctx) {
  StdioPlan p;
  switch (s.kind()) {
    case Stdio::Kind::Inherit:
      break;
    case Stdio::Kind::Null: {
      int fd = ::open("/dev/null", (is_input ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
      if (fd < 0) sys::throw_errno(ctx, "open /dev/null");
      p.child_end.reset(fd);
      break;
    }
    case Stdio::Kind::Piped: {
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC) != 0) sys::throw_errno(ctx, "pipe2");
      if (is_input) {
        p.child_end.reset(fds[0]);
        p.parent_end.reset(fds[1]);
      } else {
        p.child_end.reset(fds[1]);
        p.parent_end.reset(fds[0]);
      }
      break;
    }
    case Stdio::Kind::File: {
      int flags = is_input ? O_RDONLY : (O_WRONLY | O_CREAT | (s.append() ? O_APPEND : O_TRUNC));
      int fd = ::open(s.path().c_str(), flags | O_CLOEXEC, 0644);
      if (fd < 0) sys::throw_errno(ctx, "open " + s.path().string());
      p.child_end.reset(fd);
      break;
    }
    case Stdio::Kind::Fd:
      p.raw = s.raw_fd();
      break;
  }
  return p;
}

int child_fd(const StdioPlan& p) {
  return p.child_end ? p.child_end.get() : p.raw;
}

}  // namespace

Child Node::spawn_command(Command cmd) {
  auto c = core();
  auto r = rec();
  const std::string ctx = r->describe() + ": spawn '" + cmd.program() + "'";
  auto env = cmd.environment();
  std::string path_env = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& kv : env)
    if (kv.rfind("PATH=", 0) == 0) path_env = kv.substr(5);
  // The node sees the same file system as we do, so resolving PATH here is resolving it inside.
  auto resolved = sys::find_program(cmd.program(), path_env);
  if (!resolved) throw ProcessError(ctx, "program not found in PATH (" + path_env + ")");

  auto in = plan_stdio(cmd.stdin_spec(), true, ctx);
  auto out = plan_stdio(cmd.stdout_spec(), false, ctx);
  auto err = plan_stdio(cmd.stderr_spec(), false, ctx);

  sys::SpawnSpec spec;
  spec.path = *resolved;
  spec.argv.push_back(cmd.program());
  for (const auto& a : cmd.arguments()) spec.argv.push_back(a);
  spec.envp = std::move(env);
  if (cmd.working_dir()) spec.cwd = cmd.working_dir()->string();
  spec.netns_fd = r->ns->fd.get();
  std::shared_ptr<const UniqueFd> mntns;  // held until the child has entered it
  if (r->kind == detail::NodeKind::Device) {
    mntns = c->dns().mount_ns(r->id);
    spec.mntns_fd = mntns->get();
    // Entering a mount namespace moves the child to its root: keep our working directory.
    if (!spec.cwd)
      if (char buf[PATH_MAX]; ::getcwd(buf, sizeof buf) != nullptr) spec.cwd = buf;
  }
  spec.stdin_fd = child_fd(in);
  spec.stdout_fd = child_fd(out);
  spec.stderr_fd = child_fd(err);

  std::shared_ptr<detail::ChildState> st;
  try {
    auto cmdline = cmd.to_string();
    st = c->services().spawner()->spawn(spec, r->id, r->name, [&](const detail::ChildState& cs) {
      c->bus().publish("command_spawned", {{"node", r->name}, {"pid", cs.pid}, {"cmd", cmdline}});
    });
  } catch (const ProcessError& e) {
    throw ProcessError(ctx, e.what());
  }
  return Child(std::move(st), std::move(in.parent_end), std::move(out.parent_end), std::move(err.parent_end));
}

Output Node::output(Command cmd) {
  cmd.std_out(Stdio::piped()).std_err(Stdio::piped());
  Child child = spawn_command(std::move(cmd));
  UniqueFd out = child.take_stdout(), err = child.take_stderr();
  Output result;
  // Read both pipes together so a child filling one of them never blocks.
  pollfd fds[2] = {{out.get(), POLLIN, 0}, {err.get(), POLLIN, 0}};
  std::string* bufs[2] = {&result.out, &result.err};
  int open_count = 2;
  char buf[16384];
  while (open_count > 0) {
    int n = ::poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t k = ::read(fds[i].fd, buf, sizeof buf);
      if (k > 0) {
        bufs[i]->append(buf, static_cast<std::size_t>(k));
      } else if (k == 0 || errno != EINTR) {
        fds[i].fd = -1;
        --open_count;
      }
    }
  }
  result.status = child.wait();
  return result;
}

}  // namespace patchbay
